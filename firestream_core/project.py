"""The library API: one project, its plan, and the runs that carry it out.

::

    from firestream_core import Project

    project = Project.load("firestream.toml")
    plan = project.plan()              # one `helm list -A -a -o json`
    if plan.has_changes:
        result = project.apply(plan)   # dependency order, in parallel, under the lock
        for name, outcome in result.releases.items():
            print(name, outcome.action, outcome.result, outcome.reason)

Nothing here prints: every operation returns a result object (``Plan``,
``ApplyResult``, ``ReleaseStatus`` list, ``ImportResult``, rendered
manifests) and the CLI formats them. Progress is reported through an
``on_event`` callback receiving :class:`ApplyEvent`\\ s. The result objects
live in :mod:`~firestream_core.deploy.results`, the run's machinery in
:mod:`~firestream_core.deploy.run`; their names are importable from here too.

Guarantees of :meth:`Project.apply` (shown by ``tests/project``):

* one ``helm version`` and one cluster-state call per run (the plan's: a run
  carrying out a plan ``plan()`` made reuses its tools; the two run at the
  same time, and on helm 4 the list first tried with helm 3's ``--all`` is
  refused by helm before it reaches the cluster), one ``repo add`` per distinct
  repository, one lifecycle per changed release and zero helm calls for
  ``no-op`` releases, which count as satisfied for their dependents;
* a release starts the moment its own dependencies succeeded; a failure
  skips only its transitive dependents;
* the project lock is held for the run; the state is saved atomically after
  each release finishes, so an interruption keeps exactly what finished;
* when ``cancel`` is set (or Ctrl-C reaches the scheduler) nothing new starts
  and the running helm processes are terminated.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.lazy import lazy_attribute
from firestream_core.model import HelmAction, HelmChart, InstalledRelease, is_local_chart

if TYPE_CHECKING:
    from firestream_core.config.model import ProjectConfig
    from firestream_core.deploy.desired import DesiredState
    from firestream_core.deploy.helm_tests import ReleaseTestResult, TestInput
    from firestream_core.deploy.plan import Plan
    from firestream_core.deploy.results import ApplyEvent, ApplyResult, ReleaseStatus
    from firestream_core.deploy.run import RunInput, RunOptions, Tools
    from firestream_core.deploy.saved import SavedPlan
    from firestream_core.graph import ReleaseGraph
    from firestream_core.model import BreakingStep
    from firestream_core.ops.diff import DiffInput, ReleaseDiff
    from firestream_core.ops.drift import DriftInput, ReleaseDrift
    from firestream_core.ops.helm_hooks import HooksInput
    from firestream_core.ops.importer import ImportResult
    from firestream_core.ops.render import RenderCheck
    from firestream_core.ops.rollback import RollbackInput
    from firestream_core.plugin.context import DeployContext
    from firestream_core.plugin.manager import FirestreamPluginManager, RegisteredChartType
    from firestream_core.state.store import State, StateBackend
    from firestream_core.tools.helm import Helm
    from firestream_core.tools.kubeconfig import ClusterIdentity
    from firestream_core.tools.kubectl import Kubectl, NamespaceLookup
    from firestream_core.tools.process import Runner
    from firestream_core.tools.redact import Redactor
    from firestream_core.tools.release_log import Beside

__all__ = ["Project", "state_backend", "state_scope"]

_RUN_NAMES = {
    "ApplyEvent": "deploy.results", "ApplyResult": "deploy.results", "ReleaseStatus": "deploy.results",
    "Run": "deploy.run", "RunInput": "deploy.run", "RunOptions": "deploy.run", "Tools": "deploy.run",
}
"""The run's names importable from here too, imported on first use: the run's modules
(lifecycle, scheduler, results) are not needed before a plan's first helm call."""


def __getattr__(name: str) -> Any:
    return lazy_attribute(globals(), _RUN_NAMES, name)

def state_scope(config: ProjectConfig, kube_context: str | None = None) -> str | None:
    """What keeps one environment's / kube context's state apart: ``<env>@<context>``,
    ``<env>``, ``@<context>``, or None (neither given: the project's one state)."""
    import re

    context = kube_context or config.kube_context
    if not config.environment and not context:
        return None
    text = f"{config.environment or ''}{'@' + context if context else ''}"
    return re.sub(r"[^A-Za-z0-9_.@-]+", "-", text)


def state_backend(
    config: ProjectConfig, *, kubectl: Kubectl | None = None, kube_context: str | None = None
) -> StateBackend:
    """The state backend ``config``'s ``[state]`` names (the local file by default).

    The state is kept per environment (``-e``) and kube context: ``.firestream/state.json``
    without either, else ``.firestream/state.<env>@<context>.json`` (for the kubernetes
    backend, the Secret's name gets the same suffix). A project file other than
    ``firestream.toml`` has its own: ``.firestream/projects/<file name>/state.json`` (two
    project files of one folder never share one), taking over the ``.firestream/state.json``
    it used before (``StateStore``'s ``legacy``).

    :param kubectl: for ``backend = "kubernetes"``: the ``Kubectl`` reaching
        the target cluster (default: ``kubectl`` with its own kubeconfig).
    :param kube_context: the context given on the command line (else the environment's).
    """
    import re

    from firestream_core.config.model import DEFAULT_CONFIG_NAME
    from firestream_core.state.lock import STATE_DIR
    from firestream_core.state.store import STATE_FILE, StateStore, open_backend

    cfg = config.state
    scope = state_scope(config, kube_context)
    if cfg.backend == "local":

        def scoped(base: Path) -> Path:
            if not scope:
                return base
            suffix = base.suffix if base.suffix == ".json" else ""  # its own file and journal
            return base.with_name(f"{base.name.removesuffix(suffix)}.{scope}{suffix}")

        # [state] path (relative to the project's folder), else .firestream/state.json
        default = config.project_dir / STATE_DIR / STATE_FILE
        if cfg.path or config.path.name == DEFAULT_CONFIG_NAME:
            return StateStore(config.project_dir, path=scoped(config.project_dir / (cfg.path or default)))
        # another project file (staging.toml, -f other.toml) has a state of its own
        own, legacy = scoped(config.project_dir / STATE_DIR / "projects" / config.path.name / STATE_FILE), scoped(default)
        shared = (config.project_dir / DEFAULT_CONFIG_NAME).exists()  # its state.json is its own
        if legacy.is_symlink() and not shared and not own.exists():  # kept elsewhere on purpose
            return StateStore(config.project_dir, path=legacy)
        return StateStore(config.project_dir, path=own, legacy=legacy,
                          legacy_shared=[r.release_name for r in config.releases] if shared else None)
    options = {k: v for k, v in attrs.asdict(cfg).items() if k != "backend" and v is not None}
    if cfg.backend == "kubernetes":  # the Secret and the Lease live in the target cluster
        project_name = config.project.name
        if scope:
            project_name = f"{project_name or config.name}-{scope.replace('@', '-')}"
            if "name" in options:  # the scope made a valid object name's end (a GKE context has '_')
                suffix = re.sub(r"[^a-z0-9.-]", "-", scope.replace("@", "-").lower())
                options["name"] = f"{options['name']}-{suffix}".lower()
        options.update(project_name=project_name, kubectl=kubectl)
    return open_backend(cfg.backend, config.project_dir, **options)


def _hide_secret_looking(redactor: Redactor, charts: Iterable[HelmChart], project_dir: Path | None = None) -> None:
    """Register the sensitive config values (``password``, ``apiKey``, ``sensitive_keys``...)
    of ``charts``: their values tables and ``--set`` pairs and, given the folder their
    ``values_files`` are relative to, those files too.

    Only those (docs/secrets.md): hiding every configured value would hide
    release names and namespaces too. ``secret_values`` are registered by
    ``build_charts``. helm's calls hide the files' values already (their redactor
    reads them); the project's redactor is what every log line, event and pod log
    line collected on a failure goes through.
    """
    from firestream_core.tools.helm_args import values_paths
    from firestream_core.tools.sensitivity import secret_file_leaves
    from firestream_core.tools.values import file_documents, merged_values

    for chart in charts:
        patterns = chart.settings.sensitive_keys
        try:
            values = merged_values(chart.chart_info)
        except Exception:  # noqa: BLE001 - an invalid document is reported by check_prerequisites
            pass
        else:
            redactor.add_values(values, patterns=patterns)
        redactor.add_values(_option_values(chart), patterns=patterns)
        # every value of a secret=True document, whatever its key: a chart built in code or a
        # plugin's contribution carries its secrets only there (a file's secret_values are
        # registered by build_charts too)
        for _, value in secret_file_leaves(chart.chart_info):
            redactor.add(value)
        for value in _password_env_values(chart):
            redactor.add(value)
        if project_dir is not None:
            for document in file_documents(values_paths(chart.chart_info, project_dir)):
                redactor.add_values(document, patterns=patterns)


def _password_env_values(chart: HelmChart, environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of the variables ``chart``'s ``*_env`` password options name (postgresql's
    ``password_env``, ``grafana_password_env``), registered when the project loads: the plugin
    reads them only in its own stages, and every helm and kubectl call before that (``helm
    list``, the plan's reads) would otherwise get the variable in its environment
    (docs/secrets.md, "What children see"). Only an option whose key without ``_env`` says
    secret counts: ``region_env`` names an ordinary variable."""
    from firestream_core.plugin.options import names_env_var
    from firestream_core.tools.sensitivity import is_sensitive_key

    env = os.environ if environ is None else environ
    options: Any = getattr(chart, "options", None)
    if not attrs.has(type(options)):
        return []
    out: list[str] = []
    for field in attrs.fields(type(options)):
        if not names_env_var(field) or not is_sensitive_key(field.name.removesuffix("_env")):
            continue
        name = getattr(options, field.name, None)
        if isinstance(name, str) and env.get(name):
            out.append(env[name])
    return out


def _option_values(chart: HelmChart) -> dict[str, Any]:
    """``chart``'s chart-type options as a values mapping, for the rule a values key follows: an
    option under a secret-looking key (``admin_password = "..."``) is held by the plugin, which may
    log it or hand it to kubectl. An option whose validator says it names something
    (:func:`~firestream_core.plugin.options.secret_name`, ``env_var_name``: postgresql's
    ``auth_secret``, ``password_env``) is left out: a name is never masked."""
    from firestream_core.plugin.options import names_something

    options: Any = getattr(chart, "options", None)
    if not attrs.has(type(options)):
        return {}
    out: dict[str, Any] = {}
    for field in attrs.fields(type(options)):
        if names_something(field):
            continue
        try:
            value = getattr(options, field.name)
            out[field.name] = attrs.asdict(value) if attrs.has(type(value)) else value
        except Exception:  # noqa: BLE001 - an unreadable option has nothing to hide
            continue
    return out


def _override_pairs(set_values: Iterable[tuple[str, str]], values_files: Any) -> list[tuple[str, str]]:
    """``Project.load``'s ``set_values`` as a list, refused with a ``TypeError`` when it, or
    ``values_files``, is not what it says: a str or a path taken as a list would be read letter by
    letter (``"x.yaml"`` as the files ``x``, ``.``, ...), and ``"key=value"`` is not a pair. The
    message names the key, never the value (it may be a password).

    >>> _override_pairs([("image.tag", "1.2")], ["prod.yaml"])
    [('image.tag', '1.2')]
    >>> _override_pairs(["auth.password=hunter22"], [])
    Traceback (most recent call last):
    TypeError: set_values is a list of (key, value) pairs: write ('auth.password', value), not 'auth.password=...'
    """
    if isinstance(values_files, str | bytes | os.PathLike):
        raise TypeError(f"values_files is a list of paths, not one path: [{os.fsdecode(values_files)!r}]")
    if isinstance(set_values, str | bytes):
        set_values = [set_values]  # type: ignore[list-item]  # refused below, as one item
    pairs = list(set_values)
    for number, pair in enumerate(pairs, 1):
        if isinstance(pair, str):
            key = pair.partition("=")[0]
            raise TypeError(f"set_values is a list of (key, value) pairs: write ({key!r}, value), not '{key}=...'")
        if not isinstance(pair, tuple | list) or len(pair) != 2 or not isinstance(pair[0], str):
            raise TypeError(f"set_values is a list of (key, value) pairs with a str key; item {number} is not one")
    return [(k, v) for k, v in pairs]


def _add_overrides(charts: Iterable[HelmChart], set_values: list[tuple[str, str]],
                   values_files: list[tuple[str, Path]]) -> None:
    """``--set`` pairs and ``--values`` files on top of every release's own values.

    Checked first, every one of them, before anything reaches a chart: a ``--values``
    file gets the checks of a config ``values_files`` entry (a regular file, at most
    8 MiB, UTF-8, one YAML document holding a mapping; ``config/files.py``) and a
    ``--set`` path helm's key syntax.

    :param values_files: each ``--values`` file as given and as resolved.
    :raises ConfigError: naming each bad ``--values`` file (as given) or ``--set`` path,
        never a value.
    """
    from firestream_core.config.files import read_values_file
    from firestream_core.errors import ConfigError
    from firestream_core.model import ChartSetValue, ChartValuesGenerated
    from firestream_core.tools.values import parse_key

    problems: list[str] = []
    documents = []
    for given, f in values_files:
        text, problem = read_values_file(f)
        if text is None:
            where = f" ({f})" if problem == "not found" or given != str(f) else ""
            problems.append(f"--values {given}: values file{where} {problem}")
        else:
            documents.append(ChartValuesGenerated(f"--values {f.name}", text))
    for key, _ in set_values:
        try:
            parse_key(key)
        except ValueError as exc:  # names the key, never the value
            problems.append(f"--set {key}: {exc}")
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        raise ConfigError("the command line's --set / --values are invalid:", problems)
    for chart in charts:
        # after the config's values (a values document, not a path: the config's values
        # documents come after values_files), then the --set pairs over everything
        chart.chart_info.yaml_files_content.extend(ChartValuesGenerated(d.filename, d.yaml_content)
                                                   for d in documents)
        chart.chart_info.values.extend(ChartSetValue(k, v) for k, v in set_values)


_TEST_KEYS = ("name", "phase", "passed", "started", "completed", "run_at")


def _recorded_tests(tests: Iterable[object] | None) -> tuple[dict[str, Any], ...] | None:
    """The state's ``tests`` field for ``status``: only the known keys of each test (no value
    a hand-edited state could hold), None when no test result is recorded."""
    if tests is None:
        return None
    return tuple({k: t.get(k) for k in _TEST_KEYS} for t in tests if isinstance(t, Mapping))


def _contributed_note(contributed: Mapping[str, Mapping[str, Any]]) -> str:
    """``values from plugins: auth.existingSecret (plugin x); ...`` for ``template``'s output."""
    def leaves(node: Any, prefix: str = "") -> list[str]:
        if isinstance(node, Mapping) and node:
            return [k for key, v in node.items() for k in leaves(v, f"{prefix}{key}.")]
        return [prefix.rstrip(".")]

    parts = [f"{', '.join(sorted(leaves(values)))} (plugin {plugin})" for plugin, values in contributed.items()]
    return ("values from plugins: " + "; ".join(parts)
            + "; they may name objects only apply creates (pre_exec: Secrets, CRDs)")


def _output_folder(output_dir: str | os.PathLike[str]) -> Path:
    """``template``'s output folder, made if needed, or a :class:`FirestreamError` naming it
    (a file of that name, a read-only or full disk): said before anything is rendered."""
    folder = Path(output_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise _cannot_write_output(folder, None) from None
    except OSError as exc:
        raise _cannot_write_output(folder, exc) from None
    return folder


def _cannot_write_output(path: Path, exc: OSError | None) -> Exception:
    from firestream_core.errors import FirestreamError

    reason = "it is not a folder" if exc is None else (exc.strerror or str(exc) or type(exc).__name__)
    return FirestreamError(f"template: cannot write {path}: {reason}",
                           hint="pass --output-dir a folder that can be created and written")


# -- the project ----------------------------------------------------------------------------


class Project:
    """A loaded ``firestream.toml`` with its charts, plugins and cluster settings.

    Build it with :meth:`load`. Each run (``plan``, ``apply``, ``destroy``,
    ``status``, ``template``, ``import_release``) makes its own helm layer,
    so ``repo add`` happens once per distinct repository per run; ``apply``
    / ``destroy`` of the plan :meth:`plan` just made reuse that plan's (one
    ``helm version`` for both). The run itself is :class:`~firestream_core.deploy.run.Run`.

    Built in code (no cluster needed until ``plan``):

    >>> from firestream_core.model import ChartInfo
    >>> from firestream_core.plugin.generic import GenericChart
    >>> db = GenericChart(ChartInfo(name="db", chart="bitnami/postgresql", version="13.2.24"))
    >>> web = GenericChart(ChartInfo(name="web", chart="bitnami/nginx", depends_on=["db"]))
    >>> project = Project.from_charts([db, web], project_dir="/srv/shop")
    >>> project.names, project.graph().order()
    (['db', 'web'], ['db', 'web'])

    From a file, planned and applied::

        project = Project.load("firestream.toml", kube_context="staging")
        plan = project.plan()
        print(plan.summary())
        if plan.has_changes:
            result = project.apply(plan)
            raise SystemExit(result.exit_code)
    """

    def __init__(
        self,
        config: ProjectConfig,
        charts: list[HelmChart],
        manager: FirestreamPluginManager,
        *,
        helm_binary: str | os.PathLike[str] | None = None,
        kubectl_binary: str | os.PathLike[str] | None = None,
        kubeconfig: str | os.PathLike[str] | None = None,
        kube_context: str | None = None,
        env: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        from firestream_core.tools.redact import Redactor

        self.config = config
        self.charts = list(charts)
        self.manager = manager
        self.helm_binary = str(helm_binary) if helm_binary else None
        self.kubectl_binary = str(kubectl_binary) if kubectl_binary else None
        self.kubeconfig = str(kubeconfig) if kubeconfig else None
        self.kube_context = kube_context or config.kube_context
        self.env = dict(env or {})
        self.overrides: tuple[str, ...] = ()  # --set / --values given on the command line (names only)
        self.set_keys: tuple[str, ...] = ()  # the --set paths (never their values), in order
        self.values_files: tuple[Path, ...] = ()  # the --values files, resolved, in order
        self._set_values: tuple[tuple[str, str], ...] = ()  # the --set pairs, kept for reload()
        self.redactor: Redactor = Redactor(secrets)
        _hide_secret_looking(self.redactor, self.charts, self.project_dir)
        self._graph: ReleaseGraph | None = None
        self._lock_owner: int | None = None
        """The thread inside :meth:`lock` (its ``threading.get_ident()``), else None."""
        self._held_lock: Any = None
        """The project lock :meth:`lock` holds (the run asks it whether it was lost)."""
        # the tools the last plan() made for itself: the run that carries that plan out reuses
        # them (one `helm version` per plan-and-apply, e.g. `firestream apply`)
        self._planned: tuple[Plan, Tools] | None = None
        from firestream_core.tools.oci import (
            resolve_oci_charts,  # releases of an oci:// repository -> <url>/<chart>
        )

        self.charts = resolve_oci_charts(self.charts, self.repositories())
        self._keep_names_readable()

    def _keep_names_readable(self) -> None:
        """The project's names are never masked, even when a secret equals one (docs/secrets.md)."""
        from firestream_core.tools.sensitivity import identifiers

        self.redactor.keep_readable(identifiers(self.charts))

    def name_clashes(self) -> list[str]:
        """A warning per secret equal to one of the project's names, which is therefore not hidden.

        Release names, namespaces, chart types and firestream's own words are
        never masked (docs/secrets.md): a secret equal to one is printed
        wherever that name is. Each warning names the release and values path,
        never another value; ``firestream validate`` and every command that
        loads the project log them.

        Example::

            for warning in Project.load("firestream.toml").name_clashes():
                print("warning:", warning)
        """
        from firestream_core.tools.sensitivity import name_clashes

        return name_clashes(self.charts, self.redactor.readable_secrets())

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] = "firestream.toml",
        *,
        helm_binary: str | os.PathLike[str] | None = None,
        kubeconfig: str | os.PathLike[str] | None = None,
        kube_context: str | None = None,
        disabled_plugins: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        kubectl_binary: str | os.PathLike[str] | None = None,
        manager: FirestreamPluginManager | None = None,
        environment: str | None = None,
        set_values: Iterable[tuple[str, str]] = (),
        values_files: Iterable[str | os.PathLike[str]] = (),
    ) -> Project:
        """Read ``path``, load the plugins and build one chart per release.

        :param helm_binary: helm executable (default ``$FIRESTREAM_HELM_BINARY`` or ``helm``).
        :param kubeconfig: kubeconfig for helm and kubectl (default: theirs).
        :param kube_context: kubeconfig context.
        :param disabled_plugins: plugin names not to load.
        :param env: extra environment for helm and kubectl.
        :param kubectl_binary: kubectl executable (default ``kubectl``).
        :param manager: a prebuilt plugin manager (tests); built when None.
        :param environment: read the file for ``[environments.<environment>]``.
        :param set_values: ``(path, value)`` pairs set on every release, last (``--set``).
        :param values_files: values files added to every release, last (``--values``).
        :raises ConfigError: every problem of the file at once.

        Example::

            project = Project.load("deploy/firestream.toml", environment="staging",
                                   set_values=[("image.pullPolicy", "Always")])
            print(project.names)
        """
        from firestream_core.config.project_check import load_project_checked
        from firestream_core.plugin.manager import get_plugin_manager

        set_values = _override_pairs(set_values, values_files)  # before any file is read
        if manager is None:
            manager = get_plugin_manager(disabled=disabled_plugins)
        # the three passes of `validate` (structure, values and files, graph), every problem at once
        config, charts = load_project_checked(path, manager, environment=environment)
        files = [(os.fspath(f), Path(f).resolve()) for f in values_files]
        if set_values or files:
            _add_overrides(charts, set_values, files)
        project = cls(
            config,
            list(charts),
            manager,
            helm_binary=helm_binary or os.environ.get("FIRESTREAM_HELM_BINARY") or None,
            kubectl_binary=kubectl_binary,
            kubeconfig=kubeconfig,
            kube_context=kube_context,
            env=env,
            secrets=charts.secrets,
        )
        project.overrides = (*(f"--set {k}" for k, _ in set_values),
                             *(f"--values {f}" for f in values_files))  # as given
        project.set_keys = tuple(k for k, _ in set_values)
        project.values_files = tuple(resolved for _, resolved in files)
        project._set_values = tuple(set_values)  # for reload() only: never shown
        return project

    @classmethod
    def from_charts(
        cls,
        charts: Iterable[HelmChart],
        *,
        project_dir: str | os.PathLike[str] = ".",
        repositories: Mapping[str, str] | None = None,
        state: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        helm_binary: str | os.PathLike[str] | None = None,
        kubeconfig: str | os.PathLike[str] | None = None,
        kube_context: str | None = None,
        disabled_plugins: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        kubectl_binary: str | os.PathLike[str] | None = None,
        manager: FirestreamPluginManager | None = None,
    ) -> Project:
        """A project of charts built in code, with no ``firestream.toml``.

        ::

            from firestream_core import ChartInfo, Project
            from firestream_core.plugin.generic import GenericChart

            web = GenericChart(ChartInfo(name="web", chart="bitnami/nginx", version="15.0.0"))
            project = Project.from_charts(
                [web], project_dir="deploy", repositories={"bitnami": "https://charts.bitnami.com/bitnami"}
            )
            result = project.apply(project.plan())

        The charts are taken as written (no ``[defaults]`` apply). Each must be of
        a chart type an installed plugin registers (a class never registered is
        ``generic``) and pass :meth:`ChartInfo.check`, the values files and local
        chart it names must be readable (relative to ``project_dir``); names must be unique.

        :param charts: the releases, in order.
        :param project_dir: where the state file and the lock live, and what
            relative values-file paths are relative to.
        :param repositories: repository name -> URL (the file's ``[repositories]``).
        :param state: the file's ``[state]`` table (default: the local state file).
        :param settings: the file's ``[settings]`` table (``concurrency``, ...).
        :param helm_binary: helm executable (default ``$FIRESTREAM_HELM_BINARY`` or ``helm``).
        :param kubeconfig: kubeconfig for helm and kubectl (default: theirs).
        :param kube_context: kubeconfig context.
        :param disabled_plugins: plugin names not to load.
        :param env: extra environment for helm and kubectl.
        :param kubectl_binary: kubectl executable (default ``kubectl``).
        :param manager: a prebuilt plugin manager; built when None.
        :raises ConfigError: every problem of the tables and the charts at once.
        """
        from firestream_core.config.parse import parse_config
        from firestream_core.plugin.manager import get_plugin_manager

        if manager is None:
            manager = get_plugin_manager(disabled=disabled_plugins)
        folder = Path(project_dir).resolve()
        data: dict[str, Any] = {}
        for key, table in (("repositories", repositories), ("state", state), ("settings", settings)):
            if table:
                data[key] = dict(table)
        config = parse_config(data, folder / "firestream.toml", manager)
        project = cls(
            config,
            [],
            manager,
            helm_binary=helm_binary or os.environ.get("FIRESTREAM_HELM_BINARY") or None,
            kubectl_binary=kubectl_binary,
            kubeconfig=kubeconfig,
            kube_context=kube_context,
            env=env,
        )
        project.add_charts(charts)
        return project

    def add_chart(self, chart: HelmChart) -> None:
        """Add a chart built in code; it replaces the release of the same name, if any.

        README's example, a preset customised with ``get_chart_info_mut()``::

            postgres = PostgresqlChart.development()
            postgres.get_chart_info_mut().timeout = "600s"
            project = Project.load("firestream.toml")
            project.add_chart(postgres)      # replaces the file's 'postgresql' release
            plan = project.plan()

        :raises ConfigError: the chart's type is not installed, its class's
            lifecycle methods take arguments their stage does not pass, its
            ``ChartInfo`` is invalid, or a values file or local chart it names
            is missing or unreadable (relative to the project folder).
        """
        self.add_charts([chart])

    def add_charts(self, charts: Iterable[HelmChart]) -> None:
        """:meth:`add_chart` for several charts; every problem is reported at once.

        >>> from firestream_core.model import ChartInfo
        >>> from firestream_core.plugin.generic import GenericChart
        >>> project = Project.from_charts([], project_dir="/srv/shop")
        >>> project.add_charts([GenericChart.for_chart("web", "bitnami/nginx"),
        ...                     GenericChart.for_chart("cache", "bitnami/redis")])
        >>> project.names
        ['web', 'cache']
        >>> project.add_charts([GenericChart.for_chart("x", "a/b"), GenericChart.for_chart("x", "a/b")])
        Traceback (most recent call last):
        ...
        firestream_core.errors.ConfigError: charts built in code are invalid
          chart 'x': two charts have this name
        """
        from firestream_core.errors import ConfigError
        from firestream_core.plugin.chart_methods import chart_method_problems
        from firestream_core.tools.oci import resolve_oci_charts

        new = list(charts)
        problems: list[str] = []
        seen: set[str] = set()
        for chart in new:
            problems += [f"chart {p}" for p in self._chart_problems(chart, chart_method_problems)]
            name = getattr(getattr(chart, "chart_info", None), "name", None)
            if name in seen:
                problems.append(f"chart '{name}': two charts have this name")
            seen.add(str(name))
        kept = [c for c in self.charts if c.chart_info.name not in seen]
        if not problems:
            from firestream_core.graph import destroyed_but_needed

            for name, dependents in destroyed_but_needed([*kept, *new]).items():
                one = len(dependents) == 1
                problems.append(
                    f"chart '{name}': its action is destroy, but "
                    + ", ".join(f"'{d}'" for d in dependents)
                    + f" (action deploy) {'depends' if one else 'depend'} on it: give "
                    + f"{'it' if one else 'them'} action destroy or skip too"
                )
        if problems:
            raise ConfigError("charts built in code are invalid", problems)
        self.charts = resolve_oci_charts([*kept, *new], self.repositories_with(new))
        _hide_secret_looking(self.redactor, new, self.project_dir)
        self._keep_names_readable()
        self._graph = None
        self._planned = None

    def _chart_problems(self, chart: Any, method_problems: Callable[[type], list[str]]) -> list[str]:
        from firestream_core.model import ChartInfo, unset_chart_fields

        if not isinstance(chart, HelmChart) or not isinstance(getattr(chart, "chart_info", None), ChartInfo):
            return [f"{chart!r}: not a HelmChart with a ChartInfo"]
        where = f"'{chart.chart_info.name}' ({type(chart).__name__})"
        unset = unset_chart_fields(chart)  # an __init__ of its own that set only chart_info
        if unset:
            return [f"{where}: {unset}"]
        try:
            self.manager.chart_type(chart.chart_type)
        except Exception as exc:  # noqa: BLE001 - unknown, broken or disabled: said as is
            return [f"{where}: {exc}"]
        out = [f"{where}: {p}" for p in method_problems(type(chart))]
        out += [f"{where}: {p}" for p in chart.chart_info.check()]
        return out + [f"{where}: {p}" for p in self._file_problems(chart.chart_info)]

    def _file_problems(self, info: Any) -> list[str]:
        """The files a chart built in code names, checked as a file's release's are (``validate``'s
        second pass): each ``values_files`` entry and a local chart, relative to the project folder."""
        from firestream_core.config.files import chart_path_problem, values_file_problem
        from firestream_core.config.paths import join_path

        out: list[str] = []
        local = str(info.path) if info.path is not None else None
        if local is None and is_local_chart(info.chart):
            local = info.chart
        if local:
            problem = chart_path_problem(self.project_dir, local)
            out += [f"{'path' if info.path is not None else 'chart'}: {problem}"] if problem else []
        for i, f in enumerate(info.values_files):
            problem = values_file_problem(self.project_dir, str(f))
            out += [f"{join_path('values_files', i)}: {problem}"] if problem else []
        return out

    def repositories_with(self, charts: Iterable[HelmChart]) -> dict[str, str]:
        """:meth:`repositories` counting ``charts`` too (before they are added).

        >>> from firestream_core.plugin.generic import GenericChart
        >>> project = Project.from_charts([], project_dir="/srv/shop",
        ...                               repositories={"bitnami": "https://charts.bitnami.com/bitnami"})
        >>> project.repositories_with([GenericChart.for_chart("web", "bitnami/nginx")])
        {'bitnami': 'https://charts.bitnami.com/bitnami'}
        """
        out: dict[str, str] = {}
        for chart in [*self.charts, *charts]:
            try:
                reg = self.manager.chart_type(chart.chart_type)
            except Exception:  # noqa: BLE001 - build_charts / add_charts reported it
                continue
            out.update(reg.chart_type.repositories or {})
        out.update(self.config.repositories)
        return out

    def reload(self) -> Project:
        """The same project read again from its file (after ``import``).

        Loaded as this one was: the same tools, environment and plugins, and the same
        ``set_values`` and ``values_files`` overrides (the files as resolved when it loaded).

        Example::

            project.import_release("legacy-redis", "cache")
            project = project.reload()     # the file now names legacy-redis
        """
        project = Project.load(
            self.config.path,
            environment=self.config.environment,
            helm_binary=self.helm_binary,
            kubeconfig=self.kubeconfig,
            kube_context=self.kube_context,
            env=self.env,
            kubectl_binary=self.kubectl_binary,
            manager=self.manager,
            set_values=self._set_values,
            values_files=self.values_files,
        )
        project.overrides = self.overrides  # as given to the first load
        return project

    # -- simple properties -------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The project's ``firestream.toml`` (where it would be, for a project built in code).

        >>> Project.from_charts([], project_dir="/srv/shop").path
        PosixPath('/srv/shop/firestream.toml')
        """
        return Path(self.config.path)

    @property
    def project_dir(self) -> Path:
        """The project folder: the state file and the lock live there; relative paths start there.

        >>> Project.from_charts([], project_dir="/srv/shop").project_dir
        PosixPath('/srv/shop')
        """
        return Path(self.config.project_dir)

    @property
    def names(self) -> list[str]:
        """Release names in config order.

        >>> from firestream_core.plugin.generic import GenericChart
        >>> charts = [GenericChart.for_chart("web", "bitnami/nginx"), GenericChart.for_chart("db", "bitnami/postgresql")]
        >>> Project.from_charts(charts, project_dir="/srv/shop").names
        ['web', 'db']
        """
        return [c.chart_info.name for c in self.charts]

    def chart(self, name: str) -> HelmChart:
        """The chart of release ``name``; ``KeyError`` when the project has none.

        >>> from firestream_core.plugin.generic import GenericChart
        >>> project = Project.from_charts([GenericChart.for_chart("web", "bitnami/nginx")], project_dir="/srv/shop")
        >>> project.chart("web").chart_info.chart
        'bitnami/nginx'
        """
        for c in self.charts:
            if c.chart_info.name == name:
                return c
        raise KeyError(name)

    def graph(self) -> ReleaseGraph:
        """The ``depends_on`` graph of the releases.

        >>> from firestream_core.model import ChartInfo
        >>> from firestream_core.plugin.generic import GenericChart
        >>> project = Project.from_charts([
        ...     GenericChart(ChartInfo(name="web", chart="bitnami/nginx", depends_on=["db"])),
        ...     GenericChart(ChartInfo(name="db", chart="bitnami/postgresql")),
        ... ], project_dir="/srv/shop")
        >>> project.graph().order(), project.graph().dependencies("web")
        (['db', 'web'], ['db'])
        """
        if self._graph is None:
            from firestream_core.graph import build_graph

            # charts built in code (from_charts) have no file to name: say where they come from
            path = self.config.path
            source = str(path) if path.is_file() else "the charts built in code"
            self._graph = build_graph(self.charts, source)
        return self._graph

    def labels(self) -> dict[str, dict[str, str]]:
        """Release name -> its selector labels (``[defaults]``, its own, then ``name``,
        ``namespace``, ``chart``, ``type``), in config order.

        >>> from firestream_core.plugin.generic import GenericChart
        >>> project = Project.from_charts([GenericChart.for_chart("web", "bitnami/nginx")], project_dir="/srv/shop")
        >>> project.labels()["web"]
        {'name': 'web', 'namespace': 'default', 'chart': 'bitnami/nginx', 'type': 'generic'}
        """
        from firestream_core.config.selectors import release_labels

        out: dict[str, dict[str, str]] = {}
        for chart in self.charts:
            info = chart.chart_info
            try:
                release = self.config.release(info.name)
            except KeyError:
                release = None
            # a local chart given as `path`: the path as written (as a `chart = "./x"` is), never
            # "" - `-l chart!=charts/db` would otherwise select the release it means to leave out
            label = info.chart or (release.path if release is not None and release.path else None) \
                or (str(info.path) if info.path is not None else "")
            out[info.name] = release_labels(release.labels if release is not None else None,
                                            self.config.defaults.labels, name=info.name,
                                            namespace=info.namespace_name, chart=label,
                                            chart_type=chart.chart_type)
        return out

    def select(
        self,
        targets: Iterable[str] = (),
        selectors: Iterable[str] = (),
        *,
        include_deps: bool = False,
        include_dependents: bool = False,
    ) -> list[str] | None:
        """The releases named by ``targets`` or matched by any label selector (helmfile's
        ``-l``: ``k=v``, ``k!=v``, comma = and), plus their dependencies / dependents on
        request; None when nothing is selected (the whole project).

        :raises FirestreamError: an unknown target, an invalid or empty selector, or
            ``include_deps`` / ``include_dependents`` without a selection.

        >>> from firestream_core.model import ChartInfo
        >>> from firestream_core.plugin.generic import GenericChart
        >>> project = Project.from_charts([
        ...     GenericChart(ChartInfo(name="db", chart="bitnami/postgresql")),
        ...     GenericChart(ChartInfo(name="web", chart="bitnami/nginx", depends_on=["db"])),
        ... ], project_dir="/srv/shop")
        >>> project.select(["web"], include_deps=True), project.select(selectors=["name=db"])
        (['web', 'db'], ['db'])
        >>> project.select() is None     # nothing selected: the whole project
        True
        """
        from firestream_core.errors import SelectorError

        targets, selectors = list(targets), list(selectors)
        if not targets and not selectors:
            if include_deps or include_dependents:
                flag = "--include-deps" if include_deps else "--include-dependents"
                raise SelectorError(f"{flag} needs a selection: pass --target NAME or -l KEY=VALUE")
            return None
        from firestream_core.config.selectors import expand, select  # only for a selection

        graph = self.graph()
        unknown = [t for t in targets if t not in graph]
        if unknown:
            raise SelectorError(f"unknown release{'s' if len(unknown) > 1 else ''}: "
                                + ", ".join(f"'{u}'" for u in unknown)
                                + f" (releases: {', '.join(self.names) or 'none'})")
        chosen = [*targets, *(select(self.labels(), selectors) if selectors else [])]
        names = graph.names
        return expand(chosen, {n: graph.dependencies(n) for n in names},
                      {n: graph.dependents(n) for n in names},
                      include_deps=include_deps, include_dependents=include_dependents)

    def _run_input(self) -> RunInput:
        from firestream_core.deploy.run import RunInput

        return RunInput(
            charts=self._charts_by_name(),
            manager=self.manager,
            project_dir=self.project_dir,
            redactor=self.redactor,
            repositories=self.repositories(),
            cluster=self.cluster_identity().server,
        )

    def rollback_input(self) -> RollbackInput:
        """What ``firestream rollback`` needs of the project (:mod:`firestream_core.ops.rollback`).

        >>> from firestream_core.model import ChartInfo
        >>> from firestream_core.plugin.generic import GenericChart
        >>> project = Project.from_charts([
        ...     GenericChart(ChartInfo(name="web", chart="bitnami/nginx", depends_on=["db"])),
        ...     GenericChart(ChartInfo(name="db", chart="bitnami/postgresql"))], project_dir="/srv/shop")
        >>> target = project.rollback_input()
        >>> target.order, sorted(target.charts)
        (('db', 'web'), ['db', 'web'])
        """
        from firestream_core.ops.rollback import RollbackInput

        return RollbackInput(
            charts=self._charts_by_name(),
            order=tuple(self.graph().order()),
            manager=self.manager,
            project_dir=self.project_dir,
            backend=self.state_backend(),
            redactor=self.redactor,
            repositories=self.repositories(),
            cluster=self.cluster_identity().server,
        )

    def diff_input(self) -> DiffInput:
        """What ``diff`` needs of the project (:mod:`firestream_core.ops.diff`).

        >>> from firestream_core.model import ChartInfo
        >>> from firestream_core.plugin.generic import GenericChart
        >>> project = Project.from_charts([
        ...     GenericChart(ChartInfo(name="web", chart="bitnami/nginx", depends_on=["db"])),
        ...     GenericChart(ChartInfo(name="db", chart="bitnami/postgresql"))], project_dir="/srv/shop")
        >>> dict(project.diff_input().dependencies)
        {'web': ('db',), 'db': ()}
        """
        from firestream_core.ops.diff import DiffInput

        graph = self.graph()

        def desired(name: str, helm: Helm, kubectl: Kubectl) -> HelmChart:
            return self.desired_states(helm=helm, kubectl=kubectl, names=[name])[name].chart

        return DiffInput(
            charts=self._charts_by_name(),
            dependencies={n: tuple(graph.dependencies(n)) for n in graph.names},
            project_dir=self.project_dir,
            redactor=self.redactor,
            repositories=self.repositories(),
            desired=desired,
        )

    def drift_input(self) -> DriftInput:
        """What ``drift`` and ``apply --repair-drift`` need of the project (:mod:`firestream_core.ops.drift`).

        >>> from firestream_core.model import ChartInfo
        >>> from firestream_core.plugin.generic import GenericChart
        >>> project = Project.from_charts([
        ...     GenericChart(ChartInfo(name="web", chart="bitnami/nginx", depends_on=["db"])),
        ...     GenericChart(ChartInfo(name="db", chart="bitnami/postgresql"))], project_dir="/srv/shop")
        >>> target = project.drift_input()
        >>> target.order, list(target.charts)
        (('db', 'web'), ['web', 'db'])
        """
        from firestream_core.ops.drift import DriftInput

        return DriftInput(charts=self._charts_by_name(), order=tuple(self.graph().order()),
                          redactor=self.redactor)

    def hooks_input(self) -> HooksInput:
        """What ``plan --hooks`` needs of the project (:mod:`firestream_core.ops.helm_hooks`).

        >>> from firestream_core.plugin.generic import GenericChart
        >>> project = Project.from_charts([GenericChart.for_chart("web", "bitnami/nginx")], project_dir="/srv/shop")
        >>> target = project.hooks_input()
        >>> list(target.charts), target.project_dir
        (['web'], PosixPath('/srv/shop'))
        """
        from firestream_core.ops.helm_hooks import HooksInput

        return HooksInput(charts=self._charts_by_name(), project_dir=self.project_dir, redactor=self.redactor,
                          repositories=self.repositories())

    def test_input(self) -> TestInput:
        """What ``firestream test`` needs of the project (:mod:`firestream_core.deploy.helm_tests`);
        ``locked`` when the caller holds :meth:`lock` (recording then does not take it again).

        >>> from firestream_core.model import ChartInfo
        >>> from firestream_core.plugin.generic import GenericChart
        >>> project = Project.from_charts([
        ...     GenericChart(ChartInfo(name="web", chart="bitnami/nginx", depends_on=["db"])),
        ...     GenericChart(ChartInfo(name="db", chart="bitnami/postgresql"))], project_dir="/srv/shop")
        >>> target = project.test_input()
        >>> target.order, target.locked
        (('db', 'web'), False)
        """
        from firestream_core.deploy.helm_tests import TestInput

        return TestInput(charts=self._charts_by_name(), order=tuple(self.graph().order()),
                         redactor=self.redactor, backend=self.state_backend(), locked=self._locked)

    def _charts_by_name(self) -> dict[str, HelmChart]:
        return {c.chart_info.name: c for c in self.charts}

    def repositories(self) -> dict[str, str]:
        """Repository name -> URL: the chart types' defaults, overridden by ``[repositories]``.

        >>> project = Project.from_charts([], project_dir="/srv/shop",
        ...                               repositories={"bitnami": "https://charts.bitnami.com/bitnami"})
        >>> project.repositories()
        {'bitnami': 'https://charts.bitnami.com/bitnami'}
        """
        out: dict[str, str] = {}
        for chart in self.charts:
            try:
                reg = self.manager.chart_type(chart.chart_type)
            except Exception:  # noqa: BLE001 - build_charts already reported it
                continue
            out.update(reg.chart_type.repositories)
        out.update(self.config.repositories)
        return out

    # -- the tools of one run ---------------------------------------------------------------

    def tools(self) -> Tools:
        """A fresh ``(runner, helm, kubectl)`` for one run, sharing one process runner.

        Example, asking the cluster what the project's plan would ask::

            runner, helm, kubectl = project.tools()
            installed = helm.list_releases()
            plan = project.plan(helm=helm, kubectl=kubectl, installed=installed)
        """
        runner, helm = self._helm_tool()
        return runner, helm, self._kubectl_tool(runner)

    def _tool_options(self) -> dict[str, Any]:
        return {
            "kubeconfig": self.kubeconfig,
            "kube_context": self.kube_context,
            "env": self.env or None,
            "redactor": self.redactor,
        }

    def _helm_tool(self) -> tuple[Runner, Helm]:
        """The run's process runner and its helm (:meth:`tools` without kubectl).

        The ``depends_on`` graph is checked first: a file's is checked when it loads, but charts
        built in code (:meth:`from_charts`, :meth:`add_chart`) only here, so a dependency on an
        unknown release or a cycle is refused before any helm or cluster call.
        """
        from firestream_core.tools.helm import Helm
        from firestream_core.tools.process import Runner

        self.graph()
        runner = Runner(redactor=self.redactor)
        helm = Helm(runner, self.helm_binary, **self._tool_options())
        from firestream_core.tools.oci import (
            RegistryLogins,  # [registries]: one login per registry per run
        )

        helm.registries = RegistryLogins(
            self.config.registries or {},
            project_dir=self.project_dir,
            environ={**os.environ, **(self.env or {})},
            redactor=self.redactor,
        )
        return runner, helm

    def _kubectl_tool(self, runner: Runner) -> Kubectl:
        """The run's kubectl, on ``runner`` (:meth:`tools`)."""
        from firestream_core.tools.kubectl import Kubectl

        return Kubectl(runner, self.kubectl_binary, **self._tool_options())

    def _tools_for(self, plan: Plan | None) -> Tools:
        """The tools ``plan()`` made for ``plan`` (once: a run may stop its runner), else fresh ones."""
        planned, self._planned = self._planned, None
        if plan is not None and planned is not None and planned[0] is plan:
            return planned[1]
        return self.tools()

    def state_backend(self) -> StateBackend:
        """Where the state and the lock live (``[state] backend``, local by default).

        Example::

            state = project.state_backend().load()
            print(sorted(state.releases))       # "namespace/name" keys
        """
        kubectl = None
        if self.config.state.backend == "kubernetes":
            from firestream_core.tools.kubectl import Kubectl

            # its own runner: stopping the run's helm processes must not stop the lease's renewals
            kubectl = Kubectl(None, self.kubectl_binary, kubeconfig=self.kubeconfig,
                              kube_context=self.kube_context, env=self.env or None,
                              redactor=self.redactor)
        return state_backend(self.config, kubectl=kubectl, kube_context=self.kube_context)

    @contextmanager
    def lock(self, command: str = "firestream", *, timeout: float = 0.0) -> Iterator[Any]:
        """Hold the project's lock for several operations (plan, confirmation, apply).

        ``apply``, ``destroy``, ``import_release`` and ``test`` called inside it (in the same
        thread) do not take the lock again.

        :param timeout: seconds to wait for a lock another run holds (0: refuse at once).
        :raises StateLockedError: another run holds it (the message names the holder).

        Example, a plan confirmed before it is applied, no other run in between::

            with project.lock("deploy script", timeout=60):
                plan = project.plan()
                if plan.has_changes and input(plan.summary() + " - apply? ") == "y":
                    project.apply(plan)
        """
        if self._locked:
            yield None
            return
        with self.state_backend().lock(command, timeout=timeout) as held:
            self._lock_owner, self._held_lock = threading.get_ident(), held
            try:
                yield held
            finally:
                self._lock_owner, self._held_lock = None, None

    @property
    def _locked(self) -> bool:
        """True in the thread inside :meth:`lock`: only its calls run under that lock.

        Another thread using the same ``Project`` meanwhile is another run: its ``apply``
        takes the lock itself, and is refused (``StateLockedError``) while this one holds it.
        """
        return self._lock_owner is not None and self._lock_owner == threading.get_ident()

    @property
    def _held(self) -> Any:
        """The lock :meth:`lock` holds, in the thread holding it; else None."""
        return self._held_lock if self._locked else None

    def load_state(self) -> State:
        """The project's state as recorded by the last runs (no cluster call).

        Example::

            for key, record in project.load_state().releases.items():
                print(key, record.action, record.result, record.applied_at)
        """
        return self.state_backend().load()

    # -- plan -------------------------------------------------------------------------------

    def plan(
        self,
        targets: Iterable[str] | None = None,
        include_deps: bool = False,
        *,
        destroy: bool = False,
        helm: Helm | None = None,
        installed: list[InstalledRelease] | None = None,
        force: bool = False,
        kubectl: Kubectl | None = None,
    ) -> Plan:
        """What ``apply`` (or ``destroy``) would do, from one ``helm list -A -a -o json``.

        Each release's desired state (config, options, settings and the values
        plugins contribute, :meth:`desired_states`) is computed once and
        compared with the state file and helm.

        :param targets: only these releases (their dependencies too with ``include_deps``).
        :param destroy: plan the removal of the (targeted) releases.
        :param helm: the helm layer to use (a fresh one when None: the run
            that carries this plan out then reuses it).
        :param installed: the cluster state when already known (no helm call).
        :param force: destroy: remove the targets even when releases still deployed depend
            on them (otherwise refused, naming them; ``include_deps`` removes those too).
        :param kubectl: the kubectl layer ``contribute_values`` may read with
            (with ``helm``; the fresh tools' when None).
        :raises DependentsDeployedError: destroy of a release that deployed releases
            outside the targets depend on, without ``include_deps`` or ``force``.

        Example::

            plan = project.plan(["web"], include_deps=True)
            for change in plan.changes:
                print(change.name, change.action, change.reason)
            print(plan.to_json())          # names, actions, reasons: never a value
        """
        # the state first: a damaged state file is refused before any cluster call
        state = self.load_state()
        tools = None
        if helm is None:
            runner, helm = self._helm_tool()
            if installed is None:  # our own helm: it lists on a thread while kubectl & co are made
                installed, kubectl = self._list_while_preparing(helm)
            else:
                kubectl = self._kubectl_tool(runner)
            tools = (runner, helm, kubectl)
        if installed is None:
            installed = helm.list_releases()
        from firestream_core.deploy.plan import make_plan

        if destroy and targets and not include_deps and not force:
            self._refuse_stranded_dependents(list(targets), installed)
        # a destroy plan uninstalls: no desired state is read (nor a plugin's contribute_values
        # run, nor a version constraint resolved), so a plugin that fails there blocks no destroy
        # and an apply of a selection reads the desired state of the releases it plans only
        # (make_plan's subgraph): another release's failing plugin is not in its way
        names = (None if destroy or not targets else
                 self.graph().subgraph(list(dict.fromkeys(targets)), include_deps=include_deps).names)
        # which namespaces a create needs: read on a thread while the desired states are made (the
        # plugins' reads, version resolution) and the releases planned (helm get values)
        namespaces = self._read_namespaces(installed, names, destroy, helm, kubectl)
        try:
            desired = {} if destroy else self.desired_states(helm=helm, kubectl=kubectl, installed=installed,
                                                             names=names)
        except BaseException:
            if namespaces is not None:
                namespaces.wait()
            raise
        plan = make_plan(
            self.charts,
            installed,
            state,
            project_dir=self.project_dir,
            targets=list(targets) if targets else None,
            include_deps=include_deps,
            destroy=destroy,
            get_values=lambda name, ns: helm.get_values(name, ns),
            get_history=lambda name, ns: helm.history(name, ns),
            graph=self.graph(),
            redact=self.redactor.redact,
            desired=desired,
            extra_steps=self._chart_type_steps,
            destroy_steps=lambda chart: [*self._uninstall_deletes(helm, chart),
                                         *self._chart_type_destroy_steps(chart, helm, kubectl, installed)],
            namespaces=None if namespaces is None else namespaces.result,
            cluster=self.cluster_identity().server,
        )
        if tools is not None:
            self._planned = (plan, tools)
        return plan

    def _read_namespaces(
        self, installed: list[InstalledRelease], names: Iterable[str] | None, destroy: bool,
        helm: Helm, kubectl: Kubectl | None,
    ) -> Beside[NamespaceLookup] | None:
        """Start the one read of the namespaces the plan's creates may need
        (:func:`~firestream_core.deploy.plan.namespaces_to_check`: none for a destroy, nor when
        each release to deploy goes where a listed release lives), on a thread: ``kubectl get
        namespaces`` (a per-name ``get`` when the user may not list them;
        :meth:`~firestream_core.tools.kubectl.Kubectl.namespaces_exist`). None: nothing to read."""
        from firestream_core.deploy.plan import namespaces_to_check
        from firestream_core.tools.release_log import Beside

        wanted = namespaces_to_check(self.charts, installed, names=names, destroy=destroy)
        if not wanted:
            return None
        tool = kubectl if kubectl is not None else self._kubectl_tool(helm.runner)
        return Beside(lambda: tool.namespaces_exist(wanted), name="kubectl-namespaces")

    def _list_while_preparing(self, helm: Helm) -> tuple[list[InstalledRelease], Kubectl]:
        """``helm.list_releases()`` (with ``helm version`` beside it) and the run's kubectl
        (on helm's runner), made while helm lists: this thread does meanwhile the Python work
        the plan does next anyway and that needs no cluster. It makes kubectl (importing
        PyYAML, which a run imports before its first release anyway), imports the plan's
        modules and has the plugin manager import and select the ``contribute_values``
        hooks of the project's chart types (built-in plugins included) and, under the
        project's lock (``firestream apply`` / ``destroy``: the run comes next), imports the
        run's modules (:mod:`~firestream_core.deploy.run`, its lifecycle, scheduler and
        results), which nothing before the first helm call needs. helm's start-up and
        cluster round trip (30-100 ms each with a real helm) then hide that work instead of
        adding to it.

        A failure while preparing is left for the plan to meet again in its place (the
        same call, after the list); the list's own failure is raised here.
        """
        from firestream_core.tools.release_log import Beside

        try:
            # in this thread's context: inside a lifecycle, helm's lines name its release
            listing = Beside(helm.list_releases, name="helm-list")
            kubectl = self._kubectl_tool(helm.runner)
            try:
                import firestream_core.deploy.desired
                import firestream_core.deploy.plan  # noqa: F401 - imported while helm runs

                if self._locked:  # a plan made under the run's lock is carried out next
                    import firestream_core.deploy.run  # noqa: F401 - its lifecycle modules too

                for chart_type in dict.fromkeys(c.chart_type for c in self.charts):
                    self.manager.hook_caller("contribute_values", chart_type)
            except Exception:  # noqa: BLE001, S110 - desired_states makes the same calls and raises it
                pass
            listing.wait()
        except BaseException:  # Ctrl-C / SIGTERM here: stop helm, as a list in this thread would be
            helm.runner.terminate_all()
            raise
        return listing.result(), kubectl

    def _refuse_stranded_dependents(self, targets: list[str], installed: list[InstalledRelease]) -> None:
        """Destroying ``targets`` must not strand a deployed release that depends on one."""
        from firestream_core.errors import DependentsDeployedError

        graph = self.graph()
        # a release `helm uninstall --keep-history` left (helm lists it, `uninstalled`) is gone
        live = {r.key for r in installed if r.status != "uninstalled"}
        wanted = set(targets)
        stranded: dict[str, list[str]] = {}
        for t in targets:
            if t not in graph:
                continue  # make_plan names unknown targets
            for d in graph.dependents(t):
                if d not in wanted and (self.chart(d).chart_info.namespace_name, d) in live:
                    stranded.setdefault(t, []).append(d)
        if stranded:
            what = "; ".join(f"'{t}' is needed by " + ", ".join(f"'{d}'" for d in ds)
                             for t, ds in stranded.items())
            raise DependentsDeployedError(
                f"refusing to destroy: {what} (still deployed)",
                hint="pass --include-deps to destroy those too (dependents first), "
                "or --force to destroy only the targets",
            )

    def _chart_type_callback(
        self, chart: HelmChart, name: str
    ) -> tuple[RegisteredChartType, Callable[..., Any]] | None:
        """``chart``'s chart type and its callback ``name`` (``destructive_steps``,
        ``destroy_steps``); None when the type has none, or is unknown (build_charts said so)."""
        try:
            reg = self.manager.chart_type(chart.chart_type)
        except Exception:  # noqa: BLE001 - build_charts already reported it
            return None
        callback = getattr(reg.chart_type, name)
        return None if callback is None else (reg, callback)

    def _chart_type_steps(self, chart: HelmChart, step: BreakingStep) -> list[str]:
        """The destructive steps ``chart``'s type adds to a breaking step (``ChartType.destructive_steps``)."""
        found = self._chart_type_callback(chart, "destructive_steps")
        if found is None:
            return []
        reg, steps = found
        from firestream_core.errors import PluginError
        from firestream_core.plugin.manager import result_problem

        # the plan cannot show what apply's exec will delete: refused, naming the plugin, before any change
        where = f"plugin '{reg.plugin_name}': destructive_steps for release '{chart.name}'"
        try:
            lines = steps(chart, step)
        except (Exception, SystemExit) as exc:  # sys.exit() here ended plan silently, exit 0
            raise PluginError(self.redactor.redact(f"{where} raised {type(exc).__name__}: {exc}")) from exc
        problem = result_problem("destructive_steps", lines)
        if problem is not None:
            raise PluginError(f"{where} {problem}")
        return [self.redactor.redact(s) for s in lines or ()]

    def _uninstall_deletes(self, helm: Helm, chart: HelmChart) -> list[str]:
        """What helm's uninstall of ``chart``'s release deletes beyond its namespace's objects: the
        CRDs its manifest holds (a chart's templates), and with each every object of its kind in
        every namespace (:func:`~firestream_core.tools.manifests.crds_deleted`). One ``helm get
        manifest``; when it cannot be read, the line says that it is not known."""
        from firestream_core.errors import HelmError, first_line
        from firestream_core.tools.manifests import crds_deleted, split_manifest

        info = chart.chart_info
        try:
            current = split_manifest(helm.get_manifest(info.name, info.namespace_name))
        except (HelmError, ValueError) as exc:
            return [self.redactor.redact(f"unknown: whether helm's uninstall deletes CRDs the chart renders "
                                         f"(helm get manifest: {first_line(exc)})")]
        return [line.replace("helm deletes", "helm's uninstall deletes", 1) for line in crds_deleted(current)]

    def _chart_type_destroy_steps(
        self, chart: HelmChart, helm: Helm, kubectl: Kubectl | None, installed: list[InstalledRelease],
    ) -> list[str]:
        """What ``chart``'s type removes besides helm's uninstall on a destroy (``ChartType.destroy_steps``).

        A callable taking a third argument gets a read-only :class:`DeployContext` of the
        release being destroyed (:func:`destroy_plan_context`): what its hooks delete may
        depend on what the cluster holds (an object they delete only when it is theirs).

        A plugin failing here blocks no destroy (as its ``contribute_values`` does not: a
        destroy plan reads no desired state), nor is its silence taken for "nothing": the
        line says that what its hooks delete is not known, naming the plugin and the error.
        """
        found = self._chart_type_callback(chart, "destroy_steps")
        if found is None:
            return []
        reg, steps = found
        from firestream_core.plugin.manager import result_problem, takes_arguments

        try:
            if takes_arguments(steps, 3):
                context = self._destroy_plan_context(chart, helm, kubectl, installed)
                lines = steps(chart, self.project_dir, context)
            else:
                lines = steps(chart, self.project_dir)
            problem = result_problem("destroy_steps", lines)  # a str would be listed a character a line
            why = None if problem is None else f" {problem}"
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - said in the plan, not raised: see above
            # (sys.exit() here ended 'firestream destroy' silently, exit 0, having destroyed nothing)
            why = f": {type(exc).__name__}: {exc}"
        if why is not None:
            return [self.redactor.redact(
                f"unknown: plugin '{reg.plugin_name}' could not say what its hooks delete besides helm's "
                f"uninstall (destroy_steps{why})")]
        return [self.redactor.redact(s) for s in lines or ()]

    def _destroy_plan_context(
        self, chart: HelmChart, helm: Helm, kubectl: Kubectl | None, installed: list[InstalledRelease],
    ) -> DeployContext:
        """The read-only context a chart type's ``destroy_steps`` reads the cluster with: helm's and
        kubectl's read-only views (their writes raise ``PluginError``), the release as helm listed it,
        ``change = "destroy"``, the run's redactor and a logger naming the release."""
        import logging

        from firestream_core.deploy.desired import ReadOnlyHelm, ReadOnlyKubectl
        from firestream_core.plugin.context import DeployContext
        from firestream_core.tools.release_log import ReleaseLogger

        info = chart.chart_info
        seen = {r.key: r for r in installed}
        return DeployContext(
            helm=ReadOnlyHelm(helm, stage="destroy_steps"),
            kubectl=ReadOnlyKubectl(kubectl if kubectl is not None else self._kubectl_tool(helm.runner),
                                    stage="destroy_steps"),
            project_dir=self.project_dir,
            installed=seen.get((info.namespace_name, info.name)),
            change="destroy",
            redactor=self.redactor,
            log=ReleaseLogger(logging.getLogger("firestream"), info.name, redactor=self.redactor),
        )

    def cluster_identity(self) -> ClusterIdentity:
        """The kube context this project's helm and kubectl use and its cluster's server URL,
        read from the kubeconfig (nothing is run or contacted; no credential is read).

        Example::

            print(project.cluster_identity().describe())   # kube context 'prod' (server https://...)
        """
        from firestream_core.tools.kubeconfig import cluster_identity

        return cluster_identity(self.kubeconfig, self.kube_context, environ={**os.environ, **self.env})

    def _values_files_relative(self) -> tuple[str, ...]:
        """The ``--values`` files relative to the project folder, as a saved plan records them."""
        base = self.project_dir.resolve()
        return tuple(Path(os.path.relpath(f, base)).as_posix() for f in self.values_files)

    def save_plan(self, plan: Plan, path: str | os.PathLike[str], *, include_deps: bool = False) -> SavedPlan:
        """Write ``plan`` to ``path`` for :meth:`saved_plan` (``firestream plan --out``), with the
        environment, the kube context and server, and the ``--set`` paths and ``--values`` files
        it was made with (never a value).

        Example::

            plan = project.plan()
            saved = project.save_plan(plan, "plan.json")   # reviewed, then later:
            result = project.apply(project.saved_plan("plan.json"))
        """
        from firestream_core.deploy.saved import plan_key, saved_plan, write_saved

        self._refuse_overwriting_its_files(path)
        saved = saved_plan(plan, config=self.path, include_deps=include_deps, environment=self.config.environment,
                           cluster=self.cluster_identity(), set_keys=self.set_keys,
                           values_files=self._values_files_relative(),
                           key=plan_key(self.project_dir, create=True))
        write_saved(saved, path)
        return saved

    def _files_read(self) -> dict[str, str]:
        """The files the project reads, by real path, each with what it is: the project file, the
        state file and its journal, the releases' values files, the ``--values`` files. What a
        command writes (``plan --out``, ``template --output-dir``) must never replace one."""
        key = os.path.realpath  # the paths below are as loaded: absolute, or relative to here as given
        ours: dict[str, str] = {key(self.path): "the project file"}
        backend = self.state_backend()
        for attr, what in (("path", "the state file"), ("journal", "the state's journal")):
            if isinstance(getattr(backend, attr, None), Path):
                ours.setdefault(key(getattr(backend, attr)), what)
        for chart in self.charts:
            for f in chart.chart_info.values_files:
                ours.setdefault(key(f), f"a values file of release '{chart.chart_info.name}'")
        for f in self.values_files:
            ours.setdefault(key(f), "a --values file")
        return ours

    def _refuse_overwriting_its_files(self, path: str | os.PathLike[str]) -> None:
        """Refuse a plan file that is one of the files the project reads (``plan --out
        firestream.toml``: the config would be replaced by the plan, and lost).

        :raises FirestreamError: naming the file and what it is to the project.
        """
        from firestream_core.errors import FirestreamError

        theirs = self._files_read().get(os.path.realpath(path))
        if theirs is not None:
            raise FirestreamError(f"cannot write the plan to {path}: it is {theirs}, which the plan file "
                                  "would replace", hint="name another file: firestream plan --out FILE")

    def check_saved_target(self, saved: SavedPlan, plan_file: str | os.PathLike[str] = "PLAN", *,
                           flags: Iterable[str] = ()) -> bytes:
        """Refuse, before any cluster call, a saved plan made for another environment, kube
        context or cluster server, or with other ``--set`` paths or ``--values`` files; and
        one this project folder cannot check, its plan key missing or not the one the plan was
        made with (:func:`~firestream_core.deploy.saved.plan_key`, ``check_key``).

        :param plan_file: the plan's file, for the command the hint names.
        :param flags: options the hint's command starts with (``-f``, ``--kubeconfig``).
        :raises PlanMismatchError: every difference, and the command that carries the plan out.
        :raises FirestreamError: the plan key is missing or unreadable, naming it.
        :return: the project's plan key, which the plan's digests are checked with.

        Example::

            from firestream_core.deploy.saved import read_saved

            saved = read_saved("prod.plan")
            project = Project.load("firestream.toml", environment=saved.environment)
            project.check_saved_target(saved, "prod.plan")   # before taking the lock
        """
        from firestream_core.deploy.saved import apply_command, check_key, check_target, plan_key

        here = self.cluster_identity()
        extra = list(flags)
        if saved.cluster.context and saved.cluster.context != here.context and \
                saved.environment == self.config.environment:
            if "--kube-context" in extra:  # the one given is the wrong one
                at = extra.index("--kube-context")
                del extra[at:at + 2]
            extra += ["--kube-context", saved.cluster.context]
        base = self.project_dir.resolve()
        shown = [os.path.relpath(base / f) for f in saved.values_files]  # from the current folder
        check_target(saved, environment=self.config.environment, cluster=here, set_keys=self.set_keys,
                     values_files=self._values_files_relative(),
                     command=apply_command(saved, plan_file, flags=extra, values_files=shown))
        key = plan_key(self.project_dir, create=False)
        check_key(saved, key, os.fspath(plan_file))
        return key

    def saved_plan(self, path: str | os.PathLike[str] | SavedPlan) -> Plan:
        """The plan a ``plan --out`` file saved, made again now and checked against it.

        The run that carries the returned plan out does exactly what the file
        says (:mod:`~firestream_core.deploy.saved`).

        :param path: the file, or what :func:`~firestream_core.deploy.saved.read_saved` read from it.
            Another environment, cluster or overrides is refused first
            (:meth:`check_saved_target`), before any cluster call.
        :raises PlanMismatchError: the run is for another environment, cluster or
            overrides, or a release's namespace, cluster revision, desired state or
            action changed since (the message names it); nothing is done.

        Example, what ``firestream plan --out plan.json`` then ``firestream apply plan.json`` do::

            plan = project.plan()             # reviewed, then saved
            project.save_plan(plan, "plan.json")
            ...                               # later, maybe elsewhere
            result = project.apply(project.saved_plan("plan.json"))
        """
        from firestream_core.deploy.saved import SavedPlan, check_saved, read_saved
        from firestream_core.errors import PlanMismatchError

        saved = path if isinstance(path, SavedPlan) else read_saved(path)
        key = self.check_saved_target(saved, "PLAN" if isinstance(path, SavedPlan) else path)
        fresh = self.plan(list(saved.targets) or None, saved.include_deps, destroy=saved.destroy)
        try:
            check_saved(saved, fresh, key=key)
        except PlanMismatchError as exc:
            self._planned = None  # nothing will carry it out
            if saved.config and os.path.basename(saved.config) != self.path.name:
                # another project's plan (a saved plan may be applied from another checkout, where
                # only the file's name is the same): say so before its releases' differences
                raise PlanMismatchError(f"{exc}; the plan was saved from {saved.config}, this run reads "
                                        f"{self.path}", release=exc.release, hint=exc.hint) from None
            raise
        except Exception:
            self._planned = None  # nothing will carry it out
            raise
        return fresh

    def desired_states(
        self,
        *,
        helm: Helm | None = None,
        kubectl: Kubectl | None = None,
        installed: Iterable[InstalledRelease] | None = None,
        names: Iterable[str] | None = None,
    ) -> dict[str, DesiredState]:
        """Release name -> its desired state, the plugins' ``contribute_values`` run once each
        (:func:`~firestream_core.deploy.desired.desired_states`; read-only tools).

        The one function plan, apply (through the plan), template and diff use. Without
        ``helm`` and ``kubectl`` the hooks run offline, as ``firestream validate`` runs them
        (``context.offline``: no cluster read). With ``helm``, the version constraints (and missing versions) of repository and OCI
        charts are resolved to the exact version helm installs
        (:class:`~firestream_core.deploy.desired.ChartVersions`: one helm call per
        distinct chart and constraint).

        Example, the values a release would be deployed with, the plugins' included::

            desired = project.desired_states(names=["db"])
            print(desired["db"].contributed)      # what each plugin's contribute_values added
        """
        from firestream_core.deploy.desired import ChartVersions, desired_states

        # an unknown name is refused as plan refuses an unknown target, before any plugin or helm call
        wanted = None if names is None else set(self.graph().subgraph(names, include_deps=False).names)
        repositories = self.repositories()
        states = desired_states(
            [c for c in self.charts if wanted is None or c.chart_info.name in wanted],
            manager=self.manager,
            project_dir=self.project_dir,
            helm=helm,
            kubectl=kubectl,
            repositories=repositories,
            installed={r.key: r for r in installed or ()},
            redactor=self.redactor,
            releases={c.chart_info.name: c.chart_type for c in self.charts},
            versions=ChartVersions(helm, repositories) if helm is not None else None,
            # no tools given: no cluster, as `firestream validate` runs the hooks (context.offline),
            # rather than a plugin's cluster read failing on the missing helm
            offline=helm is None and kubectl is None,
        )
        # a contributed value under a secret-looking key is hidden too
        _hide_secret_looking(self.redactor, [s.chart for s in states.values() if s.contributed])
        return states

    def repair_drift(self, plan: Plan) -> tuple[Plan, list[ReleaseDrift]]:
        """``plan`` with each drifted ``no-op`` release turned into an upgrade (``apply --repair-drift``).

        The drift check uses the tools :meth:`plan` made for ``plan`` (no
        second ``helm version``), and the run that carries the repaired plan
        out reuses them too. Returns the new plan and the drift found
        (:func:`~firestream_core.ops.drift.repair_plan`).

        Example, ``firestream apply --repair-drift``::

            plan, drifts = project.repair_drift(project.plan())
            result = project.apply(plan)
        """
        from firestream_core.ops.drift import repair_plan

        tools = self._tools_for(plan)
        _, helm, kubectl = tools
        repaired, drifts = repair_plan(self.drift_input(), plan, helm, kubectl)
        self._planned = (repaired, tools)
        return repaired, drifts

    # -- apply / destroy ------------------------------------------------------------------------

    def apply(
        self,
        plan: Plan | None = None,
        *,
        concurrency: int | None = None,
        fail_fast: bool | None = None,
        targets: Iterable[str] | None = None,
        include_deps: bool = False,
        dry_run: bool = False,
        on_event: Callable[[ApplyEvent], None] | None = None,
        cancel: threading.Event | None = None,
        lock_timeout: float = 0.0,
        replan: bool = True,
    ) -> ApplyResult:
        """Carry out ``plan`` (made now when None) under the project lock.

        :param concurrency: releases at once (0: unlimited; default ``[settings]``).
        :param fail_fast: start nothing new after the first failure.
        :param targets: with no ``plan``: only these releases.
        :param include_deps: with ``targets``: their dependencies too.
        :param dry_run: helm's ``--dry-run``; nothing changes, the state is not written.
        :param on_event: called with each :class:`ApplyEvent` (from worker threads
            too: keep it quick and thread-safe).
        :param cancel: set it to stop: nothing new starts, running helm
            processes are terminated.
        :param lock_timeout: seconds to wait for the project lock when another
            run holds it (0: refuse at once; the CLI's ``--lock-timeout``).
            Unused when the lock is already held (:meth:`lock`) or for a dry run.
        :param replan: with a ``plan`` given (not a dry run): plan its releases again under
            the lock, and stop before any change of it each release whose change would now
            do what ``plan`` did not show (installed, upgraded, rolled back or uninstalled by
            someone else since; another action, a destructive step more:
            :func:`~firestream_core.deploy.saved.unseen_changes`): it ends ``failed`` at
            ``check_prerequisites``, its reason naming what changed, what depends on it
            ``skipped``. False carries ``plan`` out as it is, for a plan made a moment ago
            under the same lock (``firestream apply``, which checks its plan after the
            prompt itself).
        :raises StateLockedError: another run holds the project's lock (still, after
            ``lock_timeout``).

        Example, with a progress display::

            def show(event):
                if event.kind == "finished":
                    print(event.release, event.result, event.reason or "")

            result = project.apply(project.plan(), concurrency=4, on_event=show)
            for name in result.with_result("failed"):
                print(name, result.releases[name].reason)
        """
        options = self._run_options(concurrency, fail_fast, dry_run, on_event, cancel, lock_timeout)
        return self._run(plan, targets, include_deps, destroy=False, options=options, replan=replan)

    def destroy(
        self,
        targets: Iterable[str] | None = None,
        *,
        plan: Plan | None = None,
        include_deps: bool = False,
        concurrency: int | None = None,
        fail_fast: bool | None = None,
        dry_run: bool = False,
        on_event: Callable[[ApplyEvent], None] | None = None,
        cancel: threading.Event | None = None,
        lock_timeout: float = 0.0,
        force: bool = False,
        replan: bool = True,
    ) -> ApplyResult:
        """Uninstall the (targeted) releases in reverse dependency order.

        With ``include_deps``, the targets' dependents go too (they cannot
        outlive what they need); without it a target that a deployed release
        depends on is refused (``DependentsDeployedError``) unless ``force``.
        Arguments (``lock_timeout``, ``replan`` too) as for :meth:`apply`.

        Example::

            result = project.destroy(["web"], include_deps=True)   # web and what depends on it
            assert result.ok, result.with_result("failed")
        """
        options = self._run_options(concurrency, fail_fast, dry_run, on_event, cancel, lock_timeout)
        return self._run(plan, targets, include_deps, destroy=True, options=options, force=force,
                         replan=replan)

    def _run_options(
        self,
        concurrency: int | None,
        fail_fast: bool | None,
        dry_run: bool,
        on_event: Callable[[ApplyEvent], None] | None,
        cancel: threading.Event | None,
        lock_timeout: float = 0.0,
    ) -> RunOptions:
        """The run's options, ``[settings]`` filling in what the call left as None."""
        from firestream_core.deploy.run import RunOptions

        settings = self.config.settings
        return RunOptions(
            concurrency=settings.concurrency if concurrency is None else concurrency,
            fail_fast=settings.fail_fast if fail_fast is None else fail_fast,
            dry_run=dry_run,
            on_event=on_event,
            cancel=cancel if cancel is not None else threading.Event(),
            lock_timeout=float(lock_timeout),
        )

    def _run(
        self,
        plan: Plan | None,
        targets: Iterable[str] | None,
        include_deps: bool,
        *,
        destroy: bool,
        options: RunOptions,
        force: bool = False,
        replan: bool = True,
    ) -> ApplyResult:
        """Take the lock (unless held or a dry run), make or check the plan, carry it out (:mod:`.run`)."""
        from contextlib import nullcontext

        from firestream_core.deploy.run import Run
        from firestream_core.errors import FirestreamError

        tools = self._tools_for(plan)
        backend = self.state_backend()
        command = "firestream destroy" if destroy else "firestream apply"
        unlocked = options.dry_run or self._locked
        held_outside = None if options.dry_run else self._held
        with nullcontext(held_outside) if unlocked else backend.lock(command, timeout=options.lock_timeout) as held:
            # a lock lost while the run goes on (`state unlock --force`; a cluster lease expired
            # or taken over) stops the run from starting releases
            lost = getattr(held, "lost_reason", None)
            if lost is not None and options.stop_new is None:
                options = attrs.evolve(options, stop_new=lost)
            if plan is None:
                plan = self.plan(targets, include_deps, destroy=destroy, helm=tools[1], kubectl=tools[2],
                                 force=force)
            elif plan.destroy != destroy:
                kind = "destroy" if plan.destroy else "deploy"
                raise FirestreamError(f"this is a {kind} plan; pass it to {'destroy' if plan.destroy else 'apply'}()")
            else:
                self._check_plan_releases(plan)
                if replan and not options.dry_run:
                    plan = self._still_the_plan(plan, tools)
            gone = getattr(held, "unchecked", None)  # a lease taken over from another host's run
            if gone is not None:
                from firestream_core.deploy.plan import refuse_recovery_during

                plan = refuse_recovery_during(plan, gone.holder, gone.acquire_time)
            if not destroy:  # an upgrade the API server refuses is stopped before any change
                # (a create only when its plugin writes before helm: docs/usage.md, "What plan renders")
                plan = self.refuse_before_apply(plan, creates=False, helm=tools[1], kubectl=tools[2])
            return Run(self._run_input(), plan, tools, backend, options).go()

    def refuse_before_apply(
        self, plan: Plan, *, creates: bool = True, helm: Helm | None = None, kubectl: Kubectl | None = None
    ) -> Plan:
        """``plan`` with each change apply would fail at helm's rendering refused before any change.

        One render pass (:func:`~firestream_core.ops.render.check_renders`), each change
        rendered once as apply runs it (helm's ``--dry-run=server`` of apply's own call),
        ``[settings] concurrency`` releases at once (4 when it is 0):

        * each planned upgrade that patches the installed release is compared with the
          manifest helm holds: one that changes an immutable field (a Deployment's selector, a
          StatefulSet's volumeClaimTemplates: :func:`~firestream_core.tools.manifests.immutable_changes`)
          fails inside helm, its earlier objects already patched;
        * with ``creates``, each planned ``create`` and ``reinstall`` is rendered too; without
          it, only those whose chart type changes the cluster before helm renders
          (:meth:`~firestream_core.plugin.manager.FirestreamPluginManager.acts_before_helm`:
          a plugin's ``pre_exec`` or ``exec``, a Secret, a namespace, CRDs), so that none of
          it runs for a chart helm then refuses;
        * a change whose chart does not render with its values (a template error, a
          ``required`` or ``fail``, a ``values.schema.json`` violation, rendered YAML that does
          not parse, a missing dependency) is refused, with helm's reason, redacted; one that
          could not be rendered for another reason (the cluster) is left to helm, with a note.

        A refused change gets the refusal in its reasons and ``problems``, so that apply stops
        it (and skips what depends on it) before anything of it changes, and the plan printed
        says why. A plan is rendered once: ``Plan.immutable_checked`` (its upgrades) and
        ``Plan.creates_checked`` (its creates and reinstalls) say what was, and a later call
        renders only what is left. ``firestream plan`` and interactive ``firestream apply``
        call it before they print the plan; :meth:`apply` (and ``apply --yes``) with
        ``creates=False`` (docs/usage.md, "What plan renders"). A destroy plan is returned as it is.

        Example::

            plan = project.refuse_before_apply(project.plan())
            for name, problem in plan.problems:
                print(name, problem)
        """
        if plan.destroy:
            return plan
        upgrades = not plan.immutable_checked
        # the creates and reinstalls to render: all of them with ``creates``; without it, those a
        # plugin changes the cluster for before helm renders (its pre_exec or exec: a Secret, a
        # namespace, CRDs), so that apply --yes refuses them before that
        charts = self._charts_by_name()
        writes = frozenset(c.name for c in plan.releases if c.is_change and c.name in charts
                           and self.manager.acts_before_helm(charts[c.name]))
        creating = frozenset(c.name for c in plan.releases if c.action in ("create", "reinstall"))
        to_create = frozenset() if plan.creates_checked else creating if creates else creating & writes
        if not upgrades and not to_create:
            return plan
        planned = self._planned if self._planned is not None and self._planned[0] is plan else None
        found: Mapping[str, RenderCheck] = {}
        # a plan of creates checked without them (the first apply --yes, every bench) imports and
        # renders nothing: only a change to an installed release can patch objects in place
        # (ops/render's renders_checked picks among these)
        if any(c.is_change and not c.problems and c.action != "destroy"
               and (c.name in to_create or (upgrades and c.installed is not None))
               for c in plan.releases):
            from firestream_core.ops.render import check_renders, served_kinds

            if helm is None or kubectl is None:
                _, helm_made, kubectl_made = planned[1] if planned is not None else self.tools()
                helm, kubectl = helm or helm_made, kubectl or kubectl_made
            workers = self.config.settings.concurrency or 4
            cluster = kubectl  # the lambda's: known set here
            found = check_renders(charts, plan, helm, self.project_dir, self.repositories(),
                                  workers=workers, kubectl=kubectl, upgrades=upgrades, creates=to_create,
                                  redact=self.redactor.redact, served=lambda gvs: served_kinds(cluster, gvs),
                                  plugin_writes=writes)
        releases = []
        for change in plan.releases:
            got = found.get(change.name)
            if got is not None and got.crds_deleted:  # destructive, not a refusal
                change = attrs.evolve(change, destructive=tuple(dict.fromkeys((*change.destructive,
                                                                               *got.crds_deleted))))
            if got is not None and got.immutable:
                from firestream_core.tools.manifests import immutable_way_on

                fields = ", ".join(f"{c.key.short} {c.field}" for c in got.immutable)
                text = (f"the API server refuses this upgrade: immutable fields change "
                        f"({'; '.join(map(str, got.immutable))}); {immutable_way_on(got.immutable)}")
                change = change.refused(text, f"immutable fields change: {fields}")
            elif got is not None and got.unrenderable is not None:
                change = change.refused(f"the chart does not render with these values: {got.unrenderable}",
                                        "the chart does not render with these values")
            elif got is not None and got.missing_namespaces:
                names = ", ".join(ns for ns, _ in got.missing_namespaces)
                where = "; ".join(
                    f"namespace {ns}: {', '.join(k.short for k in keys[:3])}"
                    + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
                    for ns, keys in got.missing_namespaces)
                change = change.refused(
                    f"the chart puts objects in a namespace that does not exist and that nothing in this plan "
                    f"creates ({where}): helm creates only the release's namespace ({change.namespace}) and "
                    "fails at the first of them; create it first, or change the values that name it",
                    f"objects in a namespace that does not exist: {names}")
            elif got is not None and got.unserved:
                kinds = ", ".join(got.unserved)
                change = change.refused(
                    f"the cluster does not serve {kinds}, and neither the chart nor a release it depends on "
                    "installs its CRD: helm refuses objects of a kind the cluster does not serve; install the "
                    "CRD first, or add the release that installs it to depends_on",
                    f"the cluster does not serve {kinds}")
            elif got is not None and got.unchecked is not None:
                from firestream_core.deploy.plan import RENDER_UNCHECKED

                change = attrs.evolve(change, reasons=(*change.reasons, "rendering not checked"),
                                      notes=(*change.notes, f"{RENDER_UNCHECKED}: {got.unchecked}"))
            releases.append(change)
        checked = attrs.evolve(plan, releases=tuple(releases), immutable_checked=True,
                               creates_checked=plan.creates_checked or creates)
        if planned is not None:  # the tools plan() made go on to the run of the checked plan
            self._planned = (checked, planned[1])
        return checked

    def refuse_immutable(
        self, plan: Plan, *, creates: bool = True, helm: Helm | None = None, kubectl: Kubectl | None = None
    ) -> Plan:
        """The name :meth:`refuse_before_apply` had when it checked upgrades for immutable fields
        alone: the same call (each upgrade, create and reinstall whose chart does not render
        is refused too).

        Example::

            plan = project.refuse_immutable(project.plan())
        """
        return self.refuse_before_apply(plan, creates=creates, helm=helm, kubectl=kubectl)

    def _still_the_plan(self, plan: Plan, tools: Tools) -> Plan:
        """``plan``, given to :meth:`apply` (:meth:`destroy`), with each release stopped whose
        change would do now what ``plan`` did not show.

        Between a program's ``plan()`` and its ``apply(plan)`` someone may install a release
        the plan creates, upgrade, roll back or uninstall one it upgrades: carrying the plan
        out would then upgrade a release installed by hand, or install afresh one the plan
        upgrades. The same releases are planned again now, under the run's lock and with its
        tools (nothing rendered again), and each difference
        (:func:`~firestream_core.deploy.saved.unseen_changes`: helm's revision or status, the
        action, a destructive step more, a namespace to create) becomes a problem of that
        release: the run stops it before any change of it, and skips what depends on it.
        """
        from firestream_core.deploy.saved import unseen_changes

        _, helm, kubectl = tools
        # the same releases; a destroy plan was checked for stranded dependents when it was made
        fresh = self.plan([c.name for c in plan.releases] if plan.targets else None, destroy=plan.destroy,
                          helm=helm, kubectl=kubectl, force=True)
        unseen = unseen_changes(plan, fresh)
        if not unseen:
            return plan
        hint = "nothing of it was changed; make and review a new plan"
        return attrs.evolve(plan, releases=tuple(
            c if c.name not in unseen else attrs.evolve(
                c, reasons=("refused: changed since the plan was made", *c.reasons),
                problems=(*c.problems, f"{unseen[c.name]}; {hint}"))
            for c in plan.releases))

    def _check_plan_releases(self, plan: Plan) -> None:
        """Refuse a plan naming a release this project does not define, before anything runs.

        A plan made before the file lost a release (or by another project) cannot be carried
        out by this one: it has no chart for the release.
        """
        from firestream_core.errors import PlanMismatchError

        charts = self._charts_by_name()
        missing = [c.name for c in plan.releases if c.name not in charts]
        if missing:
            raise PlanMismatchError(
                "refusing to carry out the plan: it names release " + ", ".join(f"'{n}'" for n in missing)
                + f", which this project ({self.config.path or self.project_dir}) does not define; "
                "nothing was changed",
                release=missing[0],
                hint="make and review a new plan",
            )

    # -- status ---------------------------------------------------------------------------

    def status(self, *, helm: Helm | None = None) -> list[ReleaseStatus]:
        """Each release's helm status, revision and chart version, with the state's last
        validation and ``helm test`` results; one ``helm list`` call. A record made on another
        cluster (``ReleaseState.cluster``) is not shown as this one's.

        Example::

            for release in project.status():
                print(release.name, release.status, release.revision, release.tests_result)
        """
        from firestream_core.deploy.results import ReleaseStatus

        if helm is None:
            _, helm, _ = self.tools()
        live = {r.key: r for r in helm.list_releases()}
        state = self.load_state()
        cluster = self.cluster_identity().server
        out: list[ReleaseStatus] = []
        for name in self.graph().order():
            chart = self.chart(name)
            ns = chart.chart_info.namespace_name
            inst = live.get((ns, name))
            rec = state.releases.get(f"{ns}/{name}")
            if rec is not None and rec.made_elsewhere(cluster):
                rec = None  # what a run did on another cluster is nothing this cluster's release did
            out.append(
                ReleaseStatus(
                    name=name,
                    namespace=ns,
                    chart_type=chart.chart_type,
                    status=inst.status if inst is not None else "not deployed",
                    revision=inst.revision if inst is not None else None,
                    chart=inst.chart_name if inst is not None else None,
                    version=inst.chart_version if inst is not None else None,
                    app_version=(inst.app_version or None) if inst is not None else None,
                    updated=(inst.updated or None) if inst is not None else None,
                    last_action=rec.action if rec is not None else None,
                    last_result=rec.result if rec is not None else None,
                    applied_at=rec.applied_at if rec is not None else None,
                    validations=tuple(rec.validations) if rec is not None else (),
                    tests=_recorded_tests(rec.tests) if rec is not None else None,
                    last_error=rec.error if rec is not None else None,
                )
            )
        return out

    # -- diff / drift / helm tests (diff.py, drift.py, helmtests.py) -------------------------

    def diff(
        self, targets: Iterable[str] | None = None, *, include_deps: bool = False, context: int = 3
    ) -> list[ReleaseDiff]:
        """Per changing release, the masked object diffs apply would make (:func:`~firestream_core.ops.diff.diff_project`).

        :param targets: only these releases (their dependencies too with ``include_deps``).
        :param context: lines of context around each change.

        Example::

            for release in project.diff(["web"]):          # ReleaseDiff
                print(release.name, release.action, release.status)
                for obj in release.objects:
                    print(obj.change, obj.key.kind, obj.key.name)
                    print(obj.diff)                           # sensitive values masked
        """
        from firestream_core.ops.diff import diff_project

        _, helm, kubectl = self.tools()
        plan = self.plan(list(targets) if targets else None, include_deps, helm=helm, kubectl=kubectl)
        return diff_project(self.diff_input(), plan, helm, kubectl, context=context)

    def drift(self, targets: Iterable[str] | None = None) -> list[ReleaseDrift]:
        """Per deployed release, whether its live objects match its manifest (:mod:`firestream_core.ops.drift`).

        Example::

            for release in project.drift():                # ReleaseDrift
                if release.drifted:
                    print(release.name, [o.key.name for o in release.objects])
        """
        from firestream_core.ops.drift import drift_project

        _, helm, kubectl = self.tools()
        return drift_project(self.drift_input(), helm, kubectl, targets)

    def test(
        self, targets: Iterable[str] | None = None, *, record: bool = True, timeout: str | int | None = None
    ) -> list[ReleaseTestResult]:
        """``helm test`` of the deployed releases, results kept in the state (:mod:`firestream_core.deploy.helm_tests`).

        :param record: write the results into the state (under the project lock).
        :param timeout: per release (default: the release's ``timeout``).

        Example::

            for result in project.test(["web"]):           # ReleaseTestResult
                print(result.name, result.status, result.message)
        """
        from firestream_core.deploy.helm_tests import run_helm_tests

        _, helm, _ = self.tools()
        return run_helm_tests(self.test_input(), helm, targets, record=record, timeout=timeout)

    # -- import / template --------------------------------------------------------------------

    def import_release(
        self,
        name: str,
        namespace: str | None = None,
        chart_type: str | None = None,
        *,
        chart: str | None = None,
        repository: str | None = None,
        repo_url: str | None = None,
        lock_timeout: float = 0.0,
    ) -> ImportResult:
        """Take an existing helm release under management (see :mod:`firestream_core.ops.importer`).

        :param lock_timeout: seconds to wait for the project lock another run holds
            (0: refuse at once; the CLI's ``--lock-timeout``).

        Example, a release installed by hand with ``helm install``::

            imported = project.import_release("legacy-redis", "cache", chart="redis", repository="bitnami")
            print(imported.config_path, imported.warnings)
            project = project.reload()
        """
        from firestream_core.ops.importer import ImportInput, import_release

        _, helm, _ = self.tools()
        target = ImportInput(
            names=frozenset(self.names),
            path=self.path,
            project_dir=self.project_dir,
            manager=self.manager,
            helm=helm,
            backend=self.state_backend(),
            redactor=self.redactor,
            load_chart=lambda release: self.reload().chart(release),
            repositories=self.repositories(),
            config_repositories=dict(self.config.repositories),
            lock_timeout=float(lock_timeout),
            locked=self._locked,
            cluster=self.cluster_identity().server,
        )
        return import_release(target, name, namespace, chart_type, chart=chart, repository=repository,
                              repo_url=repo_url)

    def template(
        self,
        output_dir: str | os.PathLike[str] | None = None,
        *,
        targets: Iterable[str] | None = None,
        notes: dict[str, str] | None = None,
        masked: bool = False,
    ) -> dict[str, str]:
        """Render every release with ``helm template``, in dependency order.

        Each release is rendered from its desired state (:meth:`desired_states`),
        the values plugins contribute included: what ``apply`` deploys.

        Local charts render offline; repository charts need their repository
        (added once per repository). With ``output_dir``, each manifest is
        also written to ``<output_dir>/<release>.yaml`` (mode 0600: rendered
        Secrets hold values).

        :param targets: only these releases (None: all); an unknown one raises ``GraphError``.
        :param masked: return each manifest as ``firestream template`` prints it, every
            Secret's data shown as ``<hidden>`` and every sensitive value (docs/secrets.md)
            as ``***`` (:func:`~firestream_core.tools.manifests.mask_manifest`); the files in
            ``output_dir`` are written whole all the same.
        :param notes: when given, filled with release name -> one line naming the
            values plugins contributed (``contribute_values``) and that they may
            name objects only apply creates (``pre_exec``: a Secret, CRDs).
        :return: release name -> rendered manifest, in dependency order.

        Example::

            manifests = project.template("rendered/", targets=["web"])
            print(manifests["web"][:200])
        """
        from firestream_core.plugin.helpers import add_chart_repository

        folder = _output_folder(output_dir) if output_dir is not None else None  # before any helm call
        wanted = set(targets) if targets is not None else None
        if folder is not None:  # a values file named like a release (values/api.yaml) is not replaced
            ours = self._files_read()
            for name in self.graph().order():
                target = folder / f"{name}.yaml"
                if (wanted is None or name in wanted) and os.path.realpath(target) in ours:
                    from firestream_core.errors import FirestreamError

                    raise FirestreamError(
                        f"template: cannot write {target}: it is {ours[os.path.realpath(target)]}, which the "
                        f"manifest of release '{name}' would replace",
                        hint="pass --output-dir a folder of its own")
        _, helm, kubectl = self.tools()
        repos = self.repositories()
        desired = self.desired_states(helm=helm, kubectl=kubectl, names=wanted)  # what apply deploys
        out: dict[str, str] = {}
        for name in self.graph().order():
            if wanted is not None and name not in wanted:
                continue
            info = desired[name].chart.chart_info
            if info.action is HelmAction.DESTROY:
                continue
            if notes is not None and desired[name].contributed:
                notes[name] = _contributed_note(desired[name].contributed)
            add_chart_repository(helm, info, repos)
            out[name] = helm.template(info, self.project_dir)
        if folder is not None:
            for name, text in out.items():
                target = folder / f"{name}.yaml"
                try:
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    with os.fdopen(fd, "w", encoding="utf-8") as fh:
                        # a file that was there keeps its mode through O_CREAT: made 0600 before
                        # a rendered Secret (or a sensitive value) is written into it
                        os.fchmod(fh.fileno(), 0o600)
                        fh.write(text)
                except OSError as exc:
                    raise _cannot_write_output(target, exc) from None
        if masked:
            from firestream_core.tools.manifests import mask_manifest

            return {name: mask_manifest(text, self.redactor) for name, text in out.items()}
        return out
