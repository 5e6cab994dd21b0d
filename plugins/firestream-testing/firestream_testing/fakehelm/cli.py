"""The fake helm's script side: one invocation, its commands, ``main``.

The script :class:`~.api.FakeHelm` writes runs :func:`main`; the state
folder is named by ``FAKE_HELM_STATE``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from firestream_testing.fakehelm.helmio import (
    Args,
    Exit,
    catalogue,
    chart_meta,
    load_yaml,
    manifest,
    matching_version,
    namespace_of,
    output_of,
    parse,
    print_data,
    release_json,
    repos_of,
    values_of,
)
from firestream_testing.fakehelm.releases import ReleaseCommands
from firestream_testing.fakehelm.store import (
    ENV_STATE,
    VERSIONS,
    Store,
    failure_for,
    find,
    latest,
    now,
    render_failure,
)


class Invocation(ReleaseCommands):
    """One invocation of the fake."""

    def __init__(self, store: Store, argv: list[str]) -> None:
        self.store = store
        self.argv = argv
        self.release: str | None = None
        self.namespace: str | None = None
        self.op = ""

    def run(self) -> int:
        argv = self.argv
        # the command is the first word that is not a flag or a flag's value
        words = parse(argv).positionals
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
            raise Exit(1, f'Error: unknown command "{command}" for "helm"\nRun \'helm --help\' for usage.')
        return int(handler(rest) or 0)

    # -- version ---------------------------------------------------------------------
    def cmd_version(self, argv: list[str]) -> None:
        args = parse(argv)
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
        args = parse(argv, boolean=frozenset({"-d"}))
        if helm4 and args.has("-a", "--all"):
            flag = "-a" if args.has("-a") else "--all"
            raise Exit(1, f"Error: unknown {'shorthand flag' if flag == '-a' else 'flag'}: "
                           f"'{flag.lstrip('-')}' in {flag}")
        every = helm4 or args.has("-a", "--all")
        wanted = {s for s in ("deployed", "failed", "pending", "superseded", "uninstalled",
                              "uninstalling") if args.has(f"--{s}")}
        all_ns = args.has("-A", "--all-namespaces")
        ns = namespace_of(args)
        pattern = re.compile(args.value("--filter", "-f") or "")
        rows = []
        for rel in state["releases"].values():
            if not all_ns and rel["namespace"] != ns:
                continue
            rev = latest(rel)
            status = rev["status"]
            if status == "uninstalled" and not (every or args.has("--uninstalled")):
                continue  # like the real ones: helm 3's --all and helm 4's list show it
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
        fmt = output_of(args)
        if args.has("-q", "--short"):
            for r in rows:
                print(r["name"])
        elif fmt in ("json", "yaml"):
            print_data(rows, fmt)
        else:
            print("NAME\tNAMESPACE\tREVISION\tUPDATED\tSTATUS\tCHART\tAPP VERSION")
            for r in rows:
                print("\t".join([r["name"], r["namespace"], r["revision"], r["updated"], r["status"],
                                 r["chart"], r["app_version"]]))

    # -- reading a release -----------------------------------------------------------------
    def _get_release(self, args: Args) -> tuple[dict[str, Any], dict[str, Any]]:
        if not args.positionals:
            raise Exit(1, f'Error: "helm {self.op}" requires 1 argument')
        name = args.positionals[0]
        ns = namespace_of(args)
        self.release, self.namespace = name, ns
        state = self.store.read()
        rel = find(state, name, ns)
        if rel is None:
            raise Exit(1, "Error: release: not found")
        revision = args.value("--revision")
        if revision:
            rev = next((r for r in rel["revisions"] if r["revision"] == int(revision)), None)
            if rev is None:
                raise Exit(1, "Error: release: not found")
            return rel, rev
        return rel, latest(rel)

    def cmd_status(self, argv: list[str]) -> None:
        args = parse(argv)
        rel, rev = self._get_release(args)
        fmt = output_of(args)
        if fmt in ("json", "yaml"):
            data = release_json(rel, rev)
            data.pop("manifest", None)
            print_data(data, fmt)
        else:
            print(f"NAME: {rel['name']}\nLAST DEPLOYED: {rev['updated']}\nNAMESPACE: {rel['namespace']}\n"
                  f"STATUS: {rev['status']}\nREVISION: {rev['revision']}")

    def cmd_history(self, argv: list[str]) -> None:
        args = parse(argv)
        rel, _rev = self._get_release(args)
        rows = [{"revision": r["revision"], "updated": r["updated"], "status": r["status"],
                 "chart": f"{r['chart']}-{r['version']}", "app_version": r.get("app_version", ""),
                 "description": r.get("description", "")} for r in rel["revisions"]]
        limit = int(args.value("--max") or 256)
        rows = rows[-limit:]
        fmt = output_of(args)
        if fmt in ("json", "yaml"):
            print_data(rows, fmt)
        else:
            print("REVISION\tUPDATED\tSTATUS\tCHART\tAPP VERSION\tDESCRIPTION")
            for r in rows:
                print(f"{r['revision']}\t{r['updated']}\t{r['status']}\t{r['chart']}\t"
                      f"{r['app_version']}\t{r['description']}")

    def cmd_get(self, argv: list[str]) -> None:
        args = parse(argv)
        if not args.positionals:
            raise Exit(1, 'Error: "helm get" requires a subcommand')
        what = args.positionals.pop(0)
        self.op = f"get {what}"
        rel, rev = self._get_release(args)
        if what == "values":
            values = rev.get("values") or {}
            fmt = output_of(args)
            if fmt in ("json", "yaml"):
                print_data(values or None, fmt)
            else:
                yaml = load_yaml()
                print("USER-SUPPLIED VALUES:")
                print(yaml.safe_dump(values) if values else "null")
        elif what == "manifest":
            print(manifest(rel["name"], rel["namespace"], rev), end="")
        elif what in ("all", "metadata", "notes", "hooks"):
            print(json.dumps(release_json(rel, rev)) if what == "all" else "")
        else:
            raise Exit(1, f'Error: unknown command "{what}" for "helm get"')

    def cmd_template(self, argv: list[str]) -> None:
        args = parse(argv)
        if len(args.positionals) < 2:
            raise Exit(1, 'Error: "helm template" requires 2 arguments')
        name, ref = args.positionals[0], args.positionals[1]
        self.release = name
        state = self.store.read()
        failure = failure_for(state, name, "template")
        if failure is not None:
            raise Exit(1, f"Error: {failure}")
        meta = chart_meta(ref, args.value("--version"), state)
        unrendered = render_failure(state, name, meta["name"])
        if unrendered is not None:
            raise Exit(1, f"Error: {unrendered}")
        rev = {"chart": meta["name"], "version": meta["version"], "values": values_of(args)}
        print(manifest(name, namespace_of(args), rev), end="")

    def cmd_test(self, argv: list[str]) -> int:
        args = parse(argv)
        rel, rev = self._get_release(args)
        with self.store.locked() as state:
            failure = failure_for(state, rel["name"], "test")
        phase = "Failed" if failure is not None else "Succeeded"
        print(f"NAME: {rel['name']}\nLAST DEPLOYED: {rev['updated']}\nNAMESPACE: {rel['namespace']}\n"
              f"STATUS: {rev['status']}\nREVISION: {rev['revision']}\n"
              f"TEST SUITE:     {rel['name']}-test\nLast Started:   {now()}\n"
              f"Last Completed: {now()}\nPhase:          {phase}")
        if failure is not None:
            raise Exit(1, f"Error: 1 error occurred:\n\t* pod {rel['name']}-test failed: {failure}")
        return 0

    # -- repositories, registries, charts ------------------------------------------------
    def cmd_repo(self, argv: list[str]) -> None:
        args = parse(argv)
        sub = args.positionals[0] if args.positionals else ""
        self.op = f"repo {sub}"
        if sub == "add":
            if len(args.positionals) < 3:
                raise Exit(1, 'Error: "helm repo add" requires 2 arguments')
            name, url = args.positionals[1], args.positionals[2]
            if args.has("--password-stdin"):
                sys.stdin.read()  # consumed, never stored
            with self.store.locked() as state:
                failure = failure_for(state, name, "repo add")
                if failure is not None:
                    raise Exit(1, f"Error: looks like \"{url}\" is not a valid chart repository or "
                                   f"cannot be reached: {failure}")
                known = repos_of(state).get(name)
                if known is not None and known != url and not args.has("--force-update"):
                    raise Exit(1, f"Error: repository name ({name}) already exists, please specify a "
                                   "different name")
                repos_of(state)[name] = url
            print(f'"{name}" has been added to your repositories')
        elif sub == "update" or sub == "up":
            state = self.store.read()
            for name in args.positionals[1:]:
                if name not in repos_of(state):
                    raise Exit(1, f"Error: no repositories found matching '{name}'.  Nothing will be updated")
            if not repos_of(state):
                raise Exit(1, "Error: no repositories found. You must add one before updating")
            print("Hang tight while we grab the latest from your chart repositories...")
            print("Update Complete. ⎈Happy Helming!⎈")
        elif sub in ("list", "ls"):
            repos = [{"name": n, "url": u} for n, u in sorted(repos_of(self.store.read()).items())]
            if output_of(args) in ("json", "yaml"):
                print_data(repos, output_of(args))
            else:
                print("NAME\tURL")
                for r in repos:
                    print(f"{r['name']}\t{r['url']}")
        elif sub in ("remove", "rm"):
            with self.store.locked() as state:
                for name in args.positionals[1:]:
                    if repos_of(state).pop(name, None) is None:
                        raise Exit(1, f"Error: no repo named \"{name}\" found")
        else:
            raise Exit(1, f'Error: unknown command "{sub}" for "helm repo"')

    def cmd_search(self, argv: list[str]) -> None:
        """``search repo KEYWORD [--version C] -o json``: the published charts of the added
        repositories whose name holds KEYWORD, each at its highest version C allows."""
        args = parse(argv)
        if args.positionals[:1] != ["repo"] or len(args.positionals) < 2:
            raise Exit(1, 'Error: "helm search" requires "repo KEYWORD" here')
        self.op = "search repo"
        keyword = args.positionals[1]
        state = self.store.read()
        if not repos_of(state):
            raise Exit(1, "Error: no repositories configured")
        refs = {r for r in state.get("charts") or {} if not r.startswith("oci://")}
        if "/" in keyword:  # a chart of an added repository exists at the default versions
            refs.add(keyword)
        rows = []
        for ref in sorted(refs):
            if ref.split("/", 1)[0] not in repos_of(state) or keyword.lower() not in ref.lower():
                continue
            found = matching_version(catalogue(state, ref), args.value("--version"))
            if found is not None:
                rows.append({"name": ref, "version": found, "app_version": "", "description": ""})
        if output_of(args) in ("json", "yaml"):
            print_data(rows, output_of(args))
        else:
            print("NAME\tCHART VERSION\tAPP VERSION\tDESCRIPTION")
            for r in rows:
                print(f"{r['name']}\t{r['version']}\t\t")

    def cmd_registry(self, argv: list[str]) -> None:
        args = parse(argv)
        sub = args.positionals[0] if args.positionals else ""
        self.op = f"registry {sub}"
        host = args.positionals[1] if len(args.positionals) > 1 else ""
        if sub == "login":
            if args.has("--password-stdin"):
                sys.stdin.read()
            with self.store.locked() as state:
                failure = failure_for(state, host, "registry login")
                if failure is not None:
                    raise Exit(1, f"Error: {failure}")
                state["registries"] = sorted(set(state["registries"]) | {host})
            print("Login Succeeded")
        elif sub == "logout":
            with self.store.locked() as state:
                state["registries"] = [h for h in state["registries"] if h != host]
            print(f"Removing login credentials for {host}")
        else:
            raise Exit(1, f'Error: unknown command "{sub}" for "helm registry"')

    def cmd_dependency(self, argv: list[str]) -> None:
        self.op = "dependency"

    cmd_dep = cmd_dependency
    cmd_dependencies = cmd_dependency

    def cmd_pull(self, argv: list[str]) -> None:
        args = parse(argv)
        if not args.positionals:
            raise Exit(1, 'Error: "helm pull" requires 1 argument')
        ref = args.positionals[0]
        state = self.store.read()
        failure = failure_for(state, ref, "pull")
        if failure is not None:
            raise Exit(1, f"Error: {failure}")
        meta = chart_meta(ref, args.value("--version"), state)
        dest = Path(args.value("-d", "--destination") or ".")
        dest.mkdir(parents=True, exist_ok=True)
        (dest / f"{meta['name']}-{meta['version']}.tgz").write_bytes(b"fake chart archive\n")

    def cmd_show(self, argv: list[str]) -> None:
        args = parse(argv)
        if len(args.positionals) < 2:
            raise Exit(1, 'Error: "helm show" requires a subcommand and a chart')
        what, ref = args.positionals[0], args.positionals[1]
        self.op = f"show {what}"
        meta = chart_meta(ref, args.value("--version"), self.store.read())
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
    store = Store(Path(root))
    helm = Invocation(store, args)
    code = 0
    try:
        code = helm.run()
    except Exit as exc:
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

