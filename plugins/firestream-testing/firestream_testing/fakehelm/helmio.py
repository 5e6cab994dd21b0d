"""What the fake helm reads and prints: arguments, values, charts, release JSON, manifests."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# Flags that take a value (``--flag value``); every other flag is boolean.
VALUE_FLAGS = {
    "-n", "--namespace", "--kubeconfig", "--kube-context", "--kube-apiserver", "--kube-token",
    "--kube-as-user", "--kube-as-group", "--kube-ca-file", "--kube-tls-server-name",
    "--burst-limit", "--qps", "--registry-config", "--repository-cache", "--repository-config",
    "--content-cache", "--color", "--colour",
    "--version", "-f", "--values", "--set", "--set-string", "--set-file", "--set-json",
    "--set-literal", "--timeout", "--history-max", "-o", "--output", "--description",
    "--post-renderer", "--post-renderer-args", "--repo", "--username", "--password",
    "--ca-file", "--cert-file", "--key-file", "--keyring", "-l", "--labels", "--server-side",
    "-m", "--max", "--offset", "--filter", "--time-format", "--revision", "-d", "--destination",
    "--untardir", "--template", "--cascade", "--kube-version", "--output-dir",
    "--api-versions",
}
# ``--wait`` and ``--dry-run`` take a value only as ``--flag=value``: not listed above.



class Exit(Exception):
    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message



class Args:
    def __init__(self, positionals: list[str], flags: dict[str, list[str]]) -> None:
        self.positionals = positionals
        self.flags = flags

    def has(self, *names: str) -> bool:
        return any(n in self.flags for n in names)

    def value(self, *names: str, default: str | None = None) -> str | None:
        for n in names:
            if n in self.flags and self.flags[n]:
                return self.flags[n][-1]
        return default

    def values(self, *names: str) -> list[str]:
        out: list[str] = []
        for n in names:
            out += self.flags.get(n, [])
        return out


def parse(argv: Sequence[str], *, boolean: frozenset[str] = frozenset()) -> Args:
    pos: list[str] = []
    flags: dict[str, list[str]] = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            pos += argv[i + 1 :]
            break
        if a.startswith("-") and len(a) > 1:
            if "=" in a and a.startswith("--"):
                name, value = a.split("=", 1)
                flags.setdefault(name, []).append(value)
            elif a in VALUE_FLAGS and a not in boolean and i + 1 < len(argv):
                flags.setdefault(a, []).append(argv[i + 1])
                i += 1
            elif len(a) > 2 and a[1] != "-" and a[:2] in VALUE_FLAGS and a[:2] not in boolean:
                flags.setdefault(a[:2], []).append(a[2:])  # -nfoo
            else:
                flags.setdefault(a, []).append("true")
        else:
            pos.append(a)
        i += 1
    return Args(pos, flags)



def load_yaml() -> Any:
    """PyYAML, importable even though the script runs with ``python -S``."""
    try:
        import yaml
    except ImportError:
        import site

        site.main()
        import yaml
    return yaml



def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            deep_merge(base[k], v)
        else:
            base[k] = v
    return base


def read_values_file(path: str) -> dict[str, Any]:
    if path == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(path).read_text()
        except OSError:
            raise Exit(1, f'Error: open {path}: no such file or directory') from None
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        yaml = load_yaml()
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            raise Exit(1, f"Error: failed to parse {path}: error converting YAML to JSON") from None
    if not isinstance(data, dict):
        raise Exit(1, f"Error: failed to parse {path}: not a mapping")
    return data


def set_value(values: dict[str, Any], pair: str) -> None:
    """A simplified ``--set key=value`` (dotted keys, ``\\.`` escapes, typed scalars)."""
    key, _, raw = pair.partition("=")
    value: Any = raw
    low = raw.lower()
    if low in ("true", "false"):
        value = low == "true"
    elif low == "null":
        value = None
    elif re.fullmatch(r"-?[1-9][0-9]*|0", raw):
        value = int(raw)
    parts = [p.replace("\\.", ".") for p in re.split(r"(?<!\\)\.", key)]
    node = values
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def values_of(args: Args) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in args.values("-f", "--values"):
        deep_merge(values, read_values_file(f))
    for flag in ("--set", "--set-string", "--set-literal"):
        for pair in args.values(flag):
            set_value(values, pair)
    return values



DEFAULT_VERSIONS = ("1.0.0",)
"""The versions of a repository or OCI chart nothing was published for (:meth:`FakeHelm.publish`)."""

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?(?:\+\S*)?$")


def _key(version: str) -> tuple[Any, ...] | None:
    """A published version's sort key (a prerelease before its release), None when not semver."""
    m = _VERSION.match(version.strip())
    if not m or not (m.group(2) or "").isdigit() or not (m.group(3) or "").isdigit():
        return None
    pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in (m.group(4) or "").split(".") if p)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), 0 if pre else 1, pre)


def _term(term: str) -> Any:
    """One constraint term (``^0.1``, ``>=1.2``, ``1.2.x``, ``*``) as a predicate on sort keys."""
    m = re.match(r"^(\^|~>?|>=|<=|!=|>|<|=)?\s*(.*)$", term.strip())
    assert m is not None
    op, text = m.group(1) or "=", m.group(2)
    if text in ("", "*", "x", "X"):
        return lambda k: True
    v = _VERSION.match(text)
    if v is None:
        raise Exit(1, f'Error: improper constraint: {term}')
    given = [int(p) for p in (v.group(1), v.group(2), v.group(3)) if p is not None and p.isdigit()]
    lo = (*given, *[0] * (3 - len(given)), 1, ())
    bump = [*given]
    bump[-1] += 1
    above = (*bump, *[0] * (3 - len(bump)), 0, ())  # below every version of the next one
    if op == "^":
        first = next((i for i, p in enumerate(given) if p), len(given) - 1)
        up = [*given[: first + 1]]
        up[-1] += 1
        above = (*up, *[0] * (3 - len(up)), 0, ())
    elif op.startswith("~"):
        up = [*given[:2]] if len(given) > 1 else [*given]
        up[-1] += 1
        above = (*up, *[0] * (3 - len(up)), 0, ())
    full = len(given) == 3
    checks = {
        "^": lambda k: lo <= k < above, "~": lambda k: lo <= k < above, "~>": lambda k: lo <= k < above,
        "=": (lambda k: k[:3] == lo[:3]) if full else (lambda k: lo <= k < above),
        "!=": lambda k: k[:3] != lo[:3], ">=": lambda k: k >= lo, "<": lambda k: k < (*lo[:3], 0, ()),
        ">": (lambda k: k > lo) if full else (lambda k: k >= above),
        "<=": (lambda k: k <= lo) if full else (lambda k: k < above),
    }
    return checks[op]


def matching_version(versions: Sequence[str], constraint: str | None) -> str | None:
    """The highest of ``versions`` that ``constraint`` allows (None: the latest stable), as helm
    picks it: ``,`` or a space joins terms, ``||`` alternatives; a prerelease only when the
    constraint names one."""
    text = (constraint or "").strip()
    alternatives = [[_term(t) for t in re.split(r"\s*,\s*|\s+(?![0-9vxX*])", alt.strip()) if t]
                    for alt in text.split("||")] if text else [[lambda k: True]]
    best: tuple[tuple[Any, ...], str] | None = None
    for version in versions:
        k = _key(version)
        if k is None or (k[3] == 0 and "-" not in text):
            continue
        if any(all(check(k) for check in alt) for alt in alternatives) and (best is None or k > best[0]):
            best = (k, version)
    return best[1] if best else None


def catalogue(state: Mapping[str, Any], ref: str) -> list[str]:
    """The versions of a repository or OCI chart: those published, else :data:`DEFAULT_VERSIONS`."""
    return list((state.get("charts") or {}).get(ref) or DEFAULT_VERSIONS)


def resolve(ref: str, version: str | None, state: Mapping[str, Any]) -> str:
    """The version helm installs for ``ref`` at ``version``: an exact one as given, a
    constraint (or none) as matched against :func:`catalogue`."""
    if version and _key(version) is not None:
        return version
    found = matching_version(catalogue(state, ref), version)
    if found is None:
        raise Exit(1, f'Error: chart "{ref.rsplit("/", 1)[-1]}" matching {version} not found in '
                      f'{ref.split("/", 1)[0]} index. (try \'helm repo update\'): no chart version found')
    return found


def chart_meta(ref: str, version: str | None, state: Mapping[str, Any]) -> dict[str, str]:
    """(name, version, appVersion) of a chart reference, as helm would resolve it."""
    p = Path(ref)
    if p.is_dir():
        meta = {"name": p.name, "version": "0.1.0", "appVersion": ""}
        chart_yaml = p / "Chart.yaml"
        if not chart_yaml.is_file():
            raise Exit(1, f'Error: Chart.yaml file is missing in "{ref}"')
        for line in chart_yaml.read_text().splitlines():
            m = re.match(r"^(name|version|appVersion):\s*['\"]?([^'\"#]*?)['\"]?\s*$", line)
            if m:
                meta[m.group(1)] = m.group(2)
        return meta
    if ref.endswith(".tgz"):
        if not p.is_file():
            raise Exit(1, f'Error: path "{ref}" not found')
        m = re.match(r"^(?P<name>.+)-(?P<version>v?\d+\.\d+\.\d+[^/]*)\.tgz$", p.name)
        if not m:
            return {"name": p.stem, "version": "0.1.0", "appVersion": ""}
        return {"name": m.group("name"), "version": m.group("version"), "appVersion": ""}
    if ref.startswith("oci://"):
        return {"name": ref.rstrip("/").rsplit("/", 1)[-1], "version": resolve(ref, version, state),
                "appVersion": ""}
    if "/" in ref:
        repo, name = ref.split("/", 1)
        if repo in ("", ".", "..") or ref.startswith(("./", "../", "/")):
            raise Exit(1, f'Error: path "{ref}" not found')
        if repo not in repos_of(state):
            raise Exit(1, f"Error: repo {repo} not found")
        return {"name": name, "version": resolve(ref, version, state), "appVersion": ""}
    raise Exit(1, f'Error: non-absolute URLs should be in form of repo_name/path_to_chart, got: {ref}')



def repos_of(state: Mapping[str, Any]) -> dict[str, str]:
    """The repositories of the configuration this call reads, as helm keeps one per
    ``repositories.yaml``: ``$HELM_REPOSITORY_CONFIG``'s when it is set (firestream gives each
    run its own), else the user's (``state["repos"]``, what ``FakeHelm.repos()`` returns)."""
    config = os.environ.get("HELM_REPOSITORY_CONFIG")
    repos: dict[str, str] = state["repo_configs"].setdefault(config, {}) if config else state["repos"]
    return repos


def release_json(rel: Mapping[str, Any], rev: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": rel["name"],
        "namespace": rel["namespace"],
        "version": rev["revision"],
        "info": {
            "status": rev["status"],
            "first_deployed": rel["revisions"][0]["updated"],
            "last_deployed": rev["updated"],
            "description": rev.get("description", ""),
        },
        "chart": {"metadata": {"name": rev["chart"], "version": rev["version"],
                               "appVersion": rev.get("app_version", "")}},
        "config": rev.get("values") or {},
        "manifest": manifest(rel["name"], rel["namespace"], rev),
    }


def manifest(name: str, namespace: str, rev: Mapping[str, Any]) -> str:
    keys = sorted(flat_keys(rev.get("values") or {}))
    lines = [
        "---",
        f"# Source: {rev['chart']}/templates/configmap.yaml",
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        f"  name: {name}-{rev['chart']}",
        f"  namespace: {namespace}",
        "  labels:",
        f"    app.kubernetes.io/instance: {name}",
        f"    helm.sh/chart: {rev['chart']}-{rev['version']}",
        "data:",
        f"  chartVersion: \"{rev['version']}\"",
        f"  valueKeys: \"{','.join(keys)}\"",
        f"  valuesDigest: \"{digest(rev.get('values') or {})}\"",
    ]
    if rev.get("manifest_extra"):  # FakeHelm.set_manifest_extra
        lines += ["---", rev["manifest_extra"].strip("\n")]
    return "\n".join(lines) + "\n"


def flat_keys(values: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in values.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        out += flat_keys(v, key) if isinstance(v, Mapping) and v else [key]
    return out


def digest(values: Mapping[str, Any]) -> str:

    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]



def namespace_of(args: Args) -> str:
    return args.value("-n", "--namespace") or os.environ.get("HELM_NAMESPACE") or "default"


def output_of(args: Args) -> str:
    return (args.value("-o", "--output") or "table").lower()


def print_data(data: Any, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(data))
    elif fmt == "yaml":
        yaml = load_yaml()
        print(yaml.safe_dump(data, sort_keys=False), end="")
    else:
        raise AssertionError("table handled by caller")

