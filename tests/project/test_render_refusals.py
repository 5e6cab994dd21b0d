"""Plan renders each planned create, reinstall and upgrade once, as apply will run it, and
refuses a change whose chart does not render with its values (the recording fake helm:
``FakeHelm.fail_render``). Real helm 3 and 4: tests/ops/test_render_refusals_real_helm.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from firestream_core.cli.main import main
from firestream_core.project import Project

from .conftest import write_config

SECRET = "rr-sec-7Q-never-shown"
REQUIRED = ("execution error at (tiny-app/templates/secret.yaml:7:15): "
            "A valid .Values.auth.password entry is required!")


def block(name: str, deps: tuple[str, ...] = (), extra: str = "", version: str = "0.1.0") -> str:
    dep = f"depends_on = [{', '.join(repr(d) for d in deps)}]\n" if deps else ""
    return (f'[[deployments.generic]]\nname = "{name}"\nchart = "tiny-app"\nrepository = "fixtures"\n'
            f'version = "{version}"\n{dep}{extra}\n')


@pytest.fixture
def env(fake_helm, fake_kubectl, tmp_path, monkeypatch, no_log_redactors):
    for k, v in fake_helm.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("RR_SECRET", SECRET)
    folder = tmp_path / "project"

    class Env:
        dir = folder
        flags = ["-f", str(folder / "firestream.toml"), "--helm-binary", str(fake_helm.binary),
                 "--kubectl-binary", str(fake_kubectl)]

        @staticmethod
        def write(*blocks: str) -> Path:
            return write_config(folder, '[repositories]\nfixtures = "http://127.0.0.1:9/fixtures"\n\n'
                                + "".join(blocks))

        @staticmethod
        def load(manager=None) -> Project:
            return Project.load(folder / "firestream.toml", helm_binary=fake_helm.binary,
                                env=fake_helm.env, kubectl_binary=fake_kubectl, manager=manager)

    return Env


def dry_runs(fake_helm, release: str | None = None) -> list:
    return [c for c in fake_helm.call_log(release=release)
            if c.op in ("upgrade", "install") and "--dry-run=server" in c.argv]


def applied(fake_helm) -> list[str]:
    return sorted(r["name"] for r in fake_helm.releases())


def test_plan_refuses_a_create_whose_chart_does_not_render_naming_it_and_helms_reason(env, fake_helm, capsys):
    env.write(block("db"), block("web", ("db",)), block("api"))
    fake_helm.fail_render("web")
    assert main(["plan", *env.flags]) == 1
    out, err = capsys.readouterr()
    assert "Refused (apply stops these releases before any change):" in out
    assert f"! web: the chart does not render with these values: {REQUIRED}" in out
    assert "refused: the chart does not render with these values" in out
    assert "Traceback" not in err and "the plan refuses release 'web'" in err
    # one dry run of apply's own call per create, none of them installed anything
    assert sorted(c.release for c in dry_runs(fake_helm)) == ["api", "db", "web"]
    assert applied(fake_helm) == []


def test_a_create_that_renders_is_not_refused_and_plan_exits_0(env, fake_helm, capsys):
    env.write(block("db"), block("web", ("db",)))
    assert main(["plan", *env.flags]) == 0
    out = capsys.readouterr().out
    assert "Refused" not in out and "does not render" not in out
    assert len(dry_runs(fake_helm)) == 2


def test_upgrades_are_rendered_once_for_both_checks_and_refused(env, fake_helm):
    env.write(block("web"), block("api"))
    project = env.load()
    assert project.apply().exit_code == 0
    env.write(block("web", extra='[deployments.generic.values]\nreplicaCount = 2\n'),
              block("api", extra='[deployments.generic.values]\nreplicaCount = 2\n'))
    fake_helm.reset_calls()
    fake_helm.fail_render("*")
    project = env.load()
    plan = project.refuse_before_apply(project.plan())
    assert [c.action for c in plan.releases] == ["upgrade", "upgrade"]
    assert sorted(n for n, _ in plan.problems) == ["api", "web"]
    # each upgrade rendered once: for its immutable fields and its rendering alike
    assert sorted(c.release for c in dry_runs(fake_helm)) == ["api", "web"]
    assert fake_helm.call_log("get manifest") == []  # nothing to compare with what did not render
    # a plan is checked once: apply carries out the checked plan without rendering again
    fake_helm.reset_calls()
    result = project.apply(plan)
    assert dry_runs(fake_helm) == [] and result.exit_code == 1
    assert {r["name"]: r["revision"] for r in fake_helm.releases()} == {"api": 1, "web": 1}


def test_a_sensitive_value_helm_quotes_is_never_shown(env, fake_helm, capsys):
    env.write(block("web", extra='[deployments.generic.secret_values]\n"auth.password" = { env = "RR_SECRET" }\n'))
    fake_helm.fail_render("web", f"values don't meet the specifications of the schema(s) in the following "
                                 f"chart(s):\ntiny-app:\n- at '/auth/password': '{SECRET}' does not match pattern")
    assert main(["plan", *env.flags]) == 1
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    assert ("the chart does not render with these values: values don't meet the specifications of the "
            "schema(s): tiny-app: at '/auth/password':") in out
    assert main(["plan", "--json", *env.flags]) == 1
    out, err = capsys.readouterr()
    assert SECRET not in out + err and "does not match pattern" in out


def test_a_rendering_the_cluster_made_fail_is_left_to_helm_with_a_note(env, fake_helm, capsys):
    env.write(block("web"))
    fake_helm.fail_render("web", 'Kubernetes cluster unreachable: Get "https://10.0.0.1:6443/version": '
                                 "dial tcp 10.0.0.1:6443: connect: connection refused")
    assert main(["plan", *env.flags]) == 0
    out = capsys.readouterr().out
    assert "Refused" not in out
    assert "Not rendered before apply (apply reports what helm says):\n  ? web: Kubernetes cluster unreachable" in out


def test_library_apply_renders_no_create_and_the_outcome_is_helms(env, fake_helm):
    """``Project.apply`` (``apply --yes``): no create is rendered before the run; the create whose
    chart does not render fails in helm, nothing of it recorded, its dependent skipped, the
    independent release applied."""
    env.write(block("db"), block("web", ("db",)), block("api"), block("front", ("web",)))
    fake_helm.fail_render("web")
    result = env.load().apply()
    assert dry_runs(fake_helm) == []
    status = {name: r.result for name, r in result.releases.items()}
    assert status == {"db": "ok", "web": "failed", "api": "ok", "front": "skipped"}
    assert applied(fake_helm) == ["api", "db"]


class _WritesBeforeHelm:
    """A chart type whose plugin changes the cluster in ``pre_exec`` (postgresql's Secret), or in
    its class's own ``exec`` before helm (prometheus-operator's CRDs), recording each call."""

    @staticmethod
    def manager(calls: list[str], *, how: str):
        from firestream_core import ChartInfo, ChartType, HelmChart, hookimpl
        from firestream_core.plugin.manager import get_plugin_manager

        class Chart(HelmChart):
            chart_type = "writer"

            @classmethod
            def default(cls):
                return cls(ChartInfo(name="writer", chart="tiny-app"))

            if how == "class-exec":
                def exec(self, context, payload):  # noqa: A003 - the seed's method name
                    calls.append(f"exec {self.chart_info.name}")

        class Plugin:
            @hookimpl
            def register_chart_types(self, register):
                register(ChartType(name="writer", chart_class=Chart))

            if how == "pre_exec":
                @hookimpl
                def pre_exec(self, chart):
                    calls.append(f"pre_exec {chart.chart_info.name}")

        return get_plugin_manager(load_entry_points=False, extra_plugins=[Plugin()])


@pytest.mark.parametrize("how", ["pre_exec", "class-exec"])
def test_apply_yes_renders_the_creates_a_plugin_writes_to_the_cluster_for_before_helm(env, fake_helm, how):
    """``Project.apply`` (``apply --yes``) renders no create, except one whose chart type changes
    the cluster before helm: that one, unrenderable, is refused before its plugin runs, and what
    depends on it is skipped; the plain creates are not rendered and apply."""
    calls: list[str] = []
    env.write('[[deployments.writer]]\nname = "db"\nrepository = "fixtures"\nversion = "0.1.0"\n\n',
              block("web", ("db",)), block("api"))
    fake_helm.fail_render("db")
    result = env.load(_WritesBeforeHelm.manager(calls, how=how)).apply()
    assert [c.release for c in dry_runs(fake_helm)] == ["db"]
    assert calls == []  # refused before the plugin touched the cluster
    status = {name: r.result for name, r in result.releases.items()}
    assert status == {"db": "failed", "web": "skipped", "api": "ok"}
    assert "the chart does not render with these values" in result.releases["db"].reason
    assert applied(fake_helm) == ["api"]
    # the same chart type, rendering: its plugin runs, and nothing is rendered twice
    fake_helm.clear_failures()
    fake_helm.reset_calls()
    result = env.load(_WritesBeforeHelm.manager(calls, how=how)).apply()
    assert result.exit_code == 0 and calls == [f"{how.replace('class-', '')} db"]
    assert [c.release for c in dry_runs(fake_helm)] == ["db"]


def test_apply_yes_renders_no_create(env, fake_helm, capsys):
    env.write(block("db"), block("web"))
    assert main(["apply", "--yes", *env.flags]) == 0
    assert dry_runs(fake_helm) == []
    assert applied(fake_helm) == ["db", "web"]


def test_interactive_apply_refuses_before_any_change_what_the_plan_showed_refused(
        env, fake_helm, capsys, monkeypatch):
    env.write(block("db"), block("web", ("db",)), block("front", ("web",)), block("api"))
    fake_helm.fail_render("web")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert main(["apply", *env.flags]) == 1
    out = capsys.readouterr().out
    assert "! web: the chart does not render with these values" in out
    # web and what depends on it stopped before any change; the rest applied
    assert applied(fake_helm) == ["api", "db"]
    assert not [c for c in fake_helm.call_log(release="web") if "--dry-run=server" not in c.argv
                and c.op in ("upgrade", "install")]
    # rendered before the prompt and again in the re-plan after it, never by the run
    assert len(dry_runs(fake_helm, "web")) == 2


def test_the_replan_after_the_prompt_must_refuse_what_the_plan_shown_refused(env, fake_helm, capsys, monkeypatch):
    env.write(block("web"))
    fake_helm.fail_render("web")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)

    def answer(prompt: str) -> str:
        fake_helm.clear_failures()  # the chart renders again while the person reads the plan
        return "y"

    monkeypatch.setattr("builtins.input", answer)
    assert main(["apply", *env.flags]) == 1
    err = capsys.readouterr().err
    assert "refusing to apply the plan shown: release 'web': the plan shown refused it, now it is not refused" in err
    assert applied(fake_helm) == []


def test_diff_says_the_chart_does_not_render_with_helms_reason(env, fake_helm):
    env.write(block("web"), block("api"))
    fake_helm.fail_render("web")
    diffs = {d.name: d for d in env.load().diff()}
    assert diffs["web"].status == "error"
    assert diffs["web"].message == f"the chart does not render with these values: {REQUIRED}"
    assert diffs["api"].status != "error"


def test_a_reinstall_is_rendered_as_the_install_after_its_uninstall_and_refused_before_it(env, fake_helm):
    """A reinstall (a breaking version requiring an uninstall) whose new chart does not render is
    refused before its uninstall: rendered as ``helm install --replace --dry-run=server``."""
    bv = 'last_breaking_version_requiring_restart = { version = "0.2.0", requires_uninstall = true }\n'
    env.write(block("old", version="0.2.0", extra=bv))
    fake_helm.seed_release("old", version="0.1.0")
    fake_helm.fail_render("old")
    project = env.load()
    plan = project.refuse_before_apply(project.plan())
    assert plan["old"].action == "reinstall"
    assert plan.problems == [("old", f"release 'old': the chart does not render with these values: {REQUIRED}")]
    (dry,) = dry_runs(fake_helm, "old")
    assert dry.argv[:2] == ("install", "old") and "--replace" in dry.argv
    result = project.apply(plan)
    assert result.releases["old"].result == "failed"
    assert fake_helm.call_log("uninstall") == []  # nothing of it changed
    assert fake_helm.release("old")["version"] == "0.1.0"


def test_a_plan_checked_without_creates_then_with_them_renders_only_the_creates(env, fake_helm):
    env.write(block("up"))
    project = env.load()
    assert project.apply().exit_code == 0
    env.write(block("up", extra='[deployments.generic.values]\nreplicaCount = 2\n'), block("new"))
    fake_helm.reset_calls()
    project = env.load()
    plan = project.refuse_before_apply(project.plan(), creates=False)
    assert [c.release for c in dry_runs(fake_helm)] == ["up"]
    assert plan.immutable_checked and not plan.creates_checked
    plan = project.refuse_immutable(plan)  # the old name: the same call, creates included
    assert sorted(c.release for c in dry_runs(fake_helm)) == ["new", "up"]
    assert plan.creates_checked
    assert project.refuse_before_apply(plan) is plan  # nothing left to render
    assert len(dry_runs(fake_helm)) == 2


def test_a_plan_of_creates_checked_without_them_imports_no_render_module(env, fake_helm):
    """``apply --yes`` of creates (a first apply, every bench) neither renders nor imports ops/render."""
    import os
    import subprocess
    import sys

    env.write(block("a"), block("b", ("a",)))
    code = ("import sys\nfrom firestream_core.project import Project\n"
            f"p = Project.load({str(env.dir / 'firestream.toml')!r}, helm_binary={str(fake_helm.binary)!r})\n"
            "plan = p.refuse_before_apply(p.plan(), creates=False)\n"
            "print(len(plan.releases), 'firestream_core.ops.render' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,  # noqa: S603
                          env={**os.environ, **fake_helm.env})
    assert done.stdout.split() == ["2", "False"], done.stderr
    assert dry_runs(fake_helm) == []
