"""The fake helm's commands that change a release: install / upgrade, uninstall, rollback."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from firestream_testing.fakehelm.helmio import (
    Args,
    Exit,
    chart_meta,
    namespace_of,
    output_of,
    parse,
    print_data,
    release_json,
    values_of,
)
from firestream_testing.fakehelm.store import (
    Store,
    delay_of,
    failure_for,
    find,
    key,
    latest,
    now,
    render_failure,
)


@dataclass
class _Upgrade:
    """One ``helm install`` / ``helm upgrade`` call, read from its arguments."""

    args: Args
    name: str
    ref: str
    namespace: str
    install_only: bool
    install: bool
    atomic: bool
    dry_run: bool
    values: dict[str, Any]
    word: str
    exists: bool = False

    @classmethod
    def of(cls, args: Args, *, install_only: bool) -> _Upgrade:
        return cls(
            args=args, name=args.positionals[0], ref=args.positionals[1],
            namespace=namespace_of(args), install_only=install_only,
            install=install_only or args.has("--install", "-i"),
            atomic=args.has("--atomic", "--rollback-on-failure"),
            dry_run=args.has("--dry-run") and args.value("--dry-run") != "none",
            values=values_of(args), word="INSTALLATION" if install_only else "UPGRADE",
        )


def _check_flags(state: dict[str, Any], up: _Upgrade) -> None:
    """Flags the reported helm major rejects, as the real one words it."""
    args = up.args
    wait = args.value("--wait")
    if int(state["major"]) < 4 and wait not in (None, "true", "false"):
        raise Exit(1, f'Error: invalid argument "{wait}" for "--wait" flag: '
                      f'strconv.ParseBool: parsing "{wait}": invalid syntax')
    if args.has("--atomic") and int(state["major"]) >= 4:
        raise Exit(1, "Error: unknown flag: --atomic")
    if args.has("--rollback-on-failure") and int(state["major"]) < 4:
        raise Exit(1, "Error: unknown flag: --rollback-on-failure")
    if args.has("--force-replace") and args.value("--server-side", default="auto") != "false":
        raise Exit(1, f"Error: {up.word} FAILED: invalid operation: cannot use server-side apply "
                      "and force replace together")


def _check_release(rel: dict[str, Any] | None, up: _Upgrade) -> None:
    """Sets ``up.exists``; refuses a pending release, a re-install and an upgrade of nothing."""
    # (helm's install dry run reads no history: it renders one of a pending release)
    if rel is not None and latest(rel)["status"].startswith("pending-") and not (up.install_only and up.dry_run):
        raise Exit(1, f"Error: {up.word} FAILED: another operation (install/upgrade/rollback) "
                      "is in progress")
    up.exists = rel is not None and latest(rel)["status"] != "uninstalled"
    # `install` re-uses a name only with --replace and only when its release is uninstalled
    # (a dry run checks no name, as the real helm's)
    if up.install_only and rel is not None and not up.dry_run and (up.exists or not up.args.has("--replace")):
        raise Exit(1, "Error: INSTALLATION FAILED: cannot re-use a name that is still in use")
    if not up.exists and not up.install:
        raise Exit(1, f'Error: UPGRADE FAILED: "{up.name}" has no deployed releases')
    if not up.exists:
        up.word = "INSTALLATION"


def _new_revision(state: dict[str, Any], number: int, status: str, meta: dict[str, str], up: _Upgrade,
                  description: str) -> dict[str, Any]:
    rev = {"revision": number, "status": status, "chart": meta["name"], "version": meta["version"],
           "app_version": meta["appVersion"], "values": up.values, "updated": now(),
           "description": description}
    extra = state["manifest_extra"].get(up.name)
    if extra:  # what FakeHelm.set_manifest_extra adds to this release's manifest
        rev["manifest_extra"] = extra
    return rev


def _begin(state: dict[str, Any], up: _Upgrade) -> tuple[str | None, float, dict[str, Any] | None]:
    """Checks, then records the pending revision (none for a dry run).

    Returns the injected failure, the delay and, for a dry run, the release JSON to print.
    """
    _check_flags(state, up)
    meta = chart_meta(up.ref, up.args.value("--version"), state)
    rel = find(state, up.name, up.namespace)
    _check_release(rel, up)
    unrendered = render_failure(state, up.name, meta["name"])
    if unrendered is not None:  # helm renders before it records anything (pkg/action/install.go)
        raise Exit(1, f"Error: {up.word} FAILED: {unrendered}")
    failure = failure_for(state, up.name, "upgrade")
    delay = delay_of(state, up.name)
    if up.dry_run:
        number = (latest(rel)["revision"] + 1) if rel and not up.install_only else 1  # install: revision 1
        rev = _new_revision(state, number, "pending-install", meta, up, "Dry run complete")
        fake_rel = rel or {"name": up.name, "namespace": up.namespace, "revisions": [rev]}
        return failure, delay, release_json(fake_rel, rev)
    if up.args.has("--create-namespace") and up.namespace not in state["namespaces"]:
        state["namespaces"].append(up.namespace)  # what the fake kubectl answers (fake_fixtures)
    if rel is None:
        rel = {"name": up.name, "namespace": up.namespace, "revisions": []}
        state["releases"][key(up.namespace, up.name)] = rel
    elif not up.exists:  # uninstalled, its history kept: the new revision follows it, as helm's
        latest(rel)["status"] = "superseded"
    number = (latest(rel)["revision"] + 1) if rel["revisions"] else 1
    rel["revisions"].append(_new_revision(
        state, number, "pending-upgrade" if up.exists else "pending-install", meta, up,
        "Preparing upgrade" if up.exists else "Initial install underway"))
    return failure, delay, None


def _record_failure(state: dict[str, Any], up: _Upgrade, failure: str) -> Exit:
    """The pending revision failed (rolled back or uninstalled when atomic): the error to raise."""
    name = up.name
    rel = state["releases"][key(up.namespace, name)]
    rev = latest(rel)
    rev["status"] = "failed"
    rev["description"] = f"{up.word.capitalize()} failed: {failure}"
    if up.atomic and up.exists:
        previous = next((r for r in reversed(rel["revisions"][:-1])
                         if r["status"] in ("deployed", "superseded")), None)
        if previous is not None:
            for r in rel["revisions"]:
                if r["status"] == "deployed":
                    r["status"] = "superseded"
            rel["revisions"].append({**previous, "revision": rev["revision"] + 1,
                                     "status": "deployed", "updated": now(),
                                     "description": f"Rollback to {previous['revision']}"})
        return Exit(1, f"Error: UPGRADE FAILED: release {name} failed, and has been rolled "
                       f"back due to atomic being set: {failure}")
    if up.atomic:
        del state["releases"][key(up.namespace, name)]
        return Exit(1, f"Error: INSTALLATION FAILED: release {name} failed, and has been "
                       f"uninstalled due to atomic being set: {failure}")
    return Exit(1, f"Error: {up.word} FAILED: {failure}")


def _record_deployed(state: dict[str, Any], up: _Upgrade) -> tuple[dict[str, Any], int]:
    """The pending revision is deployed (the one before superseded): its release JSON and number."""
    rel = state["releases"][key(up.namespace, up.name)]
    rev = latest(rel)
    for r in rel["revisions"][:-1]:
        if r["status"] == "deployed":
            r["status"] = "superseded"
    rev["status"] = "deployed"
    rev["description"] = "Upgrade complete" if up.exists else "Install complete"
    rev["updated"] = now()
    history_max = int(up.args.value("--history-max") or 10)
    if history_max > 0 and len(rel["revisions"]) > history_max:
        rel["revisions"] = rel["revisions"][-history_max:]
    return release_json(rel, rev), rev["revision"]


def _print_upgraded(up: _Upgrade, out: dict[str, Any], revision: int) -> None:
    name, ns = up.name, up.namespace
    if output_of(up.args) in ("json", "yaml"):
        print_data(out, output_of(up.args))
    elif up.exists:
        print(f'Release "{name}" has been upgraded. Happy Helming!\nNAME: {name}\n'
              f"NAMESPACE: {ns}\nSTATUS: deployed\nREVISION: {revision}")
    else:
        print(f'Release "{name}" does not exist. Installing it now.\nNAME: {name}\n'
              f"NAMESPACE: {ns}\nSTATUS: deployed\nREVISION: {revision}")


class ReleaseCommands:
    """``install`` / ``upgrade`` / ``uninstall`` / ``rollback`` of :class:`~.cli.Invocation`."""

    store: Store
    op: str
    release: str | None
    namespace: str | None

    # -- install / upgrade ----------------------------------------------------------------
    def cmd_install(self, argv: list[str]) -> int:
        return self._upgrade(argv, install_only=True)

    def cmd_upgrade(self, argv: list[str]) -> int:
        return self._upgrade(argv, install_only=False)

    def _upgrade(self, argv: list[str], *, install_only: bool) -> int:
        args = parse(argv)
        if len(args.positionals) < 2:
            raise Exit(1, f'Error: "helm {self.op}" requires 2 arguments')
        up = _Upgrade.of(args, install_only=install_only)
        self.release, self.namespace = up.name, up.namespace
        with self.store.locked() as state:
            failure, delay, dry_run_out = _begin(state, up)
        if delay > 0:
            time.sleep(delay)
        if dry_run_out is not None:
            if output_of(args) == "json":
                print(json.dumps(dry_run_out))
            else:
                print(f'Release "{up.name}" has been upgraded. Happy Helming!\nNAME: {up.name}\n'
                      "STATUS: pending-install")
            return 0
        if failure is not None:
            with self.store.locked() as state:
                error = _record_failure(state, up, failure)
            raise error
        with self.store.locked() as state:
            out, revision = _record_deployed(state, up)
        _print_upgraded(up, out, revision)
        return 0

    # -- uninstall, rollback ----------------------------------------------------------------
    def cmd_uninstall(self, argv: list[str]) -> int:
        args = parse(argv)
        ns = namespace_of(args)
        if not args.positionals:
            raise Exit(1, 'Error: "helm uninstall" requires at least 1 argument')
        for name in args.positionals:
            self.release, self.namespace = name, ns
            with self.store.locked() as state:
                delay = delay_of(state, name)
                failure = failure_for(state, name, "uninstall")
            if delay > 0:
                time.sleep(delay)
            with self.store.locked() as state:
                rel = find(state, name, ns)
                if failure is not None:
                    raise Exit(1, f"Error: uninstallation completed with 1 error(s): {failure}")
                if rel is None or latest(rel)["status"] == "uninstalled":
                    if args.has("--ignore-not-found"):
                        print(f'release "{name}" uninstalled')
                        continue
                    raise Exit(1, f"Error: uninstall: Release not loaded: {name}: release: not found")
                if args.has("--keep-history"):
                    latest(rel)["status"] = "uninstalled"
                else:
                    del state["releases"][key(ns, name)]
            print(f'release "{name}" uninstalled')
        return 0

    def cmd_rollback(self, argv: list[str]) -> int:
        args = parse(argv)
        if not args.positionals:
            raise Exit(1, 'Error: "helm rollback" requires at least 1 argument')
        name = args.positionals[0]
        ns = namespace_of(args)
        self.release, self.namespace = name, ns
        with self.store.locked() as state:
            delay = delay_of(state, name)
            failure = failure_for(state, name, "rollback")
        if delay > 0:
            time.sleep(delay)
        with self.store.locked() as state:
            rel = find(state, name, ns)
            if rel is None:
                raise Exit(1, "Error: release: not found")
            if failure is not None:
                raise Exit(1, f"Error: {failure}")
            current = latest(rel)["revision"]
            wanted = int(args.positionals[1]) if len(args.positionals) > 1 else 0
            if wanted <= 0:
                wanted = current - 1
            target = next((r for r in rel["revisions"] if r["revision"] == wanted), None)
            if target is None:
                raise Exit(1, f'Error: release has no {wanted} version')
            for r in rel["revisions"]:
                if r["status"] == "deployed":
                    r["status"] = "superseded"
            rel["revisions"].append({**target, "revision": current + 1, "status": "deployed",
                                     "updated": now(), "description": f"Rollback to {wanted}"})
        print("Rollback was a success! Happy Helming!")
        return 0

