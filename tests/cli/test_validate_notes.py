"""``firestream validate`` says, from the config alone, when a value needing another chart's CRD is on.

No cluster call: the helm and kubectl given do not exist and no kubeconfig is readable; the
notes come from the plugins' ``contribute_values`` run offline (``context.offline``).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.cli.test_main import firestream

SM = "metrics.serviceMonitor.enabled"
CRD = "servicemonitors.monitoring.coreos.com"
NO_CLUSTER = ("--helm-binary", "/nonexistent/helm", "--kubectl-binary", "/nonexistent/kubectl",
              "--kubeconfig", "/nonexistent/kubeconfig")


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "firestream.toml").write_text(textwrap.dedent(text))
    return tmp_path


def test_validate_notes_why_a_servicemonitor_is_on_or_off(tmp_path: Path) -> None:
    project = _write(tmp_path, """
        [[deployments.postgresql]]
        name = "db"

        [[deployments.postgresql]]
        name = "orders"
        depends_on = ["mon"]

        [[deployments.prometheus-operator]]
        name = "mon"
        """)
    r = firestream(*NO_CLUSTER, "validate", cwd=project)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "firestream.toml is valid: 3 releases in 2 levels",
        f"note: release 'db': {SM} is on only if the CRD {CRD} exists at apply time; release 'mon' "
        '(prometheus-operator) provides it: add depends_on = ["mon"] to have it on; otherwise it is turned off',
        f"note: release 'orders': {SM} on: release 'mon' (prometheus-operator) installs the CRD {CRD} first "
        "(depends_on)",
    ]
    assert r.stderr == ""


def test_without_a_provider_the_note_says_so_and_json_carries_it(tmp_path: Path) -> None:
    project = _write(tmp_path, """
        [[deployments.postgresql]]
        name = "db"
        [deployments.postgresql.values]
        metrics.serviceMonitor.enabled = true
        """)
    r = firestream(*NO_CLUSTER, "validate", "--json", cwd=project)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["valid"] is True and doc["problems"] == []
    assert doc["notes"] == [{"release": "db", "message": (
        f"{SM} is on only if the CRD {CRD} exists at apply time; no release in this project provides it "
        "(deploy prometheus-operator, with depends_on, to have it on); otherwise the plan refuses the "
        "release (you set it)")}]


def test_a_value_the_plan_will_refuse_from_the_config_alone_is_named(tmp_path: Path) -> None:
    project = _write(tmp_path, """
        [[deployments.external-dns]]
        name = "dns"
        [deployments.external-dns.values]
        useDaemonset = true
        """)
    r = firestream(*NO_CLUSTER, "validate", cwd=project)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1] == (
        "note: release 'dns': the plan refuses it: useDaemonset = true is not read by bitnami/external-dns "
        "8.0.0 and later (chart 9.0.4 runs one Deployment pod, bitnami/charts#26759); remove it, or pin "
        'version = "7.5.7" (the last 7.x) to keep it')


def test_an_off_servicemonitor_says_nothing(tmp_path: Path) -> None:
    project = _write(tmp_path, """
        [[deployments.postgresql]]
        name = "db"
        [deployments.postgresql.values]
        metrics.enabled = false
        """)
    r = firestream(*NO_CLUSTER, "validate", cwd=project)
    assert (r.returncode, r.stdout) == (0, "firestream.toml is valid: 1 release in 1 level\n")


def test_a_secret_a_plugin_puts_in_a_note_is_hidden_as_in_the_plan(tmp_path: Path, monkeypatch, capsys) -> None:
    """validate prints the plugins' notes; a secret value in one is '***', as plan shows it."""
    from typing import Any, ClassVar

    import attrs

    from firestream_core.cli.main import main
    from firestream_core.model import ChartInfo, ChartType, HelmChart
    from firestream_core.plugin import manager as plugin_manager
    from firestream_core.plugin.helpers import value_of
    from firestream_core.plugin.markers import hookimpl

    secret = "validate-note-s3cret"

    @attrs.define
    class LeakyChart(HelmChart):
        chart_type: ClassVar[str] = "leaky"

        @classmethod
        def default(cls) -> LeakyChart:
            return cls(ChartInfo(name="leaky", chart="x/leaky"))

    class Leaky:
        FIRESTREAM_PLUGIN_API = 1

        @hookimpl
        def register_chart_types(self, register: Any) -> None:
            register(ChartType(name="leaky", chart_class=LeakyChart))

        @hookimpl
        def contribute_values(self, chart: HelmChart, context: Any) -> None:
            context.note(f"the password is {value_of(chart, context, 'auth.password')}")
            context.refuse(f"refused with {value_of(chart, context, 'auth.password')}")

    real = plugin_manager.get_plugin_manager
    monkeypatch.setattr(plugin_manager, "get_plugin_manager",
                        lambda **kw: real(**kw, load_entry_points=False, extra_plugins=[Leaky()]))
    monkeypatch.setenv("LEAKY_PASSWORD", secret)
    project = _write(tmp_path, """
        [repositories]
        x = "https://charts.example.com/x"

        [[deployments.leaky]]
        name = "app"
        [deployments.leaky.secret_values]
        auth.password = { env = "LEAKY_PASSWORD" }
        """)
    for extra in ([], ["--json"]):
        assert main(["validate", "-f", str(project / "firestream.toml"), *NO_CLUSTER, *extra]) == 0
        out, err = capsys.readouterr()
        assert secret not in out + err
        assert "the password is ***" in out and "refused with ***" in out
