"""The Lease lock's decisions and the Secret's optimistic concurrency, with an injected clock.

No processes and no cluster: ``mem`` answers like the API server (409 on a
stale ``resourceVersion``, AlreadyExists on a second create), ``clock`` is
moved by hand. What the real API server and kubectl do is tested in
``test_emulator.py``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import re
import threading
import time

import attrs
import pytest

from firestream_core.errors import StateError, StateLockedError
from firestream_core.state import kubernetes as kubernetes_state
from firestream_core.state.kubernetes import (
    SECRET_LIMIT,
    KubernetesStateBackend,
    LeaseLock,
    LeaseRecord,
    format_micro_time,
    holder_identity,
    parse_time,
    state_object_name,
)
from firestream_core.state.store import ReleaseState, State, StateBackend, open_backend

NS, NAME = "firestream", "firestream-state-shop"


def backend(mem, clock, **kw) -> KubernetesStateBackend:
    kw.setdefault("project_name", "shop")
    return KubernetesStateBackend("/nowhere", kubectl=mem, clock=clock, **kw)


def lock(mem, clock, command="firestream apply", *, timeout=0.0, identity=None, duration=30) -> LeaseLock:
    return LeaseLock(mem, NS, NAME, command, duration=duration, timeout=timeout, clock=clock,
                     sleep=clock.sleep, identity=identity)


def entry(name: str = "db") -> ReleaseState:
    return ReleaseState(name=name, namespace="data", chart_type="generic", chart="fixtures/tiny-app",
                        version="0.1.0", values_digest="sha256:abc", revision=1,
                        applied_at="2026-01-02T03:04:05Z", action="create", result="succeeded",
                        duration=3.0)


# -- the record ------------------------------------------------------------------------------


def test_expiry_is_renew_time_plus_duration(clock):
    rec = LeaseRecord(holder="a@h:1:x", duration=30, acquire_time=clock(), renew_time=clock(),
                      transitions=0, resource_version="1")
    clock.advance(29.999)
    assert not rec.expired(clock()) and not rec.free(clock())
    clock.advance(0.001)
    assert rec.expired(clock()) and rec.free(clock())


def test_a_lease_without_holder_is_free_and_one_without_times_is_expired(clock):
    free = LeaseRecord(holder=None, duration=30, acquire_time=clock(), renew_time=clock(),
                       transitions=3, resource_version="1")
    assert free.free(clock()) and not free.expired(clock())
    timeless = LeaseRecord.from_object({"metadata": {"resourceVersion": "9"},
                                        "spec": {"holderIdentity": "x", "leaseDurationSeconds": 30}})
    assert timeless.expired(clock())


def test_renew_time_falls_back_to_acquire_time(clock):
    rec = LeaseRecord.from_object({"metadata": {"resourceVersion": "2"}, "spec": {
        "holderIdentity": "u@h:7:r", "leaseDurationSeconds": 10,
        "acquireTime": format_micro_time(clock())}})
    clock.advance(9)
    assert not rec.expired(clock())
    clock.advance(1)
    assert rec.expired(clock())


def test_times_round_trip_with_microseconds(clock):
    text = format_micro_time(clock())
    assert text == "2026-01-02T03:04:05.250000Z"
    assert parse_time(text) == clock()
    assert parse_time("2026-01-02T03:04:05Z") == clock().replace(microsecond=0)
    assert parse_time("") is None and parse_time("yesterday") is None and parse_time(None) is None


def test_identity_and_holder_info(clock):
    ident = holder_identity("abcd1234")
    assert re.fullmatch(r"[^@]+@[^:]+:\d+:abcd1234", ident)
    rec = LeaseRecord(holder="ann@build-7:1234:beef", duration=30, acquire_time=clock(),
                      renew_time=clock(), transitions=0, resource_version="1", command="firestream apply")
    clock.advance(4)
    info = rec.holder_info(clock())
    assert (info.pid, info.host, info.id, info.command) == (1234, "build-7", "beef", "firestream apply")
    assert info.since == "2026-01-02T03:04:05Z" and not info.expired
    assert str(info) == "ann@build-7:1234:beef since 2026-01-02T03:04:05Z running 'firestream apply', renewed 4s ago"


# -- acquiring -----------------------------------------------------------------------------


def test_first_acquire_creates_the_lease(mem, clock):
    a = lock(mem, clock, identity="ann@h1:11:aaaa")
    info = a.acquire(renew=False)
    spec = mem.lease()["spec"]
    assert spec == {"holderIdentity": "ann@h1:11:aaaa", "leaseDurationSeconds": 30,
                    "acquireTime": format_micro_time(clock()), "renewTime": format_micro_time(clock()),
                    "leaseTransitions": 0}
    assert mem.lease()["metadata"]["annotations"] == {"firestream.dev/command": "firestream apply"}
    assert info.identity == "ann@h1:11:aaaa" and a.held


def test_a_live_lease_refuses_at_once_naming_the_holder(mem, clock):
    lock(mem, clock, identity="ann@h1:11:aaaa").acquire(renew=False)
    clock.advance(5)
    b = lock(mem, clock, identity="bob@h2:22:bbbb")
    with pytest.raises(StateLockedError) as err:
        b.acquire(renew=False)
    assert str(err.value) == ("state lease firestream/firestream-state-shop is held by ann@h1:11:aaaa "
                              "since 2026-01-02T03:04:05Z, renewed 5s ago (running 'firestream apply')")
    assert "unlock --force" in err.value.hint and "--lock-timeout" in err.value.hint
    assert clock.slept == [] and not b.held
    assert mem.lease()["spec"]["holderIdentity"] == "ann@h1:11:aaaa"


def test_an_expired_lease_is_taken_over_with_a_warning(mem, clock, logs):
    lock(mem, clock, identity="ann@h1:11:aaaa").acquire(renew=False)
    clock.advance(30)
    b = lock(mem, clock, identity="bob@h2:22:bbbb")
    b.acquire(renew=False)
    spec = mem.lease()["spec"]
    assert spec["holderIdentity"] == "bob@h2:22:bbbb" and spec["leaseTransitions"] == 1
    assert spec["acquireTime"] == spec["renewTime"] == format_micro_time(clock())
    assert "took over state lease firestream/firestream-state-shop from ann@h1:11:aaaa" in logs.text()
    assert "not renewed for 30s" in logs.text()


def test_renewing_keeps_the_lease_past_its_first_expiry(mem, clock):
    a = lock(mem, clock, identity="ann@h1:11:aaaa")
    a.acquire(renew=False)
    acquired = mem.lease()["spec"]["acquireTime"]
    for _ in range(3):
        clock.advance(20)
        assert a.renew_once()
    clock.advance(20)  # 80s after acquiring, 20s after the last renewal
    with pytest.raises(StateLockedError, match="renewed 20s ago"):
        lock(mem, clock, identity="bob@h2:22:bbbb").acquire(renew=False)
    spec = mem.lease()["spec"]
    assert spec["acquireTime"] == acquired and spec["leaseTransitions"] == 0


def test_release_clears_the_holder_and_the_next_run_takes_it_quietly(mem, clock, logs):
    a = lock(mem, clock, identity="ann@h1:11:aaaa")
    a.acquire(renew=False)
    a.release()
    a.release()  # idempotent
    spec = mem.lease()["spec"]
    assert "holderIdentity" not in spec and spec["leaseTransitions"] == 0
    lock(mem, clock, identity="bob@h2:22:bbbb").acquire(renew=False)
    assert logs.text(logging.WARNING) == ""
    assert mem.lease()["spec"]["leaseTransitions"] == 1


def test_two_takers_of_an_expired_lease_exactly_one_wins(mem, clock):
    """Between B's read and B's write, C takes the lease: B's write is refused (409),
    B reads again and finds C holding it."""
    lock(mem, clock, identity="ann@h1:11:aaaa").acquire(renew=False)
    clock.advance(31)
    c = lock(mem, clock, identity="cat@h3:33:cccc")
    mem.before_write = lambda op, manifest: c.acquire(renew=False)
    b = lock(mem, clock, identity="bob@h2:22:bbbb")
    with pytest.raises(StateLockedError, match="held by cat@h3:33:cccc"):
        b.acquire(renew=False)
    spec = mem.lease()["spec"]
    assert spec["holderIdentity"] == "cat@h3:33:cccc" and spec["leaseTransitions"] == 1


def test_two_creators_exactly_one_wins(mem, clock):
    c = lock(mem, clock, identity="cat@h3:33:cccc")
    mem.before_write = lambda op, manifest: c.acquire(renew=False)
    with pytest.raises(StateLockedError, match="held by cat@h3:33:cccc"):
        lock(mem, clock, identity="bob@h2:22:bbbb").acquire(renew=False)


def test_the_namespace_is_created_when_missing(mem, clock):
    mem.namespaces.clear()
    b = backend(mem, clock)
    b.lock("firestream apply").acquire(renew=False)
    assert "firestream" in mem.namespaces
    assert ("create", "namespace") in mem.calls


# -- waiting -------------------------------------------------------------------------------


def test_waiting_takes_an_abandoned_lease_once_it_expires(mem, clock, logs):
    lock(mem, clock, identity="ann@h1:11:aaaa").acquire(renew=False)
    clock.advance(10)
    b = lock(mem, clock, identity="bob@h2:22:bbbb", timeout=60)
    b.acquire(renew=False)
    assert mem.lease()["spec"]["holderIdentity"] == "bob@h2:22:bbbb"
    assert sum(clock.slept) == pytest.approx(20)  # until renewTime + 30s, in 1s polls
    assert "waiting up to 60s" in logs.text() and "took over" in logs.text()


def test_waiting_gives_up_at_the_timeout(mem, clock):
    lock(mem, clock, identity="ann@h1:11:aaaa").acquire(renew=False)
    b = lock(mem, clock, identity="bob@h2:22:bbbb", timeout=5)
    with pytest.raises(StateLockedError, match="held by ann@h1:11:aaaa"):
        b.acquire(renew=False)
    assert sum(clock.slept) == pytest.approx(5)


def test_waiting_takes_a_released_lease_without_warning(mem, clock, logs):
    a = lock(mem, clock, identity="ann@h1:11:aaaa")
    a.acquire(renew=False)
    b = lock(mem, clock, identity="bob@h2:22:bbbb", timeout=60)

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.slept) == 3:
            a.release()

    b.sleep = sleep
    b.acquire(renew=False)
    assert len(clock.slept) == 3
    assert "took over" not in logs.text()
    assert mem.lease()["spec"]["leaseTransitions"] == 1


# -- losing it -------------------------------------------------------------------------------


def test_a_holder_whose_lease_was_taken_notices_and_leaves_it_alone(mem, clock, logs):
    a = lock(mem, clock, identity="ann@h1:11:aaaa")
    a.acquire(renew=False)
    clock.advance(45)  # ann stalled past her lease
    lock(mem, clock, identity="bob@h2:22:bbbb").acquire(renew=False)
    assert a.renew_once() is False
    assert a.lost.is_set() and not a.held
    assert a.lost_reason() == "state lease firestream/firestream-state-shop is now held by bob@h2:22:bbbb"
    assert ("lost the project lock: state lease firestream/firestream-state-shop is now held by "
            "bob@h2:22:bbbb; this run starts no more releases") in logs.text()
    a.release()
    assert mem.lease()["spec"]["holderIdentity"] == "bob@h2:22:bbbb"


def test_a_holder_that_cannot_renew_past_its_duration_counts_the_lock_as_lost(mem, clock):
    """The API server out of reach: past ``renewTime + leaseDurationSeconds`` another run may
    take the lease over, so the holder stops counting on it, as a Kubernetes leader steps
    down at its renew deadline; a renewal in time keeps it."""
    a = lock(mem, clock, identity="ann@h1:11:aaaa")
    a.acquire(renew=False)
    clock.advance(20)
    assert a.lost_reason() is None
    assert a.renew_once() is True
    clock.advance(20)  # 40 s since she took it, 20 since she renewed it
    assert a.lost_reason() is None
    clock.advance(11)
    assert a.lost_reason() == ("state lease firestream/firestream-state-shop was not renewed for 31s "
                               "(lease duration 30s): another run may hold it now")
    assert not a.lost.is_set()  # nobody took it (yet): releasing still clears it


def test_force_unlock_clears_the_holder_and_the_holder_notices(mem, clock, logs):
    b = backend(mem, clock)
    a = lock(mem, clock, identity="ann@h1:11:aaaa")
    a.acquire(renew=False)
    assert a.lost_reason() is None
    clock.advance(3)
    held = b.lock_holder()
    assert held.identity == "ann@h1:11:aaaa" and held.renewed_ago == 3 and not held.expired
    removed = b.force_unlock()
    assert removed.identity == "ann@h1:11:aaaa"
    assert b.lock_holder() is None and b.force_unlock() is None
    assert a.renew_once() is False
    assert a.lost_reason() == "state lease firestream/firestream-state-shop was removed or released by someone else"
    assert "removed or released by someone else" in logs.text()


def test_the_renewing_thread_moves_renew_time_and_stops_on_release(mem):
    a = LeaseLock(mem, NS, NAME, "firestream apply", duration=1, identity="ann@h1:11:aaaa")
    with a:
        first = mem.lease()["spec"]["renewTime"]
        deadline = time.monotonic() + 30
        while mem.lease()["spec"]["renewTime"] == first:
            assert time.monotonic() < deadline, "the lease was never renewed"
            time.sleep(0.05)
        assert mem.lease()["spec"]["holderIdentity"] == "ann@h1:11:aaaa"
    assert "holderIdentity" not in mem.lease()["spec"]
    assert not any(t.name.startswith("lease-renew") for t in threading.enumerate())


# -- the backend -----------------------------------------------------------------------------


def test_backend_is_registered_and_named_after_the_project(mem, clock):
    b = open_backend("kubernetes", "/nowhere", project_name="My Shop!", kubectl=mem, lease_duration="2s")
    assert isinstance(b, StateBackend)
    assert (b.namespace, b.name, b.lease_duration) == ("firestream", "firestream-state-my-shop", 2)
    assert b.describe() == "secret firestream/firestream-state-my-shop"
    assert state_object_name("Data_Platform") == "firestream-state-data-platform"
    assert backend(mem, clock).lease_duration == 30


@pytest.mark.parametrize("kw, message", [
    ({"project_name": None}, "needs \\[project\\] name or \\[state\\] name"),
    ({"name": "Bad_Name"}, "not a valid Kubernetes name"),
    ({"namespace": "-x"}, "not a valid Kubernetes name"),
    ({"lease_duration": "0s"}, "at least 1s"),
    ({"lease_duration": "soon"}, "lease_duration: invalid duration"),
    ({"path": "state.json"}, "local backend only"),
])
def test_backend_options_are_checked(mem, clock, kw, message):
    with pytest.raises(StateError, match=message):
        backend(mem, clock, **kw)


def test_state_round_trips_through_the_secret(mem, clock):
    one, two = backend(mem, clock), backend(mem, clock, name="firestream-state-shop")
    assert one.load().releases == {}
    state = State()
    state.record(entry())
    one.save(state)
    secret = mem.objects[("secret", NS, NAME)]
    assert secret["type"] == "Opaque" and set(secret["data"]) == {"state.json"}
    doc = json.loads(base64.b64decode(secret["data"]["state.json"]))
    assert doc == state.to_dict() and doc["schema_version"] == 1
    assert two.load().releases["data/db"] == entry()


def test_a_save_over_someone_elses_write_is_refused(mem, clock):
    one, two = backend(mem, clock), backend(mem, clock)
    s1, s2 = one.load(), two.load()
    s2.record(entry("web"))
    two.save(s2)
    s1.record(entry("db"))
    with pytest.raises(StateError, match="changed by another firestream run since this one read it"):
        one.save(s1)
    assert set(backend(mem, clock).load().releases) == {"data/web"}
    two.save(s2)  # its own successive saves carry its own last version
    assert set(one.load().releases) == {"data/web"}


def test_a_secret_deleted_by_hand_during_a_run_is_named_as_deleted(mem, clock):
    """kubectl answers the same for a Conflict and for a Secret gone: a Secret deleted by hand
    while a run went on was reported as written by 'another firestream run'."""
    one = backend(mem, clock)
    state = one.load()
    one.save(state)
    del mem.objects[("secret", NS, NAME)]
    state.record(entry("db"))
    with pytest.raises(StateError, match="was deleted while this run went on; not recreated") as err:
        one.save(state)
    assert "another firestream run" not in str(err.value)
    assert ("secret", NS, NAME) not in mem.objects  # the deletion stands


def test_two_first_saves_only_one_creates(mem, clock):
    one, two = backend(mem, clock), backend(mem, clock)
    one.load(), two.load()
    one.save(State())
    with pytest.raises(StateError, match="changed by another"):
        two.save(State())


def test_a_save_without_load_writes_over_what_is_there(mem, clock):
    """Migrating a local state: ``kube.save(local.load())``."""
    backend(mem, clock).save(State())
    state = State()
    state.record(entry())
    backend(mem, clock).save(state)
    assert set(backend(mem, clock).load().releases) == {"data/db"}


@pytest.mark.parametrize("data, message", [
    ({}, "no 'state.json' key"),
    ({"state.json": "%%%"}, "not base64-encoded JSON"),
    ({"state.json": base64.b64encode(b'{"schema_version": 99}').decode()}, "unknown state schema version 99"),
    ({"state.json.gz": base64.b64encode(b"not gzip").decode()}, "not base64-encoded gzip of JSON"),
    ({"state.json.gz": base64.b64encode(gzip.compress(b'{"schema_version": 99}')).decode()},
     "unknown state schema version 99"),
])
def test_an_unreadable_secret_is_refused(mem, clock, data, message):
    mem.objects[("secret", NS, NAME)] = {"kind": "Secret", "metadata": {"resourceVersion": "1"}, "data": data}
    with pytest.raises(StateError, match=message) as err:
        backend(mem, clock).load()
    assert "state secret firestream/firestream-state-shop" in str(err.value)


@pytest.mark.parametrize("data", [
    {},
    {"state.json": "%%%"},
    {"state.json": base64.b64encode(b'{"schema_version": 1, "releases": {"data/db": 5}}').decode()},
    {"state.json": base64.b64encode(b'{"releases": {}}').decode()},
])
def test_a_damaged_secret_hints_at_the_secret_not_a_file(mem, clock, data):
    """A Secret edited by hand: the hint says how to recover it (kubectl), not to move a file aside."""
    mem.objects[("secret", NS, NAME)] = {"kind": "Secret", "metadata": {"resourceVersion": "1"}, "data": data}
    with pytest.raises(StateError) as err:
        backend(mem, clock).load()
    hint = err.value.hint or ""
    assert "the Secret was left untouched" in hint
    assert f"kubectl delete secret -n {NS} {NAME}" in hint
    assert "file" not in hint and "move it aside" not in hint


def _big_state(n: int) -> State:
    state = State()
    for i in range(n):
        digest = "sha256:" + hashlib.sha256(f"r{i}".encode()).hexdigest()
        state.record(attrs.evolve(entry(f"release-{i:05d}"), values_digest=digest, desired_digest=digest))
    return state


def test_a_state_too_big_for_a_plain_secret_is_stored_compressed_and_read_back(mem, clock):
    """A Secret holds 1 MiB: over PLAIN_LIMIT the JSON goes in gzip-compressed (same document)."""
    state = _big_state(3000)
    plain = json.dumps(state.to_dict(), indent=2) + "\n"
    assert len(base64.b64encode(plain.encode())) > 1024 * 1024  # as it is, more than a Secret holds
    backend(mem, clock).save(state)
    data = mem.objects[("secret", NS, NAME)]["data"]
    assert set(data) == {"state.json.gz"}
    assert len(data["state.json.gz"]) < SECRET_LIMIT
    assert gzip.decompress(base64.b64decode(data["state.json.gz"])).decode() == plain
    assert backend(mem, clock).load().to_dict() == state.to_dict()
    small = State()
    small.record(entry())
    kube = backend(mem, clock)
    kube.load()
    kube.save(small)  # back under the limit: readable again, the compressed key gone
    assert set(mem.objects[("secret", NS, NAME)]["data"]) == {"state.json"}
    assert set(backend(mem, clock).load().releases) == {"data/db"}


def test_a_state_too_big_even_compressed_is_refused_and_nothing_written(mem, clock, monkeypatch):
    kube = backend(mem, clock)
    kube.save(State())
    before = json.dumps(mem.objects[("secret", NS, NAME)], sort_keys=True)
    monkeypatch.setattr(kubernetes_state, "SECRET_LIMIT", 1000)
    with pytest.raises(StateError, match=r"the state of 3000 releases is \d+ KiB compressed, more than a Secret"):
        kube.save(_big_state(3000))
    assert json.dumps(mem.objects[("secret", NS, NAME)], sort_keys=True) == before


def test_releases_recorded_during_a_run_reach_the_secret_in_batches(mem, clock):
    """save_release marks the state changed; one Secret update carries every release of a batch."""
    kube = backend(mem, clock)
    state = kube.load()
    written = threading.Event()
    real_replace = mem.replace

    def replace(manifest, **kw):
        out = real_replace(manifest, **kw)
        written.set()
        return out

    mem.replace = replace
    kube.save(state)  # the Secret exists
    mem.calls.clear()
    written.clear()
    for i in range(20):
        state.record(entry(f"r{i}"))
        kube.save_release(state, f"data/r{i}")
    assert written.wait(30)  # within the batch delay, without flush()
    doc_keys = set(backend(mem, clock).load().releases)
    assert doc_keys and doc_keys <= {f"data/r{i}" for i in range(20)}  # a batch, maybe not all 20 yet
    state.record(entry("last"))
    kube.save_release(state, "data/last")
    kube.flush(state)
    assert "data/last" in backend(mem, clock).load().releases
    replaces = [c for c in mem.calls if c == ("replace", "secret")]
    assert 1 <= len(replaces) <= 3  # batches, not 21 updates
    mem.calls.clear()
    kube.flush(state)
    assert ("replace", "secret") not in mem.calls  # nothing recorded since: nothing written


def test_a_failed_batch_write_is_raised_by_the_run(mem, clock):
    one, two = backend(mem, clock), backend(mem, clock)
    s1 = one.load()
    two.load()
    two.save(State())  # someone else wrote the Secret since one read it
    s1.record(entry("db"))
    one.save_release(s1, "data/db")
    with pytest.raises(StateError, match="changed by another firestream run"):
        one.flush(s1)


def test_state_name_from_the_config_reaches_the_backend(mem):
    """``[state] name`` is one of the ``[state]`` options handed to ``open_backend``: it used to
    collide with ``open_backend``'s own ``name`` parameter (``TypeError: got multiple values for
    argument 'name'``), so every command of a project setting it failed."""
    from firestream_core.config.parse import parse_config
    from firestream_core.project import state_backend

    data = {"project": {"name": "shop"},
            "state": {"backend": "kubernetes", "name": "shop-state", "namespace": "ops"}}
    b = state_backend(parse_config(data, "/srv/shop/firestream.toml"), kubectl=mem)
    assert isinstance(b, KubernetesStateBackend)
    assert b.describe() == "secret ops/shop-state"


def test_a_kube_context_with_underscores_scopes_a_named_state(mem):
    """With ``[state] name``, the state of a kube context (``--kube-context``) is named
    ``<name>-<scope>``; a GKE context (``gke_<project>_<zone>_<cluster>``) used to make that
    an invalid object name, and the error blamed the ``[state] name`` the user wrote."""
    from firestream_core.config.parse import parse_config
    from firestream_core.project import state_backend

    data = {"project": {"name": "shop"}, "state": {"backend": "kubernetes", "name": "shop-state"}}
    config = parse_config(data, "/srv/shop/firestream.toml")
    b = state_backend(config, kubectl=mem, kube_context="gke_shop_us-central1_prod")
    assert b.describe() == "secret firestream/shop-state--gke-shop-us-central1-prod"
    # a context that was already a valid name keeps the Secret it always had
    assert state_backend(config, kubectl=mem, kube_context="prod").describe() == "secret firestream/shop-state--prod"


def test_a_lease_taken_over_says_whether_its_holders_programs_could_be_checked(mem, clock):
    """Another host's expired holder: what it started cannot be seen from here (``unchecked``,
    so apply refuses to recover what it left pending). A holder of this host whose process and
    programs are gone was checked: nothing is refused. A free lease had no holder to check."""
    import os
    import socket

    from firestream_core.state.kubernetes import _user, run_marker

    lock(mem, clock, identity="ann@build-7:4242:aaaa").acquire(renew=False)
    clock.advance(31)
    taker = lock(mem, clock, identity="bob@h2:22:bbbb")
    taker.acquire(renew=False)
    assert taker.unchecked is not None and taker.unchecked.holder == "ann@build-7:4242:aaaa"

    clock.advance(31)  # bob's lease expires; bob was "this host", his pid long gone
    dead = 2 ** 22 + 1
    while os.path.exists(f"/proc/{dead}"):
        dead += 1
    mine = f"{_user()}@{socket.gethostname()}:{dead}:cccc"
    mem.objects[("lease", NS, NAME)]["spec"]["holderIdentity"] = mine
    again = lock(mem, clock, identity="cat@h3:33:dddd")
    again.acquire(renew=False)
    assert again.unchecked is not None  # its file is not in this cache folder: not seen

    clock.advance(31)
    mem.objects[("lease", NS, NAME)]["spec"]["holderIdentity"] = mine
    run_marker(mine).parent.mkdir(parents=True, exist_ok=True)
    run_marker(mine).write_text("")  # left by that run, its flock free: all it started ended
    again = lock(mem, clock, identity="cat@h3:33:dddd")
    again.acquire(renew=False)
    assert again.unchecked is None and not run_marker(mine).exists()
    again.release()
    free = lock(mem, clock, identity="dan@h4:44:eeee")
    free.acquire(renew=False)
    assert free.unchecked is None
