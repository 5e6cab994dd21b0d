"""firestream diff: masked manifest diffs, CRDs of a dependency, detailed exit codes.

The real-helm tests run with helm 3 and helm 4 against the emulator, with
local charts from ``tests/ops/charts``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import attrs
import pytest

from firestream_core.deploy.plan import Change, Plan
from firestream_core.model import HelmChart
from firestream_core.ops.diff import DiffInput, diff_project, format_diffs
from firestream_core.project import Project
from firestream_core.tools.manifests import HIDDEN, HIDDEN_CHANGED, mask_object, split_manifest
from firestream_core.tools.redact import Redactor
from tests.deploy.fakes import FakeHelm, FakeKubectl

from .conftest import CHARTS
from .helpers import extras_app_config, load, write_config

# -- masking and splitting (no binaries) ---------------------------------------------------

SECRET_OLD = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "data": {"password": base64.b64encode(b"old-pw").decode(), "user": "YXBw"},
              "stringData": {"token": "tok-1"}}
SECRET_NEW = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "data": {"password": base64.b64encode(b"new-pw").decode(), "user": "YXBw", "extra": "eA=="},
              "stringData": {"token": "tok-1"}}


def test_secret_values_are_hidden_and_changes_marked():
    old = mask_object(SECRET_OLD, SECRET_NEW, mark_changes=False)
    new = mask_object(SECRET_NEW, SECRET_OLD)
    assert old["data"] == {"password": HIDDEN, "user": HIDDEN}
    assert new["data"] == {"password": HIDDEN_CHANGED, "user": HIDDEN, "extra": HIDDEN}
    assert new["stringData"] == {"token": HIDDEN}
    assert "old-pw" not in json.dumps([old, new]) and "tok-1" not in json.dumps([old, new])


def test_sensitive_values_are_hidden_whole_and_ordinary_ones_shown():
    red = Redactor()
    red.add_values({"message": "hello-v2", "auth": {"password": "pw-v2-secret"}})
    old = {"kind": "ConfigMap", "data": {"message": "hello-v1", "pw": "pw-v1-secret",
                                         "dsn": "pg://app:pw-v2-secret@db/x", "level": "info"}}
    new = {"kind": "ConfigMap", "data": {"message": "hello-v2", "pw": "pw-v2-secret",
                                         "dsn": "pg://app:pw-v2-secret@db/x", "level": "debug"}}
    masked = mask_object(new, old, red)
    assert masked["data"] == {"message": "hello-v2", "pw": HIDDEN_CHANGED, "dsn": HIDDEN, "level": "debug"}


def test_a_hidden_value_hides_its_counterpart_on_both_sides():
    """A field hidden on one side of the diff is hidden on the other, even a value no redactor knows.

    The other side may hold a value too short to be matched as text, or an old
    secret helm holds at a path no longer declared secret: it is the same field.
    """
    red = Redactor()
    red.add_values({"auth": {"password": "pw-v2-secret"}})
    env = [{"name": "MODE", "value": "one"}, {"name": "PW", "value": "pw1"}]
    old = {"kind": "StatefulSet", "spec": {"template": {"spec": {"containers": [
        {"name": "kv", "env": env, "args": ["--user", "pw1"]}]}}},
        "data": {"apiKey": "old-key-unregistered", "n": 7}}
    new = {"kind": "StatefulSet", "spec": {"template": {"spec": {"containers": [
        {"name": "kv", "env": [{"name": "ADDED", "value": "two"}, {"name": "MODE", "value": "one"},
                               {"name": "PW", "value": "pw-v2-secret"}],
         "args": ["--user", "pw-v2-secret"]}]}}},
        "data": {"apiKey": "pw-v2-secret", "n": "pw-v2-secret"}}
    ma, mb = mask_object(old, new, red, mark_changes=False), mask_object(new, old, red)
    [ca], [cb] = ma["spec"]["template"]["spec"]["containers"], mb["spec"]["template"]["spec"]["containers"]
    # env items are paired by name, as kubectl merges them: the item added before PW moves nothing
    assert ca["env"] == [{"name": "MODE", "value": "one"}, {"name": "PW", "value": HIDDEN}]
    assert cb["env"] == [{"name": "ADDED", "value": "two"}, {"name": "MODE", "value": "one"},
                         {"name": "PW", "value": HIDDEN_CHANGED}]
    assert (ca["args"], cb["args"]) == (["--user", HIDDEN], ["--user", HIDDEN_CHANGED])
    assert ma["data"] == {"apiKey": HIDDEN, "n": HIDDEN}  # unknown, short or not a string: its pair is hidden
    assert mb["data"] == {"apiKey": HIDDEN_CHANGED, "n": HIDDEN_CHANGED}
    assert "pw1" not in json.dumps([ma, mb]) and "old-key" not in json.dumps([ma, mb])
    # a list without merge keys: equal items pair up, only the stretch holding the secret is hidden
    old_args = ["--user", "pw1", "--mode", "a"]
    new_args = ["--debug", "--user", "pw-v2-secret", "--mode", "b"]
    assert mask_object(old_args, new_args, red, mark_changes=False) == ["--user", HIDDEN, "--mode", "a"]
    assert mask_object(new_args, old_args, red) == ["--debug", "--user", HIDDEN_CHANGED, "--mode", "b"]


def test_split_manifest_keeps_sources_and_hooks():
    text = (
        "---\n# Source: c/crds/x.yaml\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata:\n  name: xs.g.io\n---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\n"
        "metadata:\n  name: a\n  annotations:\n    helm.sh/hook: pre-install,post-upgrade\n---\n\n"
    )
    objs = split_manifest(text)
    assert [(o.kind, o.from_crds_folder, o.hook_events) for o in objs] == [
        ("CustomResourceDefinition", True, ()),
        ("ConfigMap", False, ("pre-install", "post-upgrade")),
    ]
    assert str(objs[1].key("ns")) == "ConfigMap/a (namespace ns)"
    assert str(objs[0].key("ns")) == "CustomResourceDefinition.apiextensions.k8s.io/xs.g.io"


# -- against the emulator ------------------------------------------------------------------

PW1 = "Pw-first-8812"
PW2 = "Pw-second-4471"
MSG1 = "hello-firestream-v1"
MSG2 = "hello-firestream-v2"


def app_config(tmp_path, kube, *, message=MSG1, password=PW1, replicas=1, action=None):
    return extras_app_config(tmp_path, kube, keys=f'action = "{action}"' if action else "",
                             values={"message": message, "password": password, "replicaCount": replicas})


def no_secret(text: str, *secrets: str) -> None:
    for s in secrets:
        assert s not in text
        assert base64.b64encode(s.encode()).decode() not in text


def test_diff_of_create_then_upgrade_hides_secrets_and_shows_values(tmp_path, kube, helm_bin, cli):
    path = app_config(tmp_path, kube)
    diffs = load(path, kube, helm_bin).diff()
    assert [(d.name, d.action, d.status) for d in diffs] == [("web", "create", "changed")]
    d = diffs[0]
    assert sorted((o.key.kind, o.change) for o in d.objects) == [
        ("ConfigMap", "added"), ("Deployment", "added"), ("Secret", "added")]
    assert d.hooks == ("ConfigMap/web-pre-install (pre-install)",
                       "ConfigMap/web-post-upgrade (post-install/post-upgrade)")
    text = format_diffs(diffs)
    no_secret(text, PW1, "token-changeme")
    assert f"+  password: {HIDDEN}" in text and f"+  message: {MSG1}" in text  # only the secret is masked
    assert "+  level: info" in text  # what the config does not set is shown

    code, out, _ = cli(path, "diff", "--detailed-exitcode")
    assert code == 2 and "== web" in out
    no_secret(out, PW1)
    assert load(path, kube, helm_bin).apply().ok

    code, out, _ = cli(path, "diff", "--detailed-exitcode")
    assert (code, out) == (0, "No changes: every release is up to date.\n")

    path = app_config(tmp_path, kube, message=MSG2, password=PW2, replicas=2)
    diffs = load(path, kube, helm_bin).diff()
    assert [(d.name, d.action) for d in diffs] == [("web", "upgrade")]
    changes = {o.key.kind: o for o in diffs[0].objects}
    assert {k: o.change for k, o in changes.items()} == {
        "Secret": "changed", "ConfigMap": "changed", "Deployment": "changed"}
    assert f"-  password: {HIDDEN}\n+  password: {HIDDEN_CHANGED}" in changes["Secret"].diff
    assert "+  username" not in changes["Secret"].diff  # unchanged key: context only
    assert f"-  message: {MSG1}\n+  message: {MSG2}" in changes["ConfigMap"].diff
    assert "-  replicas: 1\n+  replicas: 2" in changes["Deployment"].diff
    assert diffs[0].hooks == ("ConfigMap/web-post-upgrade (post-install/post-upgrade)",)

    code, out, err = cli(path, "diff", "--detailed-exitcode", "--json")
    assert code == 2
    no_secret(out + err, PW1, PW2)
    data = json.loads(out)
    assert data["has_changes"] is True
    assert data["releases"][0]["reasons"] == ["values changed: message, password, replicaCount"]
    assert data["releases"][0]["value_changes"] == [
        {"path": "message", "old": MSG1, "new": MSG2},
        {"path": "password", "old": "(sensitive)", "new": "(sensitive)"},
        {"path": "replicaCount", "old": "1", "new": "2"},
    ]
    code, out, err = cli(path, "diff")
    assert f"   message: {MSG1} -> {MSG2}\n   password: (sensitive) -> (sensitive)\n" in out
    no_secret(out + err, PW1, PW2)


def test_destroy_diff_removes_everything(tmp_path, kube, helm_bin):
    path = app_config(tmp_path, kube)
    assert load(path, kube, helm_bin).apply().ok
    path = app_config(tmp_path, kube, action="destroy")
    (d,) = load(path, kube, helm_bin).diff()
    assert (d.action, d.status, d.hooks) == ("destroy", "changed", ())
    assert sorted(o.change for o in d.objects) == ["removed"] * 3
    no_secret(format_diffs([d]), PW1)


def crd_config(tmp_path, kube, *, depends: bool = True):
    dep = 'depends_on = ["operator"]' if depends else ""
    return write_config(tmp_path / "p", f"""
        [[deployments.generic]]
        name = "operator"
        path = "{CHARTS / 'gadget-crds'}"
        namespace = "{kube.namespace}"

        [[deployments.generic]]
        name = "user"
        path = "{CHARTS / 'gadget-user'}"
        namespace = "{kube.namespace}"
        {dep}
    """)


def test_crds_of_a_dependency_are_known_after_it_is_applied(tmp_path, kube, helm_bin, cli):
    kube.kubectl().delete("crd", "gadgets.extras.firestream.dev")  # the emulator is shared by the module
    path = crd_config(tmp_path, kube)
    diffs = {d.name: d for d in load(path, kube, helm_bin).diff()}
    op, user = diffs["operator"], diffs["user"]
    assert op.status == "changed" and op.crds == ("gadgets.extras.firestream.dev",)
    assert [(o.key.kind, o.change) for o in op.objects] == [("ConfigMap", "added")]
    assert user.status == "pending" and user.waiting_for == ("operator",)
    assert user.message.startswith("known after 'operator' is applied")
    assert "Gadget.extras.firestream.dev" in user.message
    code, out, _ = cli(path, "diff", "--detailed-exitcode")
    assert code == 2
    assert "known after 'operator' is applied" in out and "error" not in out

    result = load(path, kube, helm_bin).apply()
    assert result.ok, {n: o.reason for n, o in result.releases.items()}
    assert load(path, kube, helm_bin).diff() == []
    # now the kind is served: a change to user is an ordinary diff
    text = path.read_text() + '\n[deployments.generic.values]\nsize = 5\n'
    path.write_text(text)
    (d,) = load(path, kube, helm_bin).diff()
    assert (d.name, d.status) == ("user", "changed")
    assert "-  size: 3\n+  size: 5" in next(o.diff for o in d.objects if o.key.kind == "Gadget")


def test_a_kind_nothing_installs_is_an_error_for_that_release_only(tmp_path, kube, helm_bin, cli):
    kube.kubectl().delete("crd", "gadgets.extras.firestream.dev")
    path = crd_config(tmp_path, kube, depends=False)
    diffs = {d.name: d for d in load(path, kube, helm_bin).diff()}
    assert diffs["operator"].status == "changed"
    assert diffs["user"].status == "error"
    assert diffs["user"].message == (
        "the cluster does not serve Gadget (extras.firestream.dev/v1) and no release 'user' "
        "depends on installs its CRD")
    code, out, _ = cli(path, "diff", "--detailed-exitcode")
    assert code == 1 and "error: the cluster does not serve Gadget" in out


def test_diff_hides_both_sides_of_a_sensitive_field(tmp_path, kube, helm_bin, cli, monkeypatch):
    """A secret too short to be matched as text, rotated: the field is hidden on both sides.

    The deployed side (what helm holds) is the diff's counterpart of drift's live
    side: its value shows only where the new side's does.
    """
    path = write_config(tmp_path / "p", f"""
        [[deployments.generic]]
        name = "dr"
        path = "{CHARTS / 'kvstore'}"
        namespace = "{kube.namespace}"
        timeout = "60s"
        [deployments.generic.secret_values]
        "auth.password" = {{ env = "DR_PW" }}
    """)
    monkeypatch.setenv("DR_PW", "pw1")
    assert cli(path, "apply", "--yes")[0] == 0
    monkeypatch.setenv("DR_PW", "Rotated-Pw-222")
    code, out, err = cli(path, "-v", "diff", "--detailed-exitcode")
    assert code == 2, out + err
    assert f"-          value: {HIDDEN}\n+          value: {HIDDEN_CHANGED}" in out
    assert f"-  apiKey: {HIDDEN}\n+  apiKey: {HIDDEN_CHANGED}" in out
    assert "  mode: standalone" in out and "name: PW" in out  # names and ordinary values stay readable
    code, js, err2 = cli(path, "-v", "diff", "--json")
    assert code == 0
    for text in (out, js):
        assert "value: pw1" not in text and "apiKey: pw1" not in text and ": pw1" not in text
    no_secret(out + err + js + err2, "Rotated-Pw-222")


@pytest.mark.parametrize("target", ["web"])
def test_target_limits_the_diff(tmp_path, kube, helm_bin, target):
    path = write_config(tmp_path / "p", f"""
        [[deployments.generic]]
        name = "web"
        path = "{CHARTS / 'extras-app'}"
        namespace = "{kube.namespace}"

        [[deployments.generic]]
        name = "other"
        path = "{CHARTS / 'gadget-crds'}"
        namespace = "{kube.namespace}"
    """)
    assert [d.name for d in load(path, kube, helm_bin).diff([target])] == [target]


# -- the input the project builds (fake helm: no cluster) ---------------------------------------

INPUT_TOML = """
[[deployments.generic]]
name = "web"
chart = "web"
repository = "repo"
namespace = "shop"
depends_on = ["api"]

[[deployments.generic]]
name = "api"
chart = "repo/api"
namespace = "shop"
depends_on = ["db"]

[[deployments.generic]]
name = "db"
chart = "repo/db"
namespace = "shop"

[repositories]
repo = "https://charts.example.com"
"""


def _diff_input(tmp_path: Path) -> tuple[Project, DiffInput]:
    (tmp_path / "firestream.toml").write_text(INPUT_TOML)
    project = Project.load(tmp_path / "firestream.toml")
    return project, project.diff_input()


def test_the_input_is_frozen_and_holds_only_what_diff_uses(tmp_path):
    project, target = _diff_input(tmp_path)
    assert target.charts["web"] is project.chart("web") and list(target.charts) == ["web", "api", "db"]
    # every release a CRD may come from: what it depends on, directly or not
    assert dict(target.dependencies) == {"web": ("api", "db"), "api": ("db",), "db": ()}
    assert target.project_dir == tmp_path and target.redactor is project.redactor
    assert target.repositories == {"repo": "https://charts.example.com"}
    # a release the plan does not hold: its chart from the plan's desired-state function, a copy
    chart = target.desired("db", FakeHelm(), FakeKubectl())
    assert isinstance(chart, HelmChart) and chart is not project.chart("db")
    assert chart.chart_info.name == "db" and chart.chart_info.chart == "repo/db"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        target.dependencies = {}  # type: ignore[misc]


class _Helm(FakeHelm):
    """The test fakes' helm, rendering one ConfigMap per release (``helm template``)."""

    def __init__(self) -> None:
        super().__init__()
        self.rendered: list[tuple[str, bool, bool]] = []

    def template(self, info, project_dir, *, include_crds=False, is_upgrade=False, server=False):
        self.rendered.append((info.name, server, include_crds))
        return (f"---\n# Source: {info.name}/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\n"
                f"metadata:\n  name: {info.name}\ndata:\n  plugin: {info.plugin_values.get('from', 'none')}\n")

    def render_release(self, info, project_dir, *, replace=False):  # helm's dry run of apply's call
        return self.template(info, project_dir, server=True)


def test_diff_runs_on_its_input_and_the_plan_given(tmp_path):
    _, target = _diff_input(tmp_path)
    helm = _Helm()
    plan = Plan(releases=(Change("db", "shop", "generic", "no-op"),
                          Change("web", "shop", "generic", "create", reasons=("not installed",),
                                 plugin_values={"from": "the-plan"})))
    [web] = diff_project(target, plan, helm, FakeKubectl(), context=1)
    assert (web.name, web.action, web.status, web.reasons) == ("web", "create", "changed", ("not installed",))
    [obj] = web.objects
    assert obj.change == "added" and "plugin: the-plan" in obj.diff  # the plan's contributed values
    # helm's dry run of apply's call, then offline for the crds/ folder only
    assert helm.rendered == [("web", True, False), ("web", False, True)]
    assert ("repo_add", "repo", "https://charts.example.com") in helm.calls


POSTGRES_STAND_IN = Path(__file__).resolve().parents[2] / "plugins/firestream-chart-postgresql/tests/charts/postgresql"


def test_diff_renders_lookup_against_the_cluster(tmp_path, kube, helm_bin):
    """bitnami/postgresql without a password: its Secret keeps the generated one through
    ``lookup``, and an upgrade that finds none fails ("PASSWORDS ERROR"). Rendered offline,
    every upgrade's diff was that error; apply renders against the cluster, and so does diff."""
    def config(size: str) -> Path:
        return write_config(tmp_path / "p", f"""
            [[deployments.generic]]
            name = "pg"
            path = "{POSTGRES_STAND_IN}"
            namespace = "{kube.namespace}"
            [deployments.generic.values]
            primary.persistence.size = "{size}"
        """)

    assert load(config("8Gi"), kube, helm_bin).apply().ok
    secret = kube.kubectl().get("secret", "pg-postgresql", namespace=kube.namespace)
    password = base64.b64decode(secret["data"]["postgres-password"]).decode()
    (d,) = load(config("9Gi"), kube, helm_bin).diff()
    assert (d.action, d.status, d.message) == ("upgrade", "changed", "")
    assert [(o.key.kind, o.change) for o in d.objects] == [("StatefulSet", "changed")]  # the password stays
    assert "-          storage: 8Gi\n+          storage: 9Gi" in d.objects[0].diff
    assert password not in format_diffs([d])


KUBE_PROMETHEUS_STACK = (Path(__file__).resolve().parents[2]
                         / "plugins/firestream-chart-prometheus-operator/tests/charts/kube-prometheus-stack")


def test_objects_helm_keeps_are_kept_not_removed(tmp_path, kube, helm_bin, kubectl_bin):
    """grafana's PVC with ``helm.sh/resource-policy: keep`` (its ``persistence.annotations``):
    helm leaves it when the release drops it or is uninstalled; diff says so, not "removed"."""
    def config(persistence: bool, action: str = "deploy") -> Path:
        return write_config(tmp_path / "p", f"""
            [[deployments.generic]]
            name = "kps"
            path = "{KUBE_PROMETHEUS_STACK}"
            namespace = "{kube.namespace}"
            action = "{action}"
            [deployments.generic.values]
            grafana.persistence.enabled = {str(persistence).lower()}
            grafana.persistence.annotations = {{"helm.sh/resource-policy" = "keep"}}
            nodeExporter.enabled = false
            kubeStateMetrics.enabled = false
        """)

    def pvc_exists() -> bool:
        got = kube.run([str(kubectl_bin), "get", "pvc", "kps-grafana", "-n", kube.namespace,
                        "--ignore-not-found", "-o", "name"])
        return bool(got.stdout.strip())

    try:
        assert load(config(True), kube, helm_bin).apply().ok
        (d,) = load(config(True, "destroy"), kube, helm_bin).diff()
        changes = {(o.key.kind, o.key.name): o.change for o in d.objects}
        assert changes[("PersistentVolumeClaim", "kps-grafana")] == "kept"
        assert changes[("Deployment", "kps-grafana")] == "removed"
        assert "1 to keep (resource-policy)" in format_diffs([d])
        (d,) = load(config(False), kube, helm_bin).diff()  # the upgrade drops it: helm keeps it
        assert [(o.key.kind, o.change) for o in d.objects] == [("PersistentVolumeClaim", "kept")]
        assert load(config(False), kube, helm_bin).apply().ok
        assert pvc_exists()
    finally:
        kube.run([str(helm_bin), "uninstall", "kps", "-n", kube.namespace, "--wait"], check=False)
        kube.run([str(kubectl_bin), "delete", "pvc", "kps-grafana", "-n", kube.namespace, "--ignore-not-found"],
                 check=False)


def test_destroy_lists_the_installed_releases_delete_hooks(tmp_path, kube, helm_bin):
    """helm uninstall runs the installed release's pre-/post-delete hooks: diff lists them."""
    def config(action: str) -> Path:
        return extras_app_config(tmp_path, kube, keys=f'action = "{action}"',
                                 values={"message": MSG1, "password": PW1, "postDeleteHook": True})

    assert load(config("deploy"), kube, helm_bin).apply().ok
    (d,) = load(config("destroy"), kube, helm_bin).diff()
    assert (d.action, d.hooks) == ("destroy", ("ConfigMap/web-post-delete (post-delete)",))
    assert "hooks that run: ConfigMap/web-post-delete (post-delete)" in format_diffs([d])


STRIMZI = Path(__file__).resolve().parents[2] / "plugins/firestream-chart-kafka/tests/charts/strimzi-kafka-operator"


def test_an_object_another_release_owns_is_an_error_as_in_apply(tmp_path, kube, helm_bin):
    """Strimzi's ClusterRoles have fixed names: a second operator release in another namespace
    fails at helm (invalid ownership metadata). diff said "5 objects to add"; now it says what
    apply will meet. Its CRDs (crds/, installed by the first) are no conflict: helm skips them."""
    other = f"{kube.namespace}-b"

    def config(*releases: tuple[str, str]) -> Path:
        return write_config(tmp_path / "p", "".join(f"""
            [[deployments.generic]]
            name = "{name}"
            path = "{STRIMZI}"
            namespace = "{ns}"
            create_namespace = true
        """ for name, ns in releases))

    try:
        assert load(config(("kafka", kube.namespace)), kube, helm_bin).apply().ok
        diffs = {d.name: d for d in load(config(("kafka", kube.namespace), ("kafka-b", other)), kube,
                                         helm_bin).diff()}
        d = diffs["kafka-b"]
        assert (d.action, d.status) == ("create", "error")
        assert 'ClusterRole "strimzi-cluster-operator-namespaced"' in d.message
        assert "exists and cannot be imported into the current release" in d.message
    finally:
        kube.run([str(helm_bin), "uninstall", "kafka", "-n", kube.namespace, "--wait"], check=False)


REVISION_NAMED = CHARTS / "revision-named"


def _revision_named(tmp_path: Path, kube, message: str) -> Path:
    return write_config(tmp_path / "p", f"""
        [[deployments.generic]]
        name = "rv"
        path = "{REVISION_NAMED}"
        namespace = "{kube.namespace}"
        timeout = "60s"
        [deployments.generic.values]
        message = "{message}"
    """)


def _shown(project) -> tuple[dict[str, str], list[str], list[str]]:
    """(object name -> change, the hooks diff says run, the hooks plan --hooks says run)."""
    from firestream_core.ops.helm_hooks import plan_hooks

    (d,) = project.diff()
    assert d.status == "changed", d.message
    _, helm, _ = project.tools()
    (hooks,) = plan_hooks(project.hooks_input(), project.plan(helm=helm), helm).values()
    assert not hooks.error, hooks.error
    return {o.key.name: o.change for o in d.objects}, list(d.hooks), [h.name for h in hooks.will_run]


def _installed(kube, helm_bin) -> tuple[set[str], set[str]]:
    """(the names in helm's manifest of 'rv', those of its hooks): what apply installed and ran."""
    def names(what: str) -> set[str]:
        out = kube.run([helm_bin, "get", what, "rv", "-n", kube.namespace]).stdout
        return {o.name for o in split_manifest(out)}
    return names("manifest"), names("hooks")


def test_diff_and_plan_hooks_show_the_revision_apply_installs(tmp_path, kube, helm_bin):
    """A migration Job named ``NAME-migrate-{{ .Release.Revision }}``, a ``checksum/revision``
    annotation and a hook named after the revision: rendered with ``helm template`` (always
    revision 1), diff showed the deployed ``rv-migrate-2`` removed and ``rv-migrate-1`` added
    while apply created ``rv-migrate-3``, and plan --hooks listed ``rv-hook-1`` while apply ran
    ``rv-hook-3``. helm's dry run of apply's own call renders the revision apply records."""
    assert load(_revision_named(tmp_path, kube, "one"), kube, helm_bin).apply().ok
    assert load(_revision_named(tmp_path, kube, "two"), kube, helm_bin).apply().ok  # revision 2

    project = load(_revision_named(tmp_path, kube, "three"), kube, helm_bin)
    objects, diff_hooks, planned = _shown(project)
    assert objects == {"rv-config": "changed", "rv-migrate-2": "removed", "rv-migrate-3": "added"}
    assert diff_hooks == ["Job/rv-hook-3 (pre-install/pre-upgrade)"] and planned == ["rv-hook-3"]
    (d,) = project.diff()
    config = next(o for o in d.objects if o.key.name == "rv-config")
    assert "-    checksum/revision: '2'" in config.diff and "+    checksum/revision: '3'" in config.diff
    assert load(_revision_named(tmp_path, kube, "three"), kube, helm_bin).apply().ok
    manifest, hooks = _installed(kube, helm_bin)
    assert "rv-migrate-3" in manifest and hooks == {"rv-hook-3"}  # what diff and plan --hooks showed

    # uninstalled, its history kept: apply installs it with helm install --replace, revision 1 in
    # its templates (helm numbers the stored revision 4), and so do diff and plan --hooks
    kube.run([helm_bin, "uninstall", "rv", "-n", kube.namespace, "--keep-history"])
    project = load(_revision_named(tmp_path, kube, "four"), kube, helm_bin)
    objects, diff_hooks, planned = _shown(project)
    assert objects == {"rv-config": "added", "rv-migrate-1": "added"}
    assert diff_hooks == ["Job/rv-hook-1 (pre-install/pre-upgrade)"] and planned == ["rv-hook-1"]
    assert load(_revision_named(tmp_path, kube, "four"), kube, helm_bin).apply().ok
    manifest, hooks = _installed(kube, helm_bin)
    assert "rv-migrate-1" in manifest and hooks == {"rv-hook-1"}


# -- immutable fields: what the API server will refuse, said before apply ----------------------

RESHAPED = CHARTS / "reshaped"


def _reshaped(tmp_path: Path, kube, version: str) -> Path:
    """The project at ``tmp_path/p``: one release 'rs' of a copy of ``charts/reshaped`` at ``version``
    (2.x changes its Deployment's selector and its StatefulSet's volumeClaimTemplates)."""
    import shutil

    chart = tmp_path / f"reshaped-{version}"
    if not chart.exists():
        shutil.copytree(RESHAPED, chart)
        meta = chart / "Chart.yaml"
        meta.write_text(meta.read_text().replace("version: 1.0.0", f"version: {version}"))
    return write_config(tmp_path / "p", f"""
        [[deployments.generic]]
        name = "rs"
        path = "{chart}"
        namespace = "{kube.namespace}"
        timeout = "60s"
    """)


def test_an_upgrade_that_changes_immutable_fields_is_named_before_apply_and_refused(tmp_path, kube, helm_bin, cli):
    """A chart's 2.0.0 changes a Deployment's selector and a StatefulSet's volumeClaimTemplates:
    diff and plan --hooks (text and JSON) name both objects and fields; apply refuses the release
    before any change; when helm meets the refusal anyway, its error names them and the way on."""
    ns = kube.namespace
    assert load(_reshaped(tmp_path, kube, "1.0.0"), kube, helm_bin).apply().ok
    path = _reshaped(tmp_path, kube, "2.0.0")
    expected = [("Deployment", "rs-api", "spec.selector"), ("StatefulSet", "rs-db", "spec.volumeClaimTemplates")]

    (d,) = load(path, kube, helm_bin).diff()
    assert [(c.key.kind, c.key.name, c.field) for c in d.immutable] == expected
    code, out, _ = cli(path, "diff", "--detailed-exitcode")
    assert code == 2
    assert f"   ! apply will fail: Deployment.apps/rs-api (namespace {ns}): spec.selector is immutable" in out
    assert f"   ! apply will fail: StatefulSet.apps/rs-db (namespace {ns}): spec.volumeClaimTemplates " \
           "(claim template 'data') is immutable" in out
    assert f"kubectl delete statefulset.apps rs-db -n {ns} --cascade=orphan" in out
    assert "apply refuses (immutable fields): rs" in out
    code, out, _ = cli(path, "diff", "--json")
    (release,) = json.loads(out)["releases"]
    assert [(c["kind"], c["name"], c["field"]) for c in release["immutable"]] == expected

    code, out, _ = cli(path, "plan", "--hooks")
    assert code == 1 and "Immutable fields (apply refuses these releases before any change):" in out
    assert f"  ! rs: apply will fail: Deployment.apps/rs-api (namespace {ns}): spec.selector is immutable" in out
    code, out, _ = cli(path, "plan", "--hooks", "--json")
    (release,) = json.loads(out)["releases"]
    assert [(c["kind"], c["name"], c["field"]) for c in release["immutable"]] == expected
    code, out, err = cli(path, "plan", "--out", str(tmp_path / "rs.plan"))  # plan shows what apply refuses
    assert code == 1 and "Refused (apply stops these releases before any change):" in out
    assert "refused: immutable fields change: Deployment/rs-api spec.selector, " \
           "StatefulSet/rs-db spec.volumeClaimTemplates" in out
    assert "error: the plan refuses release 'rs': the API server refuses this upgrade" in err
    assert not (tmp_path / "rs.plan").exists()  # no plan saved

    def revision() -> int:
        return len(json.loads(kube.run([helm_bin, "history", "rs", "-n", ns, "-o", "json"]).stdout))

    # apply: refused before any change, naming the fields and the way on; helm never ran an upgrade
    code, out, err = cli(path, "apply", "--yes")
    assert code == 1
    assert "Refused (apply stops these releases before any change):" in out
    assert "refused: immutable fields change: Deployment/rs-api spec.selector, " \
           "StatefulSet/rs-db spec.volumeClaimTemplates" in out
    assert revision() == 1

    # helm meets the refusal anyway (a plan whose check passed before the cluster changed): the
    # API server's 422 becomes one message naming both objects, the fields and the way on
    project = load(path, kube, helm_bin)
    plan = attrs.evolve(project.plan(), immutable_checked=True)
    result = project.apply(plan)
    reason = result.releases["rs"].reason or ""
    assert not result.ok and revision() > 1  # this time helm ran (and rolled back)
    assert "the API server refused to change immutable fields" in reason, reason
    assert f"Deployment.apps/rs-api (namespace {ns}): spec.selector" in reason
    assert f"StatefulSet.apps/rs-db (namespace {ns}): spec (a field other than replicas" in reason
    assert f"kubectl delete deployment.apps rs-api -n {ns} --cascade=orphan" in reason
    assert "LabelSelector{" not in reason  # not helm's wall of text

    # the way on: once the StatefulSet is deleted (its pods orphaned), helm creates it anew: not refused
    kube.run([kube.tools["kubectl"], "delete", "statefulset.apps", "rs-db", "-n", ns, "--cascade=orphan"])
    (d,) = load(path, kube, helm_bin).diff()
    assert [(c.key.kind, c.field) for c in d.immutable] == [("Deployment", "spec.selector")]
