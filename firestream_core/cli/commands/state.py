"""``firestream state``: look at the state file, or remove a stale lock.

* ``firestream state show [--json]``: what firestream last did to each release
  (action, result, revision, chart version; never values or their digest).
* ``firestream state unlock --force``: remove the project's lock whoever holds
  it, once that run is known to be over.
"""

from __future__ import annotations

import argparse

EXAMPLES = """
firestream state show
firestream state show --json
firestream state unlock --force
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("state_command", choices=["show", "unlock"], metavar="{show,unlock}",
                        help="show: list what the state file records; unlock: remove the project's lock")
    parser.add_argument("--force", action="store_true", help="unlock: remove the lock whoever holds it")
    parser.add_argument("--json", action="store_true", help="show: print JSON")


def _backend(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The state backend, from the config file alone (no plugins, no secrets needed)."""
    from firestream_core.config.load import load_config
    from firestream_core.project import state_backend

    config = load_config(args.file, environment=getattr(args, "environment", None))
    kubectl = None
    if config.state.backend == "kubernetes":  # the Secret and the Lease are in the cluster
        from firestream_core.tools.kubectl import Kubectl

        kubectl = Kubectl(None, getattr(args, "kubectl_binary", None), kubeconfig=args.kubeconfig,
                          kube_context=args.kube_context)
    return state_backend(config, kubectl=kubectl, kube_context=args.kube_context)


def run(args: argparse.Namespace) -> int:
    from firestream_core.errors import FirestreamError

    backend = _backend(args)
    if args.state_command == "unlock":
        holder = backend.lock_holder()
        if not args.force:
            who = f"held by {holder}" if holder else "not held"
            raise FirestreamError(f"the lock is {who}; pass --force to remove it",
                                  hint="make sure that run is over first")
        removed = backend.force_unlock()
        print(f"removed the lock of {removed}" if removed else "the project was not locked")
        return 0
    from firestream_core.cli.progress import format_table

    state = backend.load()
    rows = [
        {"release": r.key, "chart_type": r.chart_type, "chart": r.chart, "version": r.version,
         "revision": r.revision, "action": r.action, "result": r.result,
         "applied_at": r.applied_at, "duration": round(r.duration, 3)}
        for r in state.releases.values()
    ]
    if args.json:
        from firestream_core.cli.jsonout import dumps

        print(dumps("state", rows, state=backend.describe()))
    else:
        print(format_table(["release", "action", "result", "revision", "version", "applied at"],
                           [[r["release"], r["action"], r["result"], r["revision"], r["version"],
                             r["applied_at"]] for r in rows]), end="")
    return 0
