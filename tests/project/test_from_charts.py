"""Projects in code: ``Project.from_charts`` and ``add_chart`` (checks; the runs are in
tests/docs/test_examples.py, with the real helm 3 and 4)."""

from __future__ import annotations

import attrs
import pytest

from firestream_core.errors import ConfigError
from firestream_core.model import ChartInfo, HelmAction, HelmChart
from firestream_core.plugin.generic import GenericChart
from firestream_core.plugin.manager import get_plugin_manager
from firestream_core.project import Project

from .conftest import write_config


@pytest.fixture
def manager(monkeypatch):
    monkeypatch.delenv("FIRESTREAM_DISABLE_PLUGINS", raising=False)
    return get_plugin_manager(load_entry_points=False)


def chart(name: str, **info) -> GenericChart:
    return GenericChart(ChartInfo(name=name, chart=info.pop("chart", "repo/app"), **info))


def test_add_chart_replaces_the_release_of_its_name_and_adds_others(tmp_path, manager) -> None:
    path = write_config(tmp_path, """
        [repositories]
        repo = "https://charts.example.com"

        [[deployments.generic]]
        name = "web"
        chart = "repo/web"

        [[deployments.generic]]
        name = "db"
        chart = "repo/db"
    """)
    project = Project.load(path, manager=manager)
    web = chart("web", chart="repo/web", timeout="600s", depends_on=["db", "cache"])
    project.add_charts([web, chart("cache")])
    assert project.names == ["db", "web", "cache"]
    assert project.chart("web") is web
    assert project.graph().order() == ["db", "cache", "web"]


def test_from_charts_checks_every_chart_and_table_at_once(tmp_path, manager) -> None:
    @attrs.define
    class Nowhere(HelmChart):
        chart_type = "nowhere"

    with pytest.raises(ConfigError) as exc:
        Project.from_charts(
            [chart("Web"), chart("db"), chart("db"), Nowhere(ChartInfo(name="x", chart="r/x"))],
            project_dir=tmp_path, manager=manager,
        )
    assert exc.value.problems == [
        "chart 'Web' (GenericChart): name: release name 'Web' is not a DNS-1123 label "
        "(lower-case letters, digits and '-', starting and ending with a letter or digit)",
        "chart 'db': two charts have this name",
        "chart 'x' (Nowhere): unknown chart type 'nowhere': no installed plugin provides it "
        "(installed chart types: generic)",
    ]
    with pytest.raises(ConfigError, match="settings.concurrency"):
        Project.from_charts([chart("db")], project_dir=tmp_path, manager=manager,
                            settings={"concurrency": "many"})


def test_from_charts_takes_the_tables_of_a_file(tmp_path, manager) -> None:
    project = Project.from_charts(
        [chart("db")], project_dir=tmp_path, manager=manager,
        repositories={"repo": "https://charts.example.com"}, settings={"concurrency": 2},
    )
    assert project.project_dir == tmp_path.resolve()
    assert project.repositories() == {"repo": "https://charts.example.com"}
    assert project.config.settings.concurrency == 2
    assert project.names == ["db"]


def test_a_password_in_a_values_file_is_hidden_by_the_projects_redactor(tmp_path, manager) -> None:
    """As one in a values table: pod logs and events collected on a failure go through
    the project's redactor, not only helm's calls."""
    (tmp_path / "values").mkdir()
    (tmp_path / "values" / "db.yaml").write_text("auth:\n  username: app\n  password: file-pw-7c1e9a\n")
    (tmp_path / "values" / "web.yaml").write_text("config:\n  dsn: postgres://app@db/shop\n")
    path = write_config(tmp_path, """
        [repositories]
        repo = "https://charts.example.com"

        [[deployments.generic]]
        name = "db"
        chart = "repo/db"
        values_files = ["values/db.yaml"]
    """)
    project = Project.load(path, manager=manager)
    assert project.redactor.redact("pod db-0: app logged in with file-pw-7c1e9a") == (
        "pod db-0: app logged in with ***"
    )
    web = chart("web", values_files=["values/web.yaml"])
    web.settings = attrs.evolve(web.settings, sensitive_keys=["config.dsn"])
    project.add_chart(web)  # a release added in code: its file's sensitive_keys leaf too
    assert project.redactor.redact("dsn=postgres://app@db/shop user app") == "dsn=*** user app"


def test_every_value_of_a_secret_document_of_a_chart_built_in_code_is_hidden(tmp_path, manager) -> None:
    """``ChartValuesGenerated(secret=True)`` says every value in it is sensitive, whatever its
    key: a plugin's own logger, a stage's exception and the outcome's reason go through the
    project's redactor, which must know them (a file's secret_values are known from the file)."""
    from firestream_core.model import ChartValuesGenerated

    doc = ChartValuesGenerated("s.yaml", "message: doc-secret-4f1a\nlist: [item-secret-9b2c]\n", secret=True)
    plain = ChartValuesGenerated("p.yaml", "greeting: hello-world-visible\n")
    project = Project.from_charts([chart("web", yaml_files_content=[doc, plain])],
                                  project_dir=tmp_path, manager=manager)
    assert project.redactor.redact("boom doc-secret-4f1a item-secret-9b2c hello-world-visible") == (
        "boom *** *** hello-world-visible"
    )


def test_desired_states_without_tools_runs_the_hooks_offline(tmp_path, manager) -> None:
    """``project.desired_states(names=[...])`` as its docstring shows it (no helm, no kubectl):
    a hook reading the release as installed (``current_release``) sees no cluster, as under
    ``firestream validate``, instead of failing on the helm it was not given."""
    from firestream_core.plugin import current_release

    @attrs.define
    class ReadsTheCluster(HelmChart):
        def contribute_values(self, context):
            return {"offline": context.offline, "installed": current_release(self, context) is not None}

    project = Project.from_charts([ReadsTheCluster(ChartInfo(name="db", chart="repo/db"))],
                                  project_dir=tmp_path, repositories={"repo": "https://charts.example.com"},
                                  manager=manager)
    desired = project.desired_states(names=["db"])
    assert desired["db"].contributed == {"chart-methods": {"offline": True, "installed": False}}


def test_a_missing_file_is_a_config_error_listing_one_problem(tmp_path) -> None:
    """docs/library.md's ``for problem in exc.problems: print(problem)`` prints something for
    every ConfigError, also the one-problem ones."""
    with pytest.raises(ConfigError) as caught:
        Project.load(tmp_path / "nofile.toml")
    assert caught.value.problems == [f"configuration file not found: {tmp_path / 'nofile.toml'}"]
    assert str(caught.value) == caught.value.problems[0]


def test_the_library_prints_nothing_when_a_release_fails(tmp_path, fake_helm, fake_kubectl) -> None:
    """No handler of the program's: the failure is in the result, and nothing reaches stderr
    through Python's last-resort handler."""
    import os
    import subprocess
    import sys

    fake_helm.fail_on("web", message="injected: chart refused")
    write_config(tmp_path, '[[deployments.generic]]\nname = "web"\nchart = "repo/web"\n'
                           '[repositories]\nrepo = "https://charts.example.com"\n')
    code = (f"from firestream_core import Project\n"
            f"p = Project.load({str(tmp_path / 'firestream.toml')!r}, helm_binary={str(fake_helm.binary)!r}, "
            f"kubectl_binary={str(fake_kubectl)!r})\n"
            "r = p.apply()\nprint(r.releases['web'].result)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,  # noqa: S603
                          env={**os.environ, **fake_helm.env}, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "failed\n", "")


def test_charts_built_in_code_may_not_destroy_what_a_deployed_chart_needs(tmp_path, manager) -> None:
    api = GenericChart(ChartInfo(name="api", chart="x/api", action=HelmAction.DESTROY))
    project = Project.from_charts([api], project_dir=tmp_path, manager=manager)
    with pytest.raises(ConfigError) as exc:  # however the charts arrive
        project.add_chart(GenericChart(ChartInfo(name="web", chart="x/web", depends_on=["api"])))
    assert exc.value.problems == [
        "chart 'api': its action is destroy, but 'web' (action deploy) depends on it: give it "
        "action destroy or skip too"]
    assert project.names == ["api"]
    project.add_chart(GenericChart(ChartInfo(name="web", chart="x/web", depends_on=["api"],
                                             action=HelmAction.SKIP)))
    assert project.names == ["api", "web"]


def test_a_dependency_no_chart_provides_is_refused_before_helm_runs(tmp_path, manager, fake_helm,
                                                                   fake_kubectl) -> None:
    """Charts built in code get no load-time graph check: plan ran ``helm list`` first and the
    error named a firestream.toml that does not exist."""
    from firestream_core.errors import CycleError, UnknownDependencyError

    project = Project.from_charts([chart("web", depends_on=["redis"])], project_dir=tmp_path,
                                  manager=manager, helm_binary=fake_helm.binary,
                                  kubectl_binary=fake_kubectl, env=fake_helm.env)
    for call in (project.plan, project.apply, project.destroy, project.diff, project.status):
        with pytest.raises(UnknownDependencyError) as exc:
            call()
        assert str(exc.value) == ("release 'web' depends on 'redis', which is not defined "
                                  "(the charts built in code)")
    assert fake_helm.calls() == []
    project.add_chart(chart("redis", depends_on=["web"]))
    with pytest.raises(CycleError, match="in the charts built in code: "):
        project.plan()
    assert fake_helm.calls() == []
    project.add_chart(chart("redis"))
    assert [c.name for c in project.plan().releases] == ["redis", "web"]


def test_the_files_a_chart_built_in_code_names_are_checked_as_a_files_are(tmp_path, manager) -> None:
    """A values file missing (the seed's ``values/postgres-custom.yaml``) was found only by apply's
    check_prerequisites, after a plan that showed a create."""
    (tmp_path / "values").mkdir()
    (tmp_path / "values/list.yaml").write_text("- not a mapping\n")
    bad = chart("db", values_files=["values/postgres-custom.yaml", "values/list.yaml"])
    local = GenericChart(ChartInfo(name="web", path="charts/web"))
    with pytest.raises(ConfigError) as exc:
        Project.from_charts([bad, local], project_dir=tmp_path, manager=manager)
    assert exc.value.problems == [
        f"chart 'db' (GenericChart): values_files[0]: values file 'values/postgres-custom.yaml' "
        f"({tmp_path}/values/postgres-custom.yaml) not found (paths are relative to {tmp_path})",
        f"chart 'db' (GenericChart): values_files[1]: values file 'values/list.yaml' "
        f"({tmp_path}/values/list.yaml) is YAML holding a list, not a mapping of values",
        f"chart 'web' (GenericChart): path: chart path 'charts/web' ({tmp_path}/charts/web) not found "
        f"(paths are relative to {tmp_path})",
    ]
    (tmp_path / "values/postgres-custom.yaml").write_text("auth: {database: myapp}\n")
    (tmp_path / "values/list.yaml").write_text("{}\n")
    (tmp_path / "charts/web").mkdir(parents=True)
    (tmp_path / "charts/web/Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    assert Project.from_charts([bad, local], project_dir=tmp_path, manager=manager).names == ["db", "web"]


def test_a_chart_class_whose_init_sets_only_chart_info_is_a_readable_config_error(tmp_path, manager) -> None:
    """The seed's ``struct MyCustomChart { chart_info }`` written as a plain ``__init__``: the
    slots HelmChart.__init__ fills stayed unset and from_charts raised an AttributeError."""

    class Mine(HelmChart):
        def __init__(self, chart_info: ChartInfo) -> None:
            self.chart_info = chart_info

    with pytest.raises(ConfigError) as exc:
        Project.from_charts([Mine(ChartInfo(name="mine", chart="repo/app"))], project_dir=tmp_path,
                            manager=manager)
    assert exc.value.problems == [
        "chart 'mine' (Mine): options and settings not set: its __init__ must call "
        "super().__init__(chart_info) (or declare the class with @attrs.define)"]

    class Fixed(HelmChart):
        def __init__(self, chart_info: ChartInfo) -> None:
            super().__init__(chart_info)

    assert Project.from_charts([Fixed(ChartInfo(name="mine", chart="repo/app"))], project_dir=tmp_path,
                               manager=manager).names == ["mine"]
