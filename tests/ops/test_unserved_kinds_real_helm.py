"""Real helm 3.19 and 4.3 against the emulator: a release with objects of a kind the cluster does
not serve. helm refuses to install it (``resource mapping not found ... ensure CRDs are installed
first``) unless its own chart brings the CRD (the ``crds/`` folder, installed first) or a release it
depends on installs it before. plan renders it offline then (the cluster cannot render it), and
refuses it when nothing installs the CRD, as ``diff`` reports it, instead of showing a create that
apply fails.

The stand-ins reproduce the upstream structure: strimzi-kafka-operator's CRDs in its ``crds/``
folder (``crds/040-Crd-kafka.yaml``) and a release of ``Kafka`` objects that needs them. Each test
names its own API group (CRDs are cluster-wide; the emulator is shared by the module's tests).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import kafka_crd, operator_chart, write_config

pytestmark = pytest.mark.helm


def _charts(root: Path, group: str) -> dict[str, Path]:
    operator = operator_chart(root, group)
    cluster = root / "cluster"
    (cluster / "templates").mkdir(parents=True)
    (cluster / "Chart.yaml").write_text("apiVersion: v2\nname: cluster\nversion: 0.1.0\n")
    (cluster / "templates" / "kafka.yaml").write_text(
        f"apiVersion: {group}/v1beta2\nkind: Kafka\nmetadata:\n  name: {{{{ .Release.Name }}}}\n"
        "spec:\n  kafka:\n    replicas: 1\n")
    return {"operator": operator, "cluster": cluster}


def _release(name: str, chart: Path, ns: str, deps: tuple[str, ...] = ()) -> str:
    dep = f"depends_on = [{', '.join(repr(d) for d in deps)}]\n" if deps else ""
    return f'[[deployments.generic]]\nname = "{name}"\npath = "{chart}"\nnamespace = "{ns}"\ntimeout = "60s"\n{dep}\n'


def _installed(kube, helm_bin) -> list[str]:
    out = kube.run([helm_bin, "list", "-n", kube.namespace, "-o", "json"]).stdout
    return sorted(r["name"] for r in json.loads(out))


def test_plan_refuses_a_create_whose_kind_nothing_installs(tmp_path, kube, helm_bin, cli):
    ns = kube.namespace
    group = f"{ns}.kafka.firestream.dev"
    c = _charts(tmp_path / "charts", group)
    path = write_config(tmp_path / "p", _release("kafka", c["cluster"], ns))
    code, out, err = cli(path, "plan")
    assert code == 1, out + err
    assert "Traceback" not in out + err
    refused = out.split("Refused (apply stops these releases before any change):\n", 1)[1].splitlines()[0]
    assert refused == (
        f"  ! kafka: the cluster does not serve Kafka ({group}/v1beta2), and neither the chart nor a release "
        "it depends on installs its CRD: helm refuses objects of a kind the cluster does not serve; install "
        "the CRD first, or add the release that installs it to depends_on")
    # what helm does with it (plan told the truth): apply fails, nothing installed
    code, out, err = cli(path, "apply", "--yes")
    assert code == 1
    assert "ensure CRDs are installed first" in out + err
    assert _installed(kube, helm_bin) == []


def test_a_kind_the_dependency_or_the_chart_itself_installs_is_no_refusal(tmp_path, kube, helm_bin, cli):
    ns = kube.namespace
    group = f"{ns}.kafka.firestream.dev"
    c = _charts(tmp_path / "charts", group)
    # without depends_on the operator may come after: refused, as diff reports it
    path = write_config(tmp_path / "p", _release("strimzi", c["operator"], ns) + _release("kafka", c["cluster"], ns))
    code, out, err = cli(path, "plan")
    assert code == 1 and "! kafka: the cluster does not serve Kafka" in out
    assert "! strimzi:" not in out  # its crds/ folder brings the CRD it needs nothing of
    # with it, the operator installs the CRD first: planned, and apply installs both
    path = write_config(tmp_path / "p", _release("strimzi", c["operator"], ns)
                        + _release("kafka", c["cluster"], ns, ("strimzi",)))
    code, out, err = cli(path, "plan")
    assert code == 0, out + err
    assert "Refused" not in out
    code, out, err = cli(path, "apply", "--yes")
    assert code == 0, out + err
    assert _installed(kube, helm_bin) == ["kafka", "strimzi"]


def test_a_kind_a_chart_plugin_may_install_before_helm_is_left_to_it(tmp_path, kube, helm_bin, cli, fake_dists):
    """A plugin writing to the cluster before helm (its ``pre_exec``: an operator's CRDs applied
    first, as the prometheus-operator and kafka plugins do in their ``exec``) may install the CRD:
    neither plan nor ``apply --yes`` (which renders such a create) refuses it, and apply installs."""
    ns = kube.namespace
    group = f"{ns}.kafka.firestream.dev"
    c = _charts(tmp_path / "charts", group)
    fake_dists.plugin("firestream-crd-first", "crd-first", f'''
from firestream_core import hookimpl

CRD = {kafka_crd(group)!r}


@hookimpl
def pre_exec(chart, context, payload):
    context.kubectl.apply_server_side(CRD)
''')
    path = write_config(tmp_path / "p", _release("kafka", c["cluster"], ns))
    code, out, err = cli(path, "plan")
    assert code == 0, out + err
    assert "Refused" not in out
    code, out, err = cli(path, "apply", "--yes")
    assert code == 0, out + err
    assert _installed(kube, helm_bin) == ["kafka"]
