"""A recording fake ``helm`` for fast tests and benchmarks.

:class:`FakeHelm` writes an executable script (``#!<this python>``) that
behaves like helm for what firestream and helmfile use, keeps its releases
in a JSON state file and appends every call to a JSONL log with its start
and end time. Tests point firestream at it (``Helm(binary=fake.binary,
env=fake.env)`` or :meth:`FakeHelm.helm`) and then assert on the calls::

    def test_apply(fake_helm):
        fake_helm.set_delay("db", 0.2)
        fake_helm.fail_on("web", "upgrade", "boom")
        ...
        assert fake_helm.calls("upgrade") == [...]
        db, web = fake_helm.call_log("upgrade", release="db")[0], ...
        assert web.start >= db.end

What it does (``helm <command>``):

=========================== ====================================================
``version``                 ``v3.19.0`` or ``v4.3.1`` (:meth:`FakeHelm.set_major`);
                            ``--template``, ``--short`` and the long form
``list``                    ``-A``, ``-n``, ``-o json|yaml|table``, ``--max``,
                            ``--filter``, status filters; helm 3 shows deployed
                            and failed unless ``-a/--all``; helm 4 shows every
                            status and, like the real one, rejects ``--all``
``upgrade`` / ``install``   records a revision (pending while its delay runs,
                            then ``deployed``; earlier one ``superseded``),
                            chart name/version (from a chart folder's
                            ``Chart.yaml``, a ``name-version.tgz``, or
                            ``repo/chart`` + ``--version``, the repo having been
                            added), values from every ``-f`` file then
                            ``--set``; a pending release answers "another
                            operation ... is in progress"; injected failures
                            honour ``--atomic`` / ``--rollback-on-failure``;
                            ``--dry-run`` records nothing; ``-o json``
``uninstall`` / ``delete``  ``--ignore-not-found``, ``--keep-history``
``status`` ``history``      ``-o json`` (and a readable table)
``rollback``                ``NAME [REVISION]``
``get values|manifest|all`` ``--all``, ``--revision``, ``-o json``
``template``                a ConfigMap manifest holding the values' keys
``repo add|update|list|remove``  ``--force-update``, ``--password-stdin``
``registry login|logout``   password from stdin, never recorded
``dependency build|update`` no-op
``pull``                    writes ``name-version.tgz`` in ``--destination``
``test``                    a ``TEST SUITE`` block; fails when told to
``show chart|values|all``   from the chart folder (helmfile asks for it)
``plugin list``             empty; ``diff`` is absent, as without the plugin
=========================== ====================================================

Unknown flags are ignored (helmfile passes many), so is ``--kubeconfig``.
State lives in the folder named by ``FAKE_HELM_STATE``; every change is
made under an exclusive file lock, and never while a delay runs, so
parallel calls interleave as real ones would. Values are stored (tests read
them back) but never printed except where helm prints them (``get values``,
``-o json`` release output).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from firestream_core.tools.helm import Helm

__all__ = ["ENV_STATE", "FakeCall", "FakeHelm", "main"]

ENV_STATE = "FAKE_HELM_STATE"
VERSIONS = {3: "v3.19.0", 4: "v4.3.1"}

_STATE = "state.json"
_CALLS = "calls.jsonl"
_LOCK = "lock"

# Flags that take a value (``--flag value``); every other flag is boolean.
_VALUE_FLAGS = {
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


# ---------------------------------------------------------------------------
# the script side: runs as ``helm``
# ---------------------------------------------------------------------------


class _Exit(Exception):
    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e9):09d} +0000 UTC"


class _Args:
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


def _parse(argv: Sequence[str], *, boolean: frozenset[str] = frozenset()) -> _Args:
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
            elif a in _VALUE_FLAGS and a not in boolean and i + 1 < len(argv):
                flags.setdefault(a, []).append(argv[i + 1])
                i += 1
            elif len(a) > 2 and a[1] != "-" and a[:2] in _VALUE_FLAGS and a[:2] not in boolean:
                flags.setdefault(a[:2], []).append(a[2:])  # -nfoo
            else:
                flags.setdefault(a, []).append("true")
        else:
            pos.append(a)
        i += 1
    return _Args(pos, flags)


class _Store:
    """The fake's state folder: JSON state under a lock, and the call log."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def locked(self) -> Iterator[dict[str, Any]]:
        """The state, locked; written back when the block ends without error."""
        with open(self.root / _LOCK, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = self._read()
                yield state
                tmp = self.root / f".{_STATE}.{os.getpid()}"
                tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
                os.replace(tmp, self.root / _STATE)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self) -> dict[str, Any]:
        with open(self.root / _LOCK, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH)
            try:
                return self._read()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        try:
            state = json.loads((self.root / _STATE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            state = {}
        state.setdefault("major", 3)
        state.setdefault("releases", {})
        state.setdefault("repos", {})
        state.setdefault("registries", [])
        state.setdefault("delays", {})
        state.setdefault("failures", [])
        return state

    def log_call(self, record: Mapping[str, Any]) -> None:
        line = (json.dumps(record) + "\n").encode()
        fd = os.open(self.root / _CALLS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
        finally:
            os.close(fd)


def _yaml() -> Any:
    """PyYAML, importable even though the script runs with ``python -S``."""
    try:
        import yaml
    except ImportError:
        import site

        site.main()
        import yaml
    return yaml


def _key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def _latest(rel: Mapping[str, Any]) -> dict[str, Any]:
    return rel["revisions"][-1]


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _deep_merge(base[k], v)
        else:
            base[k] = v
    return base


def _read_values_file(path: str) -> dict[str, Any]:
    if path == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(path).read_text()
        except OSError:
            raise _Exit(1, f'Error: open {path}: no such file or directory') from None
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        yaml = _yaml()
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            raise _Exit(1, f"Error: failed to parse {path}: error converting YAML to JSON") from None
    if not isinstance(data, dict):
        raise _Exit(1, f"Error: failed to parse {path}: not a mapping")
    return data


def _set_value(values: dict[str, Any], pair: str) -> None:
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


def _values_of(args: _Args) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in args.values("-f", "--values"):
        _deep_merge(values, _read_values_file(f))
    for flag in ("--set", "--set-string", "--set-literal"):
        for pair in args.values(flag):
            _set_value(values, pair)
    return values


def _chart_meta(ref: str, version: str | None, state: Mapping[str, Any]) -> dict[str, str]:
    """(name, version, appVersion) of a chart reference, as helm would resolve it."""
    p = Path(ref)
    if p.is_dir():
        meta = {"name": p.name, "version": "0.1.0", "appVersion": ""}
        chart_yaml = p / "Chart.yaml"
        if not chart_yaml.is_file():
            raise _Exit(1, f'Error: Chart.yaml file is missing in "{ref}"')
        for line in chart_yaml.read_text().splitlines():
            m = re.match(r"^(name|version|appVersion):\s*['\"]?([^'\"#]*?)['\"]?\s*$", line)
            if m:
                meta[m.group(1)] = m.group(2)
        return meta
    if ref.endswith(".tgz"):
        if not p.is_file():
            raise _Exit(1, f'Error: path "{ref}" not found')
        m = re.match(r"^(?P<name>.+)-(?P<version>v?\d+\.\d+\.\d+[^/]*)\.tgz$", p.name)
        if not m:
            return {"name": p.stem, "version": "0.1.0", "appVersion": ""}
        return {"name": m.group("name"), "version": m.group("version"), "appVersion": ""}
    if ref.startswith("oci://"):
        return {"name": ref.rstrip("/").rsplit("/", 1)[-1], "version": version or "1.0.0", "appVersion": ""}
    if "/" in ref:
        repo, name = ref.split("/", 1)
        if repo in ("", ".", "..") or ref.startswith(("./", "../", "/")):
            raise _Exit(1, f'Error: path "{ref}" not found')
        if repo not in state["repos"]:
            raise _Exit(1, f"Error: repo {repo} not found")
        return {"name": name, "version": version or "1.0.0", "appVersion": ""}
    raise _Exit(1, f'Error: non-absolute URLs should be in form of repo_name/path_to_chart, got: {ref}')


def _release_json(rel: Mapping[str, Any], rev: Mapping[str, Any]) -> dict[str, Any]:
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
        "manifest": _manifest(rel["name"], rel["namespace"], rev),
    }


def _manifest(name: str, namespace: str, rev: Mapping[str, Any]) -> str:
    keys = sorted(_flat_keys(rev.get("values") or {}))
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
        f"  valuesDigest: \"{_digest(rev.get('values') or {})}\"",
    ]
    return "\n".join(lines) + "\n"


def _flat_keys(values: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in values.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        out += _flat_keys(v, key) if isinstance(v, Mapping) and v else [key]
    return out


def _digest(values: Mapping[str, Any]) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def _namespace(args: _Args) -> str:
    return args.value("-n", "--namespace") or os.environ.get("HELM_NAMESPACE") or "default"


def _output(args: _Args) -> str:
    return (args.value("-o", "--output") or "table").lower()


def _print_data(data: Any, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(data))
    elif fmt == "yaml":
        yaml = _yaml()
        print(yaml.safe_dump(data, sort_keys=False), end="")
    else:
        raise AssertionError("table handled by caller")


def _find(state: Mapping[str, Any], name: str, namespace: str) -> dict[str, Any] | None:
    return state["releases"].get(_key(namespace, name))


def _failure_for(state: dict[str, Any], release: str, op: str) -> str | None:
    """The injected failure message for (release, op), consuming one use."""
    for f in state["failures"]:
        if f["release"] in (release, "*") and f["op"] == op:
            if f.get("times") is not None:
                if f["times"] <= 0:
                    continue
                f["times"] -= 1
            return str(f["message"])
    return None


def _delay(state: Mapping[str, Any], release: str) -> float:
    delays = state["delays"]
    return float(delays.get(release, delays.get("*", 0.0)))


class _Helm:
    """One invocation of the fake."""

    def __init__(self, store: _Store, argv: list[str]) -> None:
        self.store = store
        self.argv = argv
        self.release: str | None = None
        self.namespace: str | None = None
        self.op = ""

    def run(self) -> int:
        argv = self.argv
        # the command is the first word that is not a flag or a flag's value
        words = _parse(argv).positionals
        if not words:
            print("The Kubernetes package manager\n\nUsage:\n  helm [command]")
            return 0
        command = words[0]
        self.op = command
        rest = list(argv)
        rest.remove(command)
        handler = getattr(self, f"cmd_{command.replace('-', '_')}", None)
        if command in ("delete", "un", "uninstall"):
            handler = self.cmd_uninstall
        elif command == "ls":
            handler = self.cmd_list
        elif command == "install":
            handler = self.cmd_install
        if handler is None:
            raise _Exit(1, f'Error: unknown command "{command}" for "helm"\nRun \'helm --help\' for usage.')
        return int(handler(rest) or 0)

    # -- version ---------------------------------------------------------------------
    def cmd_version(self, argv: list[str]) -> None:
        args = _parse(argv)
        version = VERSIONS.get(int(self.store.read()["major"]), "v3.19.0")
        template = args.value("--template")
        if template is not None:
            print(template.replace("{{.Version}}", version).replace("{{ .Version }}", version)
                  .replace("{{.GitCommit}}", "0" * 40), end="")
        elif args.has("--short"):
            print(f"{version}+g0000000")
        else:
            print(f'version.BuildInfo{{Version:"{version}", GitCommit:"{"0" * 40}", '
                  f'GitTreeState:"clean", GoVersion:"go1.24.0"}}')

    # -- list ------------------------------------------------------------------------------
    def cmd_list(self, argv: list[str]) -> None:
        state = self.store.read()
        helm4 = int(state["major"]) >= 4
        args = _parse(argv, boolean=frozenset({"-d"}))
        if helm4 and args.has("-a", "--all"):
            flag = "-a" if args.has("-a") else "--all"
            raise _Exit(1, f"Error: unknown {'shorthand flag' if flag == '-a' else 'flag'}: "
                           f"'{flag.lstrip('-')}' in {flag}")
        every = helm4 or args.has("-a", "--all")
        wanted = {s for s in ("deployed", "failed", "pending", "superseded", "uninstalled",
                              "uninstalling") if args.has(f"--{s}")}
        all_ns = args.has("-A", "--all-namespaces")
        ns = _namespace(args)
        pattern = re.compile(args.value("--filter", "-f") or "")
        rows = []
        for rel in state["releases"].values():
            if not all_ns and rel["namespace"] != ns:
                continue
            rev = _latest(rel)
            status = rev["status"]
            if status == "uninstalled" and not args.has("--uninstalled"):
                continue
            if wanted:
                bucket = "pending" if status.startswith("pending-") else status
                if bucket not in wanted:
                    continue
            elif not every and status not in ("deployed", "failed"):
                continue
            if not pattern.search(rel["name"]):
                continue
            rows.append({
                "name": rel["name"], "namespace": rel["namespace"],
                "revision": str(rev["revision"]), "updated": rev["updated"], "status": status,
                "chart": f"{rev['chart']}-{rev['version']}", "app_version": rev.get("app_version", ""),
            })
        rows.sort(key=lambda r: (r["name"], r["namespace"]))
        limit = int(args.value("-m", "--max") or 256)
        offset = int(args.value("--offset") or 0)
        rows = rows[offset:] if limit <= 0 else rows[offset:offset + limit]
        fmt = _output(args)
        if args.has("-q", "--short"):
            for r in rows:
                print(r["name"])
        elif fmt in ("json", "yaml"):
            _print_data(rows, fmt)
        else:
            print("NAME\tNAMESPACE\tREVISION\tUPDATED\tSTATUS\tCHART\tAPP VERSION")
            for r in rows:
                print("\t".join([r["name"], r["namespace"], r["revision"], r["updated"], r["status"],
                                 r["chart"], r["app_version"]]))

    # -- install / upgrade ----------------------------------------------------------------
    def cmd_install(self, argv: list[str]) -> int:
        return self._upgrade(argv, install_only=True)

    def cmd_upgrade(self, argv: list[str]) -> int:
        return self._upgrade(argv, install_only=False)

    def _upgrade(self, argv: list[str], *, install_only: bool) -> int:
        args = _parse(argv)
        if len(args.positionals) < 2:
            raise _Exit(1, f'Error: "helm {self.op}" requires 2 arguments')
        name, ref = args.positionals[0], args.positionals[1]
        ns = _namespace(args)
        self.release, self.namespace = name, ns
        install = install_only or args.has("--install", "-i")
        atomic = args.has("--atomic", "--rollback-on-failure")
        dry_run = args.has("--dry-run") and args.value("--dry-run") != "none"
        values = _values_of(args)
        word = "INSTALLATION" if install_only else "UPGRADE"
        with self.store.locked() as state:
            wait = args.value("--wait")
            if int(state["major"]) < 4 and wait not in (None, "true", "false"):
                raise _Exit(1, f'Error: invalid argument "{wait}" for "--wait" flag: '
                               f'strconv.ParseBool: parsing "{wait}": invalid syntax')
            if args.has("--atomic") and int(state["major"]) >= 4:
                raise _Exit(1, "Error: unknown flag: --atomic")
            if args.has("--rollback-on-failure") and int(state["major"]) < 4:
                raise _Exit(1, "Error: unknown flag: --rollback-on-failure")
            if args.has("--force-replace") and args.value("--server-side", default="auto") != "false":
                raise _Exit(1, f"Error: {word} FAILED: invalid operation: cannot use server-side apply "
                               "and force replace together")
            meta = _chart_meta(ref, args.value("--version"), state)
            rel = _find(state, name, ns)
            if rel is not None and _latest(rel)["status"].startswith("pending-"):
                raise _Exit(1, f"Error: {word} FAILED: another operation (install/upgrade/rollback) "
                               "is in progress")
            exists = rel is not None and _latest(rel)["status"] != "uninstalled"
            if install_only and exists:
                raise _Exit(1, "Error: INSTALLATION FAILED: cannot re-use a name that is still in use")
            if not exists and not install:
                raise _Exit(1, f'Error: UPGRADE FAILED: "{name}" has no deployed releases')
            if not exists:
                word = "INSTALLATION"
            failure = _failure_for(state, name, "upgrade")
            delay = _delay(state, name)
            if dry_run:
                rev = {"revision": (_latest(rel)["revision"] + 1) if rel else 1, "status": "pending-install",
                       "chart": meta["name"], "version": meta["version"], "app_version": meta["appVersion"],
                       "values": values, "updated": _now(), "description": "Dry run complete"}
                fake_rel = rel or {"name": name, "namespace": ns, "revisions": [rev]}
                out = _release_json(fake_rel, rev)
            else:
                if rel is None or not exists:
                    if rel is None or not args.has("--keep-history"):
                        rel = {"name": name, "namespace": ns, "revisions": []}
                    state["releases"][_key(ns, name)] = rel
                number = (_latest(rel)["revision"] + 1) if rel["revisions"] else 1
                rev = {"revision": number, "status": "pending-upgrade" if exists else "pending-install",
                       "chart": meta["name"], "version": meta["version"], "app_version": meta["appVersion"],
                       "values": values, "updated": _now(),
                       "description": "Preparing upgrade" if exists else "Initial install underway"}
                rel["revisions"].append(rev)
        if delay > 0:
            time.sleep(delay)
        if dry_run:
            if _output(args) == "json":
                print(json.dumps(out))
            else:
                print(f'Release "{name}" has been upgraded. Happy Helming!\nNAME: {name}\nSTATUS: pending-install')
            return 0
        error: _Exit | None = None
        with self.store.locked() as state:
            rel = state["releases"][_key(ns, name)]
            rev = _latest(rel)
            if failure is not None:
                # record the failure (the state is written when the block ends), then exit
                rev["status"] = "failed"
                rev["description"] = f"{word.capitalize()} failed: {failure}"
                if atomic and exists:
                    previous = next((r for r in reversed(rel["revisions"][:-1])
                                     if r["status"] in ("deployed", "superseded")), None)
                    if previous is not None:
                        for r in rel["revisions"]:
                            if r["status"] == "deployed":
                                r["status"] = "superseded"
                        rel["revisions"].append({**previous, "revision": rev["revision"] + 1,
                                                 "status": "deployed", "updated": _now(),
                                                 "description": f"Rollback to {previous['revision']}"})
                    error = _Exit(1, f"Error: UPGRADE FAILED: release {name} failed, and has been rolled "
                                     f"back due to atomic being set: {failure}")
                elif atomic:
                    del state["releases"][_key(ns, name)]
                    error = _Exit(1, f"Error: INSTALLATION FAILED: release {name} failed, and has been "
                                     f"uninstalled due to atomic being set: {failure}")
                else:
                    error = _Exit(1, f"Error: {word} FAILED: {failure}")
        if error is not None:
            raise error
        with self.store.locked() as state:
            rel = state["releases"][_key(ns, name)]
            rev = _latest(rel)
            for r in rel["revisions"][:-1]:
                if r["status"] == "deployed":
                    r["status"] = "superseded"
            rev["status"] = "deployed"
            rev["description"] = "Upgrade complete" if exists else "Install complete"
            rev["updated"] = _now()
            history_max = int(args.value("--history-max") or 10)
            if history_max > 0 and len(rel["revisions"]) > history_max:
                rel["revisions"] = rel["revisions"][-history_max:]
            out = _release_json(rel, rev)
        if _output(args) in ("json", "yaml"):
            _print_data(out, _output(args))
        elif exists:
            print(f'Release "{name}" has been upgraded. Happy Helming!\nNAME: {name}\n'
                  f"NAMESPACE: {ns}\nSTATUS: deployed\nREVISION: {rev['revision']}")
        else:
            print(f'Release "{name}" does not exist. Installing it now.\nNAME: {name}\n'
                  f"NAMESPACE: {ns}\nSTATUS: deployed\nREVISION: {rev['revision']}")
        return 0

    # -- uninstall, rollback ----------------------------------------------------------------
    def cmd_uninstall(self, argv: list[str]) -> int:
        args = _parse(argv)
        ns = _namespace(args)
        if not args.positionals:
            raise _Exit(1, 'Error: "helm uninstall" requires at least 1 argument')
        for name in args.positionals:
            self.release, self.namespace = name, ns
            with self.store.locked() as state:
                delay = _delay(state, name)
                failure = _failure_for(state, name, "uninstall")
            if delay > 0:
                time.sleep(delay)
            with self.store.locked() as state:
                rel = _find(state, name, ns)
                if failure is not None:
                    raise _Exit(1, f"Error: uninstallation completed with 1 error(s): {failure}")
                if rel is None or _latest(rel)["status"] == "uninstalled":
                    if args.has("--ignore-not-found"):
                        print(f'release "{name}" uninstalled')
                        continue
                    raise _Exit(1, f"Error: uninstall: Release not loaded: {name}: release: not found")
                if args.has("--keep-history"):
                    _latest(rel)["status"] = "uninstalled"
                else:
                    del state["releases"][_key(ns, name)]
            print(f'release "{name}" uninstalled')
        return 0

    def cmd_rollback(self, argv: list[str]) -> int:
        args = _parse(argv)
        if not args.positionals:
            raise _Exit(1, 'Error: "helm rollback" requires at least 1 argument')
        name = args.positionals[0]
        ns = _namespace(args)
        self.release, self.namespace = name, ns
        with self.store.locked() as state:
            delay = _delay(state, name)
            failure = _failure_for(state, name, "rollback")
        if delay > 0:
            time.sleep(delay)
        with self.store.locked() as state:
            rel = _find(state, name, ns)
            if rel is None:
                raise _Exit(1, "Error: release: not found")
            if failure is not None:
                raise _Exit(1, f"Error: {failure}")
            current = _latest(rel)["revision"]
            wanted = int(args.positionals[1]) if len(args.positionals) > 1 else 0
            if wanted <= 0:
                wanted = current - 1
            target = next((r for r in rel["revisions"] if r["revision"] == wanted), None)
            if target is None:
                raise _Exit(1, f'Error: release has no {wanted} version')
            for r in rel["revisions"]:
                if r["status"] == "deployed":
                    r["status"] = "superseded"
            rel["revisions"].append({**target, "revision": current + 1, "status": "deployed",
                                     "updated": _now(), "description": f"Rollback to {wanted}"})
        print("Rollback was a success! Happy Helming!")
        return 0

    # -- reading a release -----------------------------------------------------------------
    def _get_release(self, args: _Args) -> tuple[dict[str, Any], dict[str, Any]]:
        if not args.positionals:
            raise _Exit(1, f'Error: "helm {self.op}" requires 1 argument')
        name = args.positionals[0]
        ns = _namespace(args)
        self.release, self.namespace = name, ns
        state = self.store.read()
        rel = _find(state, name, ns)
        if rel is None:
            raise _Exit(1, "Error: release: not found")
        revision = args.value("--revision")
        if revision:
            rev = next((r for r in rel["revisions"] if r["revision"] == int(revision)), None)
            if rev is None:
                raise _Exit(1, "Error: release: not found")
            return rel, rev
        return rel, _latest(rel)

    def cmd_status(self, argv: list[str]) -> None:
        args = _parse(argv)
        rel, rev = self._get_release(args)
        fmt = _output(args)
        if fmt in ("json", "yaml"):
            data = _release_json(rel, rev)
            data.pop("manifest", None)
            _print_data(data, fmt)
        else:
            print(f"NAME: {rel['name']}\nLAST DEPLOYED: {rev['updated']}\nNAMESPACE: {rel['namespace']}\n"
                  f"STATUS: {rev['status']}\nREVISION: {rev['revision']}")

    def cmd_history(self, argv: list[str]) -> None:
        args = _parse(argv)
        rel, _rev = self._get_release(args)
        rows = [{"revision": r["revision"], "updated": r["updated"], "status": r["status"],
                 "chart": f"{r['chart']}-{r['version']}", "app_version": r.get("app_version", ""),
                 "description": r.get("description", "")} for r in rel["revisions"]]
        limit = int(args.value("--max") or 256)
        rows = rows[-limit:]
        fmt = _output(args)
        if fmt in ("json", "yaml"):
            _print_data(rows, fmt)
        else:
            print("REVISION\tUPDATED\tSTATUS\tCHART\tAPP VERSION\tDESCRIPTION")
            for r in rows:
                print(f"{r['revision']}\t{r['updated']}\t{r['status']}\t{r['chart']}\t"
                      f"{r['app_version']}\t{r['description']}")

    def cmd_get(self, argv: list[str]) -> None:
        args = _parse(argv)
        if not args.positionals:
            raise _Exit(1, 'Error: "helm get" requires a subcommand')
        what = args.positionals.pop(0)
        self.op = f"get {what}"
        rel, rev = self._get_release(args)
        if what == "values":
            values = rev.get("values") or {}
            fmt = _output(args)
            if fmt in ("json", "yaml"):
                _print_data(values or None, fmt)
            else:
                yaml = _yaml()
                print("USER-SUPPLIED VALUES:")
                print(yaml.safe_dump(values) if values else "null")
        elif what == "manifest":
            print(_manifest(rel["name"], rel["namespace"], rev), end="")
        elif what in ("all", "metadata", "notes", "hooks"):
            print(json.dumps(_release_json(rel, rev)) if what == "all" else "")
        else:
            raise _Exit(1, f'Error: unknown command "{what}" for "helm get"')

    def cmd_template(self, argv: list[str]) -> None:
        args = _parse(argv)
        if len(args.positionals) < 2:
            raise _Exit(1, 'Error: "helm template" requires 2 arguments')
        name, ref = args.positionals[0], args.positionals[1]
        self.release = name
        state = self.store.read()
        failure = _failure_for(state, name, "template")
        if failure is not None:
            raise _Exit(1, f"Error: {failure}")
        meta = _chart_meta(ref, args.value("--version"), state)
        rev = {"chart": meta["name"], "version": meta["version"], "values": _values_of(args)}
        print(_manifest(name, _namespace(args), rev), end="")

    def cmd_test(self, argv: list[str]) -> int:
        args = _parse(argv)
        rel, rev = self._get_release(args)
        with self.store.locked() as state:
            failure = _failure_for(state, rel["name"], "test")
        phase = "Failed" if failure is not None else "Succeeded"
        print(f"NAME: {rel['name']}\nLAST DEPLOYED: {rev['updated']}\nNAMESPACE: {rel['namespace']}\n"
              f"STATUS: {rev['status']}\nREVISION: {rev['revision']}\n"
              f"TEST SUITE:     {rel['name']}-test\nLast Started:   {_now()}\n"
              f"Last Completed: {_now()}\nPhase:          {phase}")
        if failure is not None:
            raise _Exit(1, f"Error: 1 error occurred:\n\t* pod {rel['name']}-test failed: {failure}")
        return 0

    # -- repositories, registries, charts ------------------------------------------------
    def cmd_repo(self, argv: list[str]) -> None:
        args = _parse(argv)
        sub = args.positionals[0] if args.positionals else ""
        self.op = f"repo {sub}"
        if sub == "add":
            if len(args.positionals) < 3:
                raise _Exit(1, 'Error: "helm repo add" requires 2 arguments')
            name, url = args.positionals[1], args.positionals[2]
            if args.has("--password-stdin"):
                sys.stdin.read()  # consumed, never stored
            with self.store.locked() as state:
                failure = _failure_for(state, name, "repo add")
                if failure is not None:
                    raise _Exit(1, f"Error: looks like \"{url}\" is not a valid chart repository or "
                                   f"cannot be reached: {failure}")
                known = state["repos"].get(name)
                if known is not None and known != url and not args.has("--force-update"):
                    raise _Exit(1, f"Error: repository name ({name}) already exists, please specify a "
                                   "different name")
                state["repos"][name] = url
            print(f'"{name}" has been added to your repositories')
        elif sub == "update" or sub == "up":
            state = self.store.read()
            for name in args.positionals[1:]:
                if name not in state["repos"]:
                    raise _Exit(1, f"Error: no repositories found matching '{name}'.  Nothing will be updated")
            if not state["repos"]:
                raise _Exit(1, "Error: no repositories found. You must add one before updating")
            print("Hang tight while we grab the latest from your chart repositories...")
            print("Update Complete. ⎈Happy Helming!⎈")
        elif sub in ("list", "ls"):
            repos = [{"name": n, "url": u} for n, u in sorted(self.store.read()["repos"].items())]
            if _output(args) in ("json", "yaml"):
                _print_data(repos, _output(args))
            else:
                print("NAME\tURL")
                for r in repos:
                    print(f"{r['name']}\t{r['url']}")
        elif sub in ("remove", "rm"):
            with self.store.locked() as state:
                for name in args.positionals[1:]:
                    if state["repos"].pop(name, None) is None:
                        raise _Exit(1, f"Error: no repo named \"{name}\" found")
        else:
            raise _Exit(1, f'Error: unknown command "{sub}" for "helm repo"')

    def cmd_registry(self, argv: list[str]) -> None:
        args = _parse(argv)
        sub = args.positionals[0] if args.positionals else ""
        self.op = f"registry {sub}"
        host = args.positionals[1] if len(args.positionals) > 1 else ""
        if sub == "login":
            if args.has("--password-stdin"):
                sys.stdin.read()
            with self.store.locked() as state:
                failure = _failure_for(state, host, "registry login")
                if failure is not None:
                    raise _Exit(1, f"Error: {failure}")
                state["registries"] = sorted(set(state["registries"]) | {host})
            print("Login Succeeded")
        elif sub == "logout":
            with self.store.locked() as state:
                state["registries"] = [h for h in state["registries"] if h != host]
            print(f"Removing login credentials for {host}")
        else:
            raise _Exit(1, f'Error: unknown command "{sub}" for "helm registry"')

    def cmd_dependency(self, argv: list[str]) -> None:
        self.op = "dependency"

    cmd_dep = cmd_dependency
    cmd_dependencies = cmd_dependency

    def cmd_pull(self, argv: list[str]) -> None:
        args = _parse(argv)
        if not args.positionals:
            raise _Exit(1, 'Error: "helm pull" requires 1 argument')
        ref = args.positionals[0]
        state = self.store.read()
        failure = _failure_for(state, ref, "pull")
        if failure is not None:
            raise _Exit(1, f"Error: {failure}")
        meta = _chart_meta(ref, args.value("--version"), state)
        dest = Path(args.value("-d", "--destination") or ".")
        dest.mkdir(parents=True, exist_ok=True)
        (dest / f"{meta['name']}-{meta['version']}.tgz").write_bytes(b"fake chart archive\n")

    def cmd_show(self, argv: list[str]) -> None:
        args = _parse(argv)
        if len(args.positionals) < 2:
            raise _Exit(1, 'Error: "helm show" requires a subcommand and a chart')
        what, ref = args.positionals[0], args.positionals[1]
        self.op = f"show {what}"
        meta = _chart_meta(ref, args.value("--version"), self.store.read())
        if what in ("chart", "all"):
            print(f"apiVersion: v2\nname: {meta['name']}\nversion: {meta['version']}")
            if meta["appVersion"]:
                print(f"appVersion: {meta['appVersion']}")
        if what in ("values", "all"):
            values = Path(ref) / "values.yaml"
            print(values.read_text() if values.is_file() else "{}")

    cmd_inspect = cmd_show

    def cmd_plugin(self, argv: list[str]) -> None:
        print("NAME\tVERSION\tDESCRIPTION")

    def cmd_env(self, argv: list[str]) -> None:
        for key in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
            print(f'{key}="{os.environ.get(key, "")}"')

    def cmd_lint(self, argv: list[str]) -> None:
        print("1 chart(s) linted, 0 chart(s) failed")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the fake ``helm`` script."""
    args = list(sys.argv[1:] if argv is None else argv)
    start = time.time()
    root = os.environ.get(ENV_STATE)
    if not root:
        print(f"Error: fake helm: {ENV_STATE} is not set", file=sys.stderr)
        return 1
    store = _Store(Path(root))
    helm = _Helm(store, args)
    code = 0
    try:
        code = helm.run()
    except _Exit as exc:
        code = exc.code
        if exc.message:
            print(exc.message, file=sys.stderr)
    except BrokenPipeError:
        code = 1
    finally:
        sys.stdout.flush()
        store.log_call({
            "argv": args, "op": helm.op, "release": helm.release, "namespace": helm.namespace,
            "start": start, "end": time.time(), "exit": code, "pid": os.getpid(),
        })
    return code


# ---------------------------------------------------------------------------
# the test side
# ---------------------------------------------------------------------------

_SCRIPT = """#!{python} -S
# firestream fake helm (firestream_testing.fakehelm); state in ${env}.
# -S: no site-packages scan at start-up (it costs more than the fake itself).
# The state folder is written in too: firestream gives its children an
# allow-listed environment (docs/secrets.md), which ${env} is not part of.
import os
import sys
os.environ.setdefault({env!r}, {state!r})
sys.path.insert(0, {root!r})
from firestream_testing.fakehelm import main
sys.exit(main())
"""


class FakeCall(NamedTuple):
    """One call of the fake helm, from its log."""

    argv: tuple[str, ...]
    op: str
    release: str | None
    namespace: str | None
    start: float
    end: float
    exit: int


class FakeHelm:
    """The fake helm's binary, environment and state, for a test.

    :param root: a folder for the script and its state (created).
    :param major: the helm major version the fake reports (3 or 4).
    """

    def __init__(self, root: Path, major: int = 3) -> None:
        self.root = Path(root)
        self.state_dir = self.root / "state"
        self._store = _Store(self.state_dir)
        self.binary = self.root / "helm"
        package_root = Path(__file__).resolve().parents[1]
        self.binary.write_text(_SCRIPT.format(python=sys.executable, env=ENV_STATE, root=str(package_root),
                                               state=str(self.state_dir)))
        self.binary.chmod(0o755)
        self.set_major(major)

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to use this fake (``FAKE_HELM_STATE``)."""
        return {ENV_STATE: str(self.state_dir)}

    def helm(self, **kwargs: Any) -> Helm:
        """A firestream :class:`~firestream_core.tools.helm.Helm` driving this fake."""
        from firestream_core.tools.helm import Helm

        env = {**self.env, **kwargs.pop("env", {})}
        return Helm(binary=self.binary, env=env, **kwargs)

    # -- configuring ---------------------------------------------------------------
    def set_major(self, major: int) -> None:
        """Make the fake report helm ``major`` (3 or 4), with that major's flags."""
        if major not in VERSIONS:
            raise ValueError(f"the fake helm knows majors {sorted(VERSIONS)}, not {major}")
        with self._store.locked() as state:
            state["major"] = major

    def set_delay(self, release: str, seconds: float) -> None:
        """Make upgrades/uninstalls/rollbacks of ``release`` take ``seconds`` (``"*"``: all)."""
        with self._store.locked() as state:
            state["delays"][release] = float(seconds)

    def fail_on(self, release: str, op: str = "upgrade", message: str = "injected failure",
                times: int | None = None) -> None:
        """Make ``op`` (``upgrade``, ``uninstall``, ``rollback``, ``test``, ``template``,
        ``repo add``, ``registry login``, ``pull``) fail for ``release`` (``"*"``: any) with
        ``message`` in helm's stderr; ``times`` limits how often (None: always)."""
        with self._store.locked() as state:
            state["failures"].append({"release": release, "op": op, "message": message, "times": times})

    def clear_failures(self) -> None:
        with self._store.locked() as state:
            state["failures"] = []

    def seed_release(
        self,
        name: str,
        namespace: str = "default",
        *,
        chart: str = "tiny-app",
        version: str = "0.1.0",
        status: str = "deployed",
        revision: int = 1,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """Put a release in the fake's state as if helm had left it (e.g. ``pending-install``).

        Earlier revisions (``1 .. revision-1``) are recorded as ``superseded``.
        """
        revisions = [
            {"revision": n, "status": "superseded", "chart": chart, "version": version,
             "app_version": "", "values": dict(values or {}), "updated": _now(), "description": ""}
            for n in range(1, revision)
        ]
        revisions.append({"revision": revision, "status": status, "chart": chart, "version": version,
                          "app_version": "", "values": dict(values or {}), "updated": _now(),
                          "description": "seeded by the test"})
        with self._store.locked() as state:
            state["releases"][_key(namespace, name)] = {"name": name, "namespace": namespace,
                                                        "revisions": revisions}

    # -- reading -----------------------------------------------------------------------
    def call_log(self, op: str | None = None, *, release: str | None = None) -> list[FakeCall]:
        """Every call so far (oldest first by end time), optionally of one ``op`` / ``release``."""
        path = self.state_dir / _CALLS
        if not path.exists():
            return []
        calls = []
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            d = json.loads(line)
            call = FakeCall(tuple(d["argv"]), d["op"], d.get("release"), d.get("namespace"),
                            float(d["start"]), float(d["end"]), int(d["exit"]))
            if (op is None or call.op == op) and (release is None or call.release == release):
                calls.append(call)
        return calls

    def calls(self, op: str | None = None) -> list[list[str]]:
        """The argument lists of every call (without the binary), optionally of one ``op``."""
        return [list(c.argv) for c in self.call_log(op)]

    def reset_calls(self) -> None:
        (self.state_dir / _CALLS).unlink(missing_ok=True)

    def releases(self) -> list[dict[str, Any]]:
        """Every release: ``name``, ``namespace``, ``revision``, ``status``, ``chart``,
        ``version``, ``values`` (of the latest revision) and ``history`` (statuses)."""
        out = []
        for rel in self._store.read()["releases"].values():
            rev = _latest(rel)
            out.append({
                "name": rel["name"], "namespace": rel["namespace"], "revision": rev["revision"],
                "status": rev["status"], "chart": rev["chart"], "version": rev["version"],
                "values": rev.get("values") or {},
                "history": [r["status"] for r in rel["revisions"]],
            })
        return sorted(out, key=lambda r: (r["namespace"], r["name"]))

    def release(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """One release as in :meth:`releases`, or None."""
        for r in self.releases():
            if r["name"] == name and (namespace is None or r["namespace"] == namespace):
                return r
        return None

    def repos(self) -> dict[str, str]:
        """Repositories added so far: name -> URL."""
        return dict(self._store.read()["repos"])


if __name__ == "__main__":  # pragma: no cover - python -m firestream_testing.fakehelm
    sys.exit(main())
