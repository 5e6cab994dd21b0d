"""The plugin manager: which plugins are loaded, which chart types they own.

``get_plugin_manager()`` builds a fresh :class:`FirestreamPluginManager` in a
fixed order, the way tox 4 and pluggy's eggsample do:

1. the hookspecs (``firestream_core.plugin.spec``),
2. the disable list (``FIRESTREAM_DISABLE_PLUGINS`` plus ``disabled=``), applied
   with ``set_blocked`` before anything is loaded,
3. the built-in ``defaults`` plugin (``firestream_core.deploy.defaults``), then the
   built-in ``generic`` chart type (``firestream_core.plugin.generic``),
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

This module imports only the standard library and pluggy at start-up, so
``firestream plugins`` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from firestream_core.errors import PluginError, UnknownChartTypeError
from firestream_core.plugin.markers import ENTRY_POINT_GROUP, NAME, PLUGIN_API_VERSION

if TYPE_CHECKING:
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
)
"""(name, module) of the built-in plugins, in load order."""

CORE_DISTRIBUTION = "firestream-core"
_CHART_TYPE_NAME = re.compile(r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$")


@dataclass(frozen=True)
class BrokenPlugin:
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


@dataclass(frozen=True)
class RegisteredChartType:
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


@dataclass(frozen=True)
class PluginInfo:
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


@dataclass
class _Source:
    name: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False
    chart_types: list[str] = field(default_factory=list)


def _origin(name: str, distribution: str | None, version: str | None) -> str:
    if distribution:
        dist = f"{distribution} {version}" if version else distribution
        return f"'{name}' ({dist})"
    return f"'{name}'"


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


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
        from firestream_core.plugin import spec as hookspecs

        self.pm = pluggy.PluginManager(NAME)
        self.pm.add_hookspecs(hookspecs)
        self.chart_types: dict[str, RegisteredChartType] = {}
        self.broken: list[BrokenPlugin] = []
        self.conflicts: dict[str, list[RegisteredChartType]] = {}
        self.disabled: list[str] = []
        self._sources: dict[str, _Source] = {}
        self._callers: dict[tuple[str, str], Any] = {}

    # -- loading ---------------------------------------------------------------

    def block(self, names: Iterable[str]) -> None:
        """Block plugins by name so that loading them is a no-op."""
        for name in names:
            if name and not self.pm.is_blocked(name):
                self.pm.set_blocked(name)
                self.disabled.append(name)

    def load_builtins(self) -> None:
        """Load the built-in plugins that exist in this installation."""
        from firestream_core.version import __version__

        for name, module in BUILTIN_PLUGINS:
            if self.pm.is_blocked(name):
                continue
            src = _Source(name, CORE_DISTRIBUTION, __version__, builtin=True)
            try:
                obj = importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name == module:  # not written / not shipped: nothing to load
                    continue
                self._record_broken(src, f"import failed: {one_line(exc)}", exc)
                continue
            except Exception as exc:
                self._record_broken(src, f"import failed: {one_line(exc)}", exc)
                continue
            self._add(obj, src)

    def load_entry_points(self) -> None:
        """Load every plugin of the ``firestream.charts`` entry-point group."""
        eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        for ep in sorted(eps, key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            dname = dver = None
            if dist is not None:
                try:
                    dname = dist.name if getattr(dist, "name", None) else dist.metadata["Name"]
                    dver = dist.version
                except Exception:  # metadata of a half-installed distribution
                    pass
            src = _Source(ep.name, dname, dver)
            if self.pm.is_blocked(ep.name):
                continue
            if ep.name in self._sources:
                other = self._sources[ep.name]
                self._record_broken(
                    src,
                    f"the plugin name is already used by {_origin(other.name, other.distribution, other.version)}",
                )
                continue
            try:
                obj = ep.load()
            except Exception as exc:
                self._record_broken(src, f"import failed: {one_line(exc)}", exc)
                continue
            self._add(obj, src)

    def load_extra(self, plugins: Iterable[Any]) -> None:
        """Register plugin objects or modules given by the caller (tests, library users)."""
        for i, obj in enumerate(plugins):
            name = getattr(obj, "__name__", None) if isinstance(obj, ModuleType) else None
            name = name or getattr(obj, "firestream_plugin_name", None) or f"extra-{i}-{type(obj).__name__}"
            if self.pm.is_blocked(name):
                continue
            self._add(obj, _Source(name))

    def _record_broken(self, src: _Source, cause: str, exc: BaseException | None = None) -> None:
        tb = "".join(traceback.format_exception(exc)) if exc is not None else ""
        self.broken.append(
            BrokenPlugin(src.name, src.distribution, src.version, cause, tb, tuple(src.chart_types))
        )

    def _api_version_problem(self, obj: Any) -> str | None:
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

    def _add(self, obj: Any, src: _Source) -> None:
        problem = self._api_version_problem(obj)
        if problem:
            self._record_broken(src, problem)
            return
        try:
            registered = self.pm.register(obj, name=src.name)
        except pluggy.PluginValidationError as exc:
            self._record_broken(src, f"hook does not match the hookspec: {one_line(exc)}", exc)
            return
        except ValueError as exc:  # same object or name registered twice
            self._record_broken(src, one_line(exc), exc)
            return
        if registered is None:  # blocked
            return
        self._sources[src.name] = src
        try:
            types = self._collect_chart_types(obj, src)
        except Exception as exc:
            self.pm.unregister(obj)
            del self._sources[src.name]
            self._record_broken(src, f"register_chart_types failed: {one_line(exc)}", exc)
            return
        for ct in types:
            self._add_chart_type(ct, obj, src)
        self._callers.clear()

    def _collect_chart_types(self, obj: Any, src: _Source) -> list[ChartType]:
        from firestream_core.model import ChartType, HelmChart

        found: list[ChartType] = []

        def register(chart_type: ChartType) -> None:
            if not isinstance(chart_type, ChartType):
                raise TypeError(
                    f"register() takes a firestream_core.ChartType, got {type(chart_type).__name__}"
                )
            if not _CHART_TYPE_NAME.match(chart_type.name or ""):
                raise ValueError(
                    f"chart type name {chart_type.name!r} is invalid: use lower-case letters, "
                    "digits, '-' and '_'"
                )
            cls = chart_type.chart_class
            if not (isinstance(cls, type) and issubclass(cls, HelmChart)):
                raise TypeError(f"chart type '{chart_type.name}': chart_class must subclass HelmChart")
            if any(c.name == chart_type.name for c in found):
                raise ValueError(f"chart type '{chart_type.name}' registered twice")
            found.append(chart_type)

        for impl in self.pm.hook.register_chart_types.get_hookimpls():
            if impl.plugin is obj:
                impl.function(*[{"register": register}[a] for a in impl.argnames])
        src.chart_types.extend(c.name for c in found)
        return found

    def _add_chart_type(self, ct: ChartType, obj: Any, src: _Source) -> None:
        reg = RegisteredChartType(ct, src.name, obj, src.distribution, src.version)
        if ct.name in self.conflicts:
            self.conflicts[ct.name].append(reg)
        elif ct.name in self.chart_types:
            self.conflicts[ct.name] = [self.chart_types.pop(ct.name), reg]
        else:
            self.chart_types[ct.name] = reg

    def check_pending(self) -> None:
        """Unregister and record every plugin with a hook no spec declares."""
        while True:
            try:
                self.pm.check_pending()
            except pluggy.PluginValidationError as exc:
                name = self.pm.get_name(exc.plugin) or "?"
                src = self._sources.pop(name, _Source(name))
                self.pm.unregister(exc.plugin)
                for ct in src.chart_types:
                    reg = self.chart_types.get(ct)
                    if reg is not None and reg.plugin is exc.plugin:
                        del self.chart_types[ct]
                self._record_broken(src, f"unknown hook: {one_line(exc)}", exc)
                self._callers.clear()
                continue
            return

    # -- lookup ----------------------------------------------------------------

    def chart_type(self, name: str) -> RegisteredChartType:
        """The registered chart type ``name``.

        Raises ``PluginError`` when the plugin providing it is broken or two
        plugins register it, ``UnknownChartTypeError`` when nothing provides it.
        """
        reg = self.chart_types.get(name)
        if reg is not None:
            return reg
        if name in self.conflicts:
            raise PluginError(self.conflict_message(name))
        for b in self.broken:
            if name == b.name or name in b.chart_types:
                if b.traceback:  # -v shows where the plugin failed, not only where we noticed
                    logging.getLogger(NAME).debug("%s:\n%s", b.message, b.traceback.rstrip())
                raise PluginError(b.message, hint="run 'firestream plugins -v' for the traceback")
        if name in self.disabled:
            raise PluginError(f"chart type '{name}' is provided by a disabled plugin")
        raise UnknownChartTypeError(
            f"unknown chart type '{name}': no installed plugin provides it "
            f"(installed chart types: {', '.join(sorted(self.chart_types)) or 'none'})"
        )

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
        """Name, distribution, version, chart types and hooks of every loaded plugin."""
        out = []
        order = {h: i for i, h in enumerate(_hook_order())}
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:  # a blocked name
                continue
            src = self._sources.get(name, _Source(name))
            hooks = tuple(
                h.name
                for h in (self.pm.get_hookcallers(plugin) or [])
                if h.name != "register_chart_types"
            )
            out.append(
                PluginInfo(
                    name,
                    src.distribution,
                    src.version,
                    tuple(src.chart_types),
                    tuple(sorted(hooks, key=lambda h: order.get(h, 99))),
                    src.builtin,
                )
            )
        return out

    # -- calling ---------------------------------------------------------------

    def hook_caller(self, hook: str, chart_type: str) -> Any:
        """A hook caller calling ``hook`` only for plugins concerned by ``chart_type``.

        Those are the owner of ``chart_type``, every plugin that registers no
        chart type and the built-in defaults. Cached per (hook, chart type).
        """
        key = (hook, chart_type)
        caller = self._callers.get(key)
        if caller is None:
            owner = self.owner_of(chart_type)
            others = {
                id(r.plugin): r.plugin
                for r in self.chart_types.values()
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

    def contribute_values(self, chart: HelmChart, context: DeployContext) -> list[tuple[str, Any]]:
        """Each concerned ``contribute_values`` result that is not None, as
        ``(plugin name, mapping)`` in call order (the desired-state stage)."""
        out: list[tuple[str, Any]] = []
        for impl in reversed(self.hook_caller("contribute_values", chart.chart_type).get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                continue
            args = {"chart": chart, "context": context}
            got = impl.function(*[args[a] for a in impl.argnames])
            if got is not None:
                out.append((impl.plugin_name, got))
        return out

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

    def on_deploy_failure_each(
        self,
        chart: HelmChart,
        context: DeployContext,
        payload: ChartPayload,
        stage: str,
        error: BaseException,
        describe: Callable[[BaseException], str] = one_line,
    ) -> list[str]:
        """Like :meth:`on_deploy_failure`, one plugin at a time: a plugin that raises is noted
        (``on_deploy_failure of plugin 'x' raised ...``) and the others still run."""
        args: dict[str, Any] = {
            "chart": chart, "context": context, "payload": payload, "stage": stage, "error": error,
        }
        lines: list[str] = []
        for impl in reversed(self.hook_caller("on_deploy_failure", chart.chart_type).get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                continue
            try:
                got = impl.function(*[args[a] for a in impl.argnames])
            except Exception as e:  # a broken plugin: note it, go on with the others
                lines.append(f"on_deploy_failure of plugin '{impl.plugin_name}' raised {describe(e)}")
                continue
            lines.extend(got or [])
        return lines


def _hook_order() -> tuple[str, ...]:
    from firestream_core.plugin.spec import ALL_HOOKS

    return ALL_HOOKS


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
    fpm = FirestreamPluginManager()
    fpm.block([*disabled_from_env(environ), *disabled])
    fpm.load_builtins()
    if load_entry_points:
        fpm.load_entry_points()
    fpm.load_extra(extra_plugins)
    fpm.check_pending()
    return fpm
