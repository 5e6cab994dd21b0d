"""The namespaces the plan shows, with the real helm 3 and helm 4 and kubectl on the emulated
cluster (marked ``helm``): the plan lists a missing namespace, apply creates it, the next plan
lists none; ``create_namespace = false`` into a missing namespace is refused by the plan
(exit 1) and apply changes nothing in the cluster for it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import write_config

pytestmark = pytest.mark.helm

FIRESTREAM = str(Path(sys.executable).with_name("firestream"))


def cli(kube, helm_bin, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - fixed argv
        [FIRESTREAM, "--helm-binary", str(helm_bin), "--kubeconfig", str(kube.kubeconfig),
         "--kubectl-binary", str(kube.tools["kubectl"]), *args],
        cwd=cwd, env=kube.env, capture_output=True, text=True, timeout=300,
    )


def block(name: str, namespace: str, chart_repo, extra: str = "") -> str:
    return (f'[[deployments.generic]]\nname = "{name}"\nchart = "tiny-app"\nrepository = "{chart_repo.name}"\n'
            f'version = "0.2.0"\nnamespace = "{namespace}"\n{extra}\n')


def namespace_exists(kube, name: str) -> bool:
    return kube.kubectl().get("namespace", name) is not None


def test_the_plan_shows_the_namespace_apply_creates_and_refuses_one_nothing_creates(
        tmp_path, kube, chart_repo, helm_bin):
    ns, other = kube.namespace, f"{kube.namespace}-x"
    head = f'[repositories]\n{chart_repo.name} = "{chart_repo.url}"\n\n[defaults]\ntimeout = "60s"\n\n'
    path = write_config(tmp_path / "p", head + block("db", ns, chart_repo) + block("cache", ns, chart_repo))
    d = path.parent
    assert not namespace_exists(kube, ns)

    done = cli(kube, helm_bin, "plan", cwd=d)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"+ namespace {ns} (created for db, cache)\n\n"), done.stdout
    assert done.stdout.endswith("Plan: 2 to create; 1 namespace to create.\n")
    done = cli(kube, helm_bin, "plan", "--json", cwd=d)
    assert json.loads(done.stdout)["namespaces_to_create"] == [{"namespace": ns, "releases": [
        {"release": "db", "created_by": "helm"}, {"release": "cache", "created_by": "helm"}]}]
    assert not namespace_exists(kube, ns)  # planning changed nothing

    done = cli(kube, helm_bin, "apply", "--yes", cwd=d)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"+ namespace {ns} (created for db, cache)\n")
    assert namespace_exists(kube, ns)
    done = cli(kube, helm_bin, "plan", cwd=d)
    assert done.returncode == 0, done.stderr
    assert "+ namespace" not in done.stdout and done.stdout.endswith("Plan: no changes (2 unchanged).\n")

    # create_namespace = false into a namespace that does not exist: refused by the plan, and apply
    # touches nothing of it (no release, no namespace); the rest goes on
    path.write_text(head + block("db", ns, chart_repo) + block("cache", ns, chart_repo)
                    + block("web", other, chart_repo, "create_namespace = false\n"))
    done = cli(kube, helm_bin, "plan", cwd=d)
    assert done.returncode == 1
    refusal = (f"web: namespace '{other}' does not exist and create_namespace is false (nothing else creates it): "
               "create it first, or set create_namespace = true")
    assert f"Refused (apply stops these releases before any change):\n  ! {refusal}\n" in done.stdout
    assert f"error: the plan refuses release 'web': namespace '{other}' does not exist" in done.stderr
    assert "Traceback" not in done.stderr
    done = cli(kube, helm_bin, "apply", "--yes", cwd=d)
    assert done.returncode == 1
    assert not namespace_exists(kube, other)
    assert [r.name for r in kube.helm(helm_bin).list_releases() if r.namespace in (ns, other)] == ["cache", "db"]

    # the namespace made by hand: the same config passes and deploys web
    kube.run([kube.tools["kubectl"], "--kubeconfig", kube.kubeconfig, "create", "namespace", other])
    done = cli(kube, helm_bin, "apply", "--yes", cwd=d)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "+ namespace" not in done.stdout
    done = cli(kube, helm_bin, "destroy", "--yes", cwd=d)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Note: firestream never deletes a namespace: {ns}, {other} stay, with anything else in them\n" \
        in done.stdout
    assert namespace_exists(kube, ns) and namespace_exists(kube, other)
