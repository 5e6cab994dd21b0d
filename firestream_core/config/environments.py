"""``[environments.NAME]``: one file deployed to dev, staging and prod (``-e NAME``).

An environment is an overlay on the parsed TOML, applied before the file is
checked, so everything it sets is checked like the rest of the file::

    [environments.prod]
    kube_context = "prod-cluster"          # the kubeconfig context (unless --kube-context)
    namespace = "shop-prod"                # [defaults] namespace in this environment
    releases = ["db", "api"]               # only these releases are part of it
    values = { replicaCount = 3 }          # on top of every release's values
    values_files = ["values/prod.yaml"]    # after every release's values files

    [environments.prod.deployments.api]    # one release's overlay: any release key
    preset = "production"
    values = { resources.limits.cpu = "2" }

A release overlay's ``values`` are merged into the release's (maps deeply,
as helm merges), ``values_files`` and ``labels`` are added, other keys
replace the release's. Without ``-e`` the environments are ignored.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.config.converter import structure
from firestream_core.config.paths import join_path, type_name, unknown_key

if TYPE_CHECKING:
    from firestream_core.config.model import ProjectConfig

Layers = tuple[tuple[str, frozenset[str]], ...]
"""What an environment wrote into one release: (where it is written, the keys or leaf paths)."""

ENV_KEYS = ("kube_context", "namespace", "releases", "values", "values_files", "deployments")


@attrs.frozen
class Environment:
    """The environment a config was read for."""

    name: str
    kube_context: str | None = None
    overlaid: Mapping[str, Layers] = attrs.field(factory=dict)
    """A release's path in the merged config (``deployments.generic[1]``) -> what the environment
    wrote into it, the release's own overlay first: ``(environments.prod.deployments.api, its
    keys)``, then ``(environments.prod, values.<leaf paths>)`` for the environment's ``values``;
    a problem with one of them is reported where it is written (:func:`overlay_problem`)."""
    left_out: frozenset[str] = frozenset()
    """The releases the file defines that the environment's ``releases`` leaves out: a
    ``depends_on`` naming one is worded as such, not as a release the file lacks."""
    moved: Mapping[str, str] = attrs.field(factory=dict)
    """A kept release's path in the merged config (``deployments.generic[0]``) -> its path in
    the file (``deployments.generic[1]``) when ``releases`` left out one written before it:
    its problems are named at its own block (:func:`written_at`), not at the one before."""
    added: Mapping[str, str] = attrs.field(factory=dict)
    """An item the environment added to a release's ``values_files`` (its path in the merged
    config: ``deployments.generic[0].values_files[1]``) -> where the file writes it
    (``environments.prod.values_files[0]``, ``environments.prod.deployments.web.values_files[0]``):
    a missing or broken file is named there, once, not at the release with a shifted index."""


def overlay_problem(problem: str, overlaid: Mapping[str, Layers]) -> str:
    """``problem`` about a key an environment's release overlay set, named at the overlay
    (``environments.prod.deployments.api.timeout: ...``), or about a value of the environment's
    own ``values`` (``environments.prod.values.x``), instead of the release it was merged into;
    any other problem as it is. Of a table merged into the release's (``values``, ``labels``)
    only what the overlay wrote is its (the keys hold those paths: ``labels.tier``)."""
    for where, layers in overlaid.items():
        if problem.startswith(where + "."):
            at = problem[len(where) + 1:].split(": ", 1)[0]
            for source, keys in layers:
                if any(at == k or at.startswith((k + ".", k + "[")) for k in keys):
                    return source + problem[len(where):]
    return problem


_MERGED = ("values", "labels")
"""The release keys whose tables an overlay merges into the release's (``values_files`` is added)."""


def _overlay_keys(entry: Mapping[str, Any], overlay: Mapping[str, Any]) -> frozenset[str]:
    """What ``overlay`` writes into ``entry`` (before it is merged): its keys, and of a table
    merged into the release's, the paths of its own leaves (``values.image.tag``)."""
    out: set[str] = set()
    for key, value in overlay.items():
        if key in _MERGED and isinstance(value, Mapping) and isinstance(entry.get(key), Mapping) and value:
            out |= _leaf_paths(key, value)
        else:
            out.add(key)
    return frozenset(out)


def _leaf_paths(path: str, node: Any) -> frozenset[str]:
    """The paths of a table's leaves (``values.image.tag``); an array is one leaf (merging replaces it)."""
    if isinstance(node, Mapping) and node:
        return frozenset().union(*(_leaf_paths(join_path(path, str(k)), v) for k, v in node.items()))
    return frozenset({path})


def written_at(problem: str, config: ProjectConfig) -> str:
    """``problem`` (about the merged config of ``config``'s environment) named where the file
    says it: at the environment's item of ``values_files`` (:attr:`Environment.added`), at the
    release overlay that set the key (:func:`overlay_problem`), else at the release's own
    block when ``releases`` left out one before it (:attr:`Environment.moved`)."""
    for where, source in config.added.items():
        if problem.startswith((where + ":", where + ".")):
            return source + problem[len(where):]
    problem = overlay_problem(problem, config.overlaid)
    for where, source in config.moved.items():
        if problem.startswith((where + ".", where + ":", where + "[")):
            return source + problem[len(where):]
    return problem


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``tools.values.deep_merge`` (helm's merge), imported only when an environment merges
    values: ``validate`` of a project without environments or values files never needs
    ``tools.values`` (start-up, issue 13)."""
    from firestream_core.tools.values import deep_merge as merge

    return merge(base, override)


def _release_name(ctype: str, entry: Mapping[str, Any]) -> str:
    name = entry.get("name")
    return name if isinstance(name, str) and name else ctype


def _overlay_release(entry: dict[str, Any], overlay: Mapping[str, Any]) -> None:
    for key, value in overlay.items():
        if key == "values" and isinstance(value, Mapping) and isinstance(entry.get("values"), Mapping):
            entry["values"] = deep_merge(entry["values"], value)
        elif key in ("values_files",) and isinstance(value, list) and isinstance(entry.get(key), list):
            entry[key] = [*entry[key], *value]
        elif key == "labels" and isinstance(value, Mapping) and isinstance(entry.get("labels"), Mapping):
            entry["labels"] = {**entry["labels"], **value}
        else:
            entry[key] = copy.deepcopy(value)


def apply_environment(
    data: Mapping[str, Any], name: str | None, problems: list[str]
) -> tuple[dict[str, Any], Environment | None]:
    """``data`` with ``[environments]`` removed and, when ``name`` is given, its overlay applied.

    Problems (an unknown environment, a bad key, an unknown release) are appended.
    """
    out = dict(data)
    envs = out.pop("environments", {})
    if not isinstance(envs, Mapping):
        problems.append(f"environments: expected a table, got {type_name(envs)}")
        envs = {}
    for env_name, env in envs.items():
        where = join_path("environments", env_name)
        if not isinstance(env, Mapping):
            problems.append(f"{where}: expected a table, got {type_name(env)}")
            continue
        for key in env:
            if key not in ENV_KEYS:
                problems.append(unknown_key(where, key, ENV_KEYS))
    if name is None:
        return out, None
    env = envs.get(name)
    if not isinstance(env, Mapping):
        if name not in envs:  # one that is not a table was reported above
            known = ", ".join(f"'{e}'" for e in envs) or "none"
            problems.append(f"environments: unknown environment '{name}' (environments: {known})")
        return out, None
    where = join_path("environments", name)
    start = len(problems)
    for key, kind in (("kube_context", str), ("namespace", str), ("releases", tuple[str, ...]),
                      ("values_files", tuple[str, ...])):
        if key in env:  # the converter names the item: environments.prod.releases[1]
            problems.extend(structure(env[key], kind, join_path(where, key))[1])
    for key in ("values", "deployments"):
        if key in env and not isinstance(env[key], Mapping):
            problems.append(f"{where}.{key}: expected a table, got {type_name(env[key])}")
    if len(problems) > start:
        return out, None

    if "namespace" in env:
        defaults = dict(out.get("defaults", {})) if isinstance(out.get("defaults", {}), Mapping) else {}
        defaults["namespace"] = env["namespace"]
        out["defaults"] = defaults
    deployments = out.get("deployments", {})
    if not isinstance(deployments, Mapping):
        return out, Environment(name, env.get("kube_context"))
    enabled = env.get("releases")
    overlays: Mapping[str, Any] = env.get("deployments", {})
    seen: set[str] = set()
    overlaid: dict[str, Layers] = {}
    env_values = env.get("values")
    env_layer = (where, _leaf_paths("values", env_values)) if isinstance(env_values, Mapping) and env_values else None
    moved: dict[str, str] = {}
    added: dict[str, str] = {}
    new_deployments: dict[str, Any] = {}
    for ctype, entries in deployments.items():
        single = isinstance(entries, Mapping)
        items = [entries] if single else list(entries) if isinstance(entries, list) else None
        if items is None:
            new_deployments[ctype] = entries  # parse_config reports it
            continue
        kept: list[Any] = []
        for index, entry in enumerate(items):
            if not single and index != len(kept):  # an entry before it was left out
                moved[join_path(join_path("deployments", ctype), len(kept))] = join_path(
                    join_path("deployments", ctype), index)
            if not isinstance(entry, Mapping):
                kept.append(entry)
                continue
            rname = _release_name(ctype, entry)
            seen.add(rname)
            if enabled is not None and rname not in enabled:
                moved.pop(join_path(join_path("deployments", ctype), len(kept)), None)
                continue
            entry = copy.deepcopy(dict(entry))
            here = join_path("deployments", ctype) + ("" if single else f"[{len(kept)}]")
            if "values" in env:
                entry["values"] = deep_merge(entry.get("values", {}) if isinstance(entry.get("values"), Mapping)
                                         else {}, env["values"])
            if "values_files" in env:
                own = entry.get("values_files", [])
                entry["values_files"] = [*(own if isinstance(own, list) else []), *env["values_files"]]
                _added(added, here, len(entry["values_files"]) - len(env["values_files"]),
                       join_path(where, "values_files"), len(env["values_files"]))
            overlay = overlays.get(rname)
            layers: list[tuple[str, frozenset[str]]] = []
            if overlay is not None:
                if not isinstance(overlay, Mapping):
                    problems.append(f"{where}.deployments.{rname}: expected a table, got {type_name(overlay)}")
                else:
                    source = join_path(join_path(where, "deployments"), rname)
                    layers.append((source, _overlay_keys(entry, overlay)))
                    files = overlay.get("values_files")
                    if isinstance(files, list) and isinstance(entry.get("values_files"), list):  # appended
                        _added(added, here, len(entry["values_files"]), join_path(source, "values_files"), len(files))
                    _overlay_release(entry, overlay)
            if env_layer is not None:
                layers.append(env_layer)
            if layers:
                overlaid[here] = tuple(layers)
            kept.append(entry)
        if kept:
            new_deployments[ctype] = kept[0] if single else kept
    for rname in [*(enabled or ()), *overlays]:
        if rname not in seen:
            problems.append(f"{where}: unknown release '{rname}' (releases: {', '.join(sorted(seen)) or 'none'})")
    out["deployments"] = new_deployments
    left_out = frozenset(seen - set(enabled)) if enabled is not None else frozenset()
    return out, Environment(name, env.get("kube_context"), overlaid, left_out, moved, added)


def _added(added: dict[str, str], release: str, start: int, source: str, count: int) -> None:
    """Record that ``source``'s ``count`` items are ``release``'s ``values_files`` from index ``start``."""
    for j in range(count):
        added[f"{release}.values_files[{start + j}]"] = f"{source}[{j}]"
