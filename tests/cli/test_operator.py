"""The operator's ``firestream`` command (issue 15): exit codes, config discovery, selectors,
environments, completion, colour and help, through the real entry point (no cluster)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FIRESTREAM = str(Path(sys.executable).with_name("firestream"))


def firestream(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
               input: str | None = None) -> subprocess.CompletedProcess:
    """``firestream ARGS`` through the installed console script."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("FIRESTREAM_") and k != "NO_COLOR"}
    if "FIRESTREAM_CACHE_DIR" in os.environ:  # the run's caches stay out of the user's ~/.cache
        base["FIRESTREAM_CACHE_DIR"] = os.environ["FIRESTREAM_CACHE_DIR"]
    return subprocess.run([FIRESTREAM, *args], capture_output=True, text=True, cwd=cwd,  # noqa: S603
                          env={**base, **(env or {})}, timeout=60, input=input)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    d = tmp_path / "repo"
    (d / ".git").mkdir(parents=True)
    (d / "firestream.toml").write_text(textwrap.dedent("""
        [repositories]
        x = "https://charts.example.com/x"

        [defaults]
        labels = { team = "shop" }

        [[deployments.generic]]
        name = "db"
        chart = "x/db"
        labels = { tier = "db" }

        [[deployments.generic]]
        name = "cache"
        chart = "x/cache"
        labels = { tier = "cache" }

        [[deployments.generic]]
        name = "api"
        chart = "x/api"
        depends_on = ["db", "cache"]
        labels = { tier = "app", team = "api" }

        [[deployments.generic]]
        name = "web"
        chart = "x/web"
        depends_on = ["api"]
        labels = { tier = "app" }
    """).lstrip())
    return d


# -- exit codes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["plan", "apply", "diff"])
def test_usage_error_with_detailed_exitcode_is_1_not_2(project: Path, command: str) -> None:
    done = firestream(command, "--detailed-exitcode", "--no-such-flag", cwd=project)
    assert done.returncode == 1, done.stderr
    # the subcommand's own usage, not the top-level one
    assert f"usage: firestream {command}" in done.stderr
    assert "unrecognized arguments: --no-such-flag" in done.stderr


@pytest.mark.parametrize("argv", [["drift", "--jsn"], ["drift", "--target"],
                                  ["plan", "--detailed", "--no-such-flag"]])
def test_usage_error_where_2_is_an_answer_is_1(project: Path, argv: list[str]) -> None:
    """drift's 2 is "drifted", and argparse takes --detailed for --detailed-exitcode: a usage
    error there exits 1, never read by a script as drift or changes."""
    done = firestream(*argv, cwd=project)
    assert done.returncode == 1, done.stderr
    assert f"usage: firestream {argv[0]}" in done.stderr


def test_usage_error_without_detailed_exitcode_is_2(project: Path) -> None:
    done = firestream("plan", "--no-such-flag", cwd=project)
    assert done.returncode == 2
    assert done.stderr.startswith("usage: firestream plan")


def test_config_error_is_1(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "firestream.toml").write_text("[deployments.generic]\nchart = 3\n")
    done = firestream("plan", "--detailed-exitcode", cwd=tmp_path)
    assert done.returncode == 1 and "firestream.toml" in done.stderr


# -- config discovery ---------------------------------------------------------------------------


def test_config_is_found_from_a_subfolder(project: Path) -> None:
    sub = project / "a" / "b"
    sub.mkdir(parents=True)
    done = firestream("validate", cwd=sub)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(os.path.join("..", "..", "firestream.toml") + " is valid: 4 releases")
    assert "INFO using ../../firestream.toml (the nearest firestream.toml above the current folder)" in done.stderr


def test_a_file_named_above_is_not_announced_as_found(project: Path) -> None:
    """`-f ../firestream.toml` or $FIRESTREAM_FILE names the file: no 'the nearest ... above' line."""
    sub = project / "a"
    sub.mkdir()
    for done in (firestream("-f", "../firestream.toml", "validate", cwd=sub),
                 firestream("validate", "-f", "..", cwd=sub),
                 firestream("validate", cwd=sub, env={"FIRESTREAM_FILE": "../firestream.toml"})):
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(os.path.join("..", "firestream.toml") + " is valid")
        assert "nearest" not in done.stderr


def test_discovery_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "firestream.toml").write_text('[deployments.generic]\nchart = "x/y"\n')
    inner = tmp_path / "repo" / "sub"
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    inner.mkdir()
    done = firestream("validate", cwd=inner)
    assert done.returncode == 1
    assert "configuration file not found: firestream.toml" in done.stderr


def test_file_flag_takes_a_folder_and_the_environment_names_one(project: Path, tmp_path: Path) -> None:
    done = firestream("validate", "-f", str(project), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{project / 'firestream.toml'} is valid")
    other = tmp_path / "other.toml"
    other.write_text('[repositories]\nx = "https://charts.example.com/x"\n[deployments.generic]\nchart = "x/solo"\n')
    done = firestream("validate", cwd=project, env={"FIRESTREAM_FILE": str(other)})
    assert done.returncode == 0 and done.stdout.startswith(f"{other} is valid: 1 release")


def test_tools_of_the_checkout_are_used_when_not_on_path(monkeypatch) -> None:
    from firestream_core.cli import main as cli

    monkeypatch.delenv("FIRESTREAM_HELM_BINARY", raising=False)
    monkeypatch.delenv("FIRESTREAM_KUBECTL_BINARY", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    checkout = Path(cli.__file__).resolve().parents[2]
    args = cli.parse_args(["plan"])
    for name, value in (("helm", args.helm_binary), ("kubectl", args.kubectl_binary)):
        if (checkout / ".tools" / name).is_file():
            assert value == str(checkout / ".tools" / name)
        else:
            assert value is None
    args = cli.parse_args(["plan", "--kubectl-binary", "/opt/kubectl"])
    assert args.kubectl_binary == "/opt/kubectl"


# -- labels and selectors -----------------------------------------------------------------------


def test_labels_and_selectors_pick_releases(project: Path) -> None:
    from firestream_core.project import Project

    p = Project.load(project)
    labels = p.labels()
    assert labels["db"] == {"team": "shop", "tier": "db", "name": "db", "namespace": "default",
                            "chart": "x/db", "type": "generic"}
    assert labels["api"]["team"] == "api"  # the release's own label wins over [defaults]
    assert p.select([], ["tier=app"]) == ["api", "web"]
    assert p.select([], ["tier=app,team=shop"]) == ["web"]  # comma: and
    assert p.select([], ["tier=db", "tier=cache"]) == ["db", "cache"]  # repeated: or
    assert p.select([], ["tier!=app"]) == ["db", "cache"]
    assert p.select([], ["name=api"], include_deps=True) == ["api", "db", "cache"]
    assert p.select([], ["name=api"], include_dependents=True) == ["api", "web"]
    assert p.select(["db"], ["tier=cache"]) == ["db", "cache"]
    assert p.select([], []) is None


def test_the_chart_label_of_a_local_chart_is_its_path_as_written(tmp_path: Path) -> None:
    """A release of a local chart given as `path` has its path as the `chart` label, not "":
    `-l chart!=charts/db` (destroy everything but the database) must leave 'db' out."""
    from firestream_core.project import Project

    (tmp_path / ".git").mkdir()
    for name in ("db", "web"):
        chart = tmp_path / "charts" / name
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n")
    (tmp_path / "firestream.toml").write_text('[[deployments.generic]]\nname = "db"\npath = "charts/db"\n\n'
                                              '[[deployments.generic]]\nname = "web"\nchart = "./charts/web"\n')
    p = Project.load(tmp_path)
    assert p.labels()["db"]["chart"] == "charts/db" and p.labels()["web"]["chart"] == "./charts/web"
    assert p.select([], ["chart!=charts/db"]) == ["web"]
    assert p.select([], ["chart=charts/db"]) == ["db"]


def test_a_selector_before_the_command_is_the_commands_own(project: Path) -> None:
    """helmfile's habit, ``firestream -l tier=db plan``: read as ``plan -l tier=db`` (it was
    "invalid choice: 'tier=db'"); with one after the command too, either matches (a repeated -l
    means or). A command that picks no releases refuses it."""
    from firestream_core.cli import main as cli

    args = cli.parse_args(["-l", "tier=db", "plan"])
    assert (args.command, args.selectors) == ("plan", ["tier=db"])
    args = cli.parse_args(["--selector", "tier=db", "destroy", "-l", "tier=cache"])
    assert (args.command, args.selectors) == ("destroy", ["tier=db", "tier=cache"])
    done = firestream("-l", "tier=db", "plugins", cwd=project)
    assert done.returncode == 2 and "'firestream plugins' does not choose releases by label" in done.stderr
    done = firestream("-l", "tier=nothing", "plan", "--helm-binary", "/nonexistent/helm", cwd=project)
    assert done.returncode == 1 and "no release matches the selector 'tier=nothing'" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-l", "tier"], "invalid selector 'tier'"),
        (["-l", "tier=nothing"], "no release matches the selector 'tier=nothing'"),
        (["--include-deps"], "--include-deps needs a selection"),
        (["--include-dependents"], "--include-dependents needs a selection"),
        (["--target", "nope"], "unknown release: 'nope'"),
    ],
)
@pytest.mark.parametrize("command", ["plan", "apply", "diff", "drift", "test", "template"])
def test_bad_selections_are_refused_before_any_cluster_call(project: Path, command: str, args: list[str],
                                                            message: str) -> None:
    if command in ("drift", "test", "template") and args[0] == "--include-dependents":
        args = ["--include-dependents"]
    done = firestream(command, *args, "--helm-binary", "/nonexistent/helm", cwd=project)
    assert done.returncode == 1, done.stderr
    assert message in done.stderr and "cannot run" not in done.stderr


def test_labels_must_be_a_table_of_scalars(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "firestream.toml").write_text(
        '[[deployments.generic]]\nname = "a"\nchart = "x/a"\nlabels = { tier = ["x"] }\n')
    done = firestream("validate", cwd=tmp_path)
    assert done.returncode == 1
    assert "deployments.generic[0].labels.tier" in done.stderr


# -- environments and one-off overrides ---------------------------------------------------------

ENVIRONMENTS = """
[environments.dev]
releases = ["db", "cache", "api"]

[environments.prod]
kube_context = "prod-cluster"
namespace = "shop-prod"
values = { replicaCount = 3 }
values_files = ["prod.yaml"]

[environments.prod.deployments.api]
values = { image = { tag = "2.0" } }
labels = { tier = "edge" }
"""


def test_environment_overlays(project: Path) -> None:
    from firestream_core.project import Project, state_scope
    from firestream_core.tools.values import merged_values

    (project / "firestream.toml").write_text((project / "firestream.toml").read_text().replace(
        '[[deployments.generic]]\nname = "api"', '[[deployments.generic]]\nname = "api"\nvalues = { image = { repository = "api" } }', 1)
        + ENVIRONMENTS)
    (project / "prod.yaml").write_text("prod: true\n")
    plain = Project.load(project)
    assert plain.names == ["db", "cache", "api", "web"] and plain.config.environment is None
    assert plain.kube_context is None and state_scope(plain.config) is None
    assert plain.state_backend().describe().endswith(".firestream/state.json")

    dev = Project.load(project, environment="dev")
    assert dev.names == ["db", "cache", "api"]  # only the environment's releases
    assert dev.state_backend().describe().endswith(".firestream/state.dev.json")

    prod = Project.load(project, environment="prod")
    assert prod.kube_context == "prod-cluster"
    assert {c.chart_info.namespace_name for c in prod.charts} == {"shop-prod"}
    api = prod.chart("api").chart_info
    assert merged_values(api) == {"image": {"repository": "api", "tag": "2.0"}, "replicaCount": 3}
    assert [p.name for p in api.values_files] == ["prod.yaml"]
    assert prod.labels()["api"]["tier"] == "edge"
    assert prod.state_backend().describe().endswith(".firestream/state.prod@prod-cluster.json")
    # the command line's context wins, and keeps its own state
    other = Project.load(project, environment="prod", kube_context="other")
    assert other.state_backend().describe().endswith(".firestream/state.prod@other.json")


def test_unknown_environment_and_bad_overlay_are_config_errors(project: Path) -> None:
    (project / "firestream.toml").write_text((project / "firestream.toml").read_text()
                                             + '\n[environments.dev]\nreleases = ["nope"]\ncolour = 1\n')
    done = firestream("validate", "-e", "prod", cwd=project)
    assert done.returncode == 1 and "unknown environment 'prod' (environments: 'dev')" in done.stderr
    done = firestream("validate", cwd=project, env={"FIRESTREAM_ENVIRONMENT": "dev"})
    assert done.returncode == 1
    assert "environments.dev: unknown release 'nope'" in done.stderr
    assert "environments.dev.colour: unknown key" in done.stderr


def test_set_and_values_overrides_go_last(project: Path, tmp_path: Path) -> None:
    from firestream_core.project import Project
    from firestream_core.tools.values import merged_values

    extra = tmp_path / "extra.yaml"
    extra.write_text("replicaCount: 5\nimage: {tag: x}\n")
    p = Project.load(project, set_values=[("image.tag", "y")], values_files=[extra])
    assert merged_values(p.chart("web").chart_info) == {"replicaCount": 5, "image": {"tag": "y"}}
    assert p.overrides == ("--set image.tag", f"--values {extra}")
    done = firestream("plan", "--set", "novalue", cwd=project)
    assert done.returncode == 2 and "expected PATH=VALUE" in done.stderr


# -- help, completion, colour -------------------------------------------------------------------


def test_every_subcommand_help_has_examples() -> None:
    from firestream_core.cli.main import COMMANDS

    for name in COMMANDS:
        done = firestream(name, "-h")
        assert done.returncode == 0, (name, done.stderr)
        assert f"usage: firestream {name}" in done.stdout
        examples = done.stdout.split("examples:\n", 1)
        assert len(examples) == 2 and "  firestream " in examples[1], name


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str, tmp_path: Path) -> None:
    done = firestream("completion", shell)
    assert done.returncode == 0, done.stderr
    script = done.stdout
    for word in ("plan", "apply", "rollback", "completion", "--selector", "--include-dependents",
                 "--detailed-exitcode", "--environment"):
        assert (f"-l {word[2:]}" if shell == "fish" and word.startswith("--") else word) in script, word
    if shell == "bash":
        import shutil

        bash = shutil.which("bash")
        assert bash
        # the script loads in bash and completes a subcommand's options
        probe = tmp_path / "probe.sh"
        probe.write_text(script + '\nCOMP_WORDS=(firestream plan --sel); COMP_CWORD=2; _firestream; '
                         'echo "${COMPREPLY[*]}"\nCOMP_WORDS=(firestream -f x.toml ro); COMP_CWORD=3; '
                         '_firestream; echo "${COMPREPLY[*]}"\n')
        out = subprocess.run([bash, str(probe)], capture_output=True, text=True, timeout=30)  # noqa: S603
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == ["--selector", "rollback"]


def test_color_on_plan_symbols_follows_color_and_no_color() -> None:
    from firestream_core.cli.progress import format_plan, use_color
    from firestream_core.deploy.plan import Change, Plan

    plan = Plan(releases=(Change("db", "default", "generic", "create", ("not deployed",)),
                          Change("web", "default", "generic", "destroy", ("destroy requested",))),
                deps={"db": (), "web": ()})
    colored = format_plan(plan, color=True)
    assert "\x1b[32m+  db" in colored and "\x1b[31m-  web" in colored
    assert "\x1b[" not in format_plan(plan)

    class Tty:
        def isatty(self) -> bool:
            return True

    class Args:
        color = "auto"

    os.environ.pop("NO_COLOR", None)
    assert use_color(Args(), Tty()) is True
    os.environ["NO_COLOR"] = "1"
    try:
        assert use_color(Args(), Tty()) is False
        Args.color = "always"
        assert use_color(Args(), io_stream := object()) is True and io_stream
    finally:
        del os.environ["NO_COLOR"]
    Args.color = "never"
    assert use_color(Args(), Tty()) is False
