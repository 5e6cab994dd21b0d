"""``firestream import deployment NAME``: take a release installed with helm under management.

The release's chart, version and user-supplied values are read from the
cluster (``helm list`` and ``helm get values``, never printed) and a
``[[deployments.<type>]]`` block is **appended** to ``firestream.toml`` as
text: the user's file is never re-serialised, so comments and layout stay.
Values under a key that looks secret (``password``, ``secret``, ``token``,
``key``, ...) never go into the file: they are written to a separate values
file created with mode 0600 (``values/<name>.secret.yaml``) and the result
carries a warning. The other values are written inline as TOML (or, when TOML
cannot hold them, e.g. a ``null``, to ``values/<name>.yaml``).

The import is recorded in the state file (values digest, revision, chart
version), so the next plan shows the release as ``no-op``.
"""

from __future__ import annotations

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

__all__ = ["ImportInput", "ImportResult", "import_release", "split_secret_values", "toml_block"]

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
    """``(plain, secret, secret_keys)``: every subtree under a secret-looking key goes to ``secret``."""
    from firestream_core.tools.redact import looks_secret

    keys: list[str] = []

    def walk(node: Mapping[str, Any], prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
        plain: dict[str, Any] = {}
        secret: dict[str, Any] = {}
        for k, v in node.items():
            dotted = f"{prefix}.{k}" if prefix else str(k)
            if looks_secret(k):
                secret[k] = v
                keys.append(dotted)
            elif isinstance(v, Mapping):
                p, s = walk(v, dotted)
                if p or not s:
                    plain[k] = p
                if s:
                    secret[k] = s
            else:
                plain[k] = v
        return plain, secret

    plain, secret = walk(values, "")
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


def _write_new(path: Path, text: str, mode: int) -> None:
    """Create ``path`` with ``mode`` (never overwriting an existing file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise FirestreamError(f"{path} already exists; move it away to import again") from None
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


def import_release(
    project: ImportInput,
    name: str,
    namespace: str | None = None,
    chart_type: str | None = None,
    *,
    chart: str | None = None,
) -> ImportResult:
    """Append the release to the project's file and record it in state (see the module docstring).

    :param name: the helm release name.
    :param namespace: its namespace (needed when the name exists in several).
    :param chart_type: the ``[[deployments.<type>]]`` key (default ``generic``).
    :param chart: the chart reference to write (``repo/chart``, ``oci://...``);
        default: the chart's name as helm reports it, with a warning.
    :raises FirestreamError: unknown, ambiguous or undeployed release, a
        release already in the file, or a block that would not load.
    """
    from firestream_core.state.lock import utc_now
    from firestream_core.state.store import ReleaseState
    from firestream_core.tools.values import values_digest

    if name in project.names:
        raise FirestreamError(f"release '{name}' is already defined in {project.path}")
    ctype = chart_type or "generic"
    project.manager.chart_type(ctype)  # raises naming the installed chart types
    helm = project.helm
    backend = project.backend
    with backend.lock(f"firestream import deployment {name}"):
        rel = _find(helm.list_releases(), name, namespace)
        values = dict(helm.get_values(rel.name, rel.namespace) or {})
        project.redactor.add_values(values)
        plain, secret, secret_keys = split_secret_values(values)

        warnings: list[str] = []
        fields: dict[str, Any] = {"name": rel.name, "namespace": rel.namespace}
        ref = chart
        if ctype == "generic" or chart:
            ref = chart or rel.chart_name
            fields["chart"] = ref
        fields["version"] = rel.chart_version or None
        comments = [
            f"imported by 'firestream import deployment {rel.name}' on {utc_now()}: "
            f"chart {rel.chart_name} {rel.chart_version}, revision {rel.revision}",
        ]
        if ctype == "generic" and not chart:
            comments.append("helm does not record where the chart came from: set repository (or chart =")
            comments.append(f"\"<repo>/{rel.chart_name}\", or path) before the next upgrade")
            warnings.append(
                f"helm does not record the chart's repository: edit the block of '{rel.name}' in "
                f"{project.path.name} (repository, chart or path) before it is next upgraded"
            )

        files: list[str] = []
        secret_path: Path | None = None
        plain_path: Path | None = None
        if secret:
            rel_file = SECRET_FILE.format(name=rel.name)
            secret_path = project.project_dir / rel_file
            files.append(rel_file)
        inline: dict[str, Any] | None = plain
        try:
            block = toml_block(ctype, {**fields, "values_files": files or None}, plain, comments)
            parsed = tomllib.loads(block)
            element = parsed["deployments"][ctype][0]
            if element.get("values", {}) != plain:
                raise _NotToml("round trip")
        except (_NotToml, tomllib.TOMLDecodeError):
            inline = None
        if inline is None:
            rel_plain = PLAIN_FILE.format(name=rel.name)
            plain_path = project.project_dir / rel_plain
            files.insert(0, rel_plain)
            block = toml_block(ctype, {**fields, "values_files": files}, None, comments)

        original = project.path.read_text(encoding="utf-8")
        joined = original + ("" if original.endswith("\n") or not original else "\n") + block
        try:
            tomllib.loads(joined)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"cannot append the release to {project.path}: the result would not be valid TOML ({exc})",
                hint=f"a single-table [deployments.{ctype}] cannot be followed by [[deployments.{ctype}]]; "
                "turn it into [[deployments." + ctype + "]] first",
            ) from None
        from firestream_core.config.build import build_charts
        from firestream_core.config.parse import parse_config

        build_charts(parse_config(tomllib.loads(joined), project.path), project.manager)

        if plain_path is not None:
            _write_new(plain_path, _dump_yaml(plain), 0o644)
        if secret_path is not None:
            _write_new(secret_path, _dump_yaml(secret), 0o600)
            warnings.append(
                f"values that look secret ({', '.join(secret_keys)}) were written to {secret_path} "
                "(mode 0600), not to the config: keep that file out of version control, or move "
                "them to secret_values"
            )
        with project.path.open("a", encoding="utf-8") as fh:
            if original and not original.endswith("\n"):
                fh.write("\n")
            fh.write(block)

        new_chart = project.load_chart(rel.name)
        state = backend.load()
        state.record(
            ReleaseState(
                name=rel.name,
                namespace=rel.namespace,
                chart_type=new_chart.chart_type,
                chart=new_chart.chart_info.chart_ref,
                version=rel.chart_version or None,
                values_digest=values_digest(new_chart.chart_info, project.project_dir),
                revision=rel.revision,
                applied_at=utc_now(),
                action="import",
                result="succeeded",
                duration=0.0,
            )
        )
        backend.save(state)
    return ImportResult(
        name=rel.name,
        namespace=rel.namespace,
        chart_type=new_chart.chart_type,
        chart=ref or new_chart.chart_info.chart_ref,
        version=rel.chart_version,
        revision=rel.revision,
        config_path=project.path,
        values_file=secret_path,
        plain_values_file=plain_path,
        secret_keys=tuple(secret_keys),
        value_keys=len(values),
        warnings=tuple(warnings),
    )
