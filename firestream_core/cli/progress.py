"""What the CLI shows of a plan and a run: the plan listing, live progress, the summary table.

Everything here formats result objects from :mod:`firestream_core.project`
and :mod:`firestream_core.deploy.plan`. Plans and results carry names,
actions, reasons and key names; the plan's value changes show ordinary
values as ``old -> new`` and sensitive ones as ``(sensitive)``
(docs/secrets.md), and every line is passed through the CLI's redactors.

:class:`LiveProgress` shows, on a terminal, one line per release with its
current lifecycle stage, redrawn in place as :class:`~firestream_core.project.ApplyEvent`\\ s
arrive (from worker threads: it is thread-safe). Log lines written meanwhile
appear above the block. Off a terminal it writes one line per finished
release instead, so CI logs stay readable.
"""

from __future__ import annotations

import io
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from firestream_core.deploy.plan import Change, Plan
    from firestream_core.deploy.results import ApplyEvent, ApplyResult, ReleaseStatus

__all__ = ["LiveProgress", "format_plan", "format_status", "format_summary", "format_table",
           "format_value_changes"]

SYMBOLS = {
    "create": "+",
    "upgrade": "~",
    "recover": "!",
    "reinstall": "-/+",
    "destroy": "-",
    "no-op": "=",
}


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain text table, columns padded to their widest cell; the last column is not padded."""
    rows = [["" if c is None else str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))

    def line(cells: Sequence[str]) -> str:
        parts = [c.ljust(widths[i]) if i < len(cells) - 1 else c for i, c in enumerate(cells)]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out) + "\n"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s"


def _change_row(c: Change) -> list[str]:
    return [SYMBOLS.get(c.action, "?"), c.name, c.namespace, c.action, chart_cell(c), c.reason]


def chart_cell(c: Change) -> str:
    """The plan's ``chart`` column: the chart and exact version the change leaves running
    (a constraint the plan resolved follows in brackets), or, for a destroy, the one it
    removes; ``-`` when neither is known.

    >>> from firestream_core.deploy.plan import Change
    >>> chart_cell(Change("db", "data", "postgresql", "create", desired_chart="postgresql",
    ...                   desired_version="13.4.2", version_constraint="^13"))
    'postgresql 13.4.2 (^13)'
    """
    inst = c.installed
    if c.action == "destroy":
        return f"{inst.chart_name} {inst.chart_version}".strip() if inst is not None and inst.chart_name else "-"
    if not c.desired_chart:
        return "-"
    cell = f"{c.desired_chart} {c.desired_version}" if c.desired_version else c.desired_chart
    return f"{cell} ({c.version_constraint})" if c.version_constraint else cell


COLORS = {"create": "32", "upgrade": "33", "recover": "35", "reinstall": "31", "destroy": "31", "no-op": "2",
          "ok": "32", "failed": "31", "skipped": "33", "interrupted": "33", "rolled_back": "31"}
"""ANSI SGR codes: green create/ok, yellow upgrade/skipped, red destroy/reinstall/failed, dim no-op."""


def use_color(args: Any, stream: Any) -> bool:
    """``--color always|never``; ``auto`` (default): on a terminal unless ``$NO_COLOR`` is set."""
    import os

    choice = getattr(args, "color", None) or "auto"
    if choice != "auto":
        return bool(choice == "always")
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def paint(text: str, key: str, color: bool) -> str:
    """``text`` in ``key``'s colour when ``color``."""
    code = COLORS.get(key)
    return f"\x1b[{code}m{text}\x1b[0m" if color and code else text


def _paint_rows(table: str, keys: Sequence[str], color: bool) -> str:
    """Colour each data row of a :func:`format_table` (after padding, so columns stay aligned)."""
    if not color:
        return table
    lines = table.split("\n")
    for i, key in enumerate(keys):
        lines[2 + i] = paint(lines[2 + i], key, True)
    return "\n".join(lines)


STEPS_HEADING = "Steps to review, in the order they run (a step may delete or overwrite):"
"""The heading of the steps changes take beyond their action (``Change.destructive``): not all
destroy something (a chart type's CRDs or cluster applied, a note on an upgrade), some do (an
uninstall, a ``kubectl delete pvc``): it says what every line under it is."""


def format_plan(plan: Plan, *, show_noop: bool = True, color: bool = False) -> str:
    """The plan for people: one line per release, then the summary line.

    ::

        release  namespace  action   chart               why
        ...
        + db     default    create   postgresql 13.2.24  not deployed
        ~ api    default    upgrade  api 1.4.0           values changed: env.LOG_LEVEL, replicaCount

        Value changes:
          api
            env.LOG_LEVEL: info -> debug
            auth.password: (sensitive) -> (sensitive)

        Plan: 1 to create, 1 to upgrade.

    The steps a change takes beyond its action (``Change.destructive``: a breaking version's
    pre-upgrade commands, secrets hidden, and its uninstall; the CRDs an uninstall deletes; a
    chart type's own steps, such as its CRDs applied before helm or a Secret set, and its notes
    on them) are listed under the table, under ``Steps to review, ...:``, ``! release: step``, in
    the order they run: not every one deletes something, so the heading does not say they do. A release a plugin refuses to
    deploy as configured (``Change.problems``) is listed under ``Refused:``, one plan could not
    render for a reason not the chart's (the cluster) under ``Not rendered before apply``, and a
    release the state records and helm runs that the config no longer names
    (``Plan.left_behind``) under ``Not in the config any more``.

    The namespaces apply creates (``Plan.namespaces_to_create``) come first, one line
    each, ``+ namespace data (created for db, cache)``; the plan's own notes
    (``Plan.notes``: namespaces whose existence could not be learned, those a destroy
    leaves behind) last, ``Note: ...``.
    """
    from firestream_core.cli.logs import redact

    shown = [c for c in plan.releases if show_noop or c.is_change]
    rows = [_change_row(c) for c in shown]
    head = "Destroy plan" if plan.destroy else "Plan"
    if not rows:
        return f"{head}: nothing to do (no releases selected).\n"
    table = format_table(["", "release", "namespace", "action", "chart", "why"], rows)
    table = _paint_rows(table, [c.action for c in shown], color)
    created = getattr(plan, "namespaces_to_create", ())
    if created:
        lines = "".join(paint(f"+ {ns.describe()}", "create", color) + "\n" for ns in created)
        table = lines + "\n" + table
    steps = [(c.name, line) for c in plan.releases if c.is_change for line in c.destructive]
    if steps:
        table += f"\n{STEPS_HEADING}\n" + "".join(f"  ! {name}: {line}\n" for name, line in steps)
    refused = [(c.name, p.removeprefix(f"release '{c.name}': ")) for c in shown if c.is_change
               for p in c.problems]
    if refused:
        table += ("\nRefused (apply stops these releases before any change):\n"
                  + "".join(f"  ! {name}: {line}\n" for name, line in refused))
    from firestream_core.deploy.plan import RENDER_UNCHECKED

    unchecked = [(c.name, n.removeprefix(RENDER_UNCHECKED + ": ")) for c in shown for n in c.notes
                 if n.startswith(RENDER_UNCHECKED)]
    if unchecked:
        table += ("\nNot rendered before apply (apply reports what helm says):\n"
                  + "".join(f"  ? {name}: {line}\n" for name, line in unchecked))
    values = format_value_changes(plan.releases)
    left = getattr(plan, "left_behind", ())
    if left:
        table += ("\nNot in the config any more (firestream leaves them running; 'helm uninstall' "
                  "removes one):\n" + "".join(f"  ? {key}: {note}\n" for key, note in left))
    notes = "".join(f"Note: {note}\n" for note in getattr(plan, "notes", ()))
    return redact(table + (f"\n{values}" if values else "") + (f"\n{notes}" if notes else "")
                  + f"\n{head}: {plan.summary()}.\n")


def format_value_changes(changes: Iterable[Change], indent: str = "") -> str:
    """``Value changes:`` then, per release with known value changes, ``path: old -> new`` lines."""
    lines: list[str] = []
    for c in changes:
        if not c.is_change or not getattr(c, "value_changes", ()):
            continue
        lines.append(f"{indent}  {c.name}")
        lines += [f"{indent}    {path}: {old} -> {new}" for path, old, new in c.value_changes]
    return f"{indent}Value changes:\n" + "\n".join(lines) + "\n" if lines else ""


WHY_WIDTH = 100
"""The summary table's ``why`` column is cut to this many characters (the full text is
in the log lines above it and in ``firestream status``)."""


def shorten(text: str, width: int = WHY_WIDTH) -> str:
    """``text`` on one line, cut to ``width`` characters with ``...``."""
    one = " ".join(str(text).split())
    return one if len(one) <= width else one[: max(0, width - 3)].rstrip() + "..."


def format_summary(result: ApplyResult, *, color: bool = False) -> str:
    """The final table: one line per release: release, action, result, duration (and why,
    shortened, for failures and skips)."""
    rows = []
    for o in result.releases.values():
        why = "" if o.result == "ok" else shorten(o.reason)
        if o.rolled_back:
            why = (why + "; " if why else "") + "rolled back"
        if o.unrecorded:  # helm's work stands; the state could not say so (the error follows)
            why = (why + "; " if why else "") + "not recorded in the state"
        rows.append([o.name, o.action, o.result, format_duration(o.duration if o.action != "no-op" else None), why])
    table = format_table(["release", "action", "result", "duration", "why"], rows)
    table = _paint_rows(table, [o.result for o in result.releases.values()], color)
    counts: dict[str, int] = {}
    for o in result.releases.values():
        counts[o.result] = counts.get(o.result, 0) + 1
    summary = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in counts.items())
    verdict = "interrupted" if result.interrupted or result.cancelled else ("done" if result.ok else "FAILED")
    prefix = "dry run " if result.dry_run else ""
    return table + f"\n{prefix}{verdict} in {format_duration(result.duration)}: {summary or 'nothing to do'}\n"


def format_status(statuses: Sequence[ReleaseStatus]) -> str:
    """``firestream status``: one line per release and its last validation results."""
    rows = []
    for s in statuses:
        checks = ", ".join(
            f"{v.get('name')}={v.get('status')}" for v in s.validations if isinstance(v, dict)
        )
        rows.append([s.name, s.namespace, s.status, s.revision or "-", s.chart or "-", s.version or "-",
                     s.last_result or "-", checks or "-", _tests_cell(s)])
    table = format_table(
        ["release", "namespace", "status", "revision", "chart", "version", "last apply", "validations",
         "tests"],
        rows,
    )
    errors = [(s.name, s.last_error) for s in statuses if s.last_error]
    if errors:  # the whole text the apply's summary cut to its column
        table += "\nLast apply's errors:\n" + "".join(f"  {name}: {text}\n" for name, text in errors)
    return table


def _tests_cell(s: ReleaseStatus) -> str:
    """``passed at <time>`` / ``failed (<test>, ...) at <time>`` / ``no tests`` / ``-`` (none recorded)."""
    result = s.tests_result
    if result is None:
        return "-"
    if result == "no-tests":
        text = "no tests"
    elif result == "failed":
        names = [str(t.get("name")) for t in s.tests or () if not t.get("passed")]
        text = f"failed ({', '.join(names)})"
    else:
        text = "passed"
    return f"{text} at {s.tests_run_at}" if s.tests_run_at else text


# -- live progress ------------------------------------------------------------------------------


class _StreamProxy(io.TextIOBase):
    """A stream whose complete lines are written above the live block."""

    def __init__(self, progress: LiveProgress) -> None:
        self._progress = progress
        self._buf = ""

    def write(self, text: str) -> int:  # type: ignore[override]
        self._buf += text
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            self._progress.write_above(line)
        return len(text)

    def flush(self) -> None:
        pass


SMALL_BLOCK = 40
"""A live block of at most this many releases is redrawn on every event."""
DRAW_INTERVAL = 0.1
"""Seconds between two draws of a larger block (its changes meanwhile are drawn together)."""


class LiveProgress:
    """Thread-safe progress display fed with ``ApplyEvent``\\ s (use as a context manager).

    :param plan: the plan being carried out (its changes are the lines).
    :param stream: where to draw (default ``sys.stderr``).
    :param live: redraw in place (default: when ``stream`` is a terminal).
    :param quiet: ``-q``: off a terminal, print the line of a release that did not end ``ok``
        only (the summary table after the run still has one line per release).
    """

    def __init__(self, plan: Plan, stream: TextIO | None = None, *, live: bool | None = None,
                 quiet: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.quiet = quiet
        self.order = [c.name for c in plan.releases if c.is_change]
        self.actions = {c.name: c.action for c in plan.releases}
        self.lines: dict[str, str] = {n: "waiting" for n in self.order}
        self.started: dict[str, float] = {}
        self.finished: set[str] = set()
        self._drawn = 0
        self._drawn_at = 0.0  # monotonic time of the last full draw
        self._pending = False  # something changed since (a large block waits for the ticker)
        self._lock = threading.RLock()
        self._saved: list[tuple[Any, TextIO]] = []
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._width = max((len(n) for n in self.order), default=0)

    # -- context manager: route log output above the block ------------------------------------

    def __enter__(self) -> LiveProgress:
        if self.live:
            import logging

            proxy = _StreamProxy(self)
            for handler in logging.getLogger("firestream").handlers:
                stream = getattr(handler, "stream", None)
                if stream is self.stream or stream in (sys.stderr, sys.stdout):
                    self._saved.append((handler, stream))
                    handler.stream = proxy  # type: ignore[attr-defined]
            self._draw()
            self._ticker = threading.Thread(target=self._tick, daemon=True, name="firestream-progress")
            self._ticker.start()
        return self

    def _tick(self) -> None:
        """Redraw twice a second so the running releases' elapsed time moves, and a large
        block's changes within a tenth of a second."""
        ticks = 0
        while not self._stop.wait(DRAW_INTERVAL):
            ticks += 1
            with self._lock:
                if self._pending or (ticks % 5 == 0 and self.started.keys() - self.finished):
                    self._draw()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            for handler, stream in self._saved:
                handler.stream = stream
            self._saved.clear()
            if self.live:
                self._draw()
                self._drawn = 0

    # -- events ---------------------------------------------------------------------------------

    def __call__(self, event: ApplyEvent) -> None:
        self.update(event)

    def update(self, event: ApplyEvent) -> None:
        """Take one event into account and redraw (or print a line off a terminal)."""
        with self._lock:
            name = event.release
            if name not in self.lines:
                return
            if event.kind == "started":
                self.started[name] = event.time
                self.lines[name] = "starting"
            elif event.kind == "stage" and event.stage:
                self.lines[name] = event.stage.replace("_", " ")
            elif event.kind in ("finished", "skipped"):
                took = event.time - self.started[name] if name in self.started else None
                text = event.result or "done"
                if took is not None:
                    text += f" ({format_duration(took)})"
                if event.reason and event.result != "ok":
                    text += f": {shorten(event.reason, 60) if self.live else event.reason}"
                self.lines[name] = text
                self.finished.add(name)
                if not self.live and not (self.quiet and event.result == "ok"):
                    self.stream.write(f"{name}: {self.actions.get(name, '')} {text}\n")
                    self.stream.flush()
            if self.live:
                self._redraw()

    def write_above(self, line: str) -> None:
        """Print ``line`` above the live block."""
        with self._lock:
            self._clear()
            self.stream.write(line + "\n")
            self._redraw()

    def _redraw(self) -> None:
        """Draw now when the block is small or was not drawn for a while; else leave it to the
        ticker. A draw writes every line of the block: redrawing 1,000 lines on each of a
        run's ~7,000 events and log lines would cost more than the run itself."""
        if len(self.order) <= SMALL_BLOCK or time.monotonic() - self._drawn_at >= DRAW_INTERVAL:
            self._draw()
        else:
            self._pending = True

    # -- drawing -----------------------------------------------------------------------------------

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self, clear: bool = True) -> None:
        if not self.live:
            return
        if clear:
            self._clear()
        now = time.monotonic()
        columns = self._columns()
        for name in self.order:
            text = self.lines[name]
            if name in self.started and name not in self.finished:
                text += f" ({format_duration(now - self.started[name])})"
            action = self.actions.get(name, "")
            line = f"  {name.ljust(self._width)}  {action:<9}  {text}"
            # a line wider than the terminal wraps and would break the cursor-up redraw
            self.stream.write(line[: columns - 1] + "\x1b[K\n")
        self._drawn = len(self.order)
        self._drawn_at = now
        self._pending = False
        self.stream.flush()

    def _columns(self) -> int:
        """The terminal's width (80 when unknown)."""
        import os

        try:
            return max(20, os.get_terminal_size(self.stream.fileno()).columns)
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return 80
