"""external-dns as a user runs it: firestream.toml -> plan -> apply, on helm 3 and helm 4.

Install at the seed's 6.31.0 (as a DaemonSet, with the DNSEndpoint CRD), no-op plan and no
drift; the upgrade to the default 9.0.4 refused while ``useDaemonset`` is still set (8.0.0 no
longer reads it), then planned across breaking version 9.0.0 with each upstream note and done
in place; no-op and no drift again; destroy takes the cluster-scoped RBAC and the CRD template.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BLOCK = """[repositories]
bitnami = "{url}"

[[deployments.external-dns]]
name = "dns"
preset = "local"
namespace = "{ns}"
version = "{version}"

[deployments.external-dns.values]
crd.create = true
{extra}"""

CRD = "dnsendpoints.externaldns.k8s.io"


def _project(path: Path, kube: Any, helm_bin: Path) -> Any:
    from firestream_core.project import Project

    return Project.load(path, helm_binary=helm_bin, kubectl_binary=kube.tools["kubectl"],
                        kubeconfig=kube.kubeconfig, env=kube.env)


def _settled(path: Path, kube: Any, helm_bin: Path) -> None:
    """The plan after an apply is a no-op and every object of the release is as helm made it."""
    project = _project(path, kube, helm_bin)
    assert project.plan()["dns"].action == "no-op"
    (drift,) = project.drift()
    assert drift.status == "in-sync", drift.to_dict()
    # ServiceAccount, Service, workload, ClusterRole, ClusterRoleBinding, the CRD
    assert drift.checked == 6, drift.to_dict()


def test_install_upgrade_across_the_majors_noop_drift_and_destroy(
    kube: Any, deploy_chart_repo: Any, tmp_path: Path, helm_bin: Path
) -> None:
    ns = kube.namespace
    path = tmp_path / "firestream.toml"

    def write(version: str, extra: str = "") -> None:
        path.write_text(BLOCK.format(url=deploy_chart_repo.url, ns=ns, version=version, extra=extra))

    # install the seed-era chart, the way 6.x allowed: a DaemonSet
    write("6.31.0", "useDaemonset = true\n")
    project = _project(path, kube, helm_bin)
    assert project.plan()["dns"].action == "create"
    result = project.apply()
    assert result.ok, result.to_dict()
    assert kube.kubectl().get("daemonset", "dns-external-dns", namespace=ns) is not None
    assert kube.kubectl().get("customresourcedefinition", CRD) is not None
    role = kube.kubectl().get("clusterrole", "dns-external-dns")
    assert {"dnsendpoints"} <= {r for rule in role["rules"] for r in rule["resources"]}
    _settled(path, kube, helm_bin)

    # the default 9.0.4 with the DaemonSet still asked for: refused before anything changes
    write("9.0.4", "useDaemonset = true\n")
    project = _project(path, kube, helm_bin)
    plan = project.plan()
    problem = ("release 'dns': useDaemonset = true is not read by bitnami/external-dns 8.0.0 and later "
               "(chart 9.0.4 runs one Deployment pod, bitnami/charts#26759); remove it, or pin "
               'version = "7.5.7" (the last 7.x) to keep it')
    assert plan.problems == [("dns", problem)]
    refused = project.apply(plan)
    assert not refused.ok and refused.releases["dns"].stage_failed == "check_prerequisites"
    history = kube.run([str(helm_bin), "history", "dns", "-n", ns, "-o", "json"])
    assert [h["chart"] for h in json.loads(history.stdout)] == ["external-dns-6.31.0"]

    # without it: an in-place upgrade across breaking version 9.0.0, each upstream note on the plan
    write("9.0.4")
    project = _project(path, kube, helm_bin)
    plan = project.plan()
    change = plan["dns"]
    assert plan.problems == []
    assert change.action == "upgrade"
    assert change.reasons[0] == "breaking version 9.0.0: upgrade across it (installed 6.31.0)"
    assert change.destructive[0] == "no uninstall, no CRD step: helm upgrades external-dns 6.31.0 -> 9.0.4 in place"
    assert [line.split(":")[0] for line in change.destructive[1:]] == [
        "upgrade note of 7.0.0", "upgrade note of 8.0.0", "upgrade note of 9.0.0"]
    result = project.apply(plan)
    assert result.ok, result.to_dict()
    history = kube.run([str(helm_bin), "history", "dns", "-n", ns, "-o", "json"])
    assert [h["chart"] for h in json.loads(history.stdout)] == ["external-dns-6.31.0", "external-dns-9.0.4"]
    assert kube.kubectl().get("daemonset", "dns-external-dns", namespace=ns) is None
    deployment = kube.kubectl().get("deployment", "dns-external-dns", namespace=ns)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":0.18.0-debian-12-r0")
    assert kube.kubectl().get("customresourcedefinition", CRD) is not None  # a template: helm kept it
    _settled(path, kube, helm_bin)

    # destroy: the namespaced objects, the cluster-scoped RBAC and the CRD template go with the release
    gone = _project(path, kube, helm_bin).destroy()
    assert gone.ok, gone.to_dict()
    assert kube.kubectl().get("deployment", "dns-external-dns", namespace=ns) is None
    assert kube.kubectl().get("clusterrole", "dns-external-dns") is None
    assert kube.kubectl().get("clusterrolebinding", "dns-external-dns") is None
    assert kube.kubectl().get("customresourcedefinition", CRD) is None
    assert _project(path, kube, helm_bin).plan()["dns"].action == "create"


def test_diff_treats_the_crd_template_as_a_template(
    kube: Any, deploy_chart_repo: Any, tmp_path: Path, helm_bin: Path
) -> None:
    """Upstream's DNSEndpoint CRD is templates/crds/crd.yaml: a template (helm installs, upgrades
    and deletes it with the release), not the chart's crds/ folder. diff shows it among the
    objects a create adds, and a values-only upgrade leaves it, as helm does."""
    ns = kube.namespace
    path = tmp_path / "firestream.toml"
    path.write_text(BLOCK.format(url=deploy_chart_repo.url, ns=ns, version="6.31.0", extra=""))
    (created,) = _project(path, kube, helm_bin).diff()
    assert created.action == "create"
    assert created.crds == ()  # not "+ CRD ... (from the chart's crds/ folder)"
    added = {(o.key.kind, o.key.name) for o in created.objects if o.change == "added"}
    assert ("CustomResourceDefinition", CRD) in added
    assert _project(path, kube, helm_bin).apply().ok

    path.write_text(BLOCK.format(url=deploy_chart_repo.url, ns=ns, version="6.31.0", extra='txtOwnerId = "team-a"\n'))
    (upgrade,) = _project(path, kube, helm_bin).diff()
    assert upgrade.action == "upgrade"
    assert [(o.key.kind, o.change) for o in upgrade.objects] == [("Deployment", "changed")]
    assert _project(path, kube, helm_bin).apply().ok
    assert kube.kubectl().get("customresourcedefinition", CRD) is not None  # helm kept it, as diff said
    assert _project(path, kube, helm_bin).destroy().ok


def test_the_plan_says_what_deleting_the_crd_template_deletes(
    kube: Any, deploy_chart_repo: Any, tmp_path: Path, helm_bin: Path
) -> None:
    """helm deletes the DNSEndpoint CRD template when crd.create turns off and on uninstall, and the
    API server every DNSEndpoint of every namespace with it: the upgrade's and the destroy's plans
    say so among their destructive steps (one helm get manifest per destroyed release)."""
    ns = kube.namespace
    line = (f"{CRD} (a template of the chart): every DNSEndpoint in every namespace goes with it")
    path = tmp_path / "firestream.toml"
    path.write_text(BLOCK.format(url=deploy_chart_repo.url, ns=ns, version="6.31.0", extra=""))
    assert _project(path, kube, helm_bin).apply().ok
    project = _project(path, kube, helm_bin)
    assert project.plan(destroy=True)["dns"].destructive == (f"helm's uninstall deletes CRD {line}",)

    path.write_text(BLOCK.format(url=deploy_chart_repo.url, ns=ns, version="6.31.0", extra="").replace(
        "crd.create = true", "crd.create = false"))
    project = _project(path, kube, helm_bin)
    change = project.refuse_before_apply(project.plan())["dns"]
    assert (change.action, change.problems) == ("upgrade", ())
    assert f"helm deletes CRD {line}" in change.destructive
    assert project.apply().ok
    assert kube.kubectl().get("customresourcedefinition", CRD) is None  # as the plan said
    # nothing of the kind left to delete: the destroy plan says nothing more
    assert _project(path, kube, helm_bin).plan(destroy=True)["dns"].destructive == ()
    assert _project(path, kube, helm_bin).destroy().ok
