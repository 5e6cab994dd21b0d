"""The ``firestream`` command: global flags, the table of subcommands, error handling.

Each subcommand lives in ``firestream_core.cli.commands.<module>`` and is imported
only when it runs; a command module exposes ``add_arguments(parser)`` and
``run(args) -> int``. Global flags work before and after the subcommand
(``firestream -f x.toml plan`` and ``firestream plan -f x.toml``).

Start-up is kept cheap: ``firestream --version`` imports nothing beyond this
module, and no command pays for libraries it does not use.

Errors: a ``FirestreamError`` prints ``error: <message>`` (and ``hint: ...``)
on stderr and exits with its ``exit_code``; any other exception prints one
line, and its traceback only with ``-v``; Ctrl-C exits 130.

SIGTERM (``kill``, a CI job cancelled, a container stopped) is handled as
Ctrl-C: while a command runs, it raises :class:`Terminated` (a
``KeyboardInterrupt``) in the main thread, so the same code runs - an apply
starts nothing new, stops its helm processes, keeps in the state what
finished, releases the lock, removes its values files - and the exit code is
143 (128 + SIGTERM, what a supervisor expects of a process that ended on
SIGTERM) instead of 130.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up of --version)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator
    from typing import Any, NoReturn

PROG = "firestream"
ONE_SHOT_GC_THRESHOLD = 50_000
"""The young generation's collection threshold in the console script (Python's default: 700)."""
HELM_BINARY_ENV = "FIRESTREAM_HELM_BINARY"
KUBECTL_BINARY_ENV = "FIRESTREAM_KUBECTL_BINARY"
FILE_ENV = "FIRESTREAM_FILE"
ENVIRONMENT_ENV = "FIRESTREAM_ENVIRONMENT"
CONFIG_NAME = "firestream.toml"

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module under firestream_core.cli.commands, one-line help)
    "plugins": ("plugins", "list the installed chart plugins (--json, --check)"),
    "validate": ("validate", "check the config, plugins and depends_on graph (no cluster)"),
    "graph": ("graph", "show the deploy order and its parallel levels (text, dot, mermaid)"),
    "plan": ("plan", "show what apply would change in the cluster"),
    "apply": ("apply", "deploy the releases in dependency order"),
    "destroy": ("destroy", "uninstall the releases in reverse dependency order"),
    "status": ("status", "show the releases' state in the cluster"),
    "import": ("import_", "adopt releases already installed with helm"),
    "template": ("template", "render the releases' manifests locally (secrets hidden when printed)"),
    "diff": ("diff", "show the manifest changes apply would make"),
    "test": ("test", "run the releases' helm tests"),
    "drift": ("drift", "detect changes made in the cluster outside firestream"),
    "state": ("state", "inspect or repair the state file and its lock"),
    "new": ("new", "create a chart plugin package from the template"),
    "rollback": ("rollback", "roll releases back to the revision of their last successful apply"),
    "completion": ("completion", "print a shell completion script (bash, zsh, fish)"),
}
"""Every subcommand: its module in ``firestream_core.cli.commands`` and its help line."""

# Global options: (flags, argparse keyword arguments). Added to the main
# parser and, under other destinations, to every subcommand's parser.
_GLOBAL_VALUE_FLAGS = ("-f", "--file", "--kubeconfig", "--kube-context", "--helm-binary", "--kubectl-binary",
                       "--disable-plugin", "-e", "--environment", "--color", "-l", "--selector")


def _version() -> str:
    from firestream_core.version import __version__

    return f"{PROG} {__version__}"


def _global_options(parser: argparse.ArgumentParser | Any, sub: bool) -> None:
    """The global flags; on a subcommand's parser they go to ``sub_*`` destinations."""
    import argparse

    p = "sub_" if sub else ""
    suppress = argparse.SUPPRESS
    g = parser.add_argument_group("global options")
    g.add_argument(
        "-f",
        "--file",
        dest=p + "file",
        metavar="PATH",
        default=suppress if sub else None,
        help=f"the project file, or a folder holding {CONFIG_NAME} (default: ${FILE_ENV}, else the "
        f"first {CONFIG_NAME} in the current folder or above it, up to the repository root or home)",
    )
    g.add_argument("--kubeconfig", dest=p + "kubeconfig", metavar="PATH", default=suppress if sub else None,
                   help="kubeconfig file for helm and kubectl")
    g.add_argument("--kube-context", dest=p + "kube_context", metavar="NAME",
                   default=suppress if sub else None, help="kubeconfig context to use")
    g.add_argument(
        "--helm-binary",
        dest=p + "helm_binary",
        metavar="PATH",
        default=suppress if sub else None,
        help=f"helm executable (default: ${HELM_BINARY_ENV} or 'helm' on PATH)",
    )
    g.add_argument(
        "--kubectl-binary",
        dest=p + "kubectl_binary",
        metavar="PATH",
        default=suppress if sub else None,
        help=f"kubectl executable (default: ${KUBECTL_BINARY_ENV} or 'kubectl' on PATH)",
    )
    g.add_argument(
        "--disable-plugin",
        dest=p + "disable_plugin",
        metavar="NAME",
        action="append",
        default=suppress if sub else [],
        help="do not load this plugin (repeatable; also $FIRESTREAM_DISABLE_PLUGINS)",
    )
    g.add_argument("-e", "--environment", dest=p + "environment", metavar="NAME",
                   default=suppress if sub else None,
                   help=f"use [environments.NAME] of the project file (default: ${ENVIRONMENT_ENV})")
    g.add_argument("--color", dest=p + "color", choices=("auto", "always", "never"),
                   default=suppress if sub else None,
                   help="colour the output: auto (on a terminal, unless $NO_COLOR is set), always, never")
    g.add_argument("-v", "--verbose", dest=p + "verbose", action="count",
                   default=suppress if sub else 0, help="debug output and tracebacks")
    g.add_argument("-q", "--quiet", dest=p + "quiet", action="store_true",
                   default=suppress if sub else False, help="warnings and errors only")


def find_command(argv: list[str]) -> str | None:
    """The subcommand named in ``argv``: the first word that is not a global flag or its value."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return argv[i + 1] if i + 1 < len(argv) else None
        if a.startswith("-"):
            if a in _GLOBAL_VALUE_FLAGS:
                i += 2
                continue
            i += 1
            continue
        return a
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; only ``command``'s module is imported to add its arguments."""
    import argparse

    class BuildFormatter(argparse.HelpFormatter):
        """The formatter argparse makes while the parser is built (one per option, to check
        its metavar): a fixed width, where ``HelpFormatter`` asks ``shutil`` for the
        terminal's (importing shutil, bz2 and lzma: ~3 ms of every command). Usage, help and
        errors are formatted afterwards, by argparse's own formatters put back below."""

        def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                     width: int | None = None) -> None:
            super().__init__(prog, indent_increment, max_help_position, 80 if width is None else width)

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Deploy Helm charts through a pluggable lifecycle: "
        "check_prerequisites -> pre_exec -> exec -> post_exec -> validate.",
        formatter_class=BuildFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    _global_options(parser, sub=False)
    parser.add_argument(  # helmfile's place for it (`helmfile -l tier=db sync`): the command's own -l
        "-l", "--selector", dest="global_selectors", metavar="SELECTOR", action="append", default=[],
        help="as the command's -l, given before the command (plan, apply, destroy...: only the releases "
        "whose labels match)")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", prog=PROG)
    # A known command gets only its own subparser (argparse builds each one, about
    # 0.5 ms apiece); the full table is for --help, completions and a mistyped name.
    formatters: list[tuple[argparse.ArgumentParser, type[argparse.HelpFormatter]]] = [
        (parser, argparse.HelpFormatter)]
    for name, (_module, help_text) in COMMANDS.items() if command is None else [(command, COMMANDS[command])]:
        sp = subs.add_parser(name, help=help_text, description=help_text, formatter_class=BuildFormatter)
        formatter: type[argparse.HelpFormatter] = argparse.HelpFormatter
        if name == command:  # only the command being run pays for its options
            _global_options(sp, sub=True)
            module = load_command(name)
            module.add_arguments(sp)
            examples = getattr(module, "EXAMPLES", "")
            if examples:
                sp.epilog = "examples:\n" + "\n".join(
                    "  " + line for line in examples.strip("\n").splitlines())
                formatter = argparse.RawDescriptionHelpFormatter
            parser.set_defaults(_subparser=sp)
        formatters.append((sp, formatter))
    for p, formatter_class in formatters:
        p.formatter_class = formatter_class
    return parser


def load_command(name: str) -> Any:
    """The command module of ``name`` (imported now)."""
    import importlib

    from firestream_core.errors import FirestreamError

    module = COMMANDS[name][0]
    full = f"firestream_core.cli.commands.{module}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            raise FirestreamError(
                f"the '{name}' command is not available in this installation "
                f"(module {full} is missing)"
            ) from None
        raise


def merge_globals(args: argparse.Namespace) -> argparse.Namespace:
    """Fold the flags given after the subcommand into the global ones."""
    for key in ("file", "kubeconfig", "kube_context", "helm_binary", "kubectl_binary", "quiet", "environment",
                "color"):
        sub = getattr(args, "sub_" + key, None)
        if sub is not None:
            setattr(args, key, sub)
        if hasattr(args, "sub_" + key):
            delattr(args, "sub_" + key)
    args.verbose = args.verbose + getattr(args, "sub_verbose", 0)
    args.disable_plugin = [*args.disable_plugin, *getattr(args, "sub_disable_plugin", [])]
    for key in ("sub_verbose", "sub_disable_plugin"):
        if hasattr(args, key):
            delattr(args, key)
    # found by the walk up from the current folder: neither -f nor $FIRESTREAM_FILE named it
    args.file_found_above = args.file is None and not os.environ.get(FILE_ENV)
    args.file = find_project_file(args.file)
    args.file_found_above = args.file_found_above and os.path.dirname(args.file).startswith("..")
    if args.environment is None:
        args.environment = os.environ.get(ENVIRONMENT_ENV) or None
    if args.color is None:
        args.color = "auto"
    if args.helm_binary is None:
        args.helm_binary = os.environ.get(HELM_BINARY_ENV) or checkout_tool("helm")
    if args.kubectl_binary is None:
        args.kubectl_binary = os.environ.get(KUBECTL_BINARY_ENV) or checkout_tool("kubectl")
    return args


def find_project_file(given: str | None, environ: Any = None, cwd: str | None = None) -> str:
    """The project file a command uses.

    ``-f PATH`` (a folder means its ``firestream.toml``), else ``$FIRESTREAM_FILE``, else
    the first ``firestream.toml`` in the current folder or above it; the walk stops at
    the repository root (a folder holding ``.git``) or the home folder. When none is
    found, ``firestream.toml`` (whose absence the command then reports).
    """
    environ = os.environ if environ is None else environ
    chosen = given or environ.get(FILE_ENV) or None
    # os.path, not pathlib: the commands that read no project (plugins, --help) do not import it
    if chosen:
        if not os.path.isdir(chosen):
            return chosen
        # written as pathlib writes it: no "." parts, no doubled or trailing "/" ("./dir/" ->
        # "dir/firestream.toml"), and ".." kept (a symlink's ".." is not its folder's parent)
        parts = [p for p in chosen.split("/") if p not in ("", ".")]
        return ("/" if chosen.startswith("/") else "") + "/".join([*parts, CONFIG_NAME])
    here = os.path.realpath(cwd or os.getcwd())
    home = os.path.realpath(environ.get("HOME") or os.path.expanduser("~"))
    folder = here
    while True:
        candidate = os.path.join(folder, CONFIG_NAME)
        if os.path.isfile(candidate):
            return os.path.relpath(candidate, here) if folder != here else CONFIG_NAME
        parent = os.path.dirname(folder)
        if os.path.exists(os.path.join(folder, ".git")) or folder == home or parent == folder:
            return CONFIG_NAME
        folder = parent


def checkout_tool(name: str) -> str | None:
    """``<checkout>/.tools/<name>`` when ``name`` is not on ``PATH`` and the CLI runs from a
    checkout whose ``.tools/`` holds it (``scripts/bootstrap --test`` and the quickstart put
    helm and kubectl there); else None (the plain name on ``PATH`` is used)."""
    if _on_path(name):
        return None
    candidate = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))),
                             ".tools", name)
    return candidate if os.path.isfile(candidate) and os.access(candidate, os.X_OK) else None


def _on_path(name: str) -> bool:
    """``shutil.which(name) is not None`` without importing ``shutil`` (start-up)."""
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(folder or ".", name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return True
    return False


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse ``argv`` (without the program name) into one namespace."""
    command = find_command(argv)
    if command not in COMMANDS:
        command = None
    parser = build_parser(command)
    args, extra = parser.parse_known_args(argv)
    if args.command is not None and args.command != command:
        # find_command guessed another word: a global flag argparse takes abbreviated (`--env prod
        # plan`, whose value it skipped as a flag of no value). Parse again with the command's own
        # options, or it would run without them.
        parser = build_parser(args.command)
        args, extra = parser.parse_known_args(argv)
    sub = getattr(args, "_subparser", None)
    if extra:
        # the subcommand's own usage, not the top-level one
        (sub or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help(sys.stderr)
        raise SystemExit(2)
    if hasattr(args, "_subparser"):
        del args._subparser
    selectors = args.global_selectors
    del args.global_selectors
    if selectors:  # before the command: one more -l of the command's (a repeated -l means or)
        if not hasattr(args, "selectors"):
            (sub or parser).error(f"-l/--selector: 'firestream {args.command}' does not choose releases by label")
        args.selectors = [*selectors, *args.selectors]
    return merge_globals(args)


EXIT_USAGE = 2
"""A usage error (unknown command or option, bad value); 1 instead where 2 is an answer
(``--detailed-exitcode``, ``drift``)."""
EXIT_CHANGES = 2
"""``--detailed-exitcode``: the plan has changes (plan, diff) or changes were applied (apply)."""


EXIT_INTERRUPTED = 130
"""Ctrl-C (SIGINT): 128 + 2."""
EXIT_TERMINATED = 143
"""SIGTERM, handled as Ctrl-C: 128 + 15."""


class Terminated(KeyboardInterrupt):
    """SIGTERM reached the command: stop as on Ctrl-C, then exit 143."""


class _SigtermSeen:
    received = False


@contextmanager
def sigterm_as_interrupt() -> Iterator[_SigtermSeen]:
    """While the block runs, SIGTERM raises :class:`Terminated` in the main thread.

    The previous handler is put back afterwards. Outside the main thread
    (where Python cannot set handlers) signals are left alone.
    """
    import signal

    seen = _SigtermSeen()

    def handler(signum: int, frame: Any) -> None:
        seen.received = True
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield seen
        return
    try:
        yield seen
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_error(message: str, hint: str | None = None) -> None:
    from firestream_core.cli.logs import redact

    print(f"error: {redact(message)}", file=sys.stderr)
    if hint:
        print(f"hint: {redact(hint)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the ``firestream`` command; returns the exit code (the console script exits with it)."""
    one_shot = argv is None  # the console script: this process ends with the command
    args = list(sys.argv[1:] if argv is None else argv)
    code_cache = None
    if one_shot and not _asks_version(args):
        # attrs' generated methods read back instead of compiled, before any model is
        # defined (cli/codecache.py); a program calling main() in-process keeps attrs as is
        from firestream_core.cli import codecache

        try:
            code_cache = codecache.install()
        except Exception:  # noqa: BLE001 - it only ever saves time: the command runs without it
            code_cache = None
    try:
        return _main(args, one_shot)
    finally:
        if code_cache is not None:
            try:
                codecache.uninstall(code_cache)
            except Exception:  # noqa: BLE001, S110 - as above: the command's result stands
                pass
        if one_shot:
            # The process ends now: everything still alive is put out of the collector's
            # sight, so the interpreter's exit does not walk it all once more (about 20 ms
            # of a `validate`, measured: bench/README.md). Nothing is skipped: atexit
            # handlers, finalizers and flushes run as usual.
            import gc

            gc.freeze()


def console() -> NoReturn:
    """The ``firestream`` console script (``[project.scripts]``): :func:`main`, then the
    process ends at once.

    Once the command returned, everything it built is garbage, and the interpreter's own
    teardown (clearing the namespaces of the modules a command imports, and what they hold)
    costs a ``validate`` 6 ms and an apply more (bench/README.md, "Eleventh pass"); nothing
    printed or written depends on it. So stdout and stderr are flushed, the ``atexit``
    handlers run (logging's, a plugin's: what the interpreter runs first when it exits), and
    the process ends with ``os._exit``. Skipped is only what Python does not promise at exit
    anyway: ``__del__`` of objects still alive. It exits as usual when a thread that is not
    a daemon still runs (the interpreter would wait for it) or a flush fails (a closed pipe).
    A program calling :func:`main` keeps its process.
    """
    code = main()
    threading = sys.modules.get("threading")  # none started when it was never imported
    if threading is not None and any(
        t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()
    ):
        sys.exit(code)
    if not _flushed():
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    _flushed()  # what a handler printed
    os._exit(code)


def _flushed() -> bool:
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # a closed pipe, a closed file: the interpreter's exit reports it
        return False
    return True


def _asks_version(argv: list[str]) -> bool:
    """``firestream --version`` (or ``-V``): answered before anything else is imported."""
    return bool(argv) and argv[0] == "--version" or argv == ["-V"]


def _main(argv: list[str], one_shot: bool) -> int:
    if _asks_version(argv):
        print(_version())  # the cheap path: nothing else imported
        return 0
    if one_shot:
        # What a command builds before its work (modules, config, plan) lives until the
        # process ends: the collector's young generation, run every 700 allocations by
        # default, walked it ~80 times for nothing (~8 ms of a 100-release apply's
        # start-up). Garbage is still collected, just in larger batches; a program
        # calling main() in-process keeps its own settings.
        import gc

        gc.set_threshold(ONE_SHOT_GC_THRESHOLD, *gc.get_threshold()[1:])
        with _lean_log_records():
            return _command(argv, one_shot)
    return _command(argv, one_shot)


@contextmanager
def _lean_log_records() -> Iterator[None]:
    """While the console script's command runs, log records skip looking up where each
    call was made (a walk up the stack) and which thread and process made it: its only
    log handler prints level and message (the logging module's documented knobs, put
    back afterwards for whatever runs next in the process)."""
    import logging

    saved = (logging._srcfile, logging.logThreads, logging.logProcesses,  # type: ignore[attr-defined]
             logging.logMultiprocessing)
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    try:
        yield
    finally:
        (logging._srcfile, logging.logThreads, logging.logProcesses,  # type: ignore[attr-defined]
         logging.logMultiprocessing) = saved


def _command(argv: list[str], one_shot: bool) -> int:
    """Run one command; the log redactors its project registered are forgotten afterwards
    (:func:`~firestream_core.cli.logs.redactors_of_the_block`), those of a command running
    meanwhile in another thread are not."""
    from firestream_core.cli.logs import redactors_of_the_block

    with redactors_of_the_block():
        return _run_command(argv, one_shot)


def _run_command(argv: list[str], one_shot: bool) -> int:
    verbose = 0
    try:
        args = parse_args(argv)
        args.one_shot = one_shot
        verbose = args.verbose
        from firestream_core.cli.logs import setup_logging

        log = setup_logging(args.verbose, args.quiet)
        if args.file_found_above:
            log.info("using %s (the nearest %s above the current folder)", args.file, CONFIG_NAME)
        with sigterm_as_interrupt() as sigterm, _stdout_may_go_away():
            result = int(load_command(args.command).run(args) or 0)
        # an apply that took the SIGTERM in its scheduler returns 130 like for Ctrl-C
        return EXIT_TERMINATED if sigterm.received and result == EXIT_INTERRUPTED else result
    except KeyboardInterrupt as exc:
        if isinstance(exc, Terminated):
            print("error: terminated (SIGTERM)", file=sys.stderr)
            return EXIT_TERMINATED
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away before the command ran (usage, --help): not an error of
        # ours. Point stdout at devnull so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except SystemExit as exc:  # argparse and --help
        code = exc.code
        code = code if isinstance(code, int) else (0 if code is None else EXIT_USAGE)
        if code == EXIT_USAGE and _two_is_an_answer(argv):
            return 1  # 2 means "changes" (or "drifted") there: a usage error must not look like one
        return code
    except BaseException as exc:
        from firestream_core.errors import FirestreamError

        if verbose or _verbose_requested(argv):
            import traceback

            from firestream_core.cli.logs import redact

            print(redact("".join(traceback.format_exception(exc))), file=sys.stderr, end="")
        if isinstance(exc, FirestreamError):
            _print_error(str(exc), exc.hint)
            return exc.exit_code
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        _print_error(
            f"unexpected {type(exc).__name__}" + (f": {first}" if first else ""),
            None if verbose else "run again with -v for the traceback",
        )
        return 1


def _two_is_an_answer(argv: list[str]) -> bool:
    """Exit code 2 is the command's answer, not a usage error: ``--detailed-exitcode``'s
    "changes" (also written as argparse's abbreviation, ``--detailed``) and ``drift``'s
    "something drifted"."""
    flag = "--detailed-exitcode"
    if find_command(argv) == "drift":
        return True
    names = (a.split("=", 1)[0] for a in argv)
    return any(len(name) >= len("--de") and flag.startswith(name) for name in names)


class _StdoutGoneIsDevnull:
    """``sys.stdout`` while a command runs: the reader going away (``firestream apply --yes |
    head``, ``plan --detailed-exitcode | grep -q web``) turns the rest of the output into nothing
    instead of raising ``BrokenPipeError`` where the command happens to print - which stopped an
    apply after its plan (nothing applied, exit 0), lost a failed apply's exit code after its
    summary, and made ``plan --detailed-exitcode`` or ``drift`` answer 0 ("no changes"). The
    command goes on and its exit code stands."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return int(self._stream.write(text))
            except BrokenPipeError:
                self._went_away()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._went_away()

    def _went_away(self) -> None:
        self.gone = True
        devnull = os.open(os.devnull, os.O_WRONLY)  # what is still buffered goes there, at exit too
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def _stdout_may_go_away() -> Iterator[None]:
    """``sys.stdout`` is :class:`_StdoutGoneIsDevnull` while the block runs."""
    stream = sys.stdout
    if stream is None:
        yield
        return
    sys.stdout = _StdoutGoneIsDevnull(stream)  # type: ignore[assignment]
    try:
        yield
    finally:
        if isinstance(sys.stdout, _StdoutGoneIsDevnull):
            sys.stdout = stream


def _verbose_requested(argv: list[str]) -> bool:
    return any(a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in argv)


if __name__ == "__main__":  # pragma: no cover
    console()
