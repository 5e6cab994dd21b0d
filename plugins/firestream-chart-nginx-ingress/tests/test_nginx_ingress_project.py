"""The nginx-ingress plugin as a user drives it: ``firestream.toml`` -> plan -> apply, on helm 3 and helm 4.

Install (the admission webhook's hook Jobs run and are deleted by their
hook-delete-policy, the ValidatingWebhookConfiguration and IngressClass are
created), a no-op plan and a clean drift after apply, destroy; the upgrade
from the seed's 4.7.1 to the default: upstream's chart changelogs between
them ask for no reinstall and the chart has no CRDs, so it is one plain
upgrade (its pre-/post-upgrade hooks run again); a failing hook Job fails
the apply and names the release.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firestream_core.project import Project

FULLNAME = "nginx-ingress-ingress-nginx"
WEBHOOK = f"{FULLNAME}-admission"
HOOK_JOBS = [f"{WEBHOOK}-create", f"{WEBHOOK}-patch"]


@pytest.fixture(autouse=True)
def uninstall_afterwards(kube: Any) -> Iterator[None]:
    """IngressClass, webhook configuration and ClusterRoles are cluster-wide: one release at a time."""
    yield
    kube.run(["helm", "uninstall", "nginx-ingress", "-n", kube.namespace], check=False)


def project(kube: Any, helm_bin: Path, repo: Any, tmp_path: Path, body: str = "") -> Project:
    path = tmp_path / "firestream.toml"
    path.write_text(f'[repositories]\ningress-nginx = "{repo.url}"\n\n[[deployments.nginx-ingress]]\n'
                    f'namespace = "{kube.namespace}"\ntimeout = "60s"\n{body}')
    return Project.load(path, helm_binary=helm_bin, kubectl_binary=kube.tools["kubectl"],
                        kubeconfig=kube.kubeconfig, env=kube.env)


def history(kube: Any, helm_bin: Path) -> list[str]:
    out = kube.run([str(helm_bin), "history", "nginx-ingress", "-n", kube.namespace, "-o", "json"]).stdout
    return [h["chart"] for h in json.loads(out)]


def hooks_ran_and_were_deleted(kube: Any, helm_bin: Path) -> None:
    hooks = kube.run([str(helm_bin), "get", "hooks", "nginx-ingress", "-n", kube.namespace]).stdout
    for job in HOOK_JOBS:
        assert f"name: {job}" in hooks
        assert kube.kubectl().get("job", job, namespace=kube.namespace) is None  # hook-succeeded
    assert kube.kubectl().get("serviceaccount", WEBHOOK, namespace=kube.namespace) is None
    assert kube.kubectl().get("clusterrole", WEBHOOK) is None


def act_as_the_certgen_jobs(kube: Any) -> None:
    """What upstream's hook Jobs do (no container runs on the emulator): ``create`` writes the
    certificate Secret, ``patch`` puts its CA into the webhook configuration."""
    import base64

    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n").decode()
    kube.run(["kubectl", "create", "secret", "generic", WEBHOOK, "-n", kube.namespace,
              "--from-literal=ca=stand-in", "--from-literal=cert=stand-in", "--from-literal=key=stand-in"])
    kube.run(["kubectl", "patch", "validatingwebhookconfiguration", WEBHOOK, "--type=json", "-p",
              json.dumps([{"op": "add", "path": "/webhooks/0/clientConfig/caBundle", "value": ca}])])
    patched = kube.kubectl().get("validatingwebhookconfiguration", WEBHOOK)
    assert patched["webhooks"][0]["clientConfig"]["caBundle"] == ca


def test_install_noop_drift_and_destroy(
    kube: Any, helm_bin: Path, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    plan = project(kube, helm_bin, deploy_chart_repo, tmp_path).plan()
    assert [(c.name, c.action) for c in plan.releases] == [("nginx-ingress", "create")]
    result = project(kube, helm_bin, deploy_chart_repo, tmp_path).apply(plan)
    assert result.ok, result.to_dict()
    assert history(kube, helm_bin) == ["ingress-nginx-4.15.1"]
    hooks_ran_and_were_deleted(kube, helm_bin)
    webhook = kube.kubectl().get("validatingwebhookconfiguration", WEBHOOK)
    assert webhook["webhooks"][0]["clientConfig"]["service"] == {
        "name": f"{FULLNAME}-controller-admission", "namespace": kube.namespace,
        "path": "/networking/v1/ingresses", "port": 443}
    assert kube.kubectl().get("ingressclass", "nginx") is not None
    service = kube.kubectl().get("service", f"{FULLNAME}-controller", namespace=kube.namespace)
    assert service["spec"]["type"] == "LoadBalancer"

    act_as_the_certgen_jobs(kube)
    again = project(kube, helm_bin, deploy_chart_repo, tmp_path)
    assert [(c.name, c.action) for c in again.plan().releases] == [("nginx-ingress", "no-op")]
    (drift,) = again.drift()
    assert drift.status == "in-sync", drift.to_dict()  # the caBundle the patch Job adds is not drift
    assert drift.checked >= 7  # ServiceAccount, 3 Services, Deployment, IngressClass, webhook configuration

    gone = again.destroy()
    assert gone.ok, gone.to_dict()
    assert kube.kubectl().get("validatingwebhookconfiguration", WEBHOOK) is None
    assert kube.kubectl().get("ingressclass", "nginx") is None
    assert kube.kubectl().get("deployment", f"{FULLNAME}-controller", namespace=kube.namespace) is None
    # made by the hook Job, not by helm: helm uninstall leaves it, as with the real chart
    assert kube.kubectl().get("secret", WEBHOOK, namespace=kube.namespace) is not None


def test_the_seed_era_version_upgrades_in_one_plain_apply(
    kube: Any, helm_bin: Path, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    """4.7.1 -> 4.15.1: no breaking version upstream (chart changelogs 4.8.0-4.15.1), no CRDs: one helm upgrade."""
    assert project(kube, helm_bin, deploy_chart_repo, tmp_path, 'version = "4.7.1"\n').apply().ok
    plan = project(kube, helm_bin, deploy_chart_repo, tmp_path).plan()
    (change,) = plan.releases
    assert (change.action, change.breaking, change.destructive) == ("upgrade", None, ())
    assert any("4.7.1 -> 4.15.1" in reason for reason in change.reasons)
    result = project(kube, helm_bin, deploy_chart_repo, tmp_path).apply(plan)
    assert result.ok, result.to_dict()
    assert history(kube, helm_bin) == ["ingress-nginx-4.7.1", "ingress-nginx-4.15.1"]
    hooks_ran_and_were_deleted(kube, helm_bin)  # pre-upgrade / post-upgrade this time
    again = project(kube, helm_bin, deploy_chart_repo, tmp_path)
    assert [c.action for c in again.plan().releases] == ["no-op"]
    (drift,) = again.drift()
    assert drift.status == "in-sync", drift.to_dict()


def test_a_failing_admission_hook_job_fails_the_apply(
    kube: Any, helm_bin: Path, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    """The emulator's not-ready pod annotation makes the pre-install Job fail, as a broken certgen would."""
    body = ('[deployments.nginx-ingress.values]\n'
            'controller.admissionWebhooks.patch.podAnnotations = { "emulator.firestream.dev/ready" = "false" }\n')
    result = project(kube, helm_bin, deploy_chart_repo, tmp_path, body).apply()
    assert not result.ok
    outcome = result.releases["nginx-ingress"]
    assert outcome.result == "failed"
    assert (outcome.reason or "").startswith("release 'nginx-ingress' failed at exec: ")
    assert "failed pre-install" in (outcome.reason or "")  # helm's words: the hook, not the workload
    assert kube.kubectl().get("deployment", f"{FULLNAME}-controller", namespace=kube.namespace) is None


def test_an_ingress_class_controller_change_is_refused_before_any_change(
    kube: Any, helm_bin: Path, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    """The IngressClass's spec.controller is immutable (the API server's ValidateIngressClassUpdate):
    an upgrade that changes controller.ingressClassResource.controllerValue (templates/controller-
    ingressclass.yaml) would fail inside helm after the objects before it; plan refuses it and
    apply stops it before any change, naming the object and the way on."""
    assert project(kube, helm_bin, deploy_chart_repo, tmp_path).apply().ok
    body = ('[deployments.nginx-ingress.values]\n'
            'controller.ingressClassResource.controllerValue = "k8s.io/ingress-nginx-internal"\n')
    changed = project(kube, helm_bin, deploy_chart_repo, tmp_path, body)
    plan = changed.refuse_before_apply(changed.plan())
    (change,) = plan.releases
    assert change.action == "upgrade"
    assert change.reasons[0] == "refused: immutable fields change: IngressClass/nginx spec.controller"
    (problem,) = change.problems
    assert "IngressClass.networking.k8s.io/nginx: spec.controller" in problem
    assert "kubectl delete ingressclass.networking.k8s.io nginx --cascade=orphan" in problem
    result = changed.apply(plan)
    assert not result.ok
    assert history(kube, helm_bin) == ["ingress-nginx-4.15.1"]  # helm never ran the upgrade
    assert kube.kubectl().get("ingressclass", "nginx")["spec"]["controller"] == "k8s.io/ingress-nginx"
