"""Real helm 3.19 and 4.3 against the emulator: plan refuses each create whose chart does not
render with its values, with helm's reason, and apply --yes, which renders no create first,
ends with the same changes (nothing of the failing release installed, its dependent skipped,
the independent releases applied).

The stand-in charts reproduce the upstream structures that fail: a ``required`` in a template
(bitnami's ``{{ required "A valid .Values.auth.password entry is required!" ... }}``), a
``values.schema.json`` with type and pattern constraints (bitnami's and kube-prometheus-stack's
``"type": "integer"`` / ``"number"`` properties), and a ``fail`` on a value outside the allowed
set (ingress-nginx's ``controller.kind`` check).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import write_config

pytestmark = pytest.mark.helm

SECRET = "Hunter2-NeverShown"

CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
data:
  replicas: {{ .Values.replicaCount | quote }}
"""


def _chart(root: Path, name: str, templates: dict[str, str], values: str = "replicaCount: 1\n",
           schema: dict | None = None) -> Path:
    chart = root / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text(values)
    for file, text in templates.items():
        (chart / "templates" / file).write_text(text)
    if schema is not None:
        (chart / "values.schema.json").write_text(json.dumps(schema, indent=2))
    return chart


def _charts(root: Path) -> dict[str, Path]:
    return {
        "ok": _chart(root, "ok-app", {"cm.yaml": CM}),
        # bitnami: {{ required "A valid .Values.auth.password entry is required!" ... }}
        "required": _chart(root, "required-app", {"secret.yaml": """apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-auth
type: Opaque
data:
  password: {{ required "A valid .Values.auth.password entry is required!" .Values.auth.password | b64enc | quote }}
"""}, values='auth:\n  password: ""\n'),
        # bitnami's / kube-prometheus-stack's values.schema.json: typed properties
        "schema": _chart(root, "schema-app", {"cm.yaml": CM}, schema={
            "$schema": "http://json-schema.org/schema#",
            "type": "object",
            "properties": {
                "replicaCount": {"type": "integer", "description": "Number of replicas", "default": 1},
                "auth": {"type": "object", "properties": {
                    "password": {"type": "string", "pattern": "^[a-z]*$", "default": ""}}},
            },
        }),
        # ingress-nginx: {{ fail "..." }} when controller.kind is not one it knows
        "fail": _chart(root, "fail-app", {"cm.yaml": """{{- if not (has .Values.controller.kind (list "Deployment" "DaemonSet" "Both")) }}
{{- fail "controller.kind must be one of Deployment, DaemonSet or Both" }}
{{- end }}
""" + CM}, values="replicaCount: 1\ncontroller:\n  kind: Deployment\n"),
    }


def _release(name: str, chart: Path, ns: str, deps: tuple[str, ...] = (), values: str = "",
             secret: str = "") -> str:
    dep = f"depends_on = [{', '.join(repr(d) for d in deps)}]\n" if deps else ""
    out = (f'[[deployments.generic]]\nname = "{name}"\npath = "{chart}"\nnamespace = "{ns}"\n'
           f'timeout = "60s"\n{dep}')
    if values:
        out += f"[deployments.generic.values]\n{values}\n"
    if secret:
        out += f"[deployments.generic.secret_values]\n{secret}\n"
    return out + "\n"


@pytest.fixture
def project(tmp_path, kube, monkeypatch) -> Path:
    """db (renders), web (a required value missing) after db, front after web, api (renders),
    cfg (a schema's integer given a string; a secret the schema's pattern rejects) and ing
    (a fail) in the test's namespace."""
    monkeypatch.setenv("RR_DB_PASSWORD", SECRET)
    c = _charts(tmp_path / "charts")
    ns = kube.namespace
    return write_config(tmp_path / "p", "".join([
        _release("db", c["ok"], ns),
        _release("web", c["required"], ns, ("db",)),
        _release("front", c["ok"], ns, ("web",)),
        _release("api", c["ok"], ns),
        _release("cfg", c["schema"], ns, values='replicaCount = "three"',
                 secret='"auth.password" = { env = "RR_DB_PASSWORD" }'),
        _release("ing", c["fail"], ns, values='controller.kind = "Job"'),
    ]))


def _installed(kube, helm_bin) -> list[str]:
    out = kube.run([helm_bin, "list", "-n", kube.namespace, "-o", "json"]).stdout
    return sorted(r["name"] for r in json.loads(out))


def test_plan_refuses_each_create_whose_chart_does_not_render_with_helms_reason(project, kube, helm_bin, cli):
    code, out, err = cli(project, "plan")
    assert code == 1, err
    assert "Traceback" not in out + err
    assert SECRET not in out + err
    refused = out.split("Refused (apply stops these releases before any change):\n", 1)[1].split("\n\n", 1)[0]
    lines = sorted(refused.splitlines())
    assert lines == sorted([
        "  ! web: the chart does not render with these values: execution error at "
        "(required-app/templates/secret.yaml:7:15): A valid .Values.auth.password entry is required!",
        "  ! ing: the chart does not render with these values: execution error at "
        "(fail-app/templates/cm.yaml:2:4): controller.kind must be one of Deployment, DaemonSet or Both",
        next(line for line in lines if line.startswith("  ! cfg: ")),
    ])
    cfg = next(line for line in lines if line.startswith("  ! cfg: "))
    assert cfg.startswith("  ! cfg: the chart does not render with these values: values don't meet the "
                          "specifications of the schema(s): schema-app: ")
    assert "at '/replicaCount': got string, want integer" in cfg
    assert "at '/auth/password':" in cfg and "does not match pattern" in cfg  # helm quotes the value: masked
    assert "error: the plan refuses release" in err
    # db, front and api are planned as creates, not refused; nothing was installed
    for name in ("db", "front", "api"):
        assert f"  ! {name}:" not in out
    assert _installed(kube, helm_bin) == []
    code, out, err = cli(project, "plan", "--json")
    assert code == 1 and SECRET not in out + err
    problems = {r["name"]: r["problems"] for r in json.loads(out)["releases"]}
    assert [bool(problems[n]) for n in ("db", "web", "front", "api", "cfg", "ing")] == \
        [False, True, False, False, True, True]


def test_apply_yes_renders_no_create_and_ends_with_the_same_changes(project, kube, helm_bin, helm_major, cli):
    """The claim behind ``apply --yes`` not rendering creates first: a create whose chart does not
    render fails inside helm with nothing of it installed, its dependents are skipped, and the
    independent releases are applied, as when plan refuses it."""
    code, out, err = cli(project, "apply", "--yes")
    assert code == 1
    assert SECRET not in out + err
    assert _installed(kube, helm_bin) == ["api", "db"]
    # nothing of the failing creates: no release record (any status), no object
    every = kube.run([helm_bin, "list", *(["-a"] if helm_major == 3 else []), "-n", kube.namespace,
                      "-o", "json"]).stdout  # every status (helm 4 lists them all, and refuses -a)
    assert sorted(r["name"] for r in json.loads(every)) == ["api", "db"]
    objects = json.loads(kube.run([kube.tools["kubectl"], "get", "configmaps,secrets", "-n", kube.namespace,
                                   "-o", "json"]).stdout)["items"]
    names = {o["metadata"]["name"] for o in objects}
    assert {"db", "api"} <= names
    assert not names & {"web-auth", "front", "cfg", "ing"}
    assert "front" in out and "skipped" in out


def test_a_create_that_renders_is_not_refused_and_a_cluster_failure_is_left_to_helm(tmp_path, kube, helm_bin, cli):
    """A ConfigMap helm does not own already holds the name the chart renders: the dry run fails
    because of the cluster, not the chart; plan does not refuse it, says it was not rendered."""
    c = _charts(tmp_path / "charts")
    ns = kube.namespace
    kube.run([kube.tools["kubectl"], "create", "namespace", ns], check=False)
    kube.run([kube.tools["kubectl"], "create", "configmap", "taken", "-n", ns])
    path = write_config(tmp_path / "p", _release("fine", c["ok"], ns) + _release("taken", c["ok"], ns))
    code, out, err = cli(path, "plan")
    assert code == 0, out + err
    assert "Refused" not in out
    not_rendered = out.split("Not rendered before apply (apply reports what helm says):\n", 1)[1]
    assert not_rendered.startswith("  ? taken: ")
    assert "exists and cannot be imported into the current release" in not_rendered.splitlines()[0]
    assert "? fine:" not in out


def test_interactive_apply_stops_the_refused_releases_before_any_change(project, kube, helm_bin, cli, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    code, out, err = cli(project, "apply")
    assert code == 1
    assert SECRET not in out + err
    assert "Refused (apply stops these releases before any change):" in out
    for name in ("web", "cfg", "ing"):
        assert f"  ! {name}: the chart does not render with these values: " in out
    # db and api applied; web, cfg and ing stopped before helm ran them, front skipped after web
    assert _installed(kube, helm_bin) == ["api", "db"]
