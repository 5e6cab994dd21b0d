"""In-memory stand-ins for the helm layer, for the lifecycle's unit tests.

``FakeHelm`` keeps release histories the way helm does (a new revision is
``deployed``, the one it replaces ``superseded``), records every call and
can be told to fail an operation. ``FakeKubectl`` serves pods, events and
logs from plain dicts. Neither starts a process.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from firestream_core.errors import HelmCommandError
from firestream_core.model import ChartInfo, InstalledRelease
from firestream_core.tools.helm_args import kube_flags
from firestream_core.tools.helm_output import TestResult, TestRun, UpgradedRelease
from firestream_core.tools.process import Completed


class RecordingRunner:
    """The process runner, recorded: every program "succeeds" unless told otherwise."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.kwargs: list[dict[str, Any]] = []
        self.results: list[Completed] = []

    def run(self, argv: Any, **kwargs: Any) -> Completed:
        args = [str(a) for a in argv]
        self.calls.append(args)
        self.kwargs.append(kwargs)
        if self.results:
            return self.results.pop(0)
        return Completed(tuple(args), 0, "", "", 0.0)

    run_program = run


class FakeHelm:
    major = 3

    def __init__(self) -> None:
        self.history_: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.failures: dict[str, list[BaseException]] = defaultdict(list)
        self.repos: dict[str, str] = {}
        self.published: dict[str, str] = {}  # chart ref -> the version resolve_version finds
        self.tests_pass = True
        self.runner = RecordingRunner()
        self.binary = "/opt/helm"
        self.kubeconfig = Path("/tmp/kubeconfig")
        self.kube_context = None
        self.env: dict[str, str] = {}
        self.upgraded_infos: list[ChartInfo] = []
        self.manifest = ""  # what get_manifest answers
        self.manifest_workloads: tuple[tuple[str, str, str], ...] | None = ()  # what the upgrade reports

    def argv(self, args: list[str]) -> list[str]:  # as Helm.argv
        return [self.binary, *args, *kube_flags(self.kubeconfig, self.kube_context, context_flag="--kube-context")]

    def program_env(self) -> dict[str, str]:  # as Helm.program_env
        return {"KUBECONFIG": str(self.kubeconfig), **self.env}

    # -- test controls ---------------------------------------------------------------
    def fail(self, op: str, *errors: BaseException) -> None:
        """Make the next calls of ``op`` raise ``errors`` in turn."""
        self.failures[op].extend(errors)

    def _maybe_fail(self, op: str) -> None:
        if self.failures.get(op):
            raise self.failures[op].pop(0)

    def seed(self, name: str, namespace: str, *entries: tuple[int, str, str]) -> None:
        """Give a release a history of ``(revision, status, chart)`` entries."""
        self.history_[(namespace, name)] = [
            {"revision": r, "status": s, "chart": c, "app_version": "", "updated": ""}
            for r, s, c in entries
        ]

    def ops(self) -> list[str]:
        return [c[0] for c in self.calls]

    # -- the Helm interface ---------------------------------------------------------
    def list_releases(self) -> list[InstalledRelease]:
        self.calls.append(("list_releases",))
        self._maybe_fail("list_releases")
        out = []
        for (ns, name), hist in self.history_.items():
            if hist:
                e = hist[-1]
                out.append(InstalledRelease(name, ns, e["revision"], e["status"], e["chart"]))
        return out

    def upgrade_install(self, info: ChartInfo, project_dir: Path, *, extra_values: Any = None,
                        replace: bool = False) -> int:
        """``replace``: ``helm install --replace``; without it an uninstalled release is refused
        as helm's ``upgrade --install`` refuses it once its history is ten revisions long."""
        self.calls.append(("install_replace" if replace else "upgrade_install", info.name, info.namespace_name))
        self.upgraded_infos.append(info)
        self._maybe_fail("upgrade_install")
        past = self.history_.get((info.namespace_name, info.name), [])
        uninstalled = bool(past) and past[-1]["status"] == "uninstalled"
        if uninstalled and not replace:
            raise HelmCommandError(f'UPGRADE FAILED: "{info.name}" has no deployed releases', release=info.name)
        if replace and not uninstalled:
            raise HelmCommandError("INSTALLATION FAILED: cannot re-use a name that is still in use",
                                   release=info.name)
        if info.dry_run:
            return 0
        hist = self.history_.setdefault((info.namespace_name, info.name), [])
        for e in hist:
            if e["status"] in ("deployed", "uninstalled"):
                e["status"] = "superseded"
        rev = hist[-1]["revision"] + 1 if hist else 1
        chart = f"{info.chart.split('/')[-1] or 'chart'}-{info.version or '0.1.0'}"
        hist.append({"revision": rev, "status": "deployed", "chart": chart, "app_version": "", "updated": ""})
        return rev

    def upgrade_install_release(self, info: ChartInfo, project_dir: Path, *,
                                extra_values: Any = None, replace: bool = False) -> UpgradedRelease:
        """``upgrade_install`` with helm's record of the revision, as ``--output json`` gives it."""
        rev = self.upgrade_install(info, project_dir, extra_values=extra_values, replace=replace)
        status = "pending-install" if info.dry_run else "deployed"
        # helm's --output json carries the manifest; these fakes' charts create no workloads
        return UpgradedRelease(info.name, info.namespace_name, rev, status, workloads=self.manifest_workloads)

    def get_manifest(self, name: str, namespace: str) -> str:
        self.calls.append(("get_manifest", name, namespace))
        return self.manifest

    def uninstall(self, name: str, namespace: str, *, wait: bool = True, timeout: str = "300s",
                  ignore_not_found: bool = True, keep_history: bool = False, no_hooks: bool = False) -> None:
        self.calls.append(("uninstall_keep_history" if keep_history else "uninstall", name, namespace))
        self._maybe_fail("uninstall")
        if keep_history and self.history_.get((namespace, name)):
            hist = self.history_[(namespace, name)]
            hist[-1]["status"] = "uninstalled"
            return
        self.history_.pop((namespace, name), None)

    def status(self, name: str, namespace: str) -> dict[str, Any]:
        self.calls.append(("status", name, namespace))
        self._maybe_fail("status")
        hist = self.history_.get((namespace, name))
        if not hist:
            raise HelmCommandError(f"release '{name}': helm status failed: release: not found", release=name)
        e = hist[-1]
        return {"name": name, "namespace": namespace, "version": e["revision"], "info": {"status": e["status"]}}

    def history(self, name: str, namespace: str) -> list[dict[str, Any]]:
        self.calls.append(("history", name, namespace))
        self._maybe_fail("history")
        hist = self.history_.get((namespace, name))
        if not hist:
            raise HelmCommandError(f"release '{name}': helm history failed: release: not found", release=name)
        return [dict(e) for e in hist]

    def rollback(self, name: str, namespace: str, revision: int | None = None, *, wait: bool = True,
                 timeout: str = "300s", no_hooks: bool = False) -> None:
        self.calls.append(("rollback", name, namespace, revision))
        self._maybe_fail("rollback")
        hist = self.history_[(namespace, name)]
        target = next(e for e in hist if e["revision"] == revision)
        for e in hist:
            if e["status"] in ("deployed", "pending-upgrade", "pending-rollback", "pending-install"):
                e["status"] = "superseded" if e["status"] == "deployed" else "failed"
        hist.append({**target, "revision": hist[-1]["revision"] + 1, "status": "deployed"})

    def resolve_version(self, chart_ref: str, version: str | None = None) -> str | None:
        """As ``Helm.resolve_version``: the version ``published`` gives ``chart_ref`` (1.0.0
        when none), whatever the constraint."""
        self.calls.append(("resolve_version", chart_ref, version))
        self._maybe_fail("resolve_version")
        return self.published.get(chart_ref, "1.0.0")

    def repo_add(self, name: str, url: str) -> bool:
        self.calls.append(("repo_add", name, url))
        self._maybe_fail("repo_add")
        if name in self.repos:
            return False
        self.repos[name] = url
        return True

    def test(self, name: str, namespace: str, timeout: str = "300s") -> TestRun:
        self.calls.append(("test", name, namespace))
        self._maybe_fail("test")
        phase = "Succeeded" if self.tests_pass else "Failed"
        return TestRun(name, namespace, self.tests_pass, (TestResult(f"{name}-test", phase),))


def pod(name: str, phase: str = "Running", ready: bool = True, waiting: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {"running": {}}
    if waiting:
        state = {"waiting": {"reason": waiting}}
    return {
        "metadata": {"name": name, "labels": {}},
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": "app", "ready": ready, "state": state, "restartCount": 0}],
        },
    }


class FakeKubectl:
    def __init__(self) -> None:
        self.pods: dict[str, list[dict[str, Any]]] = {}
        self.events_: list[dict[str, Any]] = []
        self.logs_: dict[str, str] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.runs: list[list[str]] = []
        self.pod_script: list[list[dict[str, Any]]] = []
        self.fail_get: BaseException | None = None
        self.workloads: dict[str, list[dict[str, Any]]] = {}

    def get(self, kind: str, name: str | None = None, *, namespace: str | None = None,
            selector: str | None = None, all_namespaces: bool = False) -> dict[str, Any] | None:
        self.calls.append(("get", kind, namespace, selector))
        if self.fail_get is not None:
            raise self.fail_get
        if kind.startswith("pods,"):  # pods and workloads: one List of mixed kinds, as kubectl answers
            pods = [{"kind": "Pod", **p} for p in self._pods(selector)]
            return {"kind": "List", "items": pods + self._workloads(selector)}
        if kind != "pods":
            return {"kind": "List", "items": self._workloads(selector)}
        return {"kind": "PodList", "items": self._pods(selector)}

    def get_labelled(self, kind: str, label: str, value: str, *, namespace: str) -> dict[str, Any] | None:
        """As ``Kubectl.get_labelled`` answers a release validating alone: its ``get``."""
        return self.get(kind, namespace=namespace, selector=f"{label}={value}")

    def _workloads(self, selector: str | None) -> list[dict[str, Any]]:
        release = (selector or "=").split("=", 1)[1]
        return self.workloads.get(release, [])

    def _pods(self, selector: str | None) -> list[dict[str, Any]]:
        if self.pod_script:
            items = self.pod_script.pop(0) if len(self.pod_script) > 1 else self.pod_script[0]
        else:
            release = (selector or "=").split("=", 1)[1]
            items = self.pods.get(release, [])
        return items

    def events(self, namespace: str, *, involved_object: str | None = None) -> list[dict[str, Any]]:
        self.calls.append(("events", namespace))
        return list(self.events_)

    def logs(self, pod: str, namespace: str, *, tail: int = 50, container: str | None = None) -> str:
        self.calls.append(("logs", pod, namespace))
        return self.logs_.get(pod, "")

    def run(self, argv: list[str], *, label: str | None = None, timeout: float | None = None) -> None:
        assert argv[0] == "kubectl"  # the real Kubectl.run takes the whole command
        self.runs.append(list(argv))
