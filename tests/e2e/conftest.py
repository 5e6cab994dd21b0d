"""The ``firestream`` command run as a subprocess, as a user runs it.

Helpers for the end-to-end tests of the product's promises: bad input gives
one readable error and changes nothing; secrets never reach a command line,
a log or an error; programs run as argument lists.

* :func:`firestream` runs ``python -m firestream_core.cli.main`` in a folder with
  an environment built from scratch (no ``FIRESTREAM_*`` of the caller) and a
  private ``FIRESTREAM_TMPDIR`` per test, so a values file left behind is
  this run's and nobody else's;
* :func:`assert_one_error` checks stderr is exactly one ``error:`` message
  (plus an optional ``hint:`` line) and no traceback;
* :func:`snapshot` captures every file of the project folder, to assert
  that nothing was written;
* :func:`watched` runs it while the test kit's
  :func:`~firestream_testing.argv_watch.watch_argv` polls
  ``/proc/*/cmdline`` of every process it starts.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from firestream_testing.argv_watch import ArgvWatcher, watch_argv

FIRESTREAM = [sys.executable, "-m", "firestream_core.cli.main"]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without anything that would steer firestream or helm."""
    drop = ("FIRESTREAM_", "FAKE_HELM_", "KUBECONFIG", "HELM_", "PYTEST_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    if "FIRESTREAM_CACHE_DIR" in os.environ:  # the run's caches stay out of the user's ~/.cache
        env["FIRESTREAM_CACHE_DIR"] = os.environ["FIRESTREAM_CACHE_DIR"]
    env.update(extra or {})
    return env


def write_config(folder: Path, text: str) -> Path:
    """``folder/firestream.toml`` with ``text`` (dedented); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "firestream.toml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def firestream(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    """Run ``firestream ARGS`` in ``cwd`` with ``env`` and stdin closed (not a terminal)."""
    return subprocess.run(  # noqa: S603 - an argument list, our own interpreter
        [*FIRESTREAM, *map(str, args)],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_error(stderr: str, *needles: str) -> str:
    """stderr is one error message naming every needle; returns the message.

    One message: a single ``error: ...`` line, possibly followed by its
    indented problem lines (``firestream.toml is invalid:`` lists each
    problem as ``  path: problem``, docs/configuration.md#errors), then at
    most one ``hint: ...`` line. Nothing else: no log line, no traceback.
    """
    assert "Traceback" not in stderr, stderr
    lines = stderr.rstrip("\n").splitlines()
    assert lines and lines[0].startswith("error: "), stderr
    body = [lines[0]]
    rest = lines[1:]
    while rest and rest[0].startswith("  "):
        body.append(rest.pop(0))
    if rest and rest[0].startswith("hint: "):
        rest.pop(0)
    assert rest == [], f"more than one error message:\n{stderr}"
    message = "\n".join(body)
    for needle in needles:
        assert needle in message, f"{needle!r} not in:\n{stderr}"
    return message


def assert_traceback_then_error(stderr: str, *needles: str) -> None:
    """With ``-v``: a traceback, and the same error line."""
    assert "Traceback (most recent call last)" in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    tail = stderr[stderr.index(errors[0]):]
    for needle in needles:
        assert needle in tail, f"{needle!r} not in:\n{stderr}"


_WHOLE = 16 * 1024**2
"""Files up to this size are hashed whole; a larger one (the hostile 3 GB sparse file) by its
size, modification time and first and last MiB: reading it whole took 18 s and 3 GB of memory."""


def _file_digest(p: Path, st: os.stat_result) -> str:
    if st.st_size <= _WHOLE:
        return hashlib.sha256(p.read_bytes()).hexdigest()
    h = hashlib.sha256(f"{st.st_size} {st.st_mtime_ns}".encode())
    with p.open("rb") as f:
        h.update(f.read(1024**2))
        f.seek(-1024**2, os.SEEK_END)
        h.update(f.read(1024**2))
    return h.hexdigest()


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every entry under ``folder``: relative path -> (mode, sha256 of a file's bytes).

    An empty ``.firestream`` folder is left out: taking the project lock
    creates it, and removing it again would race with another run creating
    its lock inside; it holds nothing.
    """
    out: dict[str, tuple[int, str]] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(root) / name
            st = p.lstat()
            digest = _file_digest(p, st) if p.is_file() else ""
            out[str(p.relative_to(folder))] = (st.st_mode, digest)
    state_dir = folder / ".firestream"
    if state_dir.is_dir() and not any(state_dir.iterdir()):
        del out[".firestream"]
    return out


def watched(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float = 300
) -> tuple[subprocess.CompletedProcess[str], ArgvWatcher]:
    """Run ``firestream ARGS`` while :func:`watch_argv` looks at its descendants."""
    proc = subprocess.Popen(  # noqa: S603 - an argument list, our own interpreter
        [*FIRESTREAM, *map(str, args)], cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    with watch_argv(proc.pid) as watcher:
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), watcher


@pytest.fixture
def values_tmp(tmp_path: Path) -> Path:
    """This test's ``FIRESTREAM_TMPDIR``: where firestream puts its 0600 values files."""
    d = tmp_path / "values-tmp"
    d.mkdir()
    return d


@pytest.fixture
def broken_plugin(tmp_path: Path) -> dict[str, str]:
    """An installed chart plugin whose import raises, found through its entry point.

    A ``*.dist-info`` with ``entry_points.txt`` and the module, on
    ``PYTHONPATH``: ``importlib.metadata`` finds it in the subprocess only.
    Returns the variables to add to the subprocess's environment.
    """
    root = tmp_path / "site"
    dist = root / "firestream_chart_e2ebroken-0.3.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: firestream-chart-e2ebroken\nVersion: 0.3.0\n"
    )
    (dist / "entry_points.txt").write_text("[firestream.charts]\ne2ebroken = e2ebroken_plugin\n")
    (root / "e2ebroken_plugin.py").write_text("import strimzi_e2e_missing  # noqa: F401\n")
    return {"PYTHONPATH": str(root)}


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    d = tmp_path / "project"
    d.mkdir()
    return d


def leftovers(folder: Path) -> list[str]:
    """What is left in a ``FIRESTREAM_TMPDIR`` (nothing, after any run)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def cli_env(values_tmp: Path) -> Iterator[dict[str, str]]:
    """The base environment of a run: clean, with this test's FIRESTREAM_TMPDIR."""
    yield clean_env({"FIRESTREAM_TMPDIR": str(values_tmp)})
