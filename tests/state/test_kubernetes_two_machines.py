"""Two machines deploying one project: ``firestream apply`` processes with separate working folders.

Each "machine" is a copy of the same small project in its own folder; they
share only the cluster (the API emulator, holding the state Secret and the
Lease) and the recording fake helm's releases. The fake helm is wrapped so
that ``upgrade slow`` waits for a gate file the test opens: the first apply
is held mid-run exactly as long as the test needs, with no timing guesses.
Nothing here asserts a duration: waits poll for an outcome with a generous
bound.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from firestream_core.state.kubernetes import KubernetesStateBackend, LeaseLock, parse_time

GATED_HELM = """#!{python}
# The fake helm, except that 'upgrade ... slow' first waits for the gate file.
import os, sys, time
if "upgrade" in sys.argv[1:3] and "slow" in sys.argv:
    with open({marker!r} + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace({marker!r} + ".tmp", {marker!r})
    while not os.path.exists({gate!r}):
        time.sleep(0.05)
os.execv({fake!r}, [{fake!r}, *sys.argv[1:]])
"""

CONFIG = """\
[project]
name = "shop"

[state]
backend = "kubernetes"
namespace = "{ns}"
lease_duration = "{duration}"

[repositories]
fixtures = "http://127.0.0.1:9/fixtures"

[[deployments.generic]]
name = "fast"
chart = "tiny-app"
repository = "fixtures"
version = "0.1.0"
namespace = "{ns}"

[[deployments.generic]]
name = "slow"
chart = "tiny-app"
repository = "fixtures"
version = "0.1.0"
namespace = "{ns}"
"""

BOUND = 120.0
"""Seconds any wait may take before the test fails (a bound, never an expectation)."""


class Machines:
    def __init__(self, kube, fake_helm, kubectl_bin, tmp_path: Path) -> None:
        self.kube = kube
        self.ns = kube.namespace
        self.gate = tmp_path / "gate"
        self.marker = tmp_path / "slow-started"
        self.helm = tmp_path / "gated-helm"
        self.helm.write_text(GATED_HELM.format(python=sys.executable, marker=str(self.marker),
                                               gate=str(self.gate), fake=str(fake_helm.binary)))
        self.helm.chmod(0o755)
        # FIRESTREAM_TMPDIR: a holder SIGKILLed mid-upgrade leaves its values file here, not in /dev/shm
        self.values_tmp = tmp_path / "values-tmp"
        self.values_tmp.mkdir()
        self.env = {**os.environ, **fake_helm.env, "HOME": kube.env["HOME"],
                    "FIRESTREAM_KUBECTL_BINARY": str(kubectl_bin),
                    "FIRESTREAM_TMPDIR": str(self.values_tmp)}
        self.tmp = tmp_path
        self.procs: list[subprocess.Popen[str]] = []

    def folder(self, name: str, duration: str) -> Path:
        path = self.tmp / name / "firestream.toml"
        path.parent.mkdir()
        path.write_text(CONFIG.format(ns=self.ns, duration=duration))
        return path

    def argv(self, path: Path, *extra: str, command: str = "apply") -> list[str]:
        words = ["apply", "--yes"] if command == "apply" else command.split()
        return [sys.executable, "-m", "firestream_core.cli.main", *words,
                "-f", str(path), "--helm-binary", str(self.helm), "--kubeconfig", str(self.kube.kubeconfig),
                *extra]

    def start(self, path: Path, *extra: str, log: Path | None = None) -> subprocess.Popen[str]:
        err = open(log, "w") if log else subprocess.PIPE  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(self.argv(path, *extra), stdin=subprocess.DEVNULL,  # noqa: S603
                                stdout=subprocess.PIPE, stderr=err, text=True, env=self.env,
                                cwd=path.parent)
        self.procs.append(proc)
        return proc

    def run(self, path: Path, *extra: str, command: str = "apply") -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(path, *extra, command=command), stdin=subprocess.DEVNULL,  # noqa: S603
                              capture_output=True, text=True, env=self.env, cwd=path.parent, timeout=BOUND)

    def backend(self) -> KubernetesStateBackend:
        return KubernetesStateBackend(namespace=self.ns, project_name="shop", kubectl=self.kube.kubectl())

    def lease(self) -> dict:
        return self.kube.kubectl().get("lease", "firestream-state-shop", namespace=self.ns)["spec"]

    def wait_for(self, what: str, ready, proc: subprocess.Popen[str] | None = None) -> None:
        deadline = time.monotonic() + BOUND
        while not ready():
            if proc is not None and proc.poll() is not None:
                pytest.fail(f"{what}: the process ended first: {proc.communicate()}")
            assert time.monotonic() < deadline, f"gave up waiting: {what}"
            time.sleep(0.1)

    def held_mid_apply(self, proc: subprocess.Popen[str]) -> None:
        """Wait until ``proc`` deployed ``fast`` (saved in the Secret) and is held at ``slow``."""
        self.wait_for("the first apply reaches 'slow'",
                      lambda: self.marker.exists()
                      and f"{self.ns}/fast" in self.backend().load().releases, proc)

    def cleanup(self) -> None:
        self.gate.touch()
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


@pytest.fixture
def machines(kube, fake_helm, kubectl_bin, tmp_path):
    m = Machines(kube, fake_helm, kubectl_bin, tmp_path)
    yield m
    m.cleanup()


def test_second_machine_is_refused_then_waits_and_reads_the_first_ones_state(machines):
    a, b = machines.folder("machine-a", "10s"), machines.folder("machine-b", "10s")
    first = machines.start(a)
    machines.held_mid_apply(first)
    holder = machines.lease()["holderIdentity"]
    assert f":{first.pid}:" in holder

    refused = machines.run(b)
    assert refused.returncode == 1, refused
    assert (f"error: state lease {machines.ns}/firestream-state-shop is held by {holder} since "
            in refused.stderr)
    assert "running 'firestream apply'" in refused.stderr and "--lock-timeout" in refused.stderr

    log = machines.tmp / "waiter.err"
    waiter = machines.start(b, "--lock-timeout", str(BOUND), log=log)
    machines.wait_for("the second apply waits", lambda: "waiting up to" in log.read_text(), waiter)
    assert first.poll() is None  # still held at 'slow'
    machines.gate.touch()
    out, err = first.communicate(timeout=BOUND)
    assert first.returncode == 0, err
    out, _ = waiter.communicate(timeout=BOUND)
    assert waiter.returncode == 0, log.read_text()
    assert "Nothing to do." in out  # it planned after the first one finished
    assert "took over" not in log.read_text()  # the first one released its lease
    spec = machines.lease()
    assert "holderIdentity" not in spec and spec["leaseTransitions"] == 1

    shown = machines.run(b, "--json", command="state show")
    assert shown.returncode == 0, shown.stderr
    assert f'"key": "{machines.ns}/slow"' in shown.stdout
    assert f'"key": "{machines.ns}/fast"' in shown.stdout


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            out += [child, *_descendants(child)]
    return out


def test_a_killed_holder_loses_the_lease_and_the_next_apply_recovers(machines):
    a, b = machines.folder("machine-a", "2s"), machines.folder("machine-b", "2s")
    first = machines.start(a)
    machines.held_mid_apply(first)
    taken = machines.lease()
    assert f":{first.pid}:" in taken["holderIdentity"] and taken["leaseDurationSeconds"] == 2
    acquired = parse_time(taken["acquireTime"])

    def renewed_past_first_expiry() -> bool:
        spec = machines.lease()
        return (spec["holderIdentity"] == taken["holderIdentity"]
                and (parse_time(spec["renewTime"]) - acquired).total_seconds() > 2)

    machines.wait_for("the holder renews its lease while it runs", renewed_past_first_expiry, first)

    # the machine dies: firestream and everything it started, with no chance to clean up
    victims = [first.pid, *_descendants(first.pid), int(machines.marker.read_text())]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    first.communicate(timeout=BOUND)
    assert first.returncode == -signal.SIGKILL
    dead = machines.lease()
    assert dead["holderIdentity"] == taken["holderIdentity"]  # nobody released it

    machines.gate.touch()
    second = machines.run(b, "--lock-timeout", str(BOUND))
    assert second.returncode == 0, second.stderr
    assert (f"took over state lease {machines.ns}/firestream-state-shop from {taken['holderIdentity']}"
            in second.stderr)
    spec = machines.lease()
    assert "holderIdentity" not in spec and spec["leaseTransitions"] == dead["leaseTransitions"] + 1
    releases = machines.backend().load().releases
    assert releases[f"{machines.ns}/slow"].result == "succeeded"
    assert releases[f"{machines.ns}/fast"].action == "create"  # the dead run's record, kept


def test_an_expired_lease_is_not_taken_while_the_killed_holders_helm_still_runs_here(machines):
    """firestream killed (kill -9) on this host while its helm goes on: the lease expires,
    but the next run here refuses it while that helm still runs (it would otherwise plan the
    release that helm is changing and install or recover it under it), and takes it over once
    that helm has ended."""
    a, b = machines.folder("machine-a", "2s"), machines.folder("machine-b", "2s")
    first = machines.start(a)
    machines.held_mid_apply(first)
    taken = machines.lease()
    helm_pid = int(machines.marker.read_text())
    os.kill(first.pid, signal.SIGKILL)  # firestream alone: its helm of 'slow' goes on
    first.communicate(timeout=BOUND)
    assert first.returncode == -signal.SIGKILL

    def expired() -> bool:
        spec = machines.lease()
        ends = parse_time(spec["renewTime"]) + timedelta(seconds=spec["leaseDurationSeconds"])
        return spec["holderIdentity"] == taken["holderIdentity"] and datetime.now(UTC) > ends

    machines.wait_for("the killed holder's lease expires", expired)
    refused = machines.run(b)
    assert refused.returncode != 0
    assert "a program it started still runs on this host" in refused.stderr, refused.stderr
    assert machines.lease()["holderIdentity"] == taken["holderIdentity"]  # not taken over
    assert os.path.exists(f"/proc/{helm_pid}")  # and its helm left alone

    machines.gate.touch()  # that helm ends
    second = machines.run(b, "--lock-timeout", str(BOUND))
    assert second.returncode == 0, second.stderr
    assert f"took over state lease {machines.ns}/firestream-state-shop" in second.stderr
    assert machines.backend().load().releases[f"{machines.ns}/slow"].result == "succeeded"


def _expired_lease_of_another_host_over_pending_slow(machines, fake_helm) -> Path:
    """The lease held by a run on another machine that stopped renewing a minute ago, 'slow'
    pending-upgrade since it took the lease, 'fast' deployed: machine b's project file."""
    machines.gate.touch()
    b = machines.folder("machine-b", "2s")
    then = datetime.now(UTC) - timedelta(seconds=60)
    gone = LeaseLock(machines.kube.kubectl(), machines.ns, "firestream-state-shop", "firestream apply",
                     duration=2, clock=lambda: then, identity="ann@build-7:4242:5c0f1e2a")
    machines.backend().ensure_namespace()
    gone.acquire(renew=False)  # and never renewed nor released: expired
    fake_helm.seed_release("fast", machines.ns)
    fake_helm.seed_release("slow", machines.ns, status="pending-upgrade", revision=2)  # begun since
    return b


def test_a_pending_release_of_another_hosts_expired_holder_is_not_recovered_by_the_taker(machines, fake_helm):
    """The holder on another machine stopped renewing (firestream killed there, or the machine
    lost) while its helm of 'slow' ran: 'slow' is pending-upgrade since then. The run taking the
    expired lease over cannot see whether that helm still runs: it does not roll 'slow' back
    under it (refused, named), and the run after it recovers 'slow' as before."""
    b = _expired_lease_of_another_host_over_pending_slow(machines, fake_helm)

    taker = machines.run(b)
    assert taker.returncode == 1, taker.stderr
    out = taker.stdout + taker.stderr
    assert "took over state lease" in out
    assert "begun while ann@build-7:4242:5c0f1e2a held the state lease" in out, out
    assert fake_helm.call_log("rollback", release="slow") == []
    assert fake_helm.release("slow", machines.ns)["status"] == "pending-upgrade"

    after = machines.run(b)  # no lease taken over from anyone: recovered as always
    assert after.returncode == 0, after.stderr
    assert len(fake_helm.call_log("rollback", release="slow")) == 1


def test_a_destroy_taking_another_hosts_expired_lease_over_does_not_uninstall_its_pending_release(
        machines, fake_helm):
    """As above, for a destroy: 'slow', pending-upgrade since the other machine's holder took the
    lease, is not uninstalled under that machine's helm; 'fast' is."""
    b = _expired_lease_of_another_host_over_pending_slow(machines, fake_helm)

    taker = machines.run(b, "--yes", command="destroy")
    assert taker.returncode == 1, taker.stderr
    out = taker.stdout + taker.stderr
    assert "so it is not uninstalled under it" in out, out
    assert fake_helm.call_log("uninstall", release="slow") == []
    assert fake_helm.release("slow", machines.ns)["status"] == "pending-upgrade"
    assert len(fake_helm.call_log("uninstall", release="fast")) == 1


def test_ctrl_c_releases_the_lease_for_the_next_machine(machines):
    a, b = machines.folder("machine-a", "10s"), machines.folder("machine-b", "10s")
    first = machines.start(a)
    machines.held_mid_apply(first)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=BOUND)
    assert first.returncode == 130, err
    assert "holderIdentity" not in machines.lease()
    machines.gate.touch()
    second = machines.run(b)  # no --lock-timeout: the lease is free at once
    assert second.returncode == 0, second.stderr
    assert "took over" not in second.stderr and "waiting" not in second.stderr
    assert machines.backend().load().releases[f"{machines.ns}/slow"].result == "succeeded"


AFTER_SLOW = """
[[deployments.generic]]
name = "after"
chart = "tiny-app"
repository = "fixtures"
version = "0.1.0"
namespace = "{ns}"
depends_on = ["slow"]
"""


def test_a_holder_that_loses_the_lease_mid_run_starts_no_more_releases(machines, fake_helm):
    """The lease is removed while the run waits at ``slow`` (``state unlock --force`` by someone
    else): the run notices at its next renewal, lets ``slow`` finish, starts nothing after it,
    and fails naming the lease; ``after`` never reaches helm."""
    a = machines.folder("machine-a", "3s")
    a.write_text(a.read_text() + AFTER_SLOW.format(ns=machines.ns))
    log = machines.tmp / "a.err"
    first = machines.start(a, log=log)
    machines.held_mid_apply(first)
    assert machines.backend().force_unlock() is not None
    machines.wait_for("the holder notices at its next renewal",
                      lambda: "lost the project lock" in log.read_text(), first)
    machines.gate.touch()
    out, _ = first.communicate(timeout=BOUND)
    err = log.read_text()
    assert first.returncode == 1, out + err
    lease = f"state lease {machines.ns}/firestream-state-shop was removed or released by someone else"
    assert f"lost the project lock: {lease}; this run starts no more releases" in err
    assert f"not started: {lease}" in out  # the summary's reason for 'after'
    upgraded = {call[call.index("upgrade") + 1] for call in fake_helm.calls("upgrade")}
    assert upgraded == {"fast", "slow"}
    assert fake_helm.release("after", machines.ns) is None
