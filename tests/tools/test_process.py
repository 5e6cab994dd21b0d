"""The one module that runs programs: exit codes, stdin, timeouts, cancellation, logs."""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path

import pytest

from firestream_core.errors import CancelledError, HelmNotInstalledError
from firestream_core.tools.process import Completed, ProgramNotFoundError, Runner
from firestream_core.tools.redact import Redactor

PY = sys.executable


def _wait_until_running(runner: Runner, count: int = 1) -> None:
    """Block until ``count`` processes are registered (event-driven, no fixed sleep)."""
    done = threading.Event()
    for _ in range(5000):
        if len(runner.running()) >= count:
            done.set()
            break
        done.wait(0.002)
    assert done.is_set(), "process never started"


def test_non_zero_exit_is_returned_not_raised() -> None:
    result = Runner().run([PY, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"])
    assert isinstance(result, Completed)
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert not result.ok
    assert result.argv[0] == PY


def test_both_outputs_are_read_together_whatever_their_size() -> None:
    """Megabytes on both streams, interleaved: a reader taking one stream to its end first
    would leave the program blocked on the other's full pipe."""
    code = (
        "import sys\n"
        "for i in range(64):\n"
        "    sys.stdout.write('o' * 16384); sys.stdout.flush()\n"
        "    sys.stderr.write('e' * 16384 + '\\xff'); sys.stderr.flush()\n"
    )
    result = Runner().run([PY, "-c", code], timeout=60)
    assert result.ok and not result.timed_out
    assert result.stdout == "o" * 16384 * 64
    assert result.stderr == ("e" * 16384 + "\N{LATIN SMALL LETTER Y WITH DIAERESIS}") * 64


def test_what_a_timed_out_program_printed_before_is_kept() -> None:
    code = "import sys, time; print('before', flush=True); print('err', file=sys.stderr, flush=True); time.sleep(30)"
    result = Runner(grace=0.5).run([PY, "-c", code], timeout=1.0)
    assert result.timed_out and result.returncode < 0
    assert result.stdout == "before\n"
    assert result.stderr == "err\n"


def test_stdin_env_and_cwd_reach_the_program(tmp_path: Path) -> None:
    code = "import os, sys; print(sys.stdin.read(), os.environ['FS_TEST_VAR'], os.getcwd())"
    result = Runner().run([PY, "-c", code], stdin=b"fed", env={"FS_TEST_VAR": "v1"}, cwd=tmp_path)
    assert result.ok
    assert result.stdout.split() == ["fed", "v1", str(tmp_path)]


def test_program_without_stdin_sees_end_of_file() -> None:
    result = Runner().run([PY, "-c", "import sys; print(repr(sys.stdin.read()))"])
    assert result.stdout.strip() == "''"


def test_missing_program_is_typed_and_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ProgramNotFoundError) as info:
        Runner().run([str(tmp_path / "helm"), "version"], label="rel")
    err = info.value
    assert isinstance(err, FileNotFoundError)
    assert isinstance(err, HelmNotInstalledError)
    assert "firestream_testing.tools" in (err.hint or "")
    assert err.release == "rel"


def test_a_file_that_is_not_a_program_is_the_same_error_with_the_systems_reason(tmp_path: Path) -> None:
    """An executable file that is not a program for this machine (no ELF, no ``#!``) was an
    ``unexpected OSError: [Errno 8] Exec format error``."""
    helm = tmp_path / "helm"
    helm.write_text("not a program\n")
    helm.chmod(0o755)
    with pytest.raises(ProgramNotFoundError) as info:
        Runner().run([str(helm), "version"], label="rel")
    err = info.value
    assert isinstance(err, HelmNotInstalledError) and err.release == "rel"
    assert str(err).startswith(f"cannot run '{helm}': Exec format error (not a program this machine can run")
    assert "firestream_testing.tools" in (err.hint or "")


def test_any_oserror_starting_a_program_is_that_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import subprocess

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    with pytest.raises(ProgramNotFoundError, match=r"^cannot run '.*': Too many open files$"):
        Runner().run([PY, "-c", "pass"])


def test_startable_checks_without_starting(tmp_path: Path) -> None:
    tool = tmp_path / "only-here-tool"
    tool.write_text("#!/bin/sh\necho started > started\n")
    tool.chmod(0o755)
    runner = Runner()
    assert runner.startable("only-here-tool", env={"PATH": str(tmp_path)}) == str(tool)
    assert runner.startable(str(tool)) == str(tool)
    assert not (tmp_path / "started").exists()
    tool.chmod(0o644)
    for missing in (str(tool), str(tmp_path / "absent"), "only-here-tool", str(tmp_path)):
        with pytest.raises(ProgramNotFoundError, match="not found or not executable"):
            runner.startable(missing, env={"PATH": str(tmp_path)})


def test_invalid_environment_never_shows_the_value() -> None:
    with pytest.raises(ValueError) as info:
        Runner().run([PY, "-c", "pass"], env={"TOKEN": 12345678})  # type: ignore[dict-item]
    assert "12345678" not in str(info.value)


def test_timeout_stops_the_program_and_says_so() -> None:
    runner = Runner(grace=0.5)
    result = runner.run([PY, "-c", "import time; time.sleep(30)"], timeout=0.2)
    assert result.timed_out
    assert not result.cancelled
    assert result.returncode < 0
    assert runner.running() == []


def test_timeout_escalates_to_sigkill_when_sigterm_is_ignored() -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(30)"
    result = Runner(grace=0.2).run([PY, "-c", code], timeout=0.5)
    assert result.timed_out
    assert result.returncode == -9


def test_terminate_all_stops_every_process_and_names_their_labels() -> None:
    runner = Runner(grace=2)
    results: dict[str, Completed] = {}

    def work(label: str) -> None:
        results[label] = runner.run([PY, "-c", "import time; time.sleep(30)"], label=label)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("db", "web")]
    for t in threads:
        t.start()
    _wait_until_running(runner, 2)
    assert sorted(p.label for p in runner.running()) == ["db", "web"]
    labels = runner.terminate_all()
    for t in threads:
        t.join()
    assert sorted(labels) == ["db", "web"]
    assert all(r.cancelled and not r.ok for r in results.values())
    assert runner.running() == []
    # the runner still works afterwards
    assert runner.run([PY, "-c", "pass"]).ok


def test_terminate_all_with_nothing_running_returns_nothing() -> None:
    assert Runner().terminate_all(grace=0) == []


def test_refuse_new_raises_cancelled_until_accept_new() -> None:
    runner = Runner()
    runner.terminate_all(grace=0, refuse_new=True)
    with pytest.raises(CancelledError) as info:
        runner.run([PY, "-c", "pass"], label="late")
    assert info.value.releases == ["late"]
    runner.accept_new()
    assert runner.run([PY, "-c", "pass"]).ok


def test_a_program_spawned_while_the_refusal_came_is_stopped_at_once() -> None:
    """The race an interrupted apply once lost: a program passed the refusal check, then
    ``terminate_all`` (finding nothing to stop) ran before it was tracked. It must not
    run on (here: ``sleep 60``, as a ``helm --wait`` would)."""
    runner = Runner(grace=0.5)
    check = runner._check_accepting

    def passes_then_refused(label: str | None) -> None:
        check(label)
        assert runner.terminate_all(grace=0, refuse_new=True) == []  # nothing tracked yet

    runner._check_accepting = passes_then_refused  # type: ignore[method-assign]
    result = runner.run([PY, "-c", "import time; time.sleep(60)"], label="slow", timeout=30)
    assert result.cancelled and not result.ok and result.duration < 20
    assert runner.running() == []


@pytest.mark.parametrize("stdin", [None, b"input"], ids=["no-stdin", "stdin"])
def test_exception_in_waiting_thread_stops_its_process(monkeypatch: pytest.MonkeyPatch, stdin: bytes | None) -> None:
    """A KeyboardInterrupt while waiting must not leave the program running (both ways of
    waiting: the outputs read alone, and ``communicate`` feeding stdin)."""
    import subprocess

    from firestream_core.tools import process

    runner = Runner(grace=0.5)
    pids: list[int] = []

    def interrupted_communicate(self, input=None, timeout=None):  # noqa: ANN001, A002
        pids.append(self.pid)
        raise KeyboardInterrupt

    def interrupted_read(self, timeout=None):  # noqa: ANN001
        pids.append(self.proc.pid)
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(subprocess.Popen, "communicate", interrupted_communicate)
        m.setattr(process._Outputs, "read", interrupted_read)
        with pytest.raises(KeyboardInterrupt):
            runner.run([PY, "-c", "import time; time.sleep(30)"], stdin=stdin)
    assert runner.running() == []
    import os

    # the process was signalled: it is gone or a zombie, never sleeping on
    pid = pids[0]
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_debug_line_has_argv_and_never_logs_stdin_or_stdout(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # root at DEBUG, as `firestream -v` would
    secret = "s3cr3t-stdin-value"
    result = Runner().run([PY, "-c", "import sys; print(sys.stdin.read())"], stdin=secret.encode())
    assert result.stdout.strip() == secret
    assert secret not in caplog.text
    lines = [r.getMessage() for r in caplog.records if r.name == "firestream.process"]
    assert len(lines) == 1
    assert PY in lines[0] and "exit 0" in lines[0]


def test_debug_line_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="firestream.process")
    runner = Runner(redactor=Redactor(["hunter22"]))
    runner.run([PY, "-c", "pass", "hunter22"])
    assert "hunter22" not in caplog.text
    assert "***" in caplog.text


def test_bare_program_name_is_found_on_the_given_path(tmp_path: Path) -> None:
    tool = tmp_path / "only-here-tool"
    tool.write_text(f"#!{PY}\nprint('found me')\n")
    tool.chmod(0o755)
    runner = Runner()
    assert runner.run(["only-here-tool"], env={"PATH": str(tmp_path)}).stdout == "found me\n"
    with pytest.raises(ProgramNotFoundError):
        runner.run(["only-here-tool"], env={"PATH": "/nonexistent"})


def test_children_get_an_allow_listed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """helm / kubectl see PATH, HOME, HELM_*, KUBE*, proxies and the names the user lists;
    never a variable holding a secret (docs/secrets.md)."""
    from firestream_core.tools.redact import Redactor

    monkeypatch.setenv("DB_PASSWORD_FOR_TEST", "s3cret-in-env-1")
    monkeypatch.setenv("HELM_CACHE_HOME", "/tmp/helm-cache")
    monkeypatch.setenv("KUBECACHEDIR", "/tmp/kube-cache")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    monkeypatch.setenv("VAULT_ADDR", "https://vault:8200")
    monkeypatch.setenv("SOME_TOOL_SETTING", "x")
    monkeypatch.setenv("FIRESTREAM_CHILD_ENV", "VAULT_*, MY_EXTRA")
    monkeypatch.setenv("MY_EXTRA", "s3cret-in-env-1")  # named, but holds a secret: dropped all the same
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    red = Redactor(["s3cret-in-env-1"])
    result = Runner(redactor=red).run([PY, "-c", code], env={"KUBECONFIG": "/k/config"})
    assert result.ok, result.stderr
    seen = json.loads(result.stdout)
    for name in ("PATH", "HELM_CACHE_HOME", "KUBECACHEDIR", "HTTPS_PROXY", "VAULT_ADDR", "KUBECONFIG"):
        assert name in seen, name
    assert seen["KUBECONFIG"] == "/k/config"
    for name in ("DB_PASSWORD_FOR_TEST", "SOME_TOOL_SETTING", "MY_EXTRA"):
        assert name not in seen, name
    assert "s3cret-in-env-1" not in result.stdout


def test_a_runner_sees_every_change_of_the_environment_and_of_its_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The filtered environment is kept between calls (issue 13), never past a change: a variable
    set, changed or removed, a call's own variables and a secret registered later all show."""
    from firestream_core.tools.redact import Redactor

    code = "import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('HELM_FS')}))"
    red = Redactor()
    runner = Runner(redactor=red)

    def seen(**env: str) -> dict[str, str]:
        result = runner.run([PY, "-c", code], env=env or None)
        assert result.ok, result.stderr
        return json.loads(result.stdout)

    monkeypatch.setenv("HELM_FS_A", "one-value")
    assert seen() == {"HELM_FS_A": "one-value"}
    assert seen() == {"HELM_FS_A": "one-value"}
    monkeypatch.setenv("HELM_FS_A", "two-value")
    assert seen() == {"HELM_FS_A": "two-value"}
    assert seen(HELM_FS_B="call-only") == {"HELM_FS_A": "two-value", "HELM_FS_B": "call-only"}
    assert seen() == {"HELM_FS_A": "two-value"}
    red.add("two-value")  # now a secret: dropped from the next child's environment
    assert seen() == {}
    monkeypatch.delenv("HELM_FS_A")
    monkeypatch.setenv("HELM_FS_C", "three-value")
    assert seen() == {"HELM_FS_C": "three-value"}
