"""The state file: round trip, atomic writes, schema checks, the backend registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from firestream_core.deploy.results import ReleaseOutcome, release_state
from firestream_core.errors import StateError
from firestream_core.model import ChartInfo, ExecOutcome, ValidationResult
from firestream_core.plugin.generic import GenericChart
from firestream_core.state.store import (
    SCHEMA_VERSION,
    LastSuccess,
    ReleaseState,
    State,
    StateBackend,
    StateStore,
    open_backend,
    register_backend,
    release_key,
)
from firestream_core.tools.helm_output import TestResult


def entry(name: str = "db", *, action: str = "create", result: str = "succeeded", duration: float = 12.0, revision: int = 1) -> ReleaseState:
    return ReleaseState(
        name=name,
        namespace="data",
        chart_type="postgresql",
        chart="bitnami/postgresql",
        version="13.2.24",
        values_digest="sha256:abc",
        revision=revision,
        applied_at="2026-01-02T03:04:05Z",
        action=action,
        result=result,
        duration=duration,
        validations=[{"name": "release_exists", "status": "passed", "message": ""}],
    )


def test_missing_file_is_an_empty_state(tmp_path):
    store = StateStore(tmp_path)
    assert store.path == tmp_path / ".firestream" / "state.json"
    state = store.load()
    assert state.releases == {} and state.durations == {}
    assert not store.path.exists()


def test_round_trip(tmp_path):
    store = StateStore(tmp_path)
    state = State()
    state.record(entry("db"))
    state.record(entry("api", action="upgrade", result="failed", revision=3))
    state.releases["data/api"].stage_failed = "validate"
    state.releases["data/api"].tests = [{"name": "api-test", "status": "failed"}]
    store.save(state)

    loaded = store.load()
    assert loaded == state
    assert loaded.releases["data/api"].stage_failed == "validate"
    assert loaded.releases["data/db"].validations[0]["name"] == "release_exists"
    raw = json.loads(store.path.read_text())
    assert raw["schema_version"] == SCHEMA_VERSION == 1
    assert list(raw["releases"]) == ["data/api", "data/db"]


def test_entries_without_chart_digest_still_load(tmp_path):
    """chart_digest (local charts) came later: older files load, with the schema version unchanged."""
    store = StateStore(tmp_path)
    state = State()
    state.record(entry("db"))
    store.save(state)
    raw = json.loads(store.path.read_text())
    del raw["releases"]["data/db"]["chart_digest"]
    store.path.write_text(json.dumps(raw))
    assert store.load().releases["data/db"].chart_digest is None
    state.releases["data/db"].chart_digest = "sha256:0f"
    store.save(state)
    assert store.load().releases["data/db"].chart_digest == "sha256:0f"
    assert json.loads(store.path.read_text())["schema_version"] == 1

def test_a_failed_apply_keeps_the_last_successful_one(tmp_path):
    """What ``firestream rollback`` returns to survives failed applies, on disk and in the journal."""
    store = StateStore(tmp_path)
    state = State()
    state.record(entry("db", revision=1))
    state.record(entry("db", action="upgrade", revision=2))
    stored = state.record(entry("db", action="upgrade", result="failed", revision=3))
    good = LastSuccess(revision=2, action="upgrade", applied_at="2026-01-02T03:04:05Z")
    assert stored.last_success == good == stored.last_successful()
    state.record(entry("db", action="recover", result="failed", revision=4))  # and the next failure
    assert state.releases["data/db"].last_successful() == good
    store.save_release(state, "data/db")
    assert store.load().releases["data/db"].last_successful() == good  # the journal's line
    store.flush(state)
    assert json.loads(store.path.read_text())["releases"]["data/db"]["last_success"] == {
        "revision": 2, "action": "upgrade", "applied_at": "2026-01-02T03:04:05Z"}
    assert store.load().releases["data/db"].last_successful() == good
    # a success is its own last success and carries nothing
    state.record(entry("db", action="upgrade", revision=5))
    assert state.releases["data/db"].last_success is None
    assert state.releases["data/db"].last_successful() == LastSuccess(5, "upgrade", "2026-01-02T03:04:05Z")


def test_entries_without_last_success_load_as_they_are(tmp_path):
    store = StateStore(tmp_path)
    state = State()
    state.record(entry("db", action="upgrade", result="failed", revision=3))
    store.save(state)
    raw = json.loads(store.path.read_text())
    del raw["releases"]["data/db"]["last_success"]
    store.path.write_text(json.dumps(raw))
    loaded = store.load().releases["data/db"]
    assert loaded.last_success is None and loaded.last_successful() is None


def test_durations_feed_estimates_only_from_successful_deploys(tmp_path):
    state = State()
    state.record(entry("db", duration=10.0))
    state.record(entry("db", duration=20.0, action="upgrade"))
    state.record(entry("db", duration=999.0, result="failed"))
    state.record(entry("db", duration=1.0, action="destroy"))
    assert state.durations[release_key("data", "db")] == pytest.approx(15.0)
    assert state.estimates_for([("db", "data", "db"), ("new", "data", "new")]) == {"db": 15.0}
    assert state.forget("data/db") is not None
    assert state.forget("data/db") is None
    assert "data/db" in state.durations  # kept for the next create


def test_save_writes_through_fsync_and_leaves_no_temp_file(tmp_path, monkeypatch):
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    store = StateStore(tmp_path)
    store.save(State())
    state_dir = str(tmp_path / ".firestream")
    assert any(p.startswith(state_dir + "/.state.json.") for p in synced)  # the temp file
    assert synced[-1] == state_dir  # then the folder, after the rename
    assert os.listdir(state_dir) == ["state.json"]


def test_a_new_journal_is_synced_with_its_folder(tmp_path, monkeypatch):
    """The journal a run makes is on disk with its lines: its folder is synced after the first
    line (the file's own fdatasync alone would leave the new name in the page cache)."""
    synced: list[str] = []
    real_fsync, real_fdatasync = os.fsync, os.fdatasync
    done = threading.Event()

    def fsync(fd: int) -> None:
        synced.append("fsync " + os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)
        done.set()

    def fdatasync(fd: int) -> None:
        synced.append("fdatasync " + os.readlink(f"/proc/self/fd/{fd}"))
        real_fdatasync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "fdatasync", fdatasync)
    store = StateStore(tmp_path)
    state = State()
    state.record(entry("db"))
    store.save_release(state, "data/db")
    assert done.wait(5)
    state_dir = str(tmp_path / ".firestream")
    assert synced[:2] == [f"fdatasync {store.journal}", f"fsync {state_dir}"]
    store.flush(state)


def test_failed_rename_keeps_the_old_file_and_removes_the_temp_file(tmp_path, monkeypatch):
    store = StateStore(tmp_path)
    old = State()
    old.record(entry("db"))
    store.save(old)
    before = store.path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", broken_replace)
    new = State()
    new.record(entry("other"))
    with pytest.raises(StateError, match=f"cannot write the state at {store.path}: disk gone"):
        store.save(new)
    assert store.path.read_bytes() == before
    assert os.listdir(store.dir) == ["state.json"]


def test_crash_between_write_and_rename_keeps_the_old_file(tmp_path):
    """A process dying just before the rename leaves the old state readable."""
    store = StateStore(tmp_path)
    old = State()
    old.record(entry("db"))
    store.save(old)
    before = store.path.read_bytes()

    script = textwrap.dedent(
        """
        import os, sys
        from firestream_core.state.store import State, StateStore, ReleaseState
        os.replace = lambda src, dst: os._exit(3)  # the crash, after write+fsync
        state = StateStore(sys.argv[1]).load()
        state.forget("data/db")
        StateStore(sys.argv[1]).save(state)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=False)  # noqa: S603 - the test interpreter
    assert proc.returncode == 3
    assert store.path.read_bytes() == before
    leftovers = [p for p in os.listdir(store.dir) if p != "state.json"]
    assert len(leftovers) == 1 and leftovers[0].endswith(".tmp")  # written, never renamed
    assert store.load() == old  # the stray temp file is ignored


def test_concurrent_saves_from_threads(tmp_path):
    store = StateStore(tmp_path)
    state = State()

    def one(i: int) -> None:
        state.record(entry(f"r{i}"))
        store.save(state)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.load().releases) == 16


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"schema_version": 2, "releases": {}}', "unknown state schema version 2"),
        ('{"releases": {}}', "no schema_version"),
        ("[1, 2]", "not a JSON object"),
        ("{not json", "is not valid JSON"),
        (
            '{"schema_version": 1, "releases": {"data/db": {"name": "db"}}}',
            "invalid state",
        ),
    ],
)
def test_unreadable_or_unknown_state_names_the_file(tmp_path, content, match):
    store = StateStore(tmp_path)
    store.dir.mkdir()
    store.path.write_text(content)
    with pytest.raises(StateError, match=match) as info:
        store.load()
    assert str(store.path) in str(info.value)


def test_newer_schema_hints_at_upgrading(tmp_path):
    store = StateStore(tmp_path)
    store.dir.mkdir()
    store.path.write_text('{"schema_version": 2}')
    with pytest.raises(StateError) as info:
        store.load()
    assert "newer firestream" in info.value.hint


def test_invalid_field_is_named_with_its_path(tmp_path):
    store = StateStore(tmp_path)
    state = State()
    state.record(entry("db"))
    store.save(state)
    data = json.loads(store.path.read_text())
    data["releases"]["data/db"]["revision"] = "three"
    store.path.write_text(json.dumps(data))
    with pytest.raises(StateError, match=r"expected int \| None @ \$\.releases\['data/db'\]\.revision"):
        store.load()


def test_mismatched_release_key_is_refused(tmp_path):
    store = StateStore(tmp_path)
    state = State()
    state.record(entry("db"))
    data = state.to_dict()
    data["releases"] = {"other/db": data["releases"]["data/db"]}
    store.dir.mkdir()
    store.path.write_text(json.dumps(data))
    with pytest.raises(StateError, match="does not match"):
        store.load()


def test_local_backend_and_registry(tmp_path):
    backend = open_backend("local", tmp_path)
    assert isinstance(backend, StateBackend)
    assert backend.describe() == str(Path(tmp_path) / ".firestream" / "state.json")
    with pytest.raises(StateError, match="unknown state backend 's3-test'"):
        open_backend("s3-test", tmp_path)

    class Memory:
        def __init__(self, project_dir, **options):
            self.options = options

    register_backend("memory-test", Memory)
    assert open_backend("memory-test", tmp_path, namespace="ns").options == {"namespace": "ns"}


# -- the journal: O(1) per release during a run -------------------------------------------------


def _outcome(name: str, result: str = "ok", **fields) -> ReleaseOutcome:
    return ReleaseOutcome(
        name, "upgrade", result, namespace="data", duration=4.5, revision=3,
        executed=ExecOutcome("deployed", 3, f"release '{name}' upgraded, revision 3", status="deployed"),
        validations=(ValidationResult.ok("release_exists", "exists"),
                     ValidationResult.fail("endpoint", "token hunter2 refused")),
        **fields,
    )


@pytest.mark.parametrize("through", ["save", "journal"])
def test_state_written_from_an_outcome_round_trips(tmp_path, through):
    """release_state turns a release's outcome into its record; written (whole file or one journal
    line) and read back, the record is the same, its validations and tests included."""
    chart = GenericChart(ChartInfo(name="web", chart="repo/web", namespace="data"))
    tests = (TestResult("web-test", "Succeeded", "2026-01-02T03:04:05Z", "2026-01-02T03:04:09Z"),
             TestResult("web-smoke", "Failed"))
    written = {
        "web": release_state(_outcome("web", tests=tests), chart, version="1.2.0", values_digest="sha256:v",
                             chart_digest="sha256:c", desired_digest="sha256:d",
                             desired_parts={"setting timeout": "sha256:t"},
                             redact=lambda text: text.replace("hunter2", "***")),
        "db": release_state(_outcome("db", "failed", stage_failed="validate"),
                            GenericChart(ChartInfo(name="db", chart="repo/db", namespace="data")),
                            version=None, values_digest="sha256:w"),
    }
    store = StateStore(tmp_path)
    state = State()
    for entry_ in written.values():
        state.record(entry_)
        if through == "journal":
            store.save_release(state, entry_.key)
    if through == "save":
        store.save(state)
    loaded = StateStore(tmp_path).load()
    assert loaded.releases == {"data/web": written["web"], "data/db": written["db"]}
    web, db = loaded.releases["data/web"], loaded.releases["data/db"]
    assert (web.action, web.result, web.revision, web.duration, web.version) == ("upgrade", "succeeded", 3, 4.5,
                                                                                "1.2.0")
    assert (web.chart_type, web.chart, web.chart_digest, web.desired_parts) == (
        "generic", "repo/web", "sha256:c", {"setting timeout": "sha256:t"})
    assert web.validations == [{"name": "release_exists", "status": "passed", "message": "exists"},
                               {"name": "endpoint", "status": "failed", "message": "token *** refused"}]
    assert web.tests == [
        {"name": "web-test", "phase": "Succeeded", "passed": True, "started": "2026-01-02T03:04:05Z",
         "completed": "2026-01-02T03:04:09Z", "run_at": web.applied_at},
        {"name": "web-smoke", "phase": "Failed", "passed": False, "started": None, "completed": None,
         "run_at": web.applied_at},
    ]
    assert (db.result, db.stage_failed, db.tests, db.version) == ("failed", "validate", None, None)
    assert loaded.durations == {"data/web": 4.5}  # only a successful deploy feeds the estimates


def test_save_release_appends_to_the_journal_and_leaves_the_file_alone(tmp_path):
    store = StateStore(tmp_path)
    state = State()
    state.record(entry("db"))
    store.save(state)
    before = store.path.read_bytes()
    state.record(entry("api", action="upgrade"))
    store.save_release(state, "data/api")
    state.forget("data/db")
    store.save_release(state, "data/db")
    assert store.path.read_bytes() == before  # no rewrite per release
    lines = store.journal.read_text().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["data/api", "data/db"]
    assert json.loads(lines[1])["entry"] is None and json.loads(lines[1])["duration"] == 12.0
    assert StateStore(tmp_path).load() == state  # another reader replays the journal
    store.flush(state)
    assert os.listdir(store.dir) == ["state.json"]
    assert StateStore(tmp_path).load() == state


def test_flush_without_journal_writes_nothing(tmp_path):
    store = StateStore(tmp_path)
    store.flush(State())
    assert not store.dir.exists()


def test_a_run_killed_mid_way_keeps_every_recorded_release_and_the_next_run_compacts(tmp_path):
    """kill -9 after some releases: each recorded one survives; the next run's flush compacts."""
    script = textwrap.dedent(
        """
        import os, signal, sys
        from firestream_core.state.store import State, StateStore, ReleaseState
        store = StateStore(sys.argv[1])
        state = store.load()
        for i in range(5):
            state.record(ReleaseState(name=f"r{i}", namespace="data", chart_type="generic",
                                      chart="c", version="1", values_digest="d", revision=1,
                                      applied_at="t", action="create", result="succeeded",
                                      duration=2.0))
            store.save_release(state, f"data/r{i}")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    store = StateStore(tmp_path)
    old = State()
    old.record(entry("db", duration=4.0))
    store.save(old)
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=False)  # noqa: S603 - the test interpreter
    assert proc.returncode == -9
    assert json.loads(store.path.read_text())["releases"].keys() == {"data/db"}  # file untouched
    recovered = StateStore(tmp_path).load()
    assert set(recovered.releases) == {"data/db", *(f"data/r{i}" for i in range(5))}
    assert recovered.durations["data/r3"] == 2.0
    StateStore(tmp_path).flush(recovered)
    assert os.listdir(store.dir) == ["state.json"]
    assert StateStore(tmp_path).load() == recovered


def test_replaying_a_journal_twice_changes_nothing(tmp_path):
    """A crash between compaction and the journal's removal: the lines are replayed over their own result."""
    store = StateStore(tmp_path)
    state = State()
    state.record(entry("db", duration=10.0))
    store.save(state)
    state.record(entry("db", duration=20.0, action="upgrade"))
    store.save_release(state, "data/db")
    journal = store.journal.read_bytes()
    store.flush(state)
    store.journal.write_bytes(journal)  # as if the unlink never happened
    again = StateStore(tmp_path).load()
    assert again == state
    assert again.durations["data/db"] == pytest.approx(15.0)  # not smoothed a second time


def test_a_torn_last_journal_line_is_the_release_in_flight(tmp_path):
    store = StateStore(tmp_path)
    state = State()
    state.record(entry("db"))
    store.save_release(state, "data/db")
    with store.journal.open("a") as f:
        f.write('{"key": "data/api", "entry": {"na')  # power lost mid-write
    assert StateStore(tmp_path).load() == state


def test_a_damaged_journal_line_is_named(tmp_path):
    store = StateStore(tmp_path)
    store.dir.mkdir()
    store.journal.write_text('not json\n{"key": "data/db", "entry": null}\n')
    with pytest.raises(StateError, match="line 1 is not valid JSON") as info:
        store.load()
    assert str(store.journal) in str(info.value)


def test_the_state_and_its_journal_are_the_owners_alone(tmp_path):
    """Digests of values that hold secrets: nobody else may read them (a weak secret's digest
    can be guessed offline). An older file written 0644 is 0600 after the next save."""
    import stat

    store = StateStore(tmp_path)
    store.dir.mkdir()
    store.path.write_text('{"schema_version": 1, "releases": {}, "durations": {}}')
    store.path.chmod(0o644)
    state = store.load()
    state.record(entry("db"))
    store.save_release(state, "data/db")
    assert stat.S_IMODE(store.journal.stat().st_mode) == 0o600
    store.flush(state)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


@pytest.mark.parametrize("duration", [[1], "x", {"s": 1}])
def test_a_journal_line_with_a_bad_duration_is_named(tmp_path, duration):
    store = StateStore(tmp_path)
    store.dir.mkdir()
    store.journal.write_text(json.dumps({"key": "k9/cache", "entry": None, "duration": duration}) + "\n")
    with pytest.raises(StateError, match=r"line 1: invalid state: .*\$\.k9/cache\.duration") as info:
        store.load()
    assert str(store.journal) in str(info.value)


# -- a state that cannot be written: one StateError naming the path -----------------------------


def _no_space(*args, **kwargs):
    import errno

    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_state_file_that_cannot_be_written_is_a_state_error_naming_it(tmp_path, monkeypatch):
    from firestream_core.state import store as state_store

    store = StateStore(tmp_path)
    monkeypatch.setattr(state_store.os, "replace", _no_space)
    with pytest.raises(StateError) as info:
        store.save(State())
    assert str(info.value) == f"cannot write the state at {store.path}: No space left on device"
    assert "writable" in (info.value.hint or "")
    assert sorted(p.name for p in store.dir.iterdir()) == []  # no temp file left


def test_a_state_folder_that_is_a_file_or_under_a_file_is_named(tmp_path):
    (tmp_path / ".firestream").write_text("not a folder")
    state = State()
    state.record(entry("db"))
    for write in (lambda s: s.save(state), lambda s: s.save_release(state, "data/db")):
        with pytest.raises(StateError, match=r"cannot write the state at .*/\.firestream: it is not a folder"):
            write(StateStore(tmp_path))
    with pytest.raises(StateError, match=r"cannot write the state at .*/\.firestream: Not a directory"):
        StateStore(tmp_path / ".firestream" / "inner").save(state)  # a path under a file: ENOTDIR


def test_a_journal_line_the_disk_cuts_short_is_cut_off_and_the_journal_stays_readable(tmp_path, monkeypatch):
    from firestream_core.state import store as state_store

    store = StateStore(tmp_path)
    state = State()
    state.record(entry("db"))
    store.save_release(state, "data/db")
    before = store.journal.read_bytes()
    real = state_store._write
    calls = []

    def half_then_full(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real(fd, data[: len(data) // 2])  # a short write...
        return _no_space()  # ...and then the disk is full

    monkeypatch.setattr(state_store, "_write", half_then_full)
    state.record(entry("api"))
    with pytest.raises(StateError, match=f"cannot write the state at {store.journal}: No space left on device"):
        store.save_release(state, "data/api")
    assert store.journal.read_bytes() == before  # the half line was cut off
    monkeypatch.undo()
    store.save_release(state, "data/api")  # space again: the journal goes on
    assert StateStore(tmp_path).load() == state


def test_a_line_that_cannot_be_cut_off_stays_last_and_nothing_is_appended_after_it(tmp_path, monkeypatch):
    from firestream_core.state import store as state_store

    store = StateStore(tmp_path)
    state = State()
    state.record(entry("db"))
    store.save_release(state, "data/db")
    real = state_store._write
    monkeypatch.setattr(state_store, "_write", lambda fd, data: real(fd, data[:10]) if len(data) > 10 else _no_space())
    monkeypatch.setattr(state_store.os, "ftruncate", _no_space)
    state.record(entry("api"))
    with pytest.raises(StateError):
        store.save_release(state, "data/api")
    monkeypatch.undo()
    with pytest.raises(StateError, match="No space left on device"):  # refused: it would follow the cut line
        store.save_release(state, "data/api")
    loaded = StateStore(tmp_path).load()  # the cut line is the last: ignored, like a crash mid-write
    assert sorted(loaded.releases) == ["data/db"]
    store.flush(state)  # a compaction writes everything and starts a new journal
    assert StateStore(tmp_path).load() == state and not store.journal.exists()


def test_each_environments_state_file_has_its_own_journal(tmp_path):
    """A crashed run of one environment (its journal left behind) is replayed into that
    environment's state only: another environment's run neither shows nor compacts it."""
    from firestream_core.config.load import load_config
    from firestream_core.project import state_backend

    (tmp_path / "firestream.toml").write_text(
        "[environments.prod]\n[[deployments.generic]]\nname = 'db'\npath = 'charts/db'\n")
    (tmp_path / "charts" / "db").mkdir(parents=True)
    (tmp_path / "charts" / "db" / "Chart.yaml").write_text("apiVersion: v2\nname: db\nversion: 0.1.0\n")
    prod = state_backend(load_config(tmp_path / "firestream.toml", environment="prod"))
    plain = state_backend(load_config(tmp_path / "firestream.toml"))
    assert isinstance(prod, StateStore) and isinstance(plain, StateStore)
    assert prod.journal == tmp_path / ".firestream" / "state.prod.journal"
    assert plain.journal == tmp_path / ".firestream" / "state.journal"

    crashed = prod.load()
    crashed.record(entry("db"))
    prod.save_release(crashed, "data/db")  # then killed: no flush

    other = plain.load()
    assert other.releases == {}  # prod's release is not in the default state
    other.record(entry("web"))
    plain.save(other)  # the default environment's compaction leaves prod's journal alone
    assert sorted(plain.load().releases) == ["data/web"]
    assert sorted(state_backend(load_config(tmp_path / "firestream.toml", environment="prod")).load().releases) == [
        "data/db"]


def test_a_line_a_lost_machine_cut_short_is_cut_off_before_the_next_run_appends(tmp_path):
    """The last line cut short by a power cut is ignored by load; the next run's lines must not
    be glued to it (a line in the middle that is not JSON: every later load refused)."""
    store = StateStore(tmp_path)
    state = store.load()
    state.record(entry("db"))
    store.save_release(state, "data/db")
    with open(store.journal, "ab") as f:
        f.write(b'{"key":"data/api","entry":{"na')  # the machine lost power mid-line

    store2 = StateStore(tmp_path)
    state2 = store2.load()
    assert sorted(state2.releases) == ["data/db"]
    state2.record(entry("web"))
    store2.save_release(state2, "data/web")  # then this run is killed too: no flush

    assert sorted(StateStore(tmp_path).load().releases) == ["data/db", "data/web"]
    assert store2.journal.read_bytes().count(b"\n") == 2


def test_the_state_path_of_the_config_is_where_the_local_state_is_kept(tmp_path):
    """``[state] path`` (docs/configuration.md: the local file) is used, relative to the
    project's folder, with the environment's suffix and its own journal."""
    from firestream_core.config.load import load_config
    from firestream_core.project import state_backend

    (tmp_path / "firestream.toml").write_text(
        "[state]\npath = 'var/shop-state.json'\n[environments.prod]\n"
        "[[deployments.generic]]\nname = 'db'\npath = 'charts/db'\n")
    (tmp_path / "charts" / "db").mkdir(parents=True)
    (tmp_path / "charts" / "db" / "Chart.yaml").write_text("apiVersion: v2\nname: db\nversion: 0.1.0\n")
    plain = state_backend(load_config(tmp_path / "firestream.toml"))
    prod = state_backend(load_config(tmp_path / "firestream.toml", environment="prod"))
    assert isinstance(plain, StateStore) and isinstance(prod, StateStore)
    assert plain.path == tmp_path / "var" / "shop-state.json"
    assert prod.path == tmp_path / "var" / "shop-state.prod.json"
    assert prod.journal == tmp_path / "var" / "shop-state.prod.journal"
    state = plain.load()
    state.record(entry("db"))
    plain.save(state)
    assert json.loads((tmp_path / "var" / "shop-state.json").read_text())["releases"]["data/db"]
    assert not (tmp_path / ".firestream" / "state.json").exists()


def test_a_state_kept_outside_the_project_is_locked_beside_it(tmp_path):
    """Two checkouts (or projects) sharing ``[state] path = "/srv/state/shop.json"`` each had
    their own ``.firestream/lock``, so both applied at once: one "recovered" a release the
    other's helm was still installing, and the last compaction dropped the other's records.
    Whoever shares the state file now shares its lock."""
    from firestream_core.errors import StateLockedError

    shared = tmp_path / "srv" / "shop.json"
    one = StateStore(tmp_path / "checkout-1", path=shared)
    two = StateStore(tmp_path / "checkout-2", path=shared)
    with one.lock("firestream apply"):
        with pytest.raises(StateLockedError, match="locked by pid"):
            two.lock("firestream apply").acquire()
        assert two.lock_holder() is not None
    assert two.lock_holder() is None
    assert one.lock_file == two.lock_file == tmp_path / "srv" / "lock"
    # a state in the project's folder (the default, an environment's) keeps .firestream/lock
    project = tmp_path / "p"
    for path in (None, project / ".firestream" / "state.prod.json", project / "state.json",
                 project / "var" / "shop.json"):
        assert StateStore(project, path=path).lock_file == project / ".firestream" / "lock"


def test_a_state_file_that_is_a_link_is_written_through_it(tmp_path):
    """``.firestream/state.json`` linked to a persistent volume: it is read as its target, and
    the first save used to replace the link with a file of its own, so the target (and every
    checkout linking to it) never saw another record."""
    persistent = tmp_path / "volume" / "shop.json"
    persistent.parent.mkdir()
    persistent.write_text('{"schema_version": 1}')
    project = tmp_path / "checkout"
    (project / ".firestream").mkdir(parents=True)
    (project / ".firestream" / "state.json").symlink_to(persistent)
    store = StateStore(project)
    state = store.load()
    state.record(entry())
    store.save_release(state, "data/db")
    assert (tmp_path / "volume" / "shop.journal").exists()  # a crash is replayed from beside it
    store.flush(state)
    assert (project / ".firestream" / "state.json").is_symlink()
    assert list(StateStore(project).load().releases) == ["data/db"]
    assert json.loads(persistent.read_text())["releases"]["data/db"]["name"] == "db"
    assert StateStore(project).lock_file == tmp_path / "volume" / "lock"  # shared, so locked there
    (project / ".firestream" / "state.json").unlink()
    (project / ".firestream" / "state.json").symlink_to("/dev/zero")
    with pytest.raises(StateError, match=r"state\.json -> /dev/zero is not a regular file"):
        StateStore(project).load()


@pytest.mark.parametrize("line", [
    'not json',
    '[1]',
    '{"entry": null}',
    '{"key": "x/y", "entry": {"name": "z"}}',
    '{"key": "data/web", "entry": null, "duration": "soon"}',
])
def test_every_refused_journal_line_says_how_to_go_on_with_the_journal(tmp_path, line):
    """A damaged journal line was refused with the state file's hint ('move it aside to start
    from an empty state', which moving the journal does not do) or with none at all."""
    from firestream_core.state.store import JOURNAL_HINT

    store = StateStore(tmp_path)
    store.dir.mkdir()
    store.journal.write_text(line + '\n{"key": "data/db", "entry": null}\n')
    with pytest.raises(StateError, match="line 1") as info:
        store.load()
    assert info.value.hint == JOURNAL_HINT
    assert "empty state" not in info.value.hint


def _project_files(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_text("[[deployments.generic]]\nname = 'db'\nchart = 'repo/db'\n")


def test_two_project_files_of_one_folder_keep_two_states(tmp_path):
    """firestream.toml and staging.toml side by side: each project's plan sees its own records
    only (staging's releases are not firestream.toml's to list as left behind, nor to destroy),
    and firestream.toml's state stays exactly where it always was."""
    from firestream_core.config.load import load_config
    from firestream_core.project import state_backend

    _project_files(tmp_path, "firestream.toml", "staging.toml")
    main = state_backend(load_config(tmp_path / "firestream.toml"))
    staging = state_backend(load_config(tmp_path / "staging.toml"))
    assert isinstance(main, StateStore) and isinstance(staging, StateStore)
    assert main.path == tmp_path / ".firestream" / "state.json"
    assert staging.path == tmp_path / ".firestream" / "projects" / "staging.toml" / "state.json"
    assert main.lock_file == staging.lock_file == tmp_path / ".firestream" / "lock"

    state = staging.load()
    state.record(entry("web"))
    staging.save_release(state, "data/web")
    staging.flush(state)
    state = main.load()
    assert state.releases == {}
    state.record(entry("db"))
    main.save(state)
    assert sorted(state_backend(load_config(tmp_path / "staging.toml")).load().releases) == ["data/web"]
    assert sorted(state_backend(load_config(tmp_path / "firestream.toml")).load().releases) == ["data/db"]
    env = state_backend(load_config(tmp_path / "staging.toml"), kube_context="prod")
    assert env.path.name == "state.@prod.json" and env.dir == staging.dir


@pytest.mark.parametrize("crashed", [False, True], ids=["compacted", "journal-only"])
def test_a_lone_project_files_existing_state_is_moved_to_its_own(tmp_path, crashed):
    """A project file other than firestream.toml kept its state in .firestream/state.json
    before: it is still found (plan reads it), and the first write moves it, records and all,
    journal included, so that a firestream.toml added later does not inherit it."""
    from firestream_core.config.load import load_config
    from firestream_core.project import state_backend

    _project_files(tmp_path, "shop.toml")
    old = StateStore(tmp_path)
    state = old.load()
    state.record(entry("db"))
    if crashed:
        old.save_release(state, "data/db")  # killed: only the journal holds it
    else:
        old.save(state)

    store = state_backend(load_config(tmp_path / "shop.toml"))
    state = store.load()
    assert sorted(state.releases) == ["data/db"]
    assert not (tmp_path / ".firestream" / "projects").exists()  # a plan writes nothing
    state.record(entry("web"))
    writer = state_backend(load_config(tmp_path / "shop.toml"))  # not the one that read it
    writer.save_release(state, "data/web")
    writer.flush(state)
    assert not old.path.exists() and not old.journal.exists()
    again = state_backend(load_config(tmp_path / "shop.toml"))
    assert sorted(again.load().releases) == ["data/db", "data/web"]
    assert again.path == tmp_path / ".firestream" / "projects" / "shop.toml" / "state.json"


def test_a_state_two_project_files_shared_is_copied_and_kept_for_firestream_toml(tmp_path):
    """Before, firestream.toml and staging.toml wrote one .firestream/state.json: staging
    starts its own state with the records of the releases it names (they are not lost), not
    those of firestream.toml's other releases, and firestream.toml's stays, untouched."""
    from firestream_core.config.load import load_config
    from firestream_core.project import state_backend

    _project_files(tmp_path, "firestream.toml", "staging.toml")
    shared = StateStore(tmp_path)
    state = shared.load()
    state.record(entry("db"))
    state.record(entry("web"))
    shared.save(state)
    before = shared.path.read_bytes()

    staging = state_backend(load_config(tmp_path / "staging.toml"))  # it names db alone
    state = staging.load()
    assert sorted(state.releases) == ["data/db"] and sorted(state.durations) == ["data/db"]
    state.record(entry("db", action="upgrade", revision=2))
    staging.save_release(state, "data/db")
    staging.flush(state)
    assert shared.path.read_bytes() == before
    (record,) = state_backend(load_config(tmp_path / "staging.toml")).load().releases.values()
    assert (record.name, record.revision) == ("db", 2)
    assert sorted(state_backend(load_config(tmp_path / "firestream.toml")).load().releases) == [
        "data/db", "data/web"]


def test_a_lone_project_files_linked_state_stays_where_the_link_points(tmp_path):
    """.firestream/state.json a link to a state kept elsewhere on purpose: that project file
    (the folder's only one) goes on reading and writing it there; nothing is moved."""
    from firestream_core.config.load import load_config
    from firestream_core.project import state_backend

    (tmp_path / "volume").mkdir()
    (tmp_path / "p" / ".firestream").mkdir(parents=True)
    _project_files(tmp_path / "p", "shop.toml")
    (tmp_path / "p" / ".firestream" / "state.json").symlink_to(tmp_path / "volume" / "shop.json")
    StateStore(tmp_path / "volume", path=tmp_path / "volume" / "shop.json").save(State(releases={"data/db": entry()}))

    store = state_backend(load_config(tmp_path / "p" / "shop.toml"))
    state = store.load()
    assert sorted(state.releases) == ["data/db"]
    state.record(entry("web"))
    store.save(state)
    assert (tmp_path / "p" / ".firestream" / "state.json").is_symlink()
    assert sorted(StateStore(tmp_path, path=tmp_path / "volume" / "shop.json").load().releases) == [
        "data/db", "data/web"]
    assert not (tmp_path / "p" / ".firestream" / "projects").exists()
