"""``firestream import deployment NAME``: take a release installed with helm under management.

The release's chart, version and user-supplied values are read from the
cluster (``helm list`` and ``helm get values``, never printed) and a complete
``[[deployments.<type>]]`` block (name, namespace, chart, repository,
version, values) is **appended** to ``firestream.toml`` as text: the user's
file is never re-serialised, so comments and layout stay. helm does not
record where a chart came from: the repository is the one named
(``--chart repo/chart``, ``--repository``), else the one of the user's helm
repositories holding that chart at that version (``helm search repo``, no
cluster call); when ``[repositories]`` lacks it, its URL (``--repo-url``, the
chart types' defaults or ``helm repo list``) is added on a line under the
``[repositories]`` header (or in a new ``[repositories]`` table). Reading the
user's helm repositories (``Helm.repo_list`` / ``Helm.search_repo``) is import's
alone, and it never writes them: every run after it finds the chart through that
URL, in the run's own repositories (``tools/helm_repos.py``); when the project
already gives the repository another URL than the user's helm does, the result
warns that the next apply uses the project's. When the
repository cannot be told, nothing is written and the error says which flags
to pass. The file is replaced atomically (``locate_chart``, ``_block``,
``_joined_text``, ``_check_loads``, ``_write_all``, ``_record``: the steps
of ``import_release``).
Values under a key that looks secret (``password``, ``secret``, ``token``,
``key``, ...), and any other value :mod:`firestream_core.tools.sensitivity` calls
sensitive (``tls.key``, a list holding a password or an ``{name: DB_PASSWORD,
value: ...}`` pair, whole), never go into the file: they are written to a separate values
file created with mode 0600 (``values/<name>.secret.yaml``) and the result
carries a warning. The other values are written inline as TOML (or, when TOML
cannot hold them, e.g. a ``null``, to ``values/<name>.yaml``).

The import is recorded in the state file (values digest, revision, chart
version), so the next plan shows the release as ``no-op``; under a chart type
whose defaults add values helm does not hold, as an ``upgrade`` naming them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.errors import ConfigError, FirestreamError

if TYPE_CHECKING:
    from firestream_core.model import HelmChart, InstalledRelease
    from firestream_core.plugin.manager import FirestreamPluginManager
    from firestream_core.state.store import StateBackend
    from firestream_core.tools.helm import Helm
    from firestream_core.tools.redact import Redactor

__all__ = ["ChartSource", "ImportInput", "ImportResult", "import_release", "locate_chart", "split_secret_values", "toml_block"]

SECRET_FILE = "values/{name}.secret.yaml"
PLAIN_FILE = "values/{name}.yaml"
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


@attrs.frozen
class ImportResult:
    """What ``import`` did.

    :ivar config_path: the file the block was appended to.
    :ivar values_file: the 0600 file holding the secret-looking values, if any.
    :ivar plain_values_file: the values file used when TOML could not hold the values.
    :ivar secret_keys: dotted names of the values moved to ``values_file``.
    :ivar value_keys: how many top-level value keys were imported.
    :ivar warnings: things the user should act on (never a value).
    """

    name: str
    namespace: str
    chart_type: str
    chart: str
    version: str
    revision: int
    config_path: Path
    values_file: Path | None = None
    plain_values_file: Path | None = None
    secret_keys: tuple[str, ...] = ()
    value_keys: int = 0
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.name,
            "namespace": self.namespace,
            "chart_type": self.chart_type,
            "chart": self.chart,
            "version": self.version,
            "revision": self.revision,
            "config_path": str(self.config_path),
            "values_file": str(self.values_file) if self.values_file else None,
            "plain_values_file": str(self.plain_values_file) if self.plain_values_file else None,
            "secret_keys": list(self.secret_keys),
            "warnings": list(self.warnings),
        }


# -- values --------------------------------------------------------------------------------------


def split_secret_values(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """``(plain, secret, secret_keys)``: every subtree under a secret-looking key goes to ``secret``,
    and every value the sensitivity model calls sensitive (``tls.key``, the ``value`` of an
    ``{name: DB_PASSWORD, value: ...}`` pair). helm replaces a list rather than merging it, so a
    list holding a sensitive value goes to ``secret`` whole (``creds: [{user, password}]``)."""
    from firestream_core.tools.redact import looks_secret
    from firestream_core.tools.sensitivity import sensitive_leaves

    keys: list[str] = []
    sensitive = {path for path, _ in sensitive_leaves(values)}

    def walk(node: Mapping[str, Any], prefix: str, at: str) -> tuple[dict[str, Any], dict[str, Any]]:
        plain: dict[str, Any] = {}
        secret: dict[str, Any] = {}
        for k, v in node.items():
            dotted = f"{prefix}.{k}" if prefix else str(k)
            path = str(k).replace(".", "\\.")  # a values path, as sensitive_leaves writes it
            path = f"{at}.{path}" if at else path
            if isinstance(v, Mapping) and not looks_secret(k):
                p, s = walk(v, dotted, path)
                if p or not s:
                    plain[k] = p
                if s:
                    secret[k] = s
            elif looks_secret(k) or path in sensitive or (
                isinstance(v, list | tuple) and any(x.startswith(path + "[") for x in sensitive)
            ):
                secret[k] = v
                keys.append(dotted)
            else:
                plain[k] = v
        return plain, secret

    plain, secret = walk(values, "", "")
    return plain, secret, keys


class _NotToml(ValueError):
    """A value TOML cannot hold (``null``)."""


def _key(k: Any) -> str:
    k = str(k)
    return k if _BARE.match(k) else json.dumps(k, ensure_ascii=False)


def _toml_value(v: Any) -> str:
    if v is None:
        raise _NotToml("null")
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "nan"
        if v in (float("inf"), float("-inf")):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise _NotToml(type(v).__name__)


def toml_block(
    chart_type: str,
    fields: Mapping[str, Any],
    values: Mapping[str, Any] | None,
    comments: list[str],
) -> str:
    """The ``[[deployments.<type>]]`` text (raises ``_NotToml`` when ``values`` cannot be TOML)."""
    t = _key(chart_type)
    lines = ["", *[f"# {c}" for c in comments], f"[[deployments.{t}]]"]
    for k, v in fields.items():
        if v is not None:
            lines.append(f"{_key(k)} = {_toml_value(v)}")
    if values:
        lines += ["", f"[deployments.{t}.values]"]
        lines += [f"{_key(k)} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def _write_new(path: Path, text: str, mode: int, created: list[Path]) -> None:
    """Create ``path`` with ``mode`` (never overwriting an existing file); what it created
    (the folders it made, then the file) is added to ``created``."""
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    created += reversed(missing)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise FirestreamError(f"{path} already exists; move it away to import again") from None
    created.append(path)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, mode)


def _dump_yaml(data: Mapping[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=False, allow_unicode=True)


# -- the import ---------------------------------------------------------------------------------


def _find(installed: list[InstalledRelease], name: str, namespace: str | None) -> InstalledRelease:
    found = [r for r in installed if r.name == name and (namespace is None or r.namespace == namespace)]
    where = f" in namespace '{namespace}'" if namespace else ""
    if not found:
        raise FirestreamError(f"no helm release named '{name}'{where} in the cluster")
    if len(found) > 1:
        spaces = ", ".join(sorted(r.namespace for r in found))
        raise FirestreamError(
            f"helm release '{name}' exists in several namespaces ({spaces})",
            hint="choose one with --namespace",
        )
    rel = found[0]
    if rel.status != "deployed":
        raise FirestreamError(
            f"helm release '{name}' in namespace '{rel.namespace}' is {rel.status}; only a deployed "
            "release can be imported",
            hint="repair it with helm first (rollback or uninstall)",
        )
    return rel


@attrs.frozen
class ImportInput:
    """What an import needs of its project (the project builds it)."""

    names: frozenset[str]
    """The releases already in the file."""
    path: Path
    """The ``firestream.toml`` the block is appended to."""
    project_dir: Path
    manager: FirestreamPluginManager
    helm: Helm
    backend: StateBackend
    redactor: Redactor
    load_chart: Callable[[str], HelmChart]
    """The named release's chart, from the file read again (after the append)."""
    repositories: Mapping[str, str] = attrs.field(factory=dict)
    """Repository name -> URL the project knows: ``[repositories]`` and the chart types' defaults."""
    config_repositories: Mapping[str, str] = attrs.field(factory=dict)
    """Only those written in the file's ``[repositories]`` (the others are added to it)."""
    lock_timeout: float = 0.0
    """Seconds to wait for the project lock another run holds (0: refuse at once)."""
    locked: bool = False
    """The caller holds the project lock already (``Project.lock``): it is not taken again."""
    cluster: str | None = None
    """The API server the project's kubeconfig names (``Project.cluster_identity``), recorded with
    each release (``ReleaseState.cluster``)."""


@attrs.frozen
class ChartSource:
    """Where the imported release's chart comes from, as the block will say it.

    :ivar chart: the ``chart`` to write (None: the chart type's own).
    :ivar repository: the ``repository`` to write (None for ``oci://`` and the chart type's own).
    :ivar add_url: the URL to add to ``[repositories]`` under ``repository`` (None: already known).
    :ivar warning: the user's own helm repository of that name has another URL than the
        project's: the runs after the import use the project's (None: nothing to say).
    """

    chart: str | None
    repository: str | None = None
    add_url: str | None = None
    warning: str | None = None


def import_release(
    project: ImportInput,
    name: str,
    namespace: str | None = None,
    chart_type: str | None = None,
    *,
    chart: str | None = None,
    repository: str | None = None,
    repo_url: str | None = None,
) -> ImportResult:
    """Append the release to the project's file and record it in state (see the module docstring).

    The block is complete: ``name``, ``namespace``, ``chart``, ``repository``
    (added to ``[repositories]`` with its URL when the file lacks it),
    ``version`` and the values, so the next plan is a no-op and the next
    upgrade finds the chart.

    :param name: the helm release name.
    :param namespace: its namespace (needed when the name exists in several).
    :param chart_type: the ``[[deployments.<type>]]`` key (default ``generic``).
    :param chart: the chart reference (``repo/chart``, ``oci://...``, a chart
        name); default: the chart's name as helm reports it.
    :param repository: the repository name, when ``chart`` does not say it.
    :param repo_url: the repository's URL, when neither the project nor helm knows it.
    :raises FirestreamError: unknown, ambiguous or undeployed release, a
        release already in the file, a chart whose repository cannot be told,
        or a block that would not load.
    """
    from firestream_core.model import check_namespace_name, check_release_name

    try:  # a name no release can have: said before any helm call (nor the lock)
        check_release_name(name)
        if namespace is not None:
            check_namespace_name(namespace)
    except ValueError as exc:
        raise FirestreamError(f"cannot import: {exc}") from None
    if repo_url is not None:  # what [repositories] would refuse when the block is checked, after helm's calls
        from firestream_core.config.converter import repository_url_problem

        problem = repository_url_problem(repo_url)
        if problem:
            raise FirestreamError(f"cannot import: the repository URL (--repo-url): {problem}")
    if chart is not None and (chart.startswith((".", "/", "~")) or "\\" in chart):
        raise FirestreamError(  # read as repository '.', it failed after the lock and helm's list
            f"cannot import: --chart '{chart}' is a local path; import writes a repository chart "
            "(repo/chart, or a chart name with --repository) or an oci:// URL. For a local chart, "
            f"add the block with path = \"{chart}\" to {project.path.name} yourself and run "
            "'firestream plan'"
        )
    if name in project.names:
        raise FirestreamError(f"release '{name}' is already defined in {project.path}")
    ctype = chart_type or "generic"
    project.manager.chart_type(ctype)  # raises naming the installed chart types
    held: contextlib.AbstractContextManager[Any] = (
        contextlib.nullcontext() if project.locked
        else project.backend.lock(f"firestream import deployment {name}", timeout=project.lock_timeout))
    with held:
        # the state is written last: one it cannot read (damaged, from a newer firestream) is
        # refused first, before helm is asked and before the project file is touched
        project.backend.load()
        rel = _find(project.helm.list_releases(), name, namespace)
        source = locate_chart(project, rel, ctype, chart, repository, repo_url)
        values = dict(project.helm.get_values(rel.name, rel.namespace) or {})
        project.redactor.add_values(values)
        plain, secret, secret_keys = split_secret_values(values)
        block, plain_path, secret_path = _block(project, rel, ctype, source, plain, bool(secret))
        with open(project.path, encoding="utf-8", newline="") as f:  # its line ends as they are
            raw = f.read()
        joined = _joined_text(raw.replace("\r\n", "\n"), block, source)
        _check_loads(project, joined, ctype, source)
        if "\r\n" in raw:  # a file written with CRLF line ends keeps them, the block's included
            joined = joined.replace("\n", "\r\n")
        _write_all(project.path, joined, plain, plain_path, secret, secret_path)
        warnings = ([source.warning] if source.warning else []) + _secret_warnings(secret_path, secret_keys)
        new_chart = project.load_chart(rel.name)
        _record(project, rel, new_chart, values)
    return ImportResult(
        name=rel.name,
        namespace=rel.namespace,
        chart_type=new_chart.chart_type,
        chart=source.chart or new_chart.chart_info.chart_ref,
        version=rel.chart_version,
        revision=rel.revision,
        config_path=project.path,
        values_file=secret_path,
        plain_values_file=plain_path,
        secret_keys=tuple(secret_keys),
        value_keys=len(values),
        warnings=tuple(warnings),
    )


def locate_chart(
    project: ImportInput,
    rel: InstalledRelease,
    ctype: str,
    chart: str | None,
    repository: str | None,
    repo_url: str | None,
) -> ChartSource:
    """The chart, its repository and the URL to add, from the flags, the project and helm's repositories.

    helm does not record where a chart came from: the repository is the one
    named (``--chart repo/chart`` or ``--repository``), else the one of the
    user's helm repositories (``helm search repo``, local) that holds this
    chart at this version. Its URL comes from ``--repo-url``, the project, or
    helm's repository list.

    :raises FirestreamError: the repository cannot be told, or has no known URL.
    """
    if chart is not None and chart.startswith("oci://"):
        return ChartSource(chart)
    if chart is None and ctype != "generic" and repository is None and repo_url is None:
        return ChartSource(None)  # the chart type's own chart and repository
    chart_name = chart or rel.chart_name
    if "/" in chart_name:
        repository, chart_name = chart_name.split("/", 1)
    helm_repos: dict[str, str] | None = None

    def helm_known() -> dict[str, str]:
        nonlocal helm_repos
        if helm_repos is None:
            helm_repos = project.helm.repo_list()
        return helm_repos

    if repository is None and repo_url is not None:
        same = [n for n, u in {**helm_known(), **project.repositories}.items() if u.rstrip("/") == repo_url.rstrip("/")]
        repository = same[0] if same else _name_from_url(repo_url)
    if repository is None:
        found = sorted({n.split("/", 1)[0] for n in project.helm.search_repo(chart_name, rel.chart_version or None)})
        preferred = [r for r in found if r in project.repositories] or found
        if len(preferred) > 1:
            raise FirestreamError(
                f"chart '{chart_name}' {rel.chart_version} is in several of your helm repositories "
                f"({', '.join(preferred)}); helm does not record which one release '{rel.name}' came from",
                hint=f"pass --chart <repo>/{chart_name}",
            )
        if not preferred:
            raise FirestreamError(
                f"helm does not record where the chart of release '{rel.name}' ({chart_name} "
                f"{rel.chart_version}) came from, and none of your helm repositories holds it",
                hint=f"pass --chart <repo>/{chart_name} --repo-url <url>, or --chart oci://<registry>/.../{chart_name}",
            )
        repository = preferred[0]
    url = repo_url or project.repositories.get(repository) or helm_known().get(repository)
    if url is None:
        raise FirestreamError(
            f"repository '{repository}' of release '{rel.name}' has no known URL "
            "(not in [repositories], a chart type's defaults or helm's repository list)",
            hint="pass --repo-url <url>",
        )
    known = project.config_repositories.get(repository) or project.repositories.get(repository)
    if known is not None and repo_url is not None and known.rstrip("/") != repo_url.rstrip("/"):
        raise FirestreamError(
            f"repository '{repository}' is already {known} in {project.path.name}, not {repo_url}",
            hint="choose another name with --repository",
        )
    written = chart if chart is not None and "/" in chart else chart_name
    warning = None
    if known is not None and repo_url is None:
        mine = helm_known().get(repository)
        if mine is not None and mine.rstrip("/") != known.rstrip("/"):  # the user's URL never shown
            warning = (
                f"your helm repository '{repository}' has another URL than the project's ({known}): "
                f"firestream never uses your helm repositories, so the next apply upgrades release "
                f"'{rel.name}' from {known}; to keep its chart coming from yours, set "
                f"{repository} = \"<its URL>\" under [repositories]"
            )
    return ChartSource(written, repository, None if known is not None else url, warning)


def _name_from_url(url: str) -> str:
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "charts").split(".")[0]
    return re.sub(r"[^A-Za-z0-9_-]+", "-", host).strip("-") or "charts"


def _block(
    project: ImportInput,
    rel: InstalledRelease,
    ctype: str,
    source: ChartSource,
    plain: dict[str, Any],
    has_secret: bool,
) -> tuple[str, Path | None, Path | None]:
    """The block's text, and the plain / secret values files it names (None: not needed)."""
    from firestream_core.state.lock import utc_now

    fields: dict[str, Any] = {"name": rel.name, "namespace": rel.namespace}
    if source.chart is not None:
        fields["chart"] = source.chart
    if source.repository is not None:
        fields["repository"] = source.repository
    fields["version"] = rel.chart_version or None
    comments = [
        f"imported by 'firestream import deployment {rel.name}' on {utc_now()}: "
        f"chart {rel.chart_name} {rel.chart_version}, revision {rel.revision}",
    ]
    files: list[str] = []
    secret_path: Path | None = None
    plain_path: Path | None = None
    if has_secret:
        rel_file = SECRET_FILE.format(name=rel.name)
        secret_path = project.project_dir / rel_file
        files.append(rel_file)
    try:
        block = toml_block(ctype, {**fields, "values_files": files or None}, plain, comments)
        element = tomllib.loads(block)["deployments"][ctype][0]
        if element.get("values", {}) != plain:
            raise _NotToml("round trip")
    except (_NotToml, tomllib.TOMLDecodeError):
        rel_plain = PLAIN_FILE.format(name=rel.name)
        plain_path = project.project_dir / rel_plain
        files.insert(0, rel_plain)
        block = toml_block(ctype, {**fields, "values_files": files}, None, comments)
    return block, plain_path, secret_path


_REPOSITORIES_HEADER = re.compile(r"(?m)^[ \t]*\[[ \t]*repositories[ \t]*\][ \t]*(?:#.*)?$")


def _joined_text(original: str, block: str, source: ChartSource) -> str:
    """The file with the block appended and, when needed, the repository added to ``[repositories]``.

    The user's text is never re-serialised: the repository line goes right
    under the ``[repositories]`` header, or a new ``[repositories]`` table
    is appended when the file has none.
    """
    text = original
    if source.add_url is not None and source.repository is not None:
        line = f"{_key(source.repository)} = {json.dumps(source.add_url)}"
        m = _REPOSITORIES_HEADER.search(text)
        if m:
            text = text[: m.end()] + "\n" + line + text[m.end():]
        else:
            sep = "" if text.endswith("\n") or not text else "\n"
            text = text + sep + "\n[repositories]\n" + line + "\n"
    return text + ("" if text.endswith("\n") or not text else "\n") + block


def _check_loads(project: ImportInput, joined: str, ctype: str, source: ChartSource) -> None:
    """The file as it will be is valid TOML and a valid project (nothing is written otherwise).

    The hint names what the new text clashes with: the repository line (``[repositories]``
    written inline or as dotted keys, where no line can be added under a header), else the
    block (a single-table ``[deployments.<type>]``).
    """
    try:
        data = tomllib.loads(joined)
    except tomllib.TOMLDecodeError as exc:
        hint = (f"a single-table [deployments.{ctype}] cannot be followed by [[deployments.{ctype}]]; "
                "turn it into [[deployments." + ctype + "]] first")
        if source.add_url is not None and source.repository is not None and "'repositories'" in str(exc):
            hint = (f"the file gives its repositories in a form import cannot add a line to (not a "
                    f"[repositories] table): add {_key(source.repository)} = \"<its URL>\" to them yourself, "
                    "then import again")
        raise ConfigError(
            f"cannot append the release to {project.path}: the result would not be valid TOML ({exc})",
            hint=hint,
        ) from None
    from firestream_core.config.build import build_charts
    from firestream_core.config.parse import parse_config

    build_charts(parse_config(data, project.path), project.manager)


def _write_all(
    config: Path,
    joined: str,
    plain: dict[str, Any],
    plain_path: Path | None,
    secret: dict[str, Any],
    secret_path: Path | None,
) -> None:
    """Write the values files the block names, then the project file, as one step: when any
    write fails (a full disk, a read-only folder) the files this import created are removed
    and the project file is as it was, so running the import again once the cause is gone
    works (a values file left behind used to make it refuse: ``... already exists``)."""
    created: list[Path] = []
    try:
        for path, data, mode in ((plain_path, plain, 0o644), (secret_path, secret, 0o600)):
            if path is not None:
                _write_new(path, _dump_yaml(data), mode, created)
        atomic_text_write(config, joined)
    except BaseException as exc:
        for path in reversed(created):  # files first, then the folders made for them
            with contextlib.suppress(OSError):
                if path.is_dir():
                    path.rmdir()
                else:
                    path.unlink()
        if isinstance(exc, OSError):
            where = exc.filename or config
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise FirestreamError(
                f"cannot write {where}: {reason}; nothing was imported ({config.name} and the "
                "values files are as they were)",
                hint="make the project folder writable (and free some disk space), then run again",
            ) from exc
        raise


def _secret_warnings(secret_path: Path | None, secret_keys: list[str]) -> list[str]:
    """The warnings to show for the values written to ``secret_path`` (never a value)."""
    if secret_path is None:
        return []
    return [
        f"values that look secret ({', '.join(secret_keys)}) were written to {secret_path} "
        "(mode 0600), not to the config: keep that file out of version control, or move "
        "them to secret_values"
    ]


def atomic_text_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (same mode), so that a crash leaves the old or the new file."""
    from firestream_core.state.store import atomic_write

    mode = path.stat().st_mode & 0o777
    atomic_write(path, text, mode=mode)


def _record(project: ImportInput, rel: InstalledRelease, new_chart: HelmChart,
            held: Mapping[str, Any]) -> None:
    """The import in the state: the next plan compares against it (a no-op when nothing changed).

    The values digest is recorded only when the block's values are exactly those helm holds
    (``held``). Under a chart type (``--type``) its defaults or preset add values the release
    was never given: recording their digest would make the next plan a no-op while apply,
    ``template`` and ``diff`` work from other values, so none is recorded ("" as a run whose
    values are unknown), and the next plan compares with helm's values and lists what the
    chart type changes.
    """
    from firestream_core.deploy.plan import desired_values
    from firestream_core.deploy.results import ReleaseOutcome, release_state
    from firestream_core.tools.values import canonical_json, values_digest

    digest = values_digest(new_chart.chart_info, project.project_dir)
    if canonical_json(desired_values(new_chart, project.project_dir)) != canonical_json(dict(held)):
        digest = ""
    imported = ReleaseOutcome(rel.name, "import", "ok", namespace=rel.namespace, revision=rel.revision)
    state = project.backend.load()
    state.record(release_state(
        imported, new_chart, version=rel.chart_version or None, values_digest=digest, cluster=project.cluster,
    ))
    project.backend.save(state)
