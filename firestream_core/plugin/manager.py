"""The plugin manager: which plugins are loaded, which chart types they own.

``get_plugin_manager()`` builds a fresh :class:`FirestreamPluginManager` in a
fixed order, the way tox 4 and pluggy's eggsample do:

1. the hookspecs (``firestream_core.plugin.spec``),
2. the disable list (``FIRESTREAM_DISABLE_PLUGINS`` plus ``disabled=``), applied
   with ``set_blocked`` before anything is loaded,
3. the built-in ``defaults`` plugin (``firestream_core.deploy.defaults``), the
   built-in ``generic`` chart type (``firestream_core.plugin.generic``) and the
   ``chart-methods`` plugin calling a chart class's own lifecycle methods
   (``firestream_core.plugin.chart_methods``),
4. the entry points of group ``firestream.charts``, sorted by name,
5. ``extra_plugins`` (objects or modules, e.g. a test's recorder),
6. ``check_pending()``, which catches hooks no spec knows.

A plugin that fails at any step (import error, a hookimpl that does not match
its spec, an unknown hook, a ``FIRESTREAM_PLUGIN_API`` newer than the core's,
an invalid chart type) is unregistered and recorded in ``.broken`` with its
entry-point name, distribution and cause; the other plugins keep working and
only asking for a chart type of the broken plugin fails.

A plugin that registers chart types *owns* them: its stage hooks are called
only for releases of those types. Plugins that register no chart type are
cross-cutting and are called for every release, like the built-in defaults.

This module imports only the standard library at start-up, and pluggy (with
the hookspecs) when the first plugin is registered, so ``firestream plugins``
stays fast. Entry points and what each plugin
registers are remembered between runs (``plugin/cache.py``): a plugin that
loaded cleanly before is imported only when one of its chart types is asked
for (:meth:`FirestreamPluginManager.chart_type`, ``.chart_types``) or, when
it registers no chart type, before the first hook call. ``firestream
plugins`` and ``--version`` import no plugin at all.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

from firestream_core.errors import FirestreamError, PluginError, UnknownChartTypeError
from firestream_core.plugin.cache import (
    EntryPointRecord,
    PluginCache,
    PluginRecord,
    module_files,
    scan_entry_points,
)

# before anything logs: the library's loggers get their NullHandler (a warning logged while the
# plugins load, with no handler of the program's, would otherwise reach Python's last-resort
# handler: printed on stderr behind the program's back)
from firestream_core.tools import release_log as _release_log  # noqa: F401

if TYPE_CHECKING:
    import pluggy

    from firestream_core.model import (
        ChartPayload,
        ChartType,
        ExecOutcome,
        HelmChart,
        ValidationResult,
    )
    from firestream_core.plugin.context import DeployContext

DISABLE_ENV = "FIRESTREAM_DISABLE_PLUGINS"
"""Environment variable: comma-separated plugin names to block before loading."""

BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("defaults", "firestream_core.deploy.defaults"),
    ("generic", "firestream_core.plugin.generic"),
    ("chart-methods", "firestream_core.plugin.chart_methods"),
)
"""(name, module) of the built-in plugins, in load order."""

CORE_DISTRIBUTION = "firestream-core"
_CHART_TYPE_NAME = r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$"  # compiled when a plugin registers (not `plugins`)


class BrokenPlugin(NamedTuple):
    """A plugin that could not be used, and why.

    :ivar name: the entry-point (or built-in / extra) plugin name.
    :ivar distribution: the distribution that installed it, when known.
    :ivar version: that distribution's version, when known.
    :ivar cause: one readable line saying what went wrong.
    :ivar traceback: the full traceback, shown only with ``-v``.
    :ivar chart_types: chart types it had registered before failing (a
        broken plugin's entry-point name is also taken as its chart type).
    """

    name: str
    distribution: str | None
    version: str | None
    cause: str
    traceback: str = ""
    chart_types: tuple[str, ...] = ()

    @property
    def origin(self) -> str:
        """``name (distribution version)`` for messages."""
        return _origin(self.name, self.distribution, self.version)

    @property
    def message(self) -> str:
        """The one-line message used for every error about this plugin."""
        return f"plugin {self.origin} is broken: {self.cause}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "cause": self.cause,
            "chart_types": list(self.chart_types),
        }


class RegisteredChartType(NamedTuple):
    """A chart type together with the plugin that registered it."""

    chart_type: ChartType
    plugin_name: str
    plugin: Any
    distribution: str | None = None
    version: str | None = None

    @property
    def name(self) -> str:
        return self.chart_type.name

    @property
    def origin(self) -> str:
        return _origin(self.plugin_name, self.distribution, self.version)


class PluginInfo(NamedTuple):
    """What ``firestream plugins`` shows for one loaded plugin."""

    name: str
    distribution: str | None
    version: str | None
    chart_types: tuple[str, ...]
    hooks: tuple[str, ...]
    builtin: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "chart_types": list(self.chart_types),
            "hooks": list(self.hooks),
            "builtin": self.builtin,
        }


class _Source:
    """Where a plugin comes from, and the chart types it registered (filled in as it loads)."""

    __slots__ = ("builtin", "chart_types", "distribution", "name", "version")

    def __init__(
        self, name: str, distribution: str | None = None, version: str | None = None, builtin: bool = False
    ) -> None:
        self.name = name
        self.distribution = distribution
        self.version = version
        self.builtin = builtin
        self.chart_types: list[str] = []


def _origin(name: str, distribution: str | None, version: str | None) -> str:
    if distribution:
        dist = f"{distribution} {version}" if version else distribution
        return f"'{name}' ({dist})"
    return f"'{name}'"


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def a_type(value: object) -> str:
    """The type of ``value`` with its article, as messages name what a plugin gave:
    ``a_type(1)`` is ``'an int'``, ``a_type("x")`` is ``'a str'``."""
    kind = type(value).__name__
    return f"an {kind}" if kind[:1].lower() in "aeiou" else f"a {kind}"


def chart_type_field_problems(ct: ChartType) -> list[str]:
    """What is wrongly typed in a ``ChartType`` a plugin registers, each problem naming the
    field (``repositories['x'] must be ...``): checked when it registers, so a wrong field
    makes the plugin broken, named, instead of failing later in a release's helm call.
    ``name`` and ``chart_class`` are checked before (their own messages); what only a
    well-typed value can show (an options class that is not attrs, a URL's scheme, what a
    preset builds) ``plugins --check`` and the config report, with the plugin's other
    problems."""
    from collections.abc import Mapping

    from firestream_core.tools.sensitivity import url_has_credentials

    def table(field: str, value: object, what: str, item: Callable[[str, object], str | None]) -> None:
        """``field`` must map str keys to items ``item`` finds nothing wrong with."""
        if not isinstance(value, Mapping):
            out.append(f"{field} must be a mapping of {what}, got {a_type(value)}")
            return
        for key, v in value.items():
            problem = item(key, v) if isinstance(key, str) else f"a key must be a str, got {a_type(key)}"
            if problem:
                out.append(f"{field}[{key!r}] {problem}" if isinstance(key, str) else f"{field}: {problem}")

    def repository(_key: str, url: object) -> str | None:
        if not isinstance(url, str):
            return f"must be a URL string, got {a_type(url)}"
        if url_has_credentials(url):  # helm repo add would carry them on its command line
            return ("must not hold credentials: give them in the project's [registries.\"<host>\"] "
                    "(they reach helm on stdin)")
        return None

    out: list[str] = []
    table("presets", ct.presets, "preset name -> callable",
          lambda _k, fn: None if callable(fn) else f"must be a callable returning a HelmChart, got {a_type(fn)}")
    if ct.options is not None and not isinstance(ct.options, type):
        out.append(f"options must be an attrs class or None, got {a_type(ct.options)}")
    table("repositories", ct.repositories, "repository name -> URL", repository)
    if not isinstance(ct.description, str):
        out.append(f"description must be a str, got {a_type(ct.description)}")
    if ct.destructive_steps is not None and not callable(ct.destructive_steps):
        out.append(f"destructive_steps must be a callable or None, got {a_type(ct.destructive_steps)}")
    if ct.destroy_steps is not None and not callable(ct.destroy_steps):
        out.append(f"destroy_steps must be a callable or None, got {a_type(ct.destroy_steps)}")
    return out


_EXPECTED = {
    "check_prerequisites": "a list of problems (strings) or None",
    "exec": "an ExecOutcome or None",
    "validate": "a list of ValidationResult or None",
    "on_deploy_failure": "a list of lines (strings) or None",
    # the chart type's callbacks the plan calls (ChartType.destructive_steps / destroy_steps)
    "destructive_steps": "a list of lines (strings) or None",
    "destroy_steps": "a list of lines (strings) or None",
}
"""What each checked hook's implementation (or chart type callback) must return
(:func:`result_problem`)."""


def takes_arguments(callback: Callable[..., Any], count: int) -> bool:
    """Whether ``callback`` can be called with ``count`` positional arguments (a chart type's
    callback that takes a later-added argument, such as ``destroy_steps``' ``context``).

    >>> takes_arguments(lambda chart, project_dir: [], 3), takes_arguments(lambda c, p, ctx=None: [], 3)
    (False, True)
    """
    import inspect

    try:
        inspect.signature(callback).bind(*range(count))
    except (TypeError, ValueError):  # ValueError: no signature to read (some builtins)
        return False
    return True


def result_problem(hook: str, value: Any) -> str | None:
    """What is wrong with ``value``, returned by one implementation of ``hook``
    (``returned a str, not a list of problems (strings) or None``), or None when it is fine
    or ``hook`` is not one whose results are checked."""
    expected = _EXPECTED.get(hook)
    if expected is None or value is None:
        return None
    if hook == "exec":
        from firestream_core.model import ExecOutcome

        ok = isinstance(value, ExecOutcome)
        return None if ok else f"returned {a_type(value)}, not {expected}"
    if not isinstance(value, list | tuple):
        return f"returned {a_type(value)}, not {expected}"
    if hook == "validate":
        from firestream_core.model import ValidationResult

        item: type = ValidationResult
    else:
        item = str
    for v in value:
        if not isinstance(v, item):
            return f"returned a list holding {a_type(v)}, not {expected}"
    return None


class HookResultError(PluginError):
    """A plugin's implementation of a stage hook returned a value of the wrong type.

    :ivar plugin: the plugin's name.
    :ivar hook: the hook.
    :ivar problem: what it returned (``returned a str, not a list of problems (strings) or None``).
    """

    def __init__(self, who: str, plugin: str, hook: str, problem: str) -> None:
        super().__init__(f"{who}: {hook} {problem}")
        self.plugin, self.hook, self.problem = plugin, hook, problem


RAISED_BY = "_firestream_raised_by"
"""The attribute :func:`_checking` sets on an exception a plugin's stage hook raised (not a
``FirestreamError``): who raised it (``plugin 'x'``, or ``chart class X``), for the release's
error (:func:`raised_by`). The exception itself is left as it was raised."""


def raised_by(exc: BaseException) -> str | None:
    """``plugin 'x'`` (or ``chart class X``) when a plugin's stage hook raised ``exc``, else None."""
    who = getattr(exc, RAISED_BY, None)
    return who if isinstance(who, str) else None


def _who(plugin: str, chart: Any) -> str:
    """``plugin 'x'``, or the chart class whose own method the built-in ``chart-methods`` called."""
    return f"chart class {type(chart).__name__}" if plugin == "chart-methods" else f"plugin '{plugin}'"


def _checking(hook: str, plugin: str, fn: Callable[..., Any], argnames: Sequence[str]) -> Callable[..., Any]:
    """``fn`` (one implementation of ``hook``), raising :class:`HookResultError` for a result
    :func:`result_problem` refuses. The built-in ``chart-methods`` plugin's is named by the
    chart class whose method it called. An exception it raises that is not firestream's own
    (which names what failed itself) goes on unchanged, marked with who raised it
    (:func:`raised_by`): a stage's error names the plugin at fault."""
    chart_at = list(argnames).index("chart") if "chart" in argnames else None

    def who(args: Sequence[Any]) -> str:
        return _who(plugin, args[chart_at]) if chart_at is not None else f"plugin '{plugin}'"

    def checked(*args: Any) -> Any:
        try:
            got = fn(*args)
        except (Exception, SystemExit) as exc:
            if not isinstance(exc, FirestreamError) and raised_by(exc) is None:
                try:
                    setattr(exc, RAISED_BY, who(args))
                except (AttributeError, TypeError):  # an exception class refusing attributes
                    pass
            raise
        if got is not None:
            problem = result_problem(hook, got)
            if problem is not None:
                raise HookResultError(who(args), plugin, hook, problem)
        return got

    checked.__wrapped__ = fn  # type: ignore[attr-defined]
    checked.__name__ = getattr(fn, "__name__", hook)
    return checked


def disabled_from_env(environ: Any = None) -> list[str]:
    """Plugin names listed in ``FIRESTREAM_DISABLE_PLUGINS`` (comma separated)."""
    env = os.environ if environ is None else environ
    return [n.strip() for n in env.get(DISABLE_ENV, "").split(",") if n.strip()]


class FirestreamPluginManager:
    """pluggy's manager plus firestream's chart-type registry and typed stage calls.

    Build it with :func:`get_plugin_manager`. Call sites use the typed stage
    methods (``check_prerequisites``, ``pre_exec``, ``exec``, ``post_exec``,
    ``validate``, ``on_deploy_failure``), which call only the
    implementations that concern the chart's type.
    """

    def __init__(self) -> None:
        self._pm: pluggy.PluginManager | None = None
        self._blocked: set[str] = set()
        self._chart_types: dict[str, RegisteredChartType] = {}
        self.broken: list[BrokenPlugin] = []
        self.conflicts: dict[str, list[RegisteredChartType]] = {}
        self.disabled: list[str] = []
        self._named: set[str] = set()  # every plugin name met while loading, blocked or not
        self._sources: dict[str, _Source] = {}
        self._callers: dict[tuple[str, str], Any] = {}
        self._order: list[str] = []  # plugin names in load order (loaded and not yet loaded)
        self._lazy: dict[str, tuple[EntryPointRecord, PluginRecord, _Source]] = {}
        self._lazy_lock = threading.RLock()
        self._eps: dict[str, EntryPointRecord] = {}
        self._cache = PluginCache()

    @property
    def pm(self) -> pluggy.PluginManager:
        """pluggy's manager with the hookspecs, made on first use.

        Listing the plugins from the cache (``firestream plugins``) registers nothing,
        so it never imports pluggy (nor ``inspect``, which pluggy needs): a few ms of
        start-up (issue 13).
        """
        if self._pm is None:
            import pluggy

            from firestream_core.plugin import spec as hookspecs
            from firestream_core.plugin.markers import NAME

            pm = pluggy.PluginManager(NAME)
            pm.add_hookspecs(hookspecs)
            for name in self._blocked:
                pm.set_blocked(name)
            self._pm = pm
        return self._pm

    def unknown_disabled(self) -> list[str]:
        """The disabled names no plugin met while loading has (a misspelt ``--disable-plugin``
        that would leave the plugin meant loaded)."""
        return [n for n in self.disabled if n not in self._named]

    def is_blocked(self, name: str) -> bool:
        """True when plugin ``name`` was blocked (disabled) before loading."""
        return name in self._blocked

    @property
    def chart_types(self) -> dict[str, RegisteredChartType]:
        """Every registered chart type by name (imports the plugins not loaded yet)."""
        self.load_all()
        return self._chart_types

    # -- loading ---------------------------------------------------------------

    def block(self, names: Iterable[str]) -> None:
        """Block plugins by name so that loading them is a no-op."""
        for name in names:
            if name and name not in self._blocked:
                self._blocked.add(name)
                if self._pm is not None:
                    self._pm.set_blocked(name)
                self.disabled.append(name)

    def load_builtins(self) -> None:
        """Load the built-in plugins that exist in this installation (remembered like entry points)."""
        from firestream_core.version import __version__

        for name, module in BUILTIN_PLUGINS:
            self._named.add(name)
            if self.is_blocked(name):
                continue
            src = _Source(name, CORE_DISTRIBUTION, __version__, builtin=True)
            self._register_or_defer(EntryPointRecord(name, module, CORE_DISTRIBUTION, __version__), src)

    def _register_or_defer(self, ep: EntryPointRecord, src: _Source) -> None:
        """Import ``ep`` now, or (remembered from an earlier run) when it is first needed."""
        known = self._cache.plugin(ep) if self._cache.enabled else None
        if known is None:
            self._load_entry_point(ep, src)
        else:
            src.chart_types.extend(known.chart_types)
            self._lazy[ep.name] = (ep, known, src)
            self._order.append(ep.name)

    def plugin_packages(self) -> list[str]:
        """The top-level packages of the entry points' plugins, imported or not yet: the names
        of their own loggers (``logging.getLogger(__name__)``), which the CLI prints at its level."""
        eps = [*self._eps.values(), *(ep for ep, _, _ in self._lazy.values())]
        return sorted({ep.module.split(".")[0] for ep in eps} - {"firestream_core"})

    def load_entry_points(self) -> None:
        """Find the ``firestream.charts`` plugins; import those not remembered (see the module doc)."""
        cache = self._cache
        records = cache.entry_points()
        if records is None:
            records = scan_entry_points()
            cache.set_entry_points(records)
        for ep in sorted(records, key=lambda e: e.name):
            src = _Source(ep.name, ep.distribution, ep.version)
            self._named.add(ep.name)
            if self.is_blocked(ep.name):
                continue
            other = self._sources.get(ep.name) or (self._lazy[ep.name][2] if ep.name in self._lazy else None)
            if other is not None:
                self._record_broken(
                    src,
                    f"the plugin name is already used by {_origin(other.name, other.distribution, other.version)}",
                )
                continue
            self._register_or_defer(ep, src)
        # two providers of one chart type: both imported now, so the clash is reported as before
        providers: dict[str, int] = dict.fromkeys(self._chart_types, 1)
        for _, known, _ in self._lazy.values():
            for ct in known.chart_types:
                providers[ct] = providers.get(ct, 0) + 1
        for name in [n for n, (_, k, _) in self._lazy.items() if any(providers[c] > 1 for c in k.chart_types)]:
            self._load_lazy(name, check=False)

    def _load_entry_point(self, ep: EntryPointRecord, src: _Source) -> None:
        """Import one entry point's plugin and register it; remember what it registers."""
        self._eps[ep.name] = ep
        before = set(sys.modules)
        try:
            obj: Any = importlib.import_module(ep.module)
            for attr in filter(None, ep.attr.split(".")):
                obj = getattr(obj, attr)
        except ModuleNotFoundError as exc:
            if src.builtin and exc.name == ep.module:  # not written / not shipped: nothing to load
                return
            self._record_broken(src, f"import failed: {one_line(exc)}", exc)
            self._forget(ep)
            return
        except (Exception, SystemExit) as exc:  # sys.exit() at import ("install X first"): broken too
            self._record_broken(src, f"import failed: {one_line(exc)}", exc)
            self._forget(ep)
            return
        if not self._implements_a_hook(obj):
            self._record_broken(src, self._no_hook_problem(ep, obj))
            self._forget(ep)
            return
        if not self._add(obj, src):
            self._forget(ep)
            return
        top = ep.module.split(".")[0]
        mine = [ep.module, *(m for m in set(sys.modules) - before if m.split(".")[0] == top)]
        self._cache.set_plugin(
            ep, PluginRecord(list(src.chart_types), list(self._hooks_of(obj)), module_files(mine))
        )

    def _implements_a_hook(self, obj: Any) -> bool:
        """True when ``obj`` has at least one ``@hookimpl`` function (as pluggy would find it)."""
        pm = self.pm
        for name in dir(obj):
            try:
                if pm.parse_hookimpl_opts(obj, name) is not None:
                    return True
            except Exception:  # noqa: BLE001 - an attribute that cannot be read is no hook
                continue
        return False

    @staticmethod
    def _no_hook_problem(ep: EntryPointRecord, obj: Any) -> str:
        """Why an entry point whose target has no hook is refused: it would register no chart
        type, so its ``[[deployments.<type>]]`` blocks would silently deploy as generic charts."""
        what = f"module '{obj.__name__}'" if isinstance(obj, ModuleType) else a_type(obj)
        return (f"its entry point '{ep.value}' names {what}, which has no @hookimpl function "
                "(register_chart_types, a stage): it would register no chart type and run no hook; "
                "name the plugin's module, where the hooks are")

    def _forget(self, ep: EntryPointRecord) -> None:
        self._cache.forget_plugin(ep)

    def _load_lazy(self, name: str, *, check: bool = True) -> None:
        with self._lazy_lock:  # releases run in threads: import each plugin once
            entry = self._lazy.pop(name, None)
            if entry is None:  # another thread imported it meanwhile
                return
            self._load_lazy_entry(entry, check=check)

    def _load_lazy_entry(
        self, entry: tuple[EntryPointRecord, PluginRecord, _Source], *, check: bool
    ) -> None:
        ep, _, src = entry
        self._load_entry_point(ep, _Source(src.name, src.distribution, src.version, builtin=src.builtin))
        if check:
            self.check_pending()
            self.save_cache()

    def load_all(self) -> None:
        """Import every plugin not imported yet."""
        with self._lazy_lock:
            self._load_all_locked()

    def _load_all_locked(self) -> None:
        if self._lazy:
            for name in list(self._lazy):
                self._load_lazy(name, check=False)
            self.check_pending()
            self.save_cache()

    def _load_for(self, chart_type: str) -> None:
        """Import the plugins that registered ``chart_type`` last time, if not imported yet."""
        with self._lazy_lock:
            self._load_wanted([n for n, (_, k, _) in self._lazy.items() if chart_type in k.chart_types])

    def _load_wanted(self, wanted: list[str]) -> None:
        for name in wanted:
            self._load_lazy(name, check=False)
        if wanted:
            self.check_pending()
            self.save_cache()

    def _load_cross_cutting(self) -> None:
        """Import the plugins that register no chart type: they are called for every release."""
        if not self._lazy:
            return
        with self._lazy_lock:
            self._load_wanted([n for n, (_, k, _) in self._lazy.items() if not k.chart_types])

    def save_cache(self) -> None:
        """Write what was learnt about the plugins (nothing when nothing changed)."""
        self._cache.save()

    def load_extra(self, plugins: Iterable[Any]) -> None:
        """Register plugin objects or modules given by the caller (tests, library users)."""
        for i, obj in enumerate(plugins):
            name = getattr(obj, "__name__", None) if isinstance(obj, ModuleType) else None
            name = name or getattr(obj, "firestream_plugin_name", None) or f"extra-{i}-{type(obj).__name__}"
            self._named.add(name)
            if self.is_blocked(name):
                continue
            self._add(obj, _Source(name))

    def _record_broken(self, src: _Source, cause: str, exc: BaseException | None = None) -> None:
        tb = "".join(traceback.format_exception(exc)) if exc is not None else ""
        self.broken.append(
            BrokenPlugin(src.name, src.distribution, src.version, cause, tb, tuple(src.chart_types))
        )

    def _api_version_problem(self, obj: Any) -> str | None:
        from firestream_core.plugin.markers import PLUGIN_API_VERSION

        module = obj if isinstance(obj, ModuleType) else sys.modules.get(getattr(obj, "__module__", ""))
        wanted = getattr(obj, "FIRESTREAM_PLUGIN_API", None)
        if wanted is None and module is not None:
            wanted = getattr(module, "FIRESTREAM_PLUGIN_API", None)
        if wanted is None:
            return None
        if not isinstance(wanted, int) or isinstance(wanted, bool):
            return "FIRESTREAM_PLUGIN_API must be an integer"
        if wanted > PLUGIN_API_VERSION:
            return (
                f"it needs plugin API {wanted} but this firestream-core provides "
                f"API {PLUGIN_API_VERSION}; upgrade firestream-core"
            )
        return None

    def _add(self, obj: Any, src: _Source) -> bool:
        """Register ``obj``; False (and recorded as broken) when it cannot be used."""
        problem = self._api_version_problem(obj)
        if problem:
            self._record_broken(src, problem)
            return False
        import pluggy

        try:
            registered = self.pm.register(obj, name=src.name)
        except pluggy.PluginValidationError as exc:
            self._record_broken(src, f"hook does not match the hookspec: {self._mismatch(exc)}", exc)
            return False
        except ValueError as exc:  # same object or name registered twice
            self._record_broken(src, one_line(exc), exc)
            return False
        if registered is None:  # blocked
            return False
        self._sources[src.name] = src
        if src.name not in self._order:
            self._order.append(src.name)
        try:
            types = self._collect_chart_types(obj, src)
        except (Exception, SystemExit) as exc:
            self.pm.unregister(obj)
            del self._sources[src.name]
            self._record_broken(src, f"register_chart_types failed: {one_line(exc)}", exc)
            return False
        for ct in types:
            self._add_chart_type(ct, obj, src)
        self._check_results_of(obj)
        self._callers.clear()
        return True

    def _check_results_of(self, plugin: Any) -> None:
        """Each of ``plugin``'s implementations of a stage hook (wrappers aside) is called
        through :func:`_checking`: one whose results firestream reads (``check_prerequisites``,
        ``exec``, ``validate``, ``on_deploy_failure``) raises :class:`HookResultError`, naming
        the plugin, the hook and the type, when it returns a value of the wrong type: a str is
        not split into problems, nor does it replace helm's ``exec``. In a stage that fails the
        release at that stage. Any stage's exception is marked with the plugin that raised it."""
        from firestream_core.plugin.spec import STAGES

        for caller in self.pm.get_hookcallers(plugin) or []:
            if caller.name not in _EXPECTED and caller.name not in STAGES:
                continue
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not (impl.hookwrapper or impl.wrapper):
                    # pluggy calls ``impl.function(*args)`` with the arguments named by
                    # ``impl.argnames`` (read from the plugin's function at registration): the
                    # checking function takes them as they come (pluggy types it Final for
                    # its own code; it offers no per-implementation hook of its own)
                    impl.function = _checking(  # type: ignore[misc]
                        caller.name, impl.plugin_name, impl.function, impl.argnames
                    )

    def _hooks_of(self, plugin: Any) -> tuple[str, ...]:
        """The hooks ``plugin`` implements, in lifecycle order (``register_chart_types`` left out)."""
        order = {h: i for i, h in enumerate(_hook_order())}
        hooks = [h.name for h in (self.pm.get_hookcallers(plugin) or []) if h.name != "register_chart_types"]
        return tuple(sorted(hooks, key=lambda h: order.get(h, 99)))

    def _mismatch(self, exc: pluggy.PluginValidationError) -> str:
        """pluggy's mismatch, said with the offending arguments and the ones the hook passes."""
        lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
        hook = re.search(r"for hook '(\w+)'", lines[0]) if lines else None
        unknown = re.search(r"Argument\(s\) \{(.*)\} are declared in the hookimpl", str(exc))
        definition = next((ln.split(": ", 1)[1] for ln in lines if ln.startswith("hookimpl definition:")), "")
        caller = getattr(self.pm.hook, hook.group(1), None) if hook else None
        spec = getattr(caller, "spec", None)
        if not (hook and unknown and spec is not None):
            return "; ".join(lines) or one_line(exc)
        names = ", ".join(unknown.group(1).split(", "))
        return (
            f"hook '{hook.group(1)}' is defined as {definition} and takes {names}, which the hook "
            f"does not pass; {hook.group(1)} passes {', '.join(spec.argnames)} (an implementation "
            "may take fewer of them, by these names)"
        )

    def _collect_chart_types(self, obj: Any, src: _Source) -> list[ChartType]:
        from firestream_core.model import ChartType, HelmChart
        from firestream_core.plugin.chart_methods import chart_method_problems

        found: list[ChartType] = []

        def register(chart_type: ChartType) -> None:
            if not isinstance(chart_type, ChartType):
                raise TypeError(
                    f"register() takes a firestream_core.ChartType, got {type(chart_type).__name__}"
                )
            if not isinstance(chart_type.name, str) or not re.match(_CHART_TYPE_NAME, chart_type.name):
                raise ValueError(
                    f"chart type name {chart_type.name!r} is invalid: use lower-case letters, "
                    "digits, '-' and '_'"
                )
            if chart_type.name not in src.chart_types:  # a broken one is named for its releases
                src.chart_types.append(chart_type.name)
            cls = chart_type.chart_class
            if not (isinstance(cls, type) and issubclass(cls, HelmChart)):
                raise TypeError(f"chart type '{chart_type.name}': chart_class must subclass HelmChart")
            field_problems = chart_type_field_problems(chart_type)
            if field_problems:
                raise TypeError(f"chart type '{chart_type.name}': " + "; ".join(field_problems))
            method_problems = chart_method_problems(cls)
            if method_problems:
                raise TypeError(f"chart type '{chart_type.name}': " + "; ".join(method_problems))
            if any(c.name == chart_type.name for c in found):
                raise ValueError(f"chart type '{chart_type.name}' registered twice")
            found.append(chart_type)

        for impl in self.pm.hook.register_chart_types.get_hookimpls():
            if impl.plugin is obj:
                returned = impl.function(*[{"register": register}[a] for a in impl.argnames])
                if returned is not None:  # chart types returned, not registered: none would be known
                    raise TypeError(
                        f"register_chart_types returned {a_type(returned)}; it returns nothing: "
                        "call register(chart_type) for each chart type"
                    )
        names = {c.name for c in found}
        for ct in found:
            said = ct.chart_class.chart_type
            if said not in names:  # the release's hooks would go to another plugin: say so now
                raise ValueError(
                    f"chart type '{ct.name}': its chart class {ct.chart_class.__name__} says "
                    f"chart_type = {said!r}, which this plugin does not register, so its hooks "
                    "would never be called for its releases; remove that line "
                    "(ChartType(name=...) sets it)"
                )
        return found

    def _add_chart_type(self, ct: ChartType, obj: Any, src: _Source) -> None:
        reg = RegisteredChartType(ct, src.name, obj, src.distribution, src.version)
        if ct.name in self.conflicts:
            self.conflicts[ct.name].append(reg)
        elif ct.name in self._chart_types:
            self.conflicts[ct.name] = [self._chart_types.pop(ct.name), reg]
        else:
            self._chart_types[ct.name] = reg

    def check_pending(self) -> None:
        """Unregister and record every plugin with a hook no spec declares."""
        if self._pm is None:  # nothing registered yet
            return
        import pluggy

        while True:
            try:
                self.pm.check_pending()
            except pluggy.PluginValidationError as exc:
                name = self.pm.get_name(exc.plugin) or "?"
                src = self._sources.pop(name, _Source(name))
                self.pm.unregister(exc.plugin)
                for ct in src.chart_types:
                    reg = self._chart_types.get(ct)
                    if reg is not None and reg.plugin is exc.plugin:
                        del self._chart_types[ct]
                self._record_broken(src, f"unknown hook: {one_line(exc)}", exc)
                if name in self._eps:
                    self._forget(self._eps[name])
                self._callers.clear()
                continue
            return

    # -- lookup ----------------------------------------------------------------

    def chart_type(self, name: str) -> RegisteredChartType:
        """The registered chart type ``name``.

        Raises ``PluginError`` when the plugin providing it is broken or two
        plugins register it, ``UnknownChartTypeError`` when nothing provides it.
        """
        reg = self._chart_types.get(name)
        if reg is not None:
            return reg
        if self._lazy:
            self._load_for(name)
            reg = self._chart_types.get(name)
            if reg is not None:
                return reg
        if name in self.conflicts:
            raise PluginError(self.conflict_message(name))
        for b in self.broken:
            if name == b.name or name in b.chart_types:
                if b.traceback:  # -v shows where the plugin failed, not only where we noticed
                    from firestream_core.plugin.markers import NAME

                    logging.getLogger(NAME).debug("%s:\n%s", b.message, b.traceback.rstrip())
                raise PluginError(b.message, hint="run 'firestream plugins -v' for the traceback")
        if name in self.disabled:
            raise PluginError(f"chart type '{name}' is provided by a disabled plugin")
        raise UnknownChartTypeError(
            f"unknown chart type '{name}': no installed plugin provides it "
            f"(installed chart types: {', '.join(self.chart_type_names()) or 'none'})"
        )

    def chart_type_names(self) -> list[str]:
        """The names of every chart type, sorted, without importing the plugins not loaded yet
        (those are named from what they registered last time, their files unchanged).

        A release whose table key is not a chart type (``[deployments.web]`` with a
        ``chart``) is looked up as one first: saying that it is unknown must not import
        every installed plugin (start-up of ``validate`` and every command, issue 13).
        """
        names = set(self._chart_types)  # as .chart_types: a name two plugins clash on is not listed
        for _, known, _ in self._lazy.values():
            names.update(known.chart_types)
        return sorted(names)

    def conflict_message(self, name: str) -> str:
        regs = self.conflicts[name]
        who = " and ".join(r.origin for r in regs)
        return f"chart type '{name}' is registered by more than one plugin: {who}"

    def problems(self) -> list[str]:
        """Every loading problem (broken plugins and chart-type clashes), one line each."""
        out = [b.message for b in self.broken]
        out += [self.conflict_message(n) for n in sorted(self.conflicts)]
        return out

    def owner_of(self, chart_type: str) -> Any:
        """The plugin object owning ``chart_type`` (raises like :meth:`chart_type`)."""
        return self.chart_type(chart_type).plugin

    def plugin_infos(self) -> list[PluginInfo]:
        """Name, distribution, version, chart types and hooks of every plugin, in load order.

        A plugin not imported yet is described from what it registered last time.
        """
        found: dict[str, PluginInfo] = {}
        for name, plugin in self._pm.list_name_plugin() if self._pm is not None else ():
            if plugin is None:  # a blocked name
                continue
            src = self._sources.get(name, _Source(name))
            found[name] = PluginInfo(
                name, src.distribution, src.version, tuple(src.chart_types), self._hooks_of(plugin), src.builtin
            )
        for name, (ep, known, _) in self._lazy.items():
            # recorded in lifecycle order (``_hooks_of``): no need for the hookspecs, nor pluggy
            found[name] = PluginInfo(name, ep.distribution, ep.version, tuple(known.chart_types),
                                     tuple(known.hooks), self._lazy[name][2].builtin)
        return [found[n] for n in self._order if n in found] + [
            i for n, i in found.items() if n not in self._order
        ]

    def contributes_values(self, chart_type: str) -> bool:
        """True when a plugin other than firestream's own implements ``contribute_values``
        for ``chart_type`` (its owner, or a plugin registering no chart type).

        Read from what the plugins registered (the cache for one not imported yet):
        it imports no plugin and makes no pluggy manager. ``firestream validate`` asks
        it before working out a release's offline notes.
        """
        return any(
            not info.builtin and "contribute_values" in info.hooks
            and (not info.chart_types or chart_type in info.chart_types)
            for info in self.plugin_infos()
        )

    # -- calling ---------------------------------------------------------------

    def hook_caller(self, hook: str, chart_type: str) -> Any:
        """A hook caller calling ``hook`` only for plugins concerned by ``chart_type``.

        Those are the owner of ``chart_type``, every plugin that registers no
        chart type and the built-in defaults. Cached per (hook, chart type).
        """
        key = (hook, chart_type)
        caller = self._callers.get(key)
        if caller is None:
            self._load_cross_cutting()
            owner = self.owner_of(chart_type)
            others = {
                id(r.plugin): r.plugin
                for r in self._chart_types.values()
                if r.plugin is not owner
            }
            for regs in self.conflicts.values():
                others.update({id(r.plugin): r.plugin for r in regs if r.plugin is not owner})
            caller = self.pm.subset_hook_caller(hook, list(others.values()))
            self._callers[key] = caller
        return caller

    def _call(self, hook: str, chart: HelmChart, **kwargs: Any) -> Any:
        return self.hook_caller(hook, chart.chart_type)(chart=chart, **kwargs)

    @staticmethod
    def _flatten(results: Sequence[Any]) -> list[Any]:
        out: list[Any] = []
        for r in results:
            if r:
                out.extend(r)
        return out

    def calls_contribute_values(self, chart: HelmChart) -> bool:
        """Whether :meth:`contribute_values` would call anything for ``chart``. When nothing
        would, the desired-state stage builds no context for it (:meth:`contributes_values`
        answers for ``validate`` without importing a plugin)."""
        return bool(self._value_contributors(chart))

    def contribute_values(self, chart: HelmChart, context: DeployContext) -> list[tuple[str, Any]]:
        """Each concerned ``contribute_values`` result that is not None, as
        ``(plugin name, mapping)`` in call order (the desired-state stage)."""
        out: list[tuple[str, Any]] = []
        for impl in self._value_contributors(chart):
            args = {"chart": chart, "context": context}
            try:
                got = impl.function(*[args[a] for a in impl.argnames])
            except PluginError as exc:  # a write refused by the read-only tools: whose
                raise PluginError(f"{_who(impl.plugin_name, chart)}: {exc}", hint=exc.hint) from exc
            except FirestreamError:
                raise
            except (Exception, SystemExit) as exc:  # a plugin's bug: named, never a traceback without -v
                raise PluginError(  # (a sys.exit(0) here made plan exit 0 having printed nothing)
                    f"{_who(impl.plugin_name, chart)}: contribute_values for release "
                    f"'{chart.chart_info.name}' raised {type(exc).__name__}: {exc}"
                ) from exc
            if got is not None:
                out.append((impl.plugin_name, got))
        return out

    def _value_contributors(self, chart: HelmChart) -> list[Any]:
        """The ``contribute_values`` implementations called for ``chart``, in call order:
        those of the plugins concerned by its type, wrappers aside, and the built-in
        ``chart-methods`` one only for a class that overrides ``contribute_values`` (for any
        other it answers None)."""
        from firestream_core.model import overrides_chart_method

        own_method = overrides_chart_method(type(chart), "contribute_values")
        return [
            impl for impl in reversed(self.hook_caller("contribute_values", chart.chart_type).get_hookimpls())
            if not (impl.hookwrapper or impl.wrapper) and (own_method or impl.plugin_name != "chart-methods")
        ]

    def check_prerequisites(
        self, chart: HelmChart, context: DeployContext, payload: ChartPayload
    ) -> list[str]:
        """Every problem reported by the implementations concerned (empty: ready)."""
        return self._flatten(self._call("check_prerequisites", chart, context=context, payload=payload))

    def pre_exec(self, chart: HelmChart, context: DeployContext, payload: ChartPayload) -> None:
        """Call every concerned ``pre_exec``."""
        self._call("pre_exec", chart, context=context, payload=payload)

    def exec(self, chart: HelmChart, context: DeployContext, payload: ChartPayload) -> ExecOutcome | None:  # noqa: A003
        """The first non-None ``exec`` result (the chart plugin's, else the default's)."""
        return self._call("exec", chart, context=context, payload=payload)

    def post_exec(self, chart: HelmChart, context: DeployContext, payload: ChartPayload) -> None:
        """Call every concerned ``post_exec``."""
        self._call("post_exec", chart, context=context, payload=payload)

    def validate(
        self, chart: HelmChart, context: DeployContext, payload: ChartPayload
    ) -> list[ValidationResult]:
        """Every validation result of the implementations concerned, concatenated."""
        return self._flatten(self._call("validate", chart, context=context, payload=payload))

    def on_deploy_failure(
        self,
        chart: HelmChart,
        context: DeployContext,
        payload: ChartPayload,
        stage: str,
        error: BaseException,
    ) -> list[str]:
        """Debug lines from every concerned ``on_deploy_failure``, concatenated."""
        return self._flatten(
            self._call(
                "on_deploy_failure", chart, context=context, payload=payload, stage=stage, error=error
            )
        )

    def only_builtin(self, hook: str, chart_type: str) -> bool:
        """True when the only implementations of ``hook`` for ``chart_type`` are firestream's own."""
        impls = self.hook_caller(hook, chart_type).get_hookimpls()
        return all(
            (src := self._sources.get(impl.plugin_name)) is not None and src.builtin for impl in impls
        )

    def acts_before_helm(self, chart: HelmChart) -> bool:
        """True when a ``pre_exec`` or ``exec`` other than firestream's own runs for ``chart``
        (a plugin's, or its class's own method): it may change the cluster (a Secret, a
        namespace, CRDs) before helm renders the chart, so apply renders a create of it first
        (``Project.refuse_before_apply``)."""
        from firestream_core.model import overrides_chart_method

        return any(not self.only_builtin(hook, chart.chart_type) or overrides_chart_method(type(chart), hook)
                   for hook in ("pre_exec", "exec"))

    def on_deploy_failure_each(
        self,
        chart: HelmChart,
        context: DeployContext,
        payload: ChartPayload,
        stage: str,
        error: BaseException,
        describe: Callable[[BaseException], str] = one_line,
    ) -> list[str]:
        """Like :meth:`on_deploy_failure`, one plugin at a time: a plugin that raises, or returns
        something else than a list of strings, is noted (``on_deploy_failure of plugin 'x'
        raised ...`` / ``... returned an int, not a list of lines (strings) or None``) and the
        others still run."""
        args: dict[str, Any] = {
            "chart": chart, "context": context, "payload": payload, "stage": stage, "error": error,
        }
        lines: list[str] = []
        for impl in reversed(self.hook_caller("on_deploy_failure", chart.chart_type).get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                continue
            try:
                got = impl.function(*[args[a] for a in impl.argnames])
            except HookResultError as e:  # e.g. 12345: noted too, never the release's error
                lines.append(f"on_deploy_failure of plugin '{impl.plugin_name}' {e.problem}")
                continue
            except (Exception, SystemExit) as e:  # a broken plugin: note it, go on with the others
                lines.append(f"on_deploy_failure of plugin '{impl.plugin_name}' raised {describe(e)}")
                continue
            problem = result_problem("on_deploy_failure", got)
            if problem is not None:  # a plugin registered around the manager: checked here
                lines.append(f"on_deploy_failure of plugin '{impl.plugin_name}' {problem}")
                continue
            lines.extend(got or [])
        return lines


def _hook_order() -> tuple[str, ...]:
    from firestream_core.plugin.spec import ALL_HOOKS

    return ALL_HOOKS


_WARNED_UNKNOWN_DISABLED: set[str] = set()


def get_plugin_manager(
    *,
    disabled: Iterable[str] = (),
    load_entry_points: bool = True,
    extra_plugins: Iterable[Any] = (),
    environ: Any = None,
) -> FirestreamPluginManager:
    """Build a fresh plugin manager in the fixed load order (see the module docstring).

    :param disabled: plugin names to block, on top of ``FIRESTREAM_DISABLE_PLUGINS``.
    :param load_entry_points: False to load only the built-ins and ``extra_plugins``.
    :param extra_plugins: plugin objects or modules registered last.
    :param environ: the environment to read the disable list from (default ``os.environ``).
    """
    if isinstance(disabled, str | bytes):  # its letters would be disabled, and the plugin named loaded
        raise TypeError(f"the plugins to disable are a list of names, not a str: [{disabled!r}] "
                        "(get_plugin_manager's disabled, Project.load's disabled_plugins)")
    fpm = FirestreamPluginManager()
    fpm.block([*disabled_from_env(environ), *disabled])
    fpm.load_builtins()
    if load_entry_points:
        fpm.load_entry_points()
    fpm.load_extra(extra_plugins)
    if load_entry_points:
        for name in fpm.unknown_disabled():
            if name in _WARNED_UNKNOWN_DISABLED:  # once per process, however many managers
                continue
            _WARNED_UNKNOWN_DISABLED.add(name)
            from firestream_core.plugin.markers import NAME  # (pluggy: only when there is one)

            logging.getLogger(NAME).warning(
                "no plugin is named '%s' (--disable-plugin / %s): nothing was disabled by it; "
                "'firestream plugins' lists their names", name, DISABLE_ENV)
    fpm.check_pending()
    fpm.save_cache()
    return fpm
