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
        return {"name": ref.rstrip("/").rsplit("/", 1)[-1], "version": version or "1.0.0", "appVersion": ""}
    if "/" in ref:
        repo, name = ref.split("/", 1)
        if repo in ("", ".", "..") or ref.startswith(("./", "../", "/")):
            raise Exit(1, f'Error: path "{ref}" not found')
        if repo not in state["repos"]:
            raise Exit(1, f"Error: repo {repo} not found")
        return {"name": name, "version": version or "1.0.0", "appVersion": ""}
    raise Exit(1, f'Error: non-absolute URLs should be in form of repo_name/path_to_chart, got: {ref}')



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

