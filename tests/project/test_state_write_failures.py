"""A state that cannot be written mid-run (a full disk): what helm did is reported as done and
not recorded, nothing more starts, the summary is still made, and the next run recovers.

The disk is made full in-process: ``state.store._write`` (the journal's one ``os.write``) and
``state.store.atomic_write`` (``state.json``) raise ``ENOSPC``, as the kernel would.
"""

from __future__ import annotations

import errno
import os

import pytest

from firestream_core.errors import StateError
from firestream_core.project import Project
from firestream_core.state import store as state_store
from firestream_core.state.store import StateStore

from .conftest import write_config

REPOS = """
[repositories]
fixtures = "http://127.0.0.1:9/fixtures"
"""


def block(name: str, deps: tuple[str, ...] = ()) -> str:
    dep = f"depends_on = [{', '.join(repr(d) for d in deps)}]\n" if deps else ""
    return (f'[[deployments.generic]]\nname = "{name}"\nchart = "tiny-app"\nrepository = "fixtures"\n'
            f'version = "0.1.0"\n{dep}\n')


@pytest.fixture
def project(fake_helm, fake_kubectl, tmp_path, monkeypatch, no_log_redactors):
    for k, v in fake_helm.env.items():
        monkeypatch.setenv(k, v)
    folder = tmp_path / "project"
    write_config(folder, REPOS + block("a") + block("b", ("a",)))

    def load() -> Project:
        return Project.load(folder / "firestream.toml", helm_binary=fake_helm.binary, env=fake_helm.env,
                            kubectl_binary=fake_kubectl)

    return folder, load


def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(*args: object, **kwargs: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(state_store, "_write", no_space)
    monkeypatch.setattr(state_store, "atomic_write", no_space)


def test_a_full_disk_mid_run_reports_the_release_done_but_unrecorded_and_starts_nothing_more(
    project, fake_helm, monkeypatch
):
    folder, load = project
    full_disk(monkeypatch)
    result = load().apply(concurrency=1)
    a, b = result.releases["a"], result.releases["b"]
    # helm deployed a: it is reported done, not "create failed ... No space left on device"
    assert a.result == "ok" and a.stage_failed is None
    assert a.unrecorded and "No space left on device" in a.unrecorded
    assert f"cannot write the state at {folder / '.firestream' / 'state.journal'}" in a.unrecorded
    # nothing more is deployed that could not be recorded either
    assert b.result == "not_started" and "the state cannot be written" in b.reason
    assert [c[c.index("upgrade") + 1] for c in fake_helm.calls("upgrade")] == ["a"]
    assert isinstance(result.state_error, StateError) and not result.ok and result.exit_code == 1
    assert "cannot write the state at" in str(result.state_error)
    assert result.to_dict()["state_error"] == str(result.state_error)
    assert not (folder / ".firestream" / "lock").exists()  # the lock is released

    monkeypatch.undo()  # space again: the next run finds a in the cluster and deploys b
    plan = load().plan()
    assert {c.name: c.action for c in plan.releases} == {"a": "no-op", "b": "create"}
    again = load().apply(plan, concurrency=1)
    assert again.ok, again.releases
    assert sorted(StateStore(folder).load().releases) == ["default/a", "default/b"]


def test_a_state_json_that_cannot_be_written_keeps_the_journal_for_the_next_run(project, monkeypatch):
    folder, load = project

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(state_store, "atomic_write", no_space)  # the compaction at the end fails
    result = load().apply(concurrency=1)
    assert [o.result for o in result.releases.values()] == ["ok", "ok"]
    assert not any(o.unrecorded for o in result.releases.values())  # each is in the journal
    assert result.state_error is not None and result.exit_code == 1
    assert f"cannot write the state at {folder / '.firestream' / 'state.json'}" in str(result.state_error)
    monkeypatch.undo()
    assert not (folder / ".firestream" / "state.json").exists()
    # the journal holds both: the next load replays it, the next run compacts it
    assert sorted(StateStore(folder).load().releases) == ["default/a", "default/b"]
    assert {c.action for c in load().plan().releases} == {"no-op"}
