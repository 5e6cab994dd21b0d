"""The one place firestream runs external programs.

Everything that starts a process (helm, kubectl, a chart's
``pre_upgrade_commands``) goes through a :class:`Runner`, which tests can
replace. A program is always given as an argument list and started without
a shell, through the standard library's ``subprocess`` (vfork/posix_spawn:
about 1 ms per process; ``sh.Command``, which the design named, cost about
10 ms, so it was dropped - see docs/architecture.md, "Process creation").

* ``Runner.run`` never raises for a non-zero exit: it returns a
  :class:`Completed` and the caller decides what the exit means.
* A missing program raises :class:`ProgramNotFoundError` (both a
  ``FileNotFoundError`` and a ``HelmNotInstalledError``) saying how to
  install it; so does any other ``OSError`` starting it (a file that is not
  a program for this machine: ``Exec format error``), with the system's reason.
  :meth:`Runner.startable` checks a program can be started without starting it.
* Every running process is registered with its label (the release it works
  for), so :meth:`Runner.terminate_all` can stop them all - SIGTERM, then
  SIGKILL after a grace period - from a SIGINT handler or a stage timeout,
  and report which releases were interrupted. A process stopped that way
  comes back as ``Completed(cancelled=True)``.
* Each process runs in its own session, so a Ctrl-C in the terminal reaches
  firestream only; firestream then stops its children itself and knows
  which ones it stopped. A child therefore outlives a ``kill -9`` of
  firestream; it inherits the descriptors :func:`keep_open_in_children`
  names (the project lock's, whose ``flock`` it then keeps held: the next run
  does not take the lock over while a helm of the killed run still works). A ``KeyboardInterrupt`` (or any exception) raised
  in the waiting thread stops that thread's process before propagating.
* One DEBUG log line per call gives the argument list (which never holds a
  value: values go through files and stdin), exit code and duration. Neither
  stdin nor output is ever logged.

A runner is thread-safe: the scheduler runs releases in threads.
"""

from __future__ import annotations

import logging
import math
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.errors import CancelledError, HelmNotInstalledError
from firestream_core.tools.environment import child_environment
from firestream_core.tools.release_log import release_logger

if TYPE_CHECKING:
    from firestream_core.tools.redact import Redactor

__all__ = [
    "Completed",
    "ProgramNotFoundError",
    "Runner",
    "RunningProcess",
    "install_hint",
    "keep_open_in_children",
    "run_tool",
    "stop_keeping_open_in_children",
]

log = release_logger("firestream.process")  # during a lifecycle its lines name the release

_INSTALL_HINTS = {
    "helm": (
        "install helm 3 or 4 (https://helm.sh/docs/intro/install/) or point "
        "FIRESTREAM_HELM_BINARY at it; for tests: python -m firestream_testing.tools"
    ),
    "kubectl": (
        "install kubectl (https://kubernetes.io/docs/tasks/tools/) or point "
        "FIRESTREAM_KUBECTL_BINARY at it; for tests: python -m firestream_testing.tools"
    ),
}


def install_hint(program: str) -> str:
    """How to install ``program`` (helm and kubectl get specific advice)."""
    name = Path(program).name
    for key, hint in _INSTALL_HINTS.items():
        if name.startswith(key):
            return hint
    return f"install {name} or give its full path"


class ProgramNotFoundError(HelmNotInstalledError, FileNotFoundError):
    """A program to run does not exist, is not executable, or cannot be started.

    :param reason: why the system would not start it (an ``OSError``'s ``strerror``:
        ``Exec format error``); None for a program not found or not executable.
    """

    def __init__(self, program: str, *, release: str | None = None, reason: str | None = None) -> None:
        self.program = program
        self.reason = reason
        hint = install_hint(program)
        HelmNotInstalledError.__init__(
            self,
            f"cannot run '{program}': {reason or 'not found or not executable'}",
            release=release,
            hint=hint,
        )
        self.filename = program

    def __str__(self) -> str:
        return str(self.args[0])


@attrs.frozen
class Completed:
    """The outcome of one program run.

    :ivar argv: the argument list that ran.
    :ivar returncode: exit code; negative for a signal (``-15`` SIGTERM).
    :ivar stdout: standard output, decoded as UTF-8 (invalid bytes replaced).
    :ivar stderr: standard error, decoded likewise. Not redacted: callers
        redact before showing it.
    :ivar duration: wall time in seconds.
    :ivar label: the label given to ``run`` (a release name).
    :ivar timed_out: stopped because ``timeout`` passed.
    :ivar cancelled: stopped by :meth:`Runner.terminate_all`.
    """

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration: float
    label: str | None = None
    timed_out: bool = False
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        """Exited 0 on its own."""
        return self.returncode == 0 and not self.timed_out and not self.cancelled


@attrs.define(eq=False)
class RunningProcess:
    """A process the runner is waiting for (see :meth:`Runner.running`)."""

    argv: tuple[str, ...]
    label: str | None
    pid: int
    started: float
    _proc: Any = attrs.field(repr=False, alias="proc")
    terminated: bool = False
    timed_out: bool = False

    def _signal(self, sig: int) -> None:
        if self._proc.returncode is not None:
            return  # reaped: its pid may belong to someone else now
        try:
            os.killpg(self.pid, sig)  # own session: pgid == pid
        except ProcessLookupError:
            return
        except PermissionError:  # pragma: no cover - not a group leader after all
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                return

    def alive(self) -> bool:
        """Still running (reaps it when it has ended)."""
        return self._proc.poll() is None


def _check_env(env: Mapping[str, str]) -> dict[str, str]:
    """Validate an environment without ever showing a value (``os.execve``'s errors would)."""
    out: dict[str, str] = {}
    for k, v in env.items():
        if not isinstance(k, str) or not k or "=" in k or "\0" in k:
            raise ValueError(f"invalid environment variable name {k!r}")
        if not isinstance(v, str) or "\0" in v:
            raise ValueError(f"environment variable {k} must be a string without NUL bytes")
        out[k] = v
    return out


class Runner:
    """Runs programs as argument lists and can stop them all.

    :param redactor: applied to the DEBUG log lines (argv holds no values,
        but a chart's own command might).
    :param grace: default seconds between SIGTERM and SIGKILL.
    """

    def __init__(self, *, redactor: Redactor | None = None, grace: float = 5.0) -> None:
        self.redactor = redactor
        self.grace = grace
        self._lock = threading.Lock()
        self._running: dict[int, RunningProcess] = {}
        self._refusing: str | None = None
        self._env_cache: tuple[Any, dict[bytes, bytes], dict[str, str]] | None = None

    # -- running --------------------------------------------------------------
    def run(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
        label: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> Completed:
        """Run ``argv`` (program first) and wait for it.

        :param env: variables added to (overriding) the allow-listed part of this
            process's environment (``tools/environment.py``, docs/secrets.md).
        :param stdin: bytes fed to the program's standard input (closed after).
        :param timeout: seconds after which the program is stopped (SIGTERM,
            then SIGKILL after the grace period); ``Completed.timed_out`` is set.
        :param label: what the process works for (a release name); reported
            by :meth:`terminate_all`.
        :param cwd: working folder.
        :raises ProgramNotFoundError: the program does not exist.
        :raises CancelledError: the runner is refusing new processes
            (after ``terminate_all(refuse_new=True)``).
        """
        args = _argv(argv)
        self._check_accepting(label)
        full_env = self._child_env(env)
        program = _resolve(args[0], full_env, label)
        started = time.monotonic()
        proc = _spawn([program, *args[1:]], full_env, cwd, program, label, stdin=stdin is not None)
        entry = RunningProcess(argv=tuple(args), label=label, pid=proc.pid, started=started, proc=proc)
        with self._tracked(entry):
            stdout, stderr = self._wait(entry, proc, stdin, timeout)
        result = Completed(
            argv=tuple(args),
            returncode=proc.returncode if proc.returncode is not None else -1,
            stdout=_decode(stdout),
            stderr=_decode(stderr),
            duration=time.monotonic() - started,
            label=label,
            timed_out=entry.timed_out,
            cancelled=entry.terminated and not entry.timed_out,
        )
        self._log(result)
        return result

    def startable(self, program: str, *, env: Mapping[str, str] | None = None) -> str:
        """The path ``program`` would be started from by :meth:`run` with ``env``, checked
        without starting anything (a file lookup): found on the PATH the program would get
        (a bare name), else an existing executable file.

        :raises ProgramNotFoundError: it cannot be started.
        """
        return _startable(program, self._child_env(env))

    def _check_accepting(self, label: str | None) -> None:
        """Raise ``CancelledError`` after ``terminate_all(refuse_new=True)``."""
        with self._lock:
            if self._refusing is not None:
                raise CancelledError(self._refusing, releases=[label] if label else [])

    def _child_env(self, env: Mapping[str, str] | None) -> dict[str, str]:
        """The environment a program gets: the allow-listed part of this process's
        (:mod:`~firestream_core.tools.environment`), with ``env`` added (checked), never a
        variable holding a registered secret. The one place a child's environment is made.
        """
        extra = _check_env(env) if env else None
        secrets = self.redactor if self.redactor is not None else ()
        # Filtering this process's environment costs ~70 us (every variable decoded and
        # matched); a release runs two or three programs with the same one. The result is
        # kept while the environment's raw bytes, the call's variables and the number of
        # registered secrets (which only grows) stay the same.
        raw = getattr(os.environ, "_data", None)
        key = (tuple(extra.items()) if extra else (), len(secrets))
        cached = self._env_cache
        if raw is not None and cached is not None and cached[0] == key and cached[1] == raw:
            return dict(cached[2])
        snapshot = dict(raw) if raw is not None else None  # taken first: a change meanwhile misses
        out = child_environment(extra, secrets=secrets)
        if snapshot is not None:
            self._env_cache = (key, snapshot, out)
            return dict(out)
        return out

    @contextmanager
    def _tracked(self, entry: RunningProcess) -> Iterator[None]:
        """``entry`` is in :meth:`running` (and stoppable by :meth:`terminate_all`) meanwhile.

        A program that was being started while :meth:`terminate_all` refused new
        ones (it passed the check, then was spawned after the others were
        stopped) is stopped here at once, like them: none outlives the refusal.
        """
        key = id(entry)
        with self._lock:
            self._running[key] = entry
            late = self._refusing is not None
            if late:
                entry.terminated = True
        if late:  # SIGTERM now, SIGKILL after the grace, beside the run that waits for it
            threading.Thread(target=self._stop, args=(entry, self.grace), daemon=True,
                             name="firestream-late-stop").start()
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(key, None)

    def _wait(
        self, entry: RunningProcess, proc: subprocess.Popen[bytes], stdin: bytes | None, timeout: float | None
    ) -> tuple[bytes, bytes]:
        """Feed stdin, read both outputs, wait for the exit; stop it after ``timeout``.

        A ``KeyboardInterrupt`` (or any error) here stops the process before
        propagating, and reaps it.
        """
        # nothing to feed (stdin is /dev/null): both outputs read with one poll object,
        # ~60 us less per program than communicate()'s selector machinery
        outputs = _Outputs(proc) if stdin is None else None
        try:
            try:
                if outputs is not None:
                    return outputs.read(timeout)
                return proc.communicate(stdin, timeout=timeout)
            except subprocess.TimeoutExpired:
                with self._lock:
                    mine = not entry.terminated  # terminate_all did not get it first
                    entry.timed_out = mine
                if mine:
                    self._stop(entry, self.grace)
                if outputs is not None:
                    return outputs.read(None)  # the rest, after what was read already
                return proc.communicate()
        except BaseException:
            self._stop(entry, self.grace)
            try:
                proc.wait(timeout=self.grace)
            except BaseException:  # pragma: no cover - best effort
                pass
            raise

    def _log(self, result: Completed) -> None:
        """One DEBUG line per call: argv (redacted), exit code, duration."""
        if not log.isEnabledFor(logging.DEBUG):
            return
        line = " ".join(result.argv)
        if self.redactor is not None:
            line = self.redactor.redact(line)
        state = " (timed out)" if result.timed_out else " (cancelled)" if result.cancelled else ""
        log.debug("ran %s -> exit %d in %.3fs%s", line, result.returncode, result.duration, state)

    def run_program(self, argv: Sequence[str], **kwargs: Any) -> Completed:
        """Run any program (e.g. a chart's ``pre_upgrade_commands`` entry): same as :meth:`run`."""
        return self.run(argv, **kwargs)

    # -- stopping ----------------------------------------------------------------
    def running(self) -> list[RunningProcess]:
        """The processes running now."""
        with self._lock:
            return list(self._running.values())

    def _stop(self, entry: RunningProcess, grace: float) -> None:
        entry._signal(signal.SIGTERM)
        deadline = time.monotonic() + max(grace, 0.0)
        while entry.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if entry.alive():
            entry._signal(signal.SIGKILL)

    def terminate_all(self, grace: float | None = None, *, refuse_new: bool = False) -> list[str]:
        """Stop every running process: SIGTERM, then SIGKILL after ``grace`` seconds.

        Safe to call from a signal handler's thread or a timer. Each waiting
        ``run`` returns ``Completed(cancelled=True)``.

        :param grace: seconds to wait between SIGTERM and SIGKILL (default:
            the runner's ``grace``).
        :param refuse_new: also make later ``run`` calls raise
            ``CancelledError`` at once, until :meth:`accept_new`.
        :return: the labels of the processes that were stopped, each once, in
            start order.
        """
        grace = self.grace if grace is None else grace
        with self._lock:
            if refuse_new:
                self._refusing = "interrupted: no new process is started"
            entries = sorted(self._running.values(), key=lambda e: e.started)
            victims = [e for e in entries if not e.timed_out and e.alive()]
            for e in victims:
                e.terminated = True
        for e in victims:
            e._signal(signal.SIGTERM)
        deadline = time.monotonic() + max(grace, 0.0)
        while any(e.alive() for e in victims) and time.monotonic() < deadline:
            time.sleep(0.02)
        for e in victims:
            if e.alive():
                e._signal(signal.SIGKILL)
        labels: list[str] = []
        for e in victims:
            if e.label and e.label not in labels:
                labels.append(e.label)
        if victims:
            log.debug("terminated %d process(es): %s", len(victims), ", ".join(labels) or "-")
        return labels

    def accept_new(self) -> None:
        """Start processes again after ``terminate_all(refuse_new=True)``."""
        with self._lock:
            self._refusing = None


_READABLE = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR


class _Outputs:
    """A child's stdout and stderr read to their end, then its exit waited for.

    What ``Popen.communicate`` does for a child with nothing on stdin, with one
    ``select.poll`` and no selector objects. :meth:`read` may be called again after
    it raised ``TimeoutExpired``: it goes on from what was read (as ``communicate``
    does).
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.proc = proc
        self.out, self.err = proc.stdout.fileno(), proc.stderr.fileno()
        self.chunks: dict[int, list[bytes]] = {self.out: [], self.err: []}
        self.poller = select.poll()
        for fd in self.chunks:
            self.poller.register(fd, _READABLE)
        self.open = len(self.chunks)

    def read(self, timeout: float | None) -> tuple[bytes, bytes]:
        """Both outputs, once the child closed them and exited.

        :raises subprocess.TimeoutExpired: ``timeout`` seconds passed first.
        """
        proc = self.proc
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.open:
            wait = None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise subprocess.TimeoutExpired(proc.args, timeout or 0.0)
                wait = math.ceil(left * 1000)
            for fd, _ in self.poller.poll(wait):
                data = os.read(fd, 65536)
                if data:
                    self.chunks[fd].append(data)
                else:  # end of file: the child (and whatever inherited it) closed it
                    self.poller.unregister(fd)
                    self.open -= 1
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
        proc.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return b"".join(self.chunks[self.out]), b"".join(self.chunks[self.err])


def run_tool(
    runner: Any,
    tool: str,
    argv: Sequence[str],
    *,
    what: str,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float | None = None,
    label: str | None = None,
) -> Completed:
    """One helm or kubectl call through ``runner`` (any object with ``Runner.run``'s signature).

    A missing binary raises :class:`ProgramNotFoundError` with ``tool``'s
    install hint; a call stopped by :meth:`Runner.terminate_all` raises
    ``CancelledError("<what> was interrupted")`` naming ``label``. Any other
    exit is returned: the caller types its failure.
    """
    try:
        result: Completed = runner.run(argv, env=env, stdin=stdin, timeout=timeout, label=label)
    except ProgramNotFoundError as exc:
        exc.hint = install_hint(tool)
        raise
    if result.cancelled:
        raise CancelledError(f"{what} was interrupted", releases=[label] if label else [])
    return result


def _argv(argv: Sequence[str | os.PathLike[str]]) -> list[str]:
    """``argv`` as strings; refused when empty or holding a NUL byte."""
    args = [os.fspath(a) for a in argv]
    if not args:
        raise ValueError("empty argument list")
    for a in args:
        if "\0" in a:
            raise ValueError("an argument contains a NUL byte")
    return args


def _resolve(program: str, env: Mapping[str, str], label: str | None) -> str:
    """The program's path: a bare name is looked up on the PATH the program will get."""
    if os.sep in program:
        return program
    found = shutil.which(program, path=env.get("PATH") or os.defpath)
    if found is None:
        raise ProgramNotFoundError(program, release=label)
    return found


_devnull_fd: int | None = None
_devnull_lock = threading.Lock()


def _devnull() -> int:
    """One read-only ``/dev/null`` descriptor (close-on-exec) for every child's stdin.

    Opened on first use and kept for the process's life: ``subprocess.DEVNULL`` opens and
    closes ``/dev/null`` again for every program (two system calls, ~15 us per run).
    ``Popen`` never closes a descriptor it was given; the child gets a copy as its fd 0.
    """
    global _devnull_fd
    if _devnull_fd is None:
        with _devnull_lock:
            if _devnull_fd is None:
                _devnull_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    return _devnull_fd


_INHERITED: frozenset[int] = frozenset()  # replaced whole under the lock, read without it
_inherited_lock = threading.Lock()


def keep_open_in_children(fd: int) -> None:
    """Every program started from now on inherits ``fd`` (the project lock's: its ``flock``
    stays held while a child runs, also once firestream itself was killed)."""
    global _INHERITED
    with _inherited_lock:
        _INHERITED = _INHERITED | {fd}


def stop_keeping_open_in_children(fd: int) -> None:
    """Undo :func:`keep_open_in_children`: a program started from now on does not inherit
    ``fd``. Call it once the programs started with it have ended (the lock's release)."""
    global _INHERITED
    with _inherited_lock:
        _INHERITED = _INHERITED - {fd}


def _spawn(
    args: list[str], env: dict[str, str], cwd: str | os.PathLike[str] | None, program: str, label: str | None,
    *, stdin: bool = True,
) -> subprocess.Popen[bytes]:
    # read, not held while starting: the workers start their programs at once, in parallel
    # (a lock is released once its run's programs have ended: no start is then under way)
    inherited = _INHERITED
    keep = tuple(sorted(inherited)) if inherited else ()
    return _start(args, env, cwd, program, label, stdin=stdin, keep=keep)


def _start(
    args: list[str], env: dict[str, str], cwd: str | os.PathLike[str] | None, program: str, label: str | None,
    *, stdin: bool, keep: tuple[int, ...],
) -> subprocess.Popen[bytes]:
    """Start ``args`` in its own session with piped stdout/stderr, no shell, no inherited fds
    but ``keep``.

    Its stdin is a pipe when there is something to feed it (``stdin``), else ``/dev/null``
    (end of input at once, as an empty pipe would be, one pipe fewer to make and close; one
    descriptor for the whole process, :func:`_devnull`).
    """
    try:
        return subprocess.Popen(  # noqa: S603 - an argument list, never a shell string
            args,
            stdin=subprocess.PIPE if stdin else _devnull(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
            pass_fds=keep,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError):
        raise ProgramNotFoundError(program, release=label) from None
    except OSError as exc:  # Exec format error (not a program for this machine), too many files...
        raise ProgramNotFoundError(program, release=label, reason=_start_failure(exc)) from None


def _start_failure(exc: OSError) -> str:
    """Why the system would not start a program, said for a reader."""
    import errno

    text = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno == errno.ENOEXEC:
        return f"{text} (not a program this machine can run: built for another system, or a script " \
               "without a '#!' line)"
    return text


def _startable(program: str, env: Mapping[str, str]) -> str:
    """The path ``program`` would be started from, checked without starting it: found on the
    PATH ``env`` gives (a bare name), else an existing executable file; or
    :class:`ProgramNotFoundError`."""
    path = _resolve(program, env, None)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise ProgramNotFoundError(program)
    return path


def _decode(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", errors="replace")
