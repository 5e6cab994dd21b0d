"""Watch the command lines of the processes a test starts, as the machine shows them.

A recording runner (:class:`~firestream_testing.plugin_fixtures.RecordingRunner`)
knows what firestream *asked* to run; :func:`watch_argv` reads what every other
user of the machine could *see*: ``/proc/<pid>/cmdline`` of each descendant
of a process (this one by default), polled while the ``with`` block runs. It
is how the test suites prove that no secret reaches a command line.

Example::

    from firestream_testing.argv_watch import watch_argv

    def test_the_password_is_never_on_a_command_line(kube, helm_bin, tmp_path):
        with watch_argv(binary=helm_bin) as watcher:       # helm processes of this test
            kube.helm(helm_bin).upgrade_install(info, tmp_path)
        assert watcher.of("upgrade"), watcher.argvs        # it did see helm run
        watcher.assert_absent(PASSWORD)                    # and never with the password

    proc = subprocess.Popen([sys.executable, "-m", "firestream_core.cli.main", "apply", ...])
    with watch_argv(proc.pid) as watcher:                  # everything firestream starts
        proc.communicate()

Polling can miss a process that starts and ends between two looks, so a
test should also assert that the watcher saw what it expects
(``watcher.of("upgrade")``); :meth:`ArgvWatcher.assert_absent` refuses to
pass when nothing at all was seen. Linux only (``/proc``).
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from firestream_core.tools.values import VALUES_DIR_PREFIX

__all__ = ["VALUES_FLAGS", "ArgvWatcher", "assert_not_on_command_lines", "watch_argv"]

VALUES_FLAGS = ("--values", "-f")
"""helm's flags naming a values file; :attr:`ArgvWatcher.values_files` records those files."""


def assert_not_on_command_lines(
    argvs: Iterable[Sequence[str]], secrets: Iterable[str], *, seen_by: str = "the recorder"
) -> None:
    """Fail unless ``argvs`` holds some command line and none holds any of ``secrets``.

    A secret counts wherever it stands in an argument, or across arguments
    joined by spaces. The failure shows the command line with the secret
    replaced by ``***`` and names the secret by its position only. An empty
    ``argvs`` fails too: a recorder that saw nothing proves nothing.
    """
    lines = [" ".join(argv) for argv in argvs]
    if not lines:
        raise AssertionError(f"{seen_by} saw no command line: nothing was proved")
    for i, secret in enumerate(secrets):
        if not secret:
            raise ValueError(f"secret #{i} is empty")
        for line in lines:
            if secret in line:
                raise AssertionError(
                    f"secret #{i} is on a command line: {line.replace(secret, '***')}"
                )


def _ppid(pid: int) -> int:
    """The parent of ``pid`` (-1 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            line = f.read()
    except OSError:
        return -1
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")"
    return int(line.rsplit(b")", 1)[1].split()[1])


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _environ(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    pairs = (a.decode(errors="replace").partition("=") for a in raw.split(b"\0") if a)
    return {k: v for k, _, v in pairs}


def _mode(path: str) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


class ArgvWatcher:
    """The command lines seen while a :func:`watch_argv` block ran.

    :ivar root: the process whose descendants are watched (not itself).
    :ivar binary: when set, only processes whose ``argv[0]`` is this path count.
    :ivar by_pid: pid -> every distinct argument list seen for it, in the
        order seen (a forked child shows its parent's until it execs).
    :ivar values_files: each values file seen on a command line -> its
        permission bits (``0o600``) when first looked at, None when it was
        already gone. Values files are the arguments of ``--values`` /
        ``-f`` (also ``--values=PATH``) and any argument inside one of
        firestream's private ``firestream-values-*`` folders.
    :ivar environs: pid -> the environment (``/proc/<pid>/environ``) of the
        program it runs, read with each new argument list; a forked child
        still showing the watched process's command line is left out (its
        environment is the parent's until it execs).
    """

    def __init__(self, root: int | None = None, *, binary: Path | str | None = None) -> None:
        self.root = os.getpid() if root is None else root
        self.binary = None if binary is None else os.fspath(binary)
        self.by_pid: dict[int, list[list[str]]] = {}
        self.values_files: dict[str, int | None] = {}
        self.environs: dict[int, dict[str, str]] = {}
        self._root_argv = _cmdline(self.root)
        self._known = {self.root}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="watch_argv", daemon=True)

    @property
    def argvs(self) -> list[list[str]]:
        """Every argument list seen, process by process in the order first seen."""
        with self._lock:
            return [list(argv) for seen in self.by_pid.values() for argv in seen]

    def of(self, word: str) -> list[list[str]]:
        """The argument lists seen that hold ``word`` as one argument (e.g. ``"upgrade"``)."""
        return [argv for argv in self.argvs if word in argv]

    def assert_absent(self, *secrets: str) -> None:
        """Fail unless some command line was seen and none holds any of ``secrets``
        (see :func:`assert_not_on_command_lines`)."""
        what = f"watch_argv (pid {self.root}" + (f", {self.binary})" if self.binary else ")")
        assert_not_on_command_lines(self.argvs, secrets, seen_by=what)

    def environ_of(self, word: str) -> list[dict[str, str]]:
        """The environments of the processes whose argument list held ``word`` (e.g. ``"upgrade"``)."""
        with self._lock:
            return [dict(self.environs[pid]) for pid, seen in self.by_pid.items()
                    if pid in self.environs and any(word in argv for argv in seen)]

    def assert_env_absent(self, *secrets: str, names: tuple[str, ...] = ()) -> None:
        """Fail unless some environment was seen and none holds any of ``secrets`` as a value
        (or a part of one), nor a variable named in ``names``."""
        with self._lock:
            envs = {pid: dict(e) for pid, e in self.environs.items()}
        if not envs:
            raise AssertionError(f"watch_argv (pid {self.root}) saw no environment: nothing was proved")
        for pid, env in envs.items():
            for name in names:
                if name in env:
                    raise AssertionError(f"process {pid} ({self.by_pid.get(pid)}) was given ${name}")
            for i, secret in enumerate(secrets):
                for k, v in env.items():
                    if secret and secret in v:
                        raise AssertionError(f"secret #{i} is in the environment of process {pid}: ${k}")

    # -- the polling thread ------------------------------------------------------------------

    def start(self) -> ArgvWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling (idempotent); what was seen stays."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.poll()

    def poll(self) -> None:
        """Look once at every descendant of :attr:`root` (the thread calls this in a loop)."""
        parents = {int(e.name): -1 for e in os.scandir("/proc") if e.name.isdigit()}
        for pid in parents:
            parents[pid] = _ppid(pid)
        # a pid that is gone may be reused by a stranger: forget it (an orphan stays known)
        self._known = {p for p in self._known if p in parents} | {self.root}
        changed = True
        while changed:  # descendants: children of anything known, transitively
            changed = False
            for pid, ppid in parents.items():
                if ppid in self._known and pid not in self._known:
                    self._known.add(pid)
                    changed = True
        for pid in sorted(self._known - {self.root}):
            argv = _cmdline(pid)
            if not argv or (self.binary is not None and argv[0] != self.binary):
                continue
            with self._lock:
                seen = self.by_pid.setdefault(pid, [])
                if argv in seen:
                    continue
                seen.append(argv)
            # a forked child that has not exec'd yet shows its parent's command line and
            # environment: only a program's own environment is recorded (read again once it execs)
            if argv != self._root_argv and argv != _cmdline(parents.get(pid, -1)):
                env = _environ(pid)
                if env:
                    with self._lock:
                        self.environs[pid] = env
            self._note_values_files(argv)

    def _note_values_files(self, argv: list[str]) -> None:
        named = [v for f, v in zip(argv, argv[1:], strict=False) if f in VALUES_FLAGS]
        named += [a.split("=", 1)[1] for a in argv if a.startswith("--values=")]
        named += [a for a in argv if VALUES_DIR_PREFIX in a]
        for path in named:
            if self.values_files.get(path) is None:
                self.values_files[path] = _mode(path)


@contextmanager
def watch_argv(root: int | None = None, *, binary: Path | str | None = None) -> Iterator[ArgvWatcher]:
    """Poll the command lines of ``root``'s descendants while the block runs.

    :param root: the process whose children, grandchildren, ... are watched;
        this process by default (other test runs sharing the machine do not count).
    :param binary: only processes running this program (``argv[0]`` equal to
        it, e.g. ``helm_bin``); every descendant by default.
    :return: the :class:`ArgvWatcher`; read it after the block.
    """
    watcher = ArgvWatcher(root, binary=binary).start()
    try:
        yield watcher
    finally:
        watcher.stop()
