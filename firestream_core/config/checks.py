"""Checks of single values that the types alone do not make: names, bounds, references.

Run by the structure pass (``parse.py``) on ``[defaults]``, every release
and ``[state]``, so that each problem is reported where it is written
(``defaults.namespace``, not the release that inherits it):

* release names (DNS-1123 label, at most 53 characters) and namespaces
  (DNS-1123 label, at most 63);
* chart references: no whitespace; an ``oci://`` reference needs a host and
  a chart path (``converter.url_problem``);
* ``set`` keys are not empty; ``values_files`` entries are not empty strings;
* the Kubernetes state backend: a name (``[state] name`` or ``[project]
  name``) that is a valid object name, a valid namespace, no ``path``, a
  ``lease_duration`` of at least 1s.

Durations are bounded (at most 24h) by the converter itself. Messages quote
the offending part, never a value from ``values``, ``set`` or ``secret_values``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from firestream_core.config.converter import url_problem
from firestream_core.config.model import ReleaseConfig
from firestream_core.config.paths import join_path
from firestream_core.model import check_namespace_name, check_release_name

if TYPE_CHECKING:
    from firestream_core.config.model import ProjectSection, ReleaseKeys, Settings, StateConfig

INT_BOUNDS = {"retries": 100, "history_max": 1_000_000}
"""The largest accepted value of each integer release key (sizes that reach helm or the scheduler)."""
MAX_CONCURRENCY = 10_000

STATE_OBJECT_NAME = r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?"
"""A DNS-1123 subdomain: the Secret and Lease of the Kubernetes state backend (a pattern,
compiled on first use: only a project naming them needs it)."""
MIN_LEASE_SECONDS = 1


def _try(where: str, key: str, fn: Callable[[str], object], value: str) -> list[str]:
    """``fn(value)``'s refusal as a problem at ``where.key`` (the path is worded only then)."""
    try:
        fn(value)
    except ValueError as exc:
        return [f"{join_path(where, key)}: {exc}"]
    return []


def release_key_problems(keys: ReleaseKeys, where: str) -> list[str]:
    """Names, namespaces, chart references and ``set``/``values_files`` entries of one table."""
    out: list[str] = []
    name = keys.name if isinstance(keys, ReleaseConfig) else None  # [defaults] has no name
    if name is not None:
        out += _try(where, "name", check_release_name, name)
    if keys.namespace is not None and keys.namespace.lower() != "custom":
        out += _try(where, "namespace", check_namespace_name, keys.namespace)
    if keys.custom_namespace is not None:
        out += _try(where, "custom_namespace", check_namespace_name, keys.custom_namespace)
    if keys.chart is not None:
        out += chart_ref_problems(keys.chart, join_path(where, "chart"))
    if keys.repository is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", keys.repository):
        out.append(
            f"{join_path(where, 'repository')}: invalid repository name '{keys.repository}' "
            "(a name from [repositories]: letters, digits, '-' and '_')"
        )
    for key, value in (("retries", keys.retries), ("history_max", keys.history_max)):
        bound = INT_BOUNDS[key]
        if value is not None and value > bound:
            out.append(f"{join_path(where, key)}: {value} is over the bound of {bound}")
    for i, s in enumerate(keys.set or ()):
        if not s.key.strip():
            out.append(f"{join_path(join_path(where, 'set'), i)}.key: must not be empty")
        elif any(c.isspace() for c in s.key):
            out.append(f"{join_path(join_path(where, 'set'), i)}.key: '{s.key}' contains a space")
    for i, f in enumerate(keys.values_files or ()):
        if not f.strip():
            out.append(f"{join_path(join_path(where, 'values_files'), i)}: must not be empty")
    for i, g in enumerate(keys.yaml_files_content or ()):
        if not g.filename.strip():
            out.append(f"{join_path(join_path(where, 'yaml_files_content'), i)}.filename: must not be empty")
    for i, pattern in enumerate(keys.sensitive_keys or ()):
        if not pattern.strip():
            out.append(f"{join_path(join_path(where, 'sensitive_keys'), i)}: must not be empty")
        elif any(c.isspace() for c in pattern):
            out.append(f"{join_path(join_path(where, 'sensitive_keys'), i)}: '{pattern}' contains a space")
    return out


def chart_ref_problems(chart: str, where: str) -> list[str]:
    """A ``chart`` value: not empty, no whitespace; an ``oci://`` reference parsed."""
    if not chart.strip():
        return [f"{where}: must not be empty"]
    if chart.startswith("oci:"):
        if not chart.startswith("oci://"):
            return [f"{where}: an OCI reference starts with 'oci://'"]
        problem = url_problem(chart, chart=True)
        return [f"{where}: {problem}"] if problem else []
    if "://" in chart:
        scheme = chart.split("://", 1)[0]
        return [
            f"{where}: scheme '{scheme}' is not a chart reference "
            "(expected 'repo/chart', a chart name with 'repository', or an oci:// URL)"
        ]
    bad = next((c for c in chart if c.isspace()), None)
    if bad is not None:
        return [f"{where}: '{chart.strip()}' contains a space"]
    return []


def settings_problems(settings: Settings) -> list[str]:
    """``[settings]``: ``concurrency`` bounded."""
    if settings.concurrency > MAX_CONCURRENCY:
        return [f"settings.concurrency: {settings.concurrency} is over the bound of {MAX_CONCURRENCY}"]
    return []


def state_problems(state: StateConfig, project: ProjectSection, raw: Mapping[str, Any]) -> list[str]:
    """``[state]``: what the Kubernetes backend needs (docs/state.md), the lease bound."""
    from firestream_core.model import parse_duration

    out: list[str] = []
    if "lease_duration" in raw:
        try:
            lease = parse_duration(state.lease_duration)
        except ValueError:
            lease = MIN_LEASE_SECONDS  # already reported by the converter
        if lease < MIN_LEASE_SECONDS:
            out.append(f"state.lease_duration: '{state.lease_duration}' is below the minimum of 1s")
    if state.backend != "kubernetes":
        return out
    if state.path is not None:
        out.append("state.path: applies to the local backend only (the kubernetes backend keeps a Secret)")
    if state.namespace is not None:
        out += _try("state", "namespace", check_namespace_name, state.namespace)
    if state.name is not None:
        n = state.name
        if not n or len(n) > 253 or not re.fullmatch(STATE_OBJECT_NAME, n):
            out.append(
                f"state.name: {n!r} is not a valid Kubernetes object name (lower-case letters, "
                "digits, '-' and '.', starting and ending with a letter or digit, at most 253)"
            )
    elif not project.name:
        out.append(
            "state.name: required with backend = \"kubernetes\" (or set [project] name): a name "
            "taken from the folder would give two checkouts two different states"
        )
    return out
