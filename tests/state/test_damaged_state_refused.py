"""``apply``, ``plan`` and ``destroy`` with a damaged state file: refused before any cluster call.

Each kind of damage (corrupted, truncated, empty, from a newer firestream,
wrong types, a string schema version, not UTF-8) is fed to the three
commands through ``cli.main.main`` on the recording fake helm: exit 1, one
``error:`` line naming the file and the problem, a ``hint:`` saying how to
recover, no traceback, no helm call at all, and the file byte-for-byte as it
was (same content and modification time).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from firestream_core.cli.main import main

CONFIG = """[project]
name = "damaged"

[repositories]
fixtures = "https://charts.example.com/fixtures"

[deployments.web]
chart = "fixtures/tiny-app"
version = "0.1.0"
"""

GOOD_ENTRY = (
    '{"name": "web", "namespace": "default", "chart_type": "web", "chart": "fixtures/tiny-app", '
    '"version": "0.1.0", "values_digest": "x", "revision": 1, "applied_at": "2026-01-01T00:00:00Z", '
    '"action": "create", "result": "succeeded", "duration": 1.0}'
)
DAMAGE: dict[str, tuple[bytes, list[str]]] = {
    "corrupted": (b'{"schema_version": 1, "releases": {"default/web": [}', ["is not valid JSON"]),
    "truncated": (('{"schema_version": 1, "releases": {"default/web": ' + GOOD_ENTRY)[:90].encode(),
                  ["is not valid JSON"]),
    "empty": (b"", ["is empty"]),
    "whitespace": (b"  \n", ["is empty"]),
    "future-version": (b'{"schema_version": 7, "releases": {}}', ["unknown state schema version 7",
                                                                    "newer firestream"]),
    "string-version": (b'{"schema_version": "1", "releases": {}}',
                       ["schema_version is a string \"1\", expected the number 1"]),
    "no-version": (b'{"releases": {}}', ["no schema_version"]),
    "not-an-object": (b"[1, 2, 3]", ["not a JSON object (it holds an array)"]),
    "wrong-typed-releases": (b'{"schema_version": 1, "releases": []}', ["invalid state"]),
    "wrong-typed-entry": (('{"schema_version": 1, "releases": {"default/web": '
                           + GOOD_ENTRY.replace('"revision": 1', '"revision": "one"') + "}}").encode(),
                          ["invalid state", "revision"]),
    "mismatched-key": (('{"schema_version": 1, "releases": {"other/x": ' + GOOD_ENTRY + "}}").encode(),
                       ["does not match"]),
    "not-utf8": (b'{"schema_version": 1, "releases": {"\xff": 1}}', ["not UTF-8"]),
    "deep-nesting": (b'{"schema_version": 1, "releases": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                     ["nested too deeply"]),
}


@pytest.fixture
def project(tmp_path: Path, fake_helm: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    for k, v in fake_helm.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("FIRESTREAM_TMPDIR", str(tmp_path / "values-tmp"))
    (tmp_path / "values-tmp").mkdir()
    root = tmp_path / "p"
    (root / ".firestream").mkdir(parents=True)
    (root / "firestream.toml").write_text(CONFIG)
    return root


@pytest.mark.parametrize("command", [["plan"], ["apply", "--yes"], ["destroy", "--yes"]])
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_state_is_refused_before_any_cluster_call(
    damage: str, command: list[str], project: Path, fake_helm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    content, expect = DAMAGE[damage]
    state = project / ".firestream" / "state.json"
    state.write_bytes(content)
    os.utime(state, (1_000_000_000, 1_000_000_000))
    code = main([*command, "-f", str(project / "firestream.toml"), "--helm-binary", str(fake_helm.binary)])
    out, err = capsys.readouterr()
    assert code == 1, (out, err)
    assert "Traceback" not in err and "unexpected" not in err, err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert str(state) in line, err
    for want in expect:
        assert want in line, err
    (hint,) = [x for x in err.splitlines() if x.startswith("hint:")]
    assert ("restore it from a backup" in hint and "import deployment" in hint) or "upgrade firestream" in hint, hint
    assert fake_helm.calls() == [], "no helm call with a damaged state"
    assert state.read_bytes() == content and state.stat().st_mtime == 1_000_000_000
    assert sorted(p.name for p in (project / ".firestream").iterdir()) == ["state.json"]  # no lock left


def test_a_good_state_reaches_the_cluster(project: Path, fake_helm: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """The control: with a valid state file, plan does call helm (the assertion above can fail)."""
    (project / ".firestream" / "state.json").write_text('{"schema_version": 1, "releases": {}}')
    code = main(["plan", "-f", str(project / "firestream.toml"), "--helm-binary", str(fake_helm.binary)])
    assert code == 0, capsys.readouterr()
    assert fake_helm.calls()


@pytest.mark.parametrize("command", [["plan"], ["apply", "--yes"], ["destroy", "--yes"], ["state", "show"]])
@pytest.mark.parametrize("duration", ["[1]", '"x"', "{}"])
def test_a_bad_duration_in_the_journal_is_refused_naming_the_journal_and_the_key(
    duration: str, command: list[str], project: Path, fake_helm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was ``error: unexpected TypeError: float() argument must be ...``, naming no file."""
    (project / ".firestream" / "state.json").write_text('{"schema_version": 1, "releases": {}}')
    journal = project / ".firestream" / "state.journal"
    content = '{"key":"k9/cache","entry":null,"duration":' + duration + '}\n'
    journal.write_text(content)
    code = main([*command, "-f", str(project / "firestream.toml"), "--helm-binary", str(fake_helm.binary)])
    out, err = capsys.readouterr()
    assert code == 1, (out, err)
    assert "Traceback" not in err and "unexpected" not in err, err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert f"state journal {journal} line 1" in line and "k9/cache" in line and "duration" in line, err
    assert fake_helm.calls() == [], "no helm call with a damaged journal"
    assert journal.read_text() == content
