"""``template`` renders what ``apply`` deploys, for every built-in chart plugin (issue 11, point 6).

Each plugin's stand-in chart (``plugins/<plugin>/tests/charts``) is served
as its repository; the release is applied from a ``firestream.toml`` on the
emulator with the real helm 3 and helm 4, then ``firestream template``'s
manifest must equal ``helm get manifest``, object for object. The values a
plugin contributes (postgresql's ``auth.existingSecret``, Grafana's admin
Secret) are in both: without them ``template`` would render the chart's own
Secret with a random password, which apply never deploys.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from firestream_core.project import Project
from firestream_core.tools.manifests import split_manifest

from .conftest import write_config

pytestmark = pytest.mark.helm

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"

CASES = {
    # chart type: (stand-in chart folder, repository, versions (the plugin's default), release config lines)
    "postgresql": ("firestream-chart-postgresql/tests/charts/postgresql", "bitnami", {"postgresql": ["17.1.0"]},
                   'preset = "development"\n[deployments.postgresql.values]\n'
                   "metrics.serviceMonitor.enabled = false\n"),
    "prometheus-operator": ("firestream-chart-prometheus-operator/tests/charts/kube-prometheus-stack",
                            "prometheus-community", {"kube-prometheus-stack": ["81.5.0"]}, 'timeout = "120s"\n'),
    "kafka": ("firestream-chart-kafka/tests/charts/strimzi-kafka-operator", "strimzi",
              {"strimzi-kafka-operator": ["1.2.0"]}, 'timeout = "120s"\n'),
    "nginx-ingress": ("firestream-chart-nginx-ingress/tests/charts/ingress-nginx", "ingress-nginx",
                      {"ingress-nginx": ["4.15.1"]},
                      'preset = "k3d_local"\n[deployments.nginx-ingress.values]\n'
                      "controller.metrics.serviceMonitor.enabled = false\n"),
    "external-dns": ("firestream-chart-external-dns/tests/charts/external-dns", "bitnami",
                     {"external-dns": ["9.0.4"]},
                     'preset = "local"\n'),
}


def objects(text: str) -> list[str]:
    """The manifest's objects (hooks and ``crds/`` aside, as ``helm get manifest`` keeps them), sorted."""
    return sorted(json.dumps(o.obj, sort_keys=True) for o in split_manifest(text)
                  if not o.is_hook and not o.from_crds_folder)


@pytest.mark.parametrize("chart_type", sorted(CASES))
def test_template_prints_what_apply_deployed(chart_type, tmp_path, kube, make_chart_repo, helm_bin,
                                             no_log_redactors):
    folder, repo_name, versions, lines = CASES[chart_type]
    repo = make_chart_repo([PLUGINS / folder], repo_name, **({"versions": versions} if versions else {}))
    head, _, values = lines.partition("[deployments.")
    path = write_config(tmp_path / "p", f"""
        [repositories]
        {repo_name} = "{repo.url}"
    """)
    with path.open("a") as fh:
        fh.write(f'\n[[deployments.{chart_type}]]\nname = "r"\nnamespace = "{kube.namespace}"\n{head}')
        if values:
            fh.write("[deployments." + values)
    project = Project.load(path, helm_binary=helm_bin, kubeconfig=kube.kubeconfig, env=kube.env,
                           kubectl_binary=kube.tools["kubectl"])
    try:
        result = project.apply()
        assert result.ok, result.releases["r"].reason
        deployed = kube.run([helm_bin, "get", "manifest", "r", "-n", kube.namespace]).stdout
        notes: dict[str, str] = {}
        rendered = Project.load(path, helm_binary=helm_bin, kubeconfig=kube.kubeconfig, env=kube.env,
                                kubectl_binary=kube.tools["kubectl"]).template(notes=notes)["r"]
    finally:  # cluster-wide objects (an IngressClass) must not stay for the other helm major
        kube.run([helm_bin, "uninstall", "r", "-n", kube.namespace, "--wait"], check=False)
    assert objects(deployed), "the release deployed no object"
    assert objects(rendered) == objects(deployed)
    # template says which values come from plugins (they may name objects only apply creates)
    assert notes.get("r", "").startswith(NOTES.get(chart_type, "")) and ("r" in notes) == (chart_type in NOTES)


NOTES = {
    "postgresql": "values from plugins: auth.existingSecret (plugin postgresql); they may name objects",
    "prometheus-operator": "values from plugins: grafana.admin.existingSecret, grafana.admin.passwordKey, "
                           "grafana.admin.userKey (plugin prometheus-operator); they may name objects",
}
