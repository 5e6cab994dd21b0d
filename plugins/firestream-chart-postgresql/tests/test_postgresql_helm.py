"""The postgresql plugin through the real lifecycle, the real helm and the emulated cluster.

The chart is a stand-in for bitnami/postgresql (``tests/charts``), served at 13.2.24 and 17.1.0:
same name, version, object names, labels and auth values.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from firestream_chart_postgresql import PostgresqlChart, PostgresqlOptions

from firestream_core.model import ChartSetValue, HelmAction, ValidationStatus

NO_SERVICEMONITOR = ChartSetValue("metrics.serviceMonitor.enabled", "false")


def dev_chart(namespace: str, name: str = "db", **options: Any) -> PostgresqlChart:
    chart = PostgresqlChart.development()
    info = chart.get_chart_info_mut()
    info.name = name
    info.namespace = namespace
    info.values.append(NO_SERVICEMONITOR)
    return attrs.evolve(chart, options=PostgresqlOptions(**options))


def secret_data(kube: Any, name: str) -> dict[str, str]:
    obj = kube.kubectl().get("secret", name, namespace=kube.namespace)
    assert obj is not None, f"Secret {name} not found"
    return {k: base64.b64decode(v).decode() for k, v in obj["data"].items()}


def test_generated_password_lives_in_a_secret_and_is_reused(
    kube: Any,
    helm_bin: Path,
    deploy_context: Any,
    run_lifecycle: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    result = run_lifecycle(dev_chart(kube.namespace), helm_bin)
    assert result.ok, result.error
    checks = {v.name: v for v in result.validations}
    for name in (
        "postgresql_statefulset_ready",
        "postgresql_service",
        "postgresql_auth_secret",
        "release_exists",
        "pods_running",
    ):
        assert checks[name].status is ValidationStatus.PASSED, checks[name]
    # every validation line names its release (parallel releases' lines are told apart)
    lines = [r.getMessage() for r in caplog.records if "Validation '" in r.getMessage()]
    assert len(lines) >= 5 and all(line.startswith("release 'db': ") for line in lines), lines

    data = secret_data(kube, "db-auth")
    assert set(data) == {"postgres-password", "password", "replication-password"}
    password = data["postgres-password"]
    assert len(password) == 32 and password.isalnum()
    assert result.payload["postgresql"]["generated"] == [
        "postgres-password", "password", "replication-password",
    ]

    # the chart reads it from the Secret
    sts = kube.kubectl().get("statefulset", "db-postgresql", namespace=kube.namespace)
    env = sts["spec"]["template"]["spec"]["containers"][0]["env"]
    ref = next(e for e in env if e["name"] == "POSTGRES_PASSWORD")["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "db-auth", "key": "postgres-password"}
    values = kube.run([helm_bin, "get", "values", "db", "-n", kube.namespace, "-o", "json"]).stdout
    assert json.loads(values)["auth"]["existingSecret"] == "db-auth"

    # never on a command line, never in a log line, never in the release's values
    deploy_context.runner.assert_absent(*data.values())  # something ran, never with a password
    for secret in data.values():
        assert secret not in caplog.text
        assert secret not in values

    # a second run keeps the passwords
    again = run_lifecycle(dev_chart(kube.namespace), helm_bin)
    assert again.ok, again.error
    assert secret_data(kube, "db-auth") == data
    assert again.payload["postgresql"]["reused"] == [
        "postgres-password", "password", "replication-password",
    ]
    assert again.payload["postgresql"]["written"] is False


def test_password_from_the_environment(
    kube: Any, run_lifecycle: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_PG_ADMIN", "from-the-environment-1")
    chart = dev_chart(kube.namespace, password_env="TEST_PG_ADMIN", auth_secret="pg-credentials")
    result = run_lifecycle(chart)
    assert result.ok, result.error
    data = secret_data(kube, "pg-credentials")
    assert data["postgres-password"] == "from-the-environment-1"
    assert result.payload["postgresql"]["configured"] == ["postgres-password"]


def test_an_unset_password_variable_stops_the_release_before_anything_changes(
    kube: Any, run_lifecycle: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_PG_MISSING", raising=False)
    result = run_lifecycle(dev_chart(kube.namespace, password_env="TEST_PG_MISSING"))
    assert not result.ok
    assert result.stage_failed == "check_prerequisites"
    assert result.problems == (
        "release 'db': environment variable 'TEST_PG_MISSING' (option password_env) is not set or empty",
    )
    assert kube.kubectl().get("namespace", kube.namespace) is None


OFF_NOTE = ("metrics.serviceMonitor.enabled off: the CRD servicemonitors.monitoring.coreos.com is not "
            "installed (deploy prometheus-operator first, with depends_on, to have it on)")


def test_the_presets_servicemonitor_is_off_on_a_fresh_cluster_and_says_why(
    kube: Any, run_lifecycle: Callable[..., Any], helm_bin: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="firestream")
    chart = PostgresqlChart.default()
    chart.chart_info.namespace = kube.namespace
    chart.chart_info.timeout = "60s"
    result = run_lifecycle(chart, helm_bin)
    assert result.ok, (result.error, result.problems)
    # decided in the desired state (contribute_values), not by editing the chart in a stage
    assert chart.chart_info.plugin_values["metrics"] == {"serviceMonitor": {"enabled": False}}
    values = kube.run([str(helm_bin), "get", "values", "postgresql", "-n", kube.namespace, "-o", "json"])
    assert json.loads(values.stdout)["metrics"]["serviceMonitor"]["enabled"] is False
    assert f"release 'postgresql': {OFF_NOTE}" in caplog.text


def test_a_servicemonitor_the_user_asked_for_without_its_crd_is_a_prerequisite_problem(
    kube: Any, run_lifecycle: Callable[..., Any], helm_bin: Path
) -> None:
    chart = PostgresqlChart.default()
    chart.chart_info.namespace = kube.namespace
    chart.chart_info.values.append(ChartSetValue("metrics.serviceMonitor.enabled", "true"))
    result = run_lifecycle(chart, helm_bin)
    assert result.stage_failed == "check_prerequisites"
    assert result.problems == (
        "release 'postgresql': metrics.serviceMonitor.enabled is true but the CRD "
        "servicemonitors.monitoring.coreos.com is not installed; deploy prometheus-operator "
        "first (depends_on) or set metrics.serviceMonitor.enabled = false",
    )
    assert kube.kubectl().get("namespace", kube.namespace) is None  # nothing was changed


SERVICEMONITOR_CRD = (
    Path(__file__).parents[2] / "firestream-chart-prometheus-operator/tests/charts/kube-prometheus-stack"
    / "charts/crds/crds/crd-servicemonitors.yaml"
)


def _project(path: Path, kube: Any, helm_bin: Path) -> Any:
    from firestream_core.project import Project

    return Project.load(path, helm_binary=helm_bin, kubectl_binary=kube.tools["kubectl"],
                        kubeconfig=kube.kubeconfig, env=kube.env)


def _plan_cli(path: Path, kube: Any, helm_bin: Path, capsys: pytest.CaptureFixture[str],
              monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    """``firestream plan`` on ``path``: exit code, stdout, stderr (the ``firestream`` logger as it was after)."""
    from firestream_core.cli import logs
    from firestream_core.cli.main import main

    for k, v in kube.env.items():
        monkeypatch.setenv(k, v)
    logger = logging.getLogger(logs.LOGGER_NAME)  # main() configures it: later tests' caplog needs it back
    saved = (list(logger.handlers), logger.level, logger.propagate, logs._handler, list(logs._redactors))
    try:
        code = main(["-f", str(path), "--helm-binary", str(helm_bin), "--kubectl-binary",
                     str(kube.tools["kubectl"]), "--kubeconfig", str(kube.kubeconfig), "--color", "never", "plan"])
    finally:
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
        logger.propagate = saved[2]
        logs._handler = saved[3]
        logs._redactors[:] = saved[4]
    out, err = capsys.readouterr()
    return code, out, err


def test_the_plan_says_why_the_servicemonitor_is_off_and_keeps_it_on_when_it_can_be(
    kube: Any, deploy_chart_repo: Any, tmp_path: Path, helm_bin: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "firestream.toml"
    head = f'[repositories]\nbitnami = "{deploy_chart_repo.url}"\n'
    db = f'[[deployments.postgresql]]\nname = "db"\nnamespace = "{kube.namespace}"\n'
    path.write_text(head + db)
    plan = _project(path, kube, helm_bin).plan()
    assert plan["db"].action == "create"
    assert plan["db"].notes == (OFF_NOTE,)
    assert plan["db"].reasons == ("not deployed", OFF_NOTE)
    assert plan["db"].plugin_values["metrics"] == {"serviceMonitor": {"enabled": False}}
    code, out, _ = _plan_cli(path, kube, helm_bin, capsys, monkeypatch)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("+  db "))
    assert line.split()[1:4] == ["db", kube.namespace, "create"]
    assert line.endswith(f"not deployed; {OFF_NOTE}")

    # the project deploys prometheus-operator, but db does not depend on it: off, and the plan says how
    mon = f'[[deployments.prometheus-operator]]\nname = "mon"\nnamespace = "{kube.namespace}-mon"\n'
    path.write_text(head + mon + db)
    plan = _project(path, kube, helm_bin).plan()
    assert plan["db"].notes == (
        "metrics.serviceMonitor.enabled off: the CRD servicemonitors.monitoring.coreos.com is not installed "
        '(add depends_on = ["mon"] (its prometheus-operator release installs the CRD first), to have it on)',)
    # db depends on it: on, no note
    path.write_text(head + mon + db + 'depends_on = ["mon"]\n')
    plan = _project(path, kube, helm_bin).plan()
    assert plan["db"].notes == () and "metrics" not in plan["db"].plugin_values
    assert plan["db"].reasons == ("not deployed",)

    # the CRD is installed: on
    path.write_text(head + db)
    kube.run([kube.tools["kubectl"], "apply", "--server-side", "-f", str(SERVICEMONITOR_CRD)])
    try:
        plan = _project(path, kube, helm_bin).plan()
        assert plan["db"].notes == () and "metrics" not in plan["db"].plugin_values
    finally:
        kube.run([kube.tools["kubectl"], "delete", "-f", str(SERVICEMONITOR_CRD), "--wait=true"])


def test_a_servicemonitor_the_user_asked_for_without_its_crd_is_refused_by_the_plan(
    kube: Any, deploy_chart_repo: Any, tmp_path: Path, helm_bin: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "firestream.toml"
    path.write_text(f'[repositories]\nbitnami = "{deploy_chart_repo.url}"\n[[deployments.postgresql]]\n'
                    f'name = "db"\nnamespace = "{kube.namespace}"\n'
                    "[deployments.postgresql.values]\nmetrics.serviceMonitor.enabled = true\n")
    problem = ("release 'db': metrics.serviceMonitor.enabled is true but the CRD "
               "servicemonitors.monitoring.coreos.com is not installed; deploy prometheus-operator "
               "first (depends_on) or set metrics.serviceMonitor.enabled = false")
    project = _project(path, kube, helm_bin)
    plan = project.plan()
    assert plan.problems == [("db", problem)]
    code, out, err = _plan_cli(path, kube, helm_bin, capsys, monkeypatch)
    assert code == 1
    assert "Refused (apply stops these releases before any change):\n  ! db: metrics.serviceMonitor" in out
    assert f"error: the plan refuses {problem}" in err
    result = project.apply(plan)
    assert not result.ok and result.releases["db"].stage_failed == "check_prerequisites"
    assert kube.kubectl().get("namespace", kube.namespace) is None  # nothing was changed


def test_existing_secret_is_used_as_is_and_a_missing_one_is_named(
    kube: Any, run_lifecycle: Callable[..., Any]
) -> None:
    chart = dev_chart(kube.namespace, existing_secret="my-pg")
    missing = run_lifecycle(chart)
    assert missing.stage_failed == "pre_exec"
    assert (
        f"Secret 'my-pg' (existing_secret) does not exist in namespace '{kube.namespace}'"
        in missing.error
    )

    kube.run(["kubectl", "create", "namespace", kube.namespace])
    kube.run(
        ["kubectl", "apply", "-n", kube.namespace, "-f", "-"],
        input=json.dumps({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "my-pg"},
            "data": {"postgres-password": base64.b64encode(b"mine-all-mine").decode()},
        }),
    )
    result = run_lifecycle(dev_chart(kube.namespace, existing_secret="my-pg"))
    assert result.ok, result.error
    assert result.payload["postgresql"] == {"auth_secret": "my-pg", "managed": False}
    assert secret_data(kube, "my-pg") == {"postgres-password": "mine-all-mine"}
    assert kube.kubectl().get("secret", "db-auth", namespace=kube.namespace) is None


def test_validation_fails_when_the_statefulset_never_becomes_ready(
    kube: Any, run_lifecycle: Callable[..., Any]
) -> None:
    kube.cluster.set_controller(False)
    chart = dev_chart(kube.namespace)
    info = chart.chart_info
    info.wait = False
    info.atomic = False
    info.timeout = "1s"
    result = run_lifecycle(chart)
    assert result.stage_failed == "validate"
    check = next(v for v in result.validations if v.name == "postgresql_statefulset_ready")
    assert check.status is ValidationStatus.FAILED
    assert check.message == "still pending after 1s: statefulset not ready yet: db-postgresql: 0/1 ready"


def test_destroy_keeps_the_secret_unless_asked(
    kube: Any, run_lifecycle: Callable[..., Any]
) -> None:
    assert run_lifecycle(dev_chart(kube.namespace)).ok
    keep = dev_chart(kube.namespace)
    keep.chart_info.action = HelmAction.DESTROY
    result = run_lifecycle(keep)
    assert result.ok, result.error
    assert kube.kubectl().get("secret", "db-auth", namespace=kube.namespace) is not None

    assert run_lifecycle(dev_chart(kube.namespace)).ok
    drop = dev_chart(kube.namespace, delete_secret_on_destroy=True)
    drop.chart_info.action = HelmAction.DESTROY
    result = run_lifecycle(drop)
    assert result.ok, result.error
    assert kube.kubectl().get("secret", "db-auth", namespace=kube.namespace) is None


def test_a_dry_run_destroy_of_this_release_only_keeps_the_secret(
    kube: Any, run_lifecycle: Callable[..., Any]
) -> None:
    """``dry_run`` on the release alone (not the run) is a dry run too: nothing is deleted."""
    assert run_lifecycle(dev_chart(kube.namespace)).ok
    drop = dev_chart(kube.namespace, delete_secret_on_destroy=True)
    drop.chart_info.action = HelmAction.DESTROY
    drop.chart_info.dry_run = True
    result = run_lifecycle(drop)
    assert result.ok, result.error
    assert kube.kubectl().get("secret", "db-auth", namespace=kube.namespace) is not None


def test_from_firestream_toml_through_plan_and_apply(
    kube: Any, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    from firestream_core.project import Project

    path = tmp_path / "firestream.toml"
    path.write_text(
        f"""
[repositories]
bitnami = "{deploy_chart_repo.url}"

[[deployments.postgresql]]
name = "orders-db"
preset = "development"
namespace = "{kube.namespace}"

[deployments.postgresql.values]
auth.database = "orders"
metrics.serviceMonitor.enabled = false
"""
    )

    def load() -> Project:
        return Project.load(
            path,
            helm_binary=kube.tools["helm"],
            kubectl_binary=kube.tools["kubectl"],
            kubeconfig=kube.kubeconfig,
            env=kube.env,
        )

    project = load()
    plan = project.plan()
    assert [(c.name, c.action) for c in plan.releases] == [("orders-db", "create")]
    result = project.apply(plan)
    assert result.ok, result.to_dict()
    assert set(secret_data(kube, "orders-db-auth")) == {
        "postgres-password", "password", "replication-password",
    }
    values = kube.run(["helm", "get", "values", "orders-db", "-n", kube.namespace, "-o", "json"])
    got = json.loads(values.stdout)
    assert got["auth"]["database"] == "orders"
    assert got["auth"]["existingSecret"] == "orders-db-auth"
    assert got["primary"]["persistence"]["size"] == "1Gi"
    # the next run finds nothing to do
    assert [(c.name, c.action) for c in load().plan().releases] == [("orders-db", "no-op")]
    # a destroy plan shows what the plugin deletes besides helm's uninstall, and destroy does just that
    assert load().plan(destroy=True)["orders-db"].destructive == ()
    path.write_text(path.read_text().replace('preset = "development"\n',
                                             'preset = "development"\ndelete_secret_on_destroy = true\n'))
    plan = load().plan(destroy=True)
    assert plan["orders-db"].destructive == (
        f"delete Secret 'orders-db-auth' (namespace '{kube.namespace}') holding the database passwords "
        "(delete_secret_on_destroy = true)",)
    gone = load().destroy(plan=plan)
    assert gone.ok, gone.to_dict()
    assert kube.kubectl().get("secret", "orders-db-auth", namespace=kube.namespace) is None


def test_apply_yes_refuses_a_create_the_chart_cannot_render_before_the_secret_is_written(
    kube: Any, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    """bitnami's TLS without certificates (a ``required``): ``Project.apply`` (``apply --yes``)
    renders this create before pre_exec, so neither the namespace nor the password Secret is
    made for a release helm would refuse."""
    from firestream_core.project import Project

    path = tmp_path / "firestream.toml"
    path.write_text(
        f"""
[repositories]
bitnami = "{deploy_chart_repo.url}"

[[deployments.postgresql]]
name = "orders-db"
preset = "development"
namespace = "{kube.namespace}"

[deployments.postgresql.values]
tls.enabled = true
metrics.serviceMonitor.enabled = false
"""
    )
    assert kube.kubectl().get("namespace", kube.namespace) is None
    result = Project.load(path, helm_binary=kube.tools["helm"], kubectl_binary=kube.tools["kubectl"],
                          kubeconfig=kube.kubeconfig, env=kube.env).apply()
    db = result.releases["orders-db"]
    assert db.result == "failed" and db.stage_failed == "check_prerequisites", result.to_dict()
    assert "A secret containing TLS certificates is required when TLS is enabled" in db.reason
    assert kube.kubectl().get("namespace", kube.namespace) is None
    assert kube.run(["helm", "list", "-n", kube.namespace, "-a", "-q"]).stdout.split() == []


SEED_BLOCK = """
[[deployments.postgresql]]
chart = "bitnami/postgresql"
version = "13.2.24"
namespace = "default"

[deployments.postgresql.values]
auth.database = "firestream"
auth.postgresPassword = "secure-password"
primary.persistence.size = "10Gi"
"""
"""The TOML block of /work/shared/seed/helm-lifecycle-guide.md ("In firestream.toml"), verbatim."""


def test_the_seed_toml_block_applies_on_a_fresh_cluster(
    kube: Any, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    """No ServiceMonitor CRD on the cluster: the preset's ServiceMonitor is turned off, not a failure."""
    from firestream_core.project import Project

    assert kube.kubectl().get("customresourcedefinition", "servicemonitors.monitoring.coreos.com") is None
    path = tmp_path / "firestream.toml"
    path.write_text(f'[repositories]\nbitnami = "{deploy_chart_repo.url}"\n' + SEED_BLOCK)
    project = Project.load(path, helm_binary=kube.tools["helm"], kubectl_binary=kube.tools["kubectl"],
                           kubeconfig=kube.kubeconfig, env=kube.env)
    try:
        result = project.apply()
        assert result.ok, result.to_dict()
        values = kube.run(["helm", "get", "values", "postgresql", "-n", "default", "-o", "json"])
        got = json.loads(values.stdout)
        assert got["metrics"]["serviceMonitor"]["enabled"] is False
        assert got["auth"]["database"] == "firestream"
    finally:
        kube.run(["helm", "uninstall", "postgresql", "-n", "default"], check=False)


def test_an_unreachable_repository_fails_before_any_secret_is_written(
    kube: Any, deploy_context: Any, run_lifecycle: Callable[..., Any]
) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    context = deploy_context(repositories={"bitnami": f"http://127.0.0.1:{port}/charts"})
    result = run_lifecycle(dev_chart(kube.namespace), context=context)
    assert not result.ok and result.stage_failed == "pre_exec", result.error
    assert kube.kubectl().get("namespace", kube.namespace) is None
    assert kube.kubectl().get("secret", "db-auth", namespace=kube.namespace) is None


MAJOR_PROBLEM = (
    "release 'db': chart 13.2.24 -> 17.1.0 moves PostgreSQL 16 -> 17, which an in-place helm upgrade "
    "cannot migrate (the data directory is PostgreSQL 16's). Dump the data (pg_dumpall) and set "
    "major_upgrade = \"reinstall\" (the release and its data volumes are deleted, PostgreSQL 17 starts "
    "empty, restore the dump), or keep version = \"13.2.24\"; see docs/charts.md"
)


def test_a_postgresql_major_upgrade_is_refused_unless_reinstall_is_chosen(
    kube: Any, run_lifecycle: Callable[..., Any], helm_bin: Path
) -> None:
    seed_era = dev_chart(kube.namespace)
    seed_era.chart_info.version = "13.2.24"  # the seed's default, PostgreSQL 16
    assert run_lifecycle(seed_era, helm_bin).ok
    newer = dev_chart(kube.namespace)
    assert newer.chart_info.version == "17.1.0"  # the default: PostgreSQL 17
    refused = run_lifecycle(newer, helm_bin)
    assert refused.stage_failed == "check_prerequisites"
    assert refused.problems == (MAJOR_PROBLEM,)
    history = kube.run([str(helm_bin), "history", "db", "-n", kube.namespace, "-o", "json"])
    assert [h["chart"] for h in json.loads(history.stdout)] == ["postgresql-13.2.24"]

    chosen = dev_chart(kube.namespace, major_upgrade="reinstall")
    chosen.chart_info.version = "17.1.0"
    result = run_lifecycle(chosen, helm_bin)
    assert result.ok, result.error
    history = kube.run([str(helm_bin), "history", "db", "-n", kube.namespace, "-o", "json"])
    assert [(h["revision"], h["chart"]) for h in json.loads(history.stdout)] == [(1, "postgresql-17.1.0")]
    # the same major again is an ordinary upgrade
    again = dev_chart(kube.namespace)
    again.chart_info.version = "17.1.0"
    assert run_lifecycle(again, helm_bin).ok


def test_the_plan_refuses_a_postgresql_major_upgrade_and_shows_the_chosen_reinstall(
    kube: Any, deploy_chart_repo: Any, tmp_path: Path, helm_bin: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "firestream.toml"
    block = (f'[repositories]\nbitnami = "{deploy_chart_repo.url}"\n[[deployments.postgresql]]\n'
             f'name = "db"\npreset = "development"\nnamespace = "{kube.namespace}"\nversion = "{{version}}"\n'
             "{options}[deployments.postgresql.values]\nmetrics.serviceMonitor.enabled = false\n")
    path.write_text(block.format(version="13.2.24", options=""))
    first = _project(path, kube, helm_bin).apply()
    assert first.ok, first.to_dict()
    _assert_settled(path, kube, helm_bin, "db", objects=4)  # no NetworkPolicy before chart 14.0.0
    assert kube.kubectl().get("networkpolicy", "db-postgresql", namespace=kube.namespace) is None

    path.write_text(block.format(version="17.1.0", options=""))
    project = _project(path, kube, helm_bin)
    plan = project.plan()
    assert plan["db"].action == "upgrade"
    assert plan.problems == [("db", MAJOR_PROBLEM)]
    assert plan["db"].reasons[0] == "refused: " + MAJOR_PROBLEM.removeprefix("release 'db': ")
    code, out, err = _plan_cli(path, kube, helm_bin, capsys, monkeypatch)
    assert code == 1
    assert "  ! db: chart 13.2.24 -> 17.1.0 moves PostgreSQL 16 -> 17" in out
    assert f"error: the plan refuses {MAJOR_PROBLEM}" in err
    # apply refuses the release before anything changed: the plan said so
    result = project.apply(plan)
    assert not result.ok
    outcome = result.releases["db"]
    assert outcome.stage_failed == "check_prerequisites"
    assert MAJOR_PROBLEM.removeprefix("release 'db': ") in outcome.reason
    history = kube.run([str(helm_bin), "history", "db", "-n", kube.namespace, "-o", "json"])
    assert [h["chart"] for h in json.loads(history.stdout)] == ["postgresql-13.2.24"]

    # a constraint is judged at the version helm resolves it to, never let through
    path.write_text(block.format(version="^17", options=""))
    assert _project(path, kube, helm_bin).plan().problems == [("db", MAJOR_PROBLEM)]
    assert not _project(path, kube, helm_bin).apply().ok
    history = kube.run([str(helm_bin), "history", "db", "-n", kube.namespace, "-o", "json"])
    assert [h["chart"] for h in json.loads(history.stdout)] == ["postgresql-13.2.24"]

    # the documented way: the plan shows the reinstall and its destructive steps, apply takes exactly them
    path.write_text(block.format(version="17.1.0", options='major_upgrade = "reinstall"\n'))
    project = _project(path, kube, helm_bin)
    plan = project.plan()
    assert plan.problems == []
    assert plan["db"].action == "reinstall"
    assert plan["db"].reasons[0].startswith("breaking version 16.0.0: reinstall")
    assert any(f"kubectl delete pvc --namespace {kube.namespace} --selector app.kubernetes.io/instance=db"
               in step for step in plan["db"].destructive), plan["db"].destructive
    code, out, _ = _plan_cli(path, kube, helm_bin, capsys, monkeypatch)
    assert code == 0 and "Steps to review, in the order they run (a step may delete or overwrite):" in out
    result = project.apply(plan)
    assert result.ok, result.to_dict()
    history = kube.run([str(helm_bin), "history", "db", "-n", kube.namespace, "-o", "json"])
    assert [(h["revision"], h["chart"]) for h in json.loads(history.stdout)] == [(1, "postgresql-17.1.0")]
    _assert_settled(path, kube, helm_bin, "db")
    sts = kube.kubectl().get("statefulset", "db-postgresql", namespace=kube.namespace)
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"].endswith("/bitnami/postgresql:17.2.0-debian-12-r0")

    # one of the three mounts of the same volume moved behind helm's back: drift names that one mount
    kube.run([kube.tools["kubectl"], "patch", "statefulset", "db-postgresql", "-n", kube.namespace, "--type=json",
              "-p", json.dumps([{"op": "replace", "path": "/spec/template/spec/containers/0/volumeMounts/2/mountPath",
                                 "value": "/var/tmp"}])])
    (drift,) = _project(path, kube, helm_bin).drift()
    assert drift.drifted, drift.to_dict()
    found = [f for o in drift.objects for f in o.fields]
    assert [(f.path, f.live) for f in found] == [
        ("spec.template.spec.containers[name=postgresql].volumeMounts[mountPath=/opt/bitnami/postgresql/tmp]",
         "(absent)")], drift.to_dict()  # mounts are told apart by path, not by the volume's name
    assert '"subPath": "app-tmp-dir"' in found[0].desired

    # destroy: the release and everything helm made go; the passwords' Secret stays (delete_secret_on_destroy)
    gone = _project(path, kube, helm_bin).destroy()
    assert gone.ok, gone.to_dict()
    listed = kube.run([str(helm_bin), "list", "-n", kube.namespace, "-q"]).stdout.split()
    assert "db" not in listed
    for kind, name in (("statefulset", "db-postgresql"), ("service", "db-postgresql"),
                       ("service", "db-postgresql-metrics"), ("networkpolicy", "db-postgresql")):
        assert kube.kubectl().get(kind, name, namespace=kube.namespace) is None, (kind, name)
    assert kube.kubectl().get("secret", "db-auth", namespace=kube.namespace) is not None
    assert _project(path, kube, helm_bin).plan()["db"].action == "create"


def _assert_settled(path: Path, kube: Any, helm_bin: Path, name: str, objects: int = 5) -> None:
    """After an apply: the next plan is a no-op and ``drift`` finds every object as helm made it.

    The primary StatefulSet mounts one volume (``empty-dir``) at three paths, as bitnami's does,
    and the metrics sidecar mounts it again: a drift that keyed mounts by name would report them.
    """
    project = _project(path, kube, helm_bin)
    assert project.plan()[name].action == "no-op"
    (drift,) = [d for d in project.drift() if d.name == name]
    assert drift.status == "in-sync", drift.to_dict()
    # StatefulSet, primary and headless Services, metrics Service (and from chart 14.0.0 the NetworkPolicy)
    assert drift.checked == objects, drift.to_dict()
    sts = kube.kubectl().get("statefulset", f"{name}-postgresql", namespace=kube.namespace)
    mounts = [(m["name"], m["mountPath"]) for m in sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]]
    assert [p for n, p in mounts if n == "empty-dir"] == ["/tmp", "/opt/bitnami/postgresql/conf",
                                                           "/opt/bitnami/postgresql/tmp"]


def test_a_password_rotated_in_its_variable_is_planned_not_written_unseen(
    kube: Any, deploy_chart_repo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``password_env``'s variable changed: the plan said ``no-op`` (the password is in no value helm
    holds), and the next upgrade for another reason rewrote the Secret unseen, while PostgreSQL keeps
    the password it was initialised with. Now the plan reads the Secret, upgrades the release for it
    and says what pre_exec will write; a deleted Secret likewise. The password is never shown."""
    from firestream_core.project import Project

    path = tmp_path / "firestream.toml"
    path.write_text(f"""
[repositories]
bitnami = "{deploy_chart_repo.url}"

[[deployments.postgresql]]
name = "orders-db"
preset = "development"
namespace = "{kube.namespace}"
password_env = "TEST_PG_ROTATE"

[deployments.postgresql.values]
metrics.serviceMonitor.enabled = false
""")

    def load() -> Project:
        return Project.load(path, helm_binary=kube.tools["helm"], kubectl_binary=kube.tools["kubectl"],
                            kubeconfig=kube.kubeconfig, env=kube.env)

    monkeypatch.setenv("TEST_PG_ROTATE", "first-password-1")
    assert load().apply().ok
    assert load().plan()["orders-db"].action == "no-op"
    monkeypatch.setenv("TEST_PG_ROTATE", "second-password-2")
    plan = load().plan()
    change = plan["orders-db"]
    assert change.action == "upgrade"
    assert "Secret 'orders-db-auth': postgres-password not as configured" in change.reasons
    assert change.destructive == (
        f"set postgres-password in Secret 'orders-db-auth' (namespace '{kube.namespace}') to the configured "
        "value; PostgreSQL keeps the passwords it was initialised with until they are changed in the "
        "database too",)
    assert "password-1" not in plan.to_json() and "password-2" not in plan.to_json()
    assert secret_data(kube, "orders-db-auth")["postgres-password"] == "first-password-1"  # the plan wrote nothing
    assert load().apply(plan).ok
    assert secret_data(kube, "orders-db-auth")["postgres-password"] == "second-password-2"
    assert load().plan()["orders-db"].action == "no-op"

    kube.run([kube.tools["kubectl"], "delete", "secret", "orders-db-auth", "-n", kube.namespace])
    change = load().plan()["orders-db"]
    assert change.action == "upgrade"
    assert "Secret 'orders-db-auth' holding the database passwords is missing" in change.reasons
    assert change.destructive[0].startswith("create Secret 'orders-db-auth'")
