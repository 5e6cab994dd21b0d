"""The ``firestream`` command: global flags, lazy commands, errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from firestream_core.cli import main as cli
from firestream_core.cli.main import find_command, main, parse_args
from tests.conftest import chart_plugin_source

HEAVY = ("pluggy", "attrs", "cattrs", "yaml", "sh", "argparse", "logging")


def run_py(code: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    """Run Python code in a fresh interpreter (the CLI's real start-up)."""
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=60,
    )


def firestream(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    """``firestream ARGS`` in a subprocess (``python -m firestream_core.cli.main``)."""
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "firestream_core.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=60,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    d = tmp_path / "proj"
    d.mkdir()
    (d / "firestream.toml").write_text(
        textwrap.dedent(
            """
            [repositories]
            bitnami = "https://charts.bitnami.com/bitnami"
            [deployments.db]
            chart = "bitnami/postgresql"
            [deployments.cache]
            chart = "bitnami/redis"
            [deployments.web]
            chart = "oci://ghcr.io/example/web"
            depends_on = ["db", "cache"]
            """
        )
    )
    (d / "other.toml").write_text('[repositories]\nx = "https://charts.example.com/x"\n[deployments.solo]\nchart = "x/solo"\n')
    return d


# -- start-up cost ------------------------------------------------------------------------------


def test_version_imports_nothing_heavy() -> None:
    r = run_py(
        """
        import sys
        from firestream_core.cli.main import main
        code = main(["--version"])
        heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))
        print("heavy:", heavy, "code:", code)
        """,
        *HEAVY,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "firestream 0.1.0\nheavy: [] code: 0\n"


def test_plugins_command_does_not_import_cattrs_sh_or_yaml() -> None:
    r = run_py(
        """
        import sys
        from firestream_core.cli.main import main
        main(["plugins", "--json"])
        print("heavy:", sorted({m.split(".")[0] for m in sys.modules} & {"cattrs", "sh", "yaml"}))
        """
    )
    assert r.stdout.splitlines()[-1] == "heavy: []", r.stderr


def test_plugins_from_a_warm_cache_imports_no_plugin_nor_pluggy(tmp_path: Path) -> None:
    """With the plugin cache warm, listing needs neither the entry-point scan, nor the plugins'
    modules, nor pluggy (and ``inspect`` with it): all of it comes from the cache. Nor pathlib:
    finding the project file (which ``plugins`` does not read) walks with ``os.path``."""
    env = {"FIRESTREAM_CACHE_DIR": str(tmp_path / "cache"), "FIRESTREAM_PLUGIN_CACHE": "on"}
    code = """
        import sys
        sys.modules.pop("pathlib", None)  # an editable install's finder imported it at start-up
        from firestream_core.cli.main import main
        main(["plugins", "--json"])
        print("heavy:", sorted({m.split(".")[0] for m in sys.modules} & {
            "pluggy", "attrs", "cattrs", "yaml", "importlib_metadata", "firestream_chart_kafka",
            "firestream_chart_postgresql", "pathlib"}))
        """
    cold = run_py(code, env=env)
    warm = run_py(code, env=env)
    assert cold.stdout.splitlines()[-1] != "heavy: []", cold.stderr  # the first run scans and imports
    assert warm.stdout.splitlines()[-1] == "heavy: []", warm.stderr
    assert json.loads("\n".join(warm.stdout.splitlines()[:-1])) == json.loads(
        "\n".join(cold.stdout.splitlines()[:-1]))  # and lists the same plugins, hooks and versions


def test_validate_imports_no_yaml_and_no_unused_plugin(project: Path, tmp_path: Path) -> None:
    """No environments, values files or registries: no YAML reader, no OCI module; releases
    keyed by names that are no chart type (``[deployments.db]`` with a chart) are generic
    ones, which imports none of the installed chart plugins once the plugin cache is warm.
    Building the argument parser does not ask ``shutil`` for the terminal's width (help and
    errors do, when they are printed)."""
    env = {"FIRESTREAM_CACHE_DIR": str(tmp_path / "cache"), "FIRESTREAM_PLUGIN_CACHE": "on"}
    code = """
        import sys
        from firestream_core.cli.main import main
        code = main(["validate"])
        print("code:", code, "heavy:", sorted({m for m in sys.modules} & {
            "yaml", "firestream_core.tools.values", "firestream_core.tools.oci",
            "firestream_chart_kafka", "firestream_chart_postgresql", "firestream_chart_external_dns",
            "shutil", "firestream_core.config.environments"}))
        """
    run_py(code, env=env, cwd=project)  # warms the plugin cache
    r = run_py(code, env=env, cwd=project)
    assert r.stdout.splitlines()[-1] == "code: 0 heavy: []", r.stderr


def test_a_valid_apply_imports_no_test_runner_and_compiles_no_error_pattern(
    tmp_path: Path, fake_helm, fake_kubectl  # noqa: ANN001
) -> None:
    """An apply whose releases run no helm tests and whose every call succeeds: the
    ``firestream test`` module, ``difflib`` (a misspelt key's "did you mean"), ``socket``
    and ``uuid`` (the lock's host and id come from ``os``), ``hashlib`` (OpenSSL's start:
    the digests use ``tools/digest.py``) and the patterns that read a failed call's stderr
    (``tools/helm_errors.py``) are never loaded. What the lifecycles
    use (PyYAML among it) is imported before the first release is dispatched: no
    lifecycle imports a module."""
    d = tmp_path / "proj"
    (d / "chart").mkdir(parents=True)
    (d / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (d / "firestream.toml").write_text('[[deployments.generic]]\nname = "a"\npath = "chart"\n'
                                       '[[deployments.generic]]\nname = "b"\npath = "chart"\n'
                                       'depends_on = ["a"]\n')
    env = {**fake_helm.env, "FIRESTREAM_KUBECTL_BINARY": str(fake_kubectl),
           "FIRESTREAM_CACHE_DIR": str(tmp_path / "cache"), "FIRESTREAM_PLUGIN_CACHE": "on"}
    run_py("from firestream_core.cli.main import main; main(['validate'])", env=env, cwd=d)  # warm cache
    r = run_py(
        """
        import sys
        from firestream_core.cli.main import main
        from firestream_core.deploy import run
        from firestream_core.tools import helm_errors
        before, during, real = [], set(), run.run_release
        def lifecycle(*a, **k):  # the modules at the first dispatch; any a lifecycle adds
            before.append(before[0] if before else set(sys.modules))
            try:
                return real(*a, **k)
            finally:
                during.update(set(sys.modules) - before[0])
        run.run_release = lifecycle
        code = main(["apply", "--yes", "--helm-binary", sys.argv[1]])
        import re
        failure = {n: p for n, p in vars(helm_errors).items() if isinstance(p, str) and p.startswith("(?i")}
        cached = {key[1] for key in re._cache}  # re's compiled patterns, keyed (type, pattern, flags)
        compiled = sorted(n for n, p in failure.items() if p in cached)
        print("code:", code, "loaded:", sorted({"difflib", "firestream_core.deploy.helm_tests", "socket", "uuid", "hashlib"} & set(sys.modules)),
              "compiled:", compiled, "of", len(failure), "yaml at dispatch:", "yaml" in before[0],
              "in lifecycles:", sorted(during))
        """,
        str(fake_helm.binary),
        env=env,
        cwd=d,
    )
    assert r.stdout.splitlines()[-1] == (
        "code: 0 loaded: [] compiled: [] of 16 yaml at dispatch: True in lifecycles: []"), r.stdout + r.stderr
    assert [c.op for c in fake_helm.call_log() if c.op == "upgrade"] == ["upgrade", "upgrade"]


def test_plan_imports_none_of_the_runs_modules(tmp_path: Path, fake_helm, fake_kubectl) -> None:  # noqa: ANN001
    """``firestream plan`` carries nothing out: the run, its lifecycle, scheduler and result
    types are not imported (an apply imports them while helm lists, under its lock)."""
    d = tmp_path / "proj"
    (d / "chart").mkdir(parents=True)
    (d / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (d / "firestream.toml").write_text('[[deployments.generic]]\nname = "a"\npath = "chart"\n')
    env = {**fake_helm.env, "FIRESTREAM_KUBECTL_BINARY": str(fake_kubectl),
           "FIRESTREAM_CACHE_DIR": str(tmp_path / "cache"), "FIRESTREAM_PLUGIN_CACHE": "on"}
    code = """
        import sys
        from firestream_core.cli.main import main
        code = main([sys.argv[1], "--helm-binary", sys.argv[2], *sys.argv[3:]])
        print("code:", code, "run's modules:", sorted({m for m in sys.modules} & {
            "firestream_core.deploy.run", "firestream_core.deploy.lifecycle",
            "firestream_core.deploy.scheduler", "firestream_core.deploy.results"}))
        """
    plan = run_py(code, "plan", str(fake_helm.binary), env=env, cwd=d)
    assert plan.stdout.splitlines()[-1] == "code: 0 run's modules: []", plan.stdout + plan.stderr
    apply = run_py(code, "apply", str(fake_helm.binary), "--yes", env=env, cwd=d)
    assert apply.stdout.splitlines()[-1] == (
        "code: 0 run's modules: ['firestream_core.deploy.lifecycle', 'firestream_core.deploy.results', "
        "'firestream_core.deploy.run', 'firestream_core.deploy.scheduler']"), apply.stdout + apply.stderr


def test_only_the_command_run_is_imported(project: Path) -> None:
    r = run_py(
        """
        import sys
        from firestream_core.cli.main import main
        main(["graph"])
        print(sorted(m for m in sys.modules if m.startswith("firestream_core.cli.commands.")))
        """,
        cwd=project,
    )
    assert r.stdout.splitlines()[-1] == "['firestream_core.cli.commands.graph']", r.stderr


# -- flags before and after the subcommand -----------------------------------------------------


def test_project_file_is_named_as_pathlib_names_it(tmp_path: Path, monkeypatch) -> None:
    """``-f FOLDER`` and the upward walk, written without pathlib: "." parts, doubled and
    trailing slashes go, ".." stays (a symlink's ".." is not its folder's parent)."""
    from firestream_core.cli.main import find_project_file

    (tmp_path / "a" / "b" / "c" / "d").mkdir(parents=True)
    (tmp_path / "a" / "b" / ".git").mkdir()
    (tmp_path / "a" / "firestream.toml").write_text("")
    (tmp_path / "a" / "b" / "c" / "firestream.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    for given in ("./a/", "a//", "a", "a/b/..", str(tmp_path / "a"), "x.toml", "."):
        expected = str(Path(given) / "firestream.toml") if Path(given).is_dir() else given
        assert find_project_file(given, {}) == expected, given
    assert find_project_file(None, {"FIRESTREAM_FILE": "a"}) == "a/firestream.toml"
    home = {"HOME": str(tmp_path)}
    assert find_project_file(None, home, cwd=str(tmp_path / "a/b/c/d")) == "../firestream.toml"
    assert find_project_file(None, home, cwd=str(tmp_path / "a/b/c")) == "firestream.toml"
    # the walk stops at the repository root (a/b holds .git) and at the home folder
    assert find_project_file(None, home, cwd=str(tmp_path / "a/b")) == "firestream.toml"
    assert find_project_file(None, {"HOME": str(tmp_path / "a/b/c/d")},
                             cwd=str(tmp_path / "a/b/c/d")) == "firestream.toml"
    assert find_project_file(None, {"HOME": "/nonexistent"}, cwd="/") == "firestream.toml"


def test_find_command_skips_global_flags_and_their_values() -> None:
    assert find_command(["-f", "plan", "apply"]) == "apply"
    assert find_command(["-v", "--kube-context", "kind", "status", "-f", "x"]) == "status"
    assert find_command(["-q"]) is None


def test_global_flags_before_and_after_are_merged(monkeypatch) -> None:
    monkeypatch.delenv("FIRESTREAM_HELM_BINARY", raising=False)
    monkeypatch.setattr(cli, "checkout_tool", lambda name: None)  # not .tools/helm of this checkout
    a = parse_args(["-f", "a.toml", "--disable-plugin", "x", "-v", "graph", "--disable-plugin", "y", "-v"])
    assert (a.command, a.file, a.disable_plugin, a.verbose) == ("graph", "a.toml", ["x", "y"], 2)
    b = parse_args(["graph", "-f", "b.toml", "--kubeconfig", "kc", "--kube-context", "ctx", "-q"])
    assert (b.file, b.kubeconfig, b.kube_context, b.quiet, b.helm_binary) == ("b.toml", "kc", "ctx", True, None)
    c = parse_args(["--file", "c.toml", "graph", "--format", "dot"])
    assert (c.file, c.format) == ("c.toml", "dot")
    d = parse_args(["-f", "first.toml", "graph", "-f", "second.toml"])
    assert d.file == "second.toml"  # the later flag wins
    e = parse_args(["graph"])
    assert (e.file, e.kubeconfig, e.disable_plugin, e.verbose, e.quiet) == ("firestream.toml", None, [], 0, False)
    assert not any(k.startswith("sub_") for k in vars(e))


def test_an_abbreviated_global_flag_before_the_command_keeps_the_commands_options() -> None:
    """argparse takes `--env` for `--environment`: `firestream --env prod plan --target web` ran
    plan without its options (an AttributeError) or refused `--target`."""
    a = parse_args(["--env", "prod", "plan", "--target", "web"])
    assert (a.command, a.environment, a.targets) == ("plan", "prod", ["web"])
    b = parse_args(["--kubeconf", "kc", "graph", "--format", "dot"])
    assert (b.command, b.kubeconfig, b.format) == ("graph", "kc", "dot")


def test_helm_binary_flag_and_environment(monkeypatch) -> None:
    monkeypatch.setenv("FIRESTREAM_HELM_BINARY", "/opt/helm4")
    assert parse_args(["graph"]).helm_binary == "/opt/helm4"
    assert parse_args(["graph", "--helm-binary", "/opt/helm3"]).helm_binary == "/opt/helm3"
    assert parse_args(["--helm-binary", "/opt/helm3", "graph"]).helm_binary == "/opt/helm3"


def test_file_flag_works_before_and_after_in_a_real_run(project: Path) -> None:
    before = firestream("-f", "other.toml", "graph", cwd=project)
    after = firestream("graph", "-f", "other.toml", cwd=project)
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert before.stdout == after.stdout == "level 1:\n  solo [default]\n"


# -- commands ----------------------------------------------------------------------------------------


def test_validate_ok_and_invalid(project: Path) -> None:
    ok = firestream("validate", cwd=project)
    assert (ok.returncode, ok.stdout) == (0, "firestream.toml is valid: 3 releases in 2 levels\n")
    (project / "bad.toml").write_text(
        '[repositories]\nx = "https://charts.example.com/x"\n'
        '[deployments.db]\nchart = "x/db"\ntimeout = "soon"\n[deployments.web]\nchart = "x/web"\nwait = 1\n'
    )
    bad = firestream("validate", "-f", "bad.toml", cwd=project)
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert bad.stderr == (
        "error: bad.toml is invalid:\n"
        "  deployments.db.timeout: invalid duration 'soon': expected e.g. '300s', '5m' or '1h'\n"
        "  deployments.web.wait: expected a boolean (true or false), got an integer\n"
    )


def test_validate_reports_graph_errors(project: Path) -> None:
    (project / "cyc.toml").write_text(
        '[repositories]\nx = "https://charts.example.com/x"\n'
        '[deployments.a]\nchart = "x/a"\ndepends_on = ["b"]\n[deployments.b]\nchart = "x/b"\ndepends_on = ["a"]\n'
    )
    r = firestream("validate", "-f", "cyc.toml", cwd=project)
    assert (r.returncode, r.stderr) == (1, "error: cyc.toml is invalid:\n  dependency cycle in cyc.toml: a -> b -> a\n")


def test_missing_config_file_prints_hint(tmp_path: Path) -> None:
    r = firestream("validate", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr == (
        "error: configuration file not found: firestream.toml\n"
        "hint: create firestream.toml or pass -f PATH\n"
    )


def test_test_with_a_bad_timeout_is_a_usage_error_before_any_cluster_call(project: Path, capsys) -> None:
    """``firestream test --timeout forever`` ran ``helm list`` and started the tests, then ended
    in ``unexpected ValueError`` with a traceback hint."""
    helm = project / "helm-must-not-run"  # any call to it would fail: nothing may call it
    assert main(["test", "--timeout", "forever", "-f", str(project), "--helm-binary", str(helm)]) == 2
    err = capsys.readouterr().err
    assert "argument --timeout: invalid duration 'forever'" in err
    assert "unexpected" not in err and "cannot run" not in err
    # over the bound a release's own timeout has in the config (24h): refused the same way
    assert main(["test", "--timeout", "25h", "-f", str(project), "--helm-binary", str(helm)]) == 2
    assert "argument --timeout: duration '25h' is over the bound of 24h" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("fmt", "first_line"),
    [("text", "level 1:"), ("dot", "digraph firestream {"), ("mermaid", "flowchart LR")],
)
def test_graph_formats(project: Path, fmt: str, first_line: str) -> None:
    r = firestream("graph", "--format", fmt, cwd=project)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == first_line
    assert "web" in r.stdout and "db" in r.stdout


def test_graph_of_selected_releases(project: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(project)
    assert main(["graph", "cache", "--disable-plugin", "defaults"]) == 0
    assert capsys.readouterr().out == "level 1:\n  cache [default]\n"


def test_plugins_json_lists_broken_plugins_and_fails(fake_dists, capsys) -> None:
    fake_dists.plugin("firestream-chart-demo", "demo", chart_plugin_source(), "1.4.0")
    fake_dists.plugin("firestream-chart-dead", "dead", "raise ImportError('gone')\n", "0.1.0")
    code = main(["plugins", "--json", "--disable-plugin", "defaults"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [p["name"] for p in doc["plugins"]] == ["generic", "chart-methods", "demo"]
    assert doc["plugins"][2]["distribution"] == "firestream-chart-demo"
    assert doc["broken"] == [
        {
            "name": "dead",
            "distribution": "firestream-chart-dead",
            "version": "0.1.0",
            "cause": "import failed: ImportError: gone",
            "chart_types": [],
        }
    ]
    assert doc["disabled"] == ["defaults"]


def test_plugins_lists_as_disabled_only_what_a_name_disabled(fake_dists, capsys) -> None:
    """A misspelt ``--disable-plugin`` disabled nothing (and is warned about): it is not listed
    under "disabled" as if it had."""
    fake_dists.plugin("firestream-chart-demo", "demo", "from firestream_core import hookimpl\n"
                      "@hookimpl\ndef validate(chart, context, payload):\n    return []\n", "0.1.0")
    assert main(["plugins", "--disable-plugin", "demo", "--disable-plugin", "demmo"]) == 0
    out, err = capsys.readouterr()
    assert "\ndisabled: demo\n" in out and "demmo" not in out
    assert "no plugin is named 'demmo'" in err
    assert main(["plugins", "--json", "--disable-plugin", "demmo"]) == 0
    assert json.loads(capsys.readouterr().out)["disabled"] == []


def test_plugins_table_shows_traceback_only_with_verbose(fake_dists, capsys) -> None:
    fake_dists.plugin("firestream-chart-dead", "dead", "raise ImportError('gone')\n", "0.1.0")
    assert main(["plugins", "--disable-plugin", "defaults"]) == 1
    out = capsys.readouterr().out
    assert "broken plugins:\n  'dead' (firestream-chart-dead 0.1.0): import failed: ImportError: gone\n" in out
    assert "Traceback" not in out
    assert main(["plugins", "-v", "--disable-plugin", "defaults"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().out


def test_plugins_check_ok(fake_dists, capsys) -> None:
    fake_dists.plugin("firestream-chart-demo", "demo", chart_plugin_source(), "1.4.0")
    assert main(["plugins", "--check", "--disable-plugin", "defaults"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["NAME", "DISTRIBUTION", "VERSION", "CHART", "TYPES", "HOOKS"]
    assert out.endswith("checked 3 plugins and 2 chart types: no problems\n")


# -- errors ---------------------------------------------------------------------------------------------

FAKE_COMMAND = """
import sys, types
from firestream_core.cli import main as cli

mod = types.ModuleType("fake")
mod.add_arguments = lambda parser: None
def run(args):
    kind = sys.argv[1]
    if kind == "unexpected":
        raise RuntimeError("boom happened\\nsecond line")
    if kind == "firestream":
        from firestream_core.errors import PluginError
        raise PluginError("plugin 'x' is broken", hint="reinstall it")
    if kind == "interrupt":
        raise KeyboardInterrupt
    if kind in ("sigterm", "sigterm-handled"):
        import os, signal, time
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(60)  # never reached: the handler raises at once
        except KeyboardInterrupt:
            if kind == "sigterm":
                raise
            return 130  # what apply returns when its scheduler took the interrupt
        return 0
    return 3
mod.run = run
cli.COMMANDS["fake"] = ("fake", "a test command")
cli.load_command = lambda name: mod
sys.exit(cli.main(["fake", *sys.argv[2:]]))
"""


def test_unexpected_error_is_one_line_without_traceback() -> None:
    r = run_py(FAKE_COMMAND, "unexpected")
    assert r.returncode == 1
    assert r.stderr == (
        "error: unexpected RuntimeError: boom happened\nhint: run again with -v for the traceback\n"
    )


def test_unexpected_error_shows_traceback_with_verbose() -> None:
    r = run_py(FAKE_COMMAND, "unexpected", "-v")
    assert r.returncode == 1
    assert r.stderr.startswith("Traceback (most recent call last):")
    assert r.stderr.endswith("error: unexpected RuntimeError: boom happened\n")


def test_firestream_error_prints_message_and_hint() -> None:
    r = run_py(FAKE_COMMAND, "firestream")
    assert (r.returncode, r.stderr) == (1, "error: plugin 'x' is broken\nhint: reinstall it\n")


def test_keyboard_interrupt_exits_130() -> None:
    r = run_py(FAKE_COMMAND, "interrupt")
    assert (r.returncode, r.stderr) == (130, "error: interrupted\n")


@pytest.mark.parametrize("kind", ["sigterm", "sigterm-handled"])
def test_sigterm_is_handled_as_ctrl_c_and_exits_143(kind: str) -> None:
    r = run_py(FAKE_COMMAND, kind)
    assert r.returncode == 143
    assert r.stderr == ("error: terminated (SIGTERM)\n" if kind == "sigterm" else "")


def test_sigterm_handler_only_while_a_command_runs(monkeypatch) -> None:
    import signal
    import types

    before = signal.getsignal(signal.SIGTERM)
    seen: list[object] = []
    mod = types.SimpleNamespace(add_arguments=lambda parser: None,
                                run=lambda args: seen.append(signal.getsignal(signal.SIGTERM)))
    monkeypatch.setitem(cli.COMMANDS, "fake", ("fake", "a test command"))
    monkeypatch.setattr(cli, "load_command", lambda name: mod)
    assert main(["fake"]) == 0
    assert seen and seen[0] is not before and callable(seen[0])
    assert signal.getsignal(signal.SIGTERM) is before


def test_command_exit_code_is_passed_through() -> None:
    assert run_py(FAKE_COMMAND, "other").returncode == 3


def test_command_whose_module_is_missing(monkeypatch, capsys) -> None:
    monkeypatch.setitem(cli.COMMANDS, "ghost", ("ghost_command_not_written", "nothing"))
    assert main(["ghost"]) == 1
    assert capsys.readouterr().err == (
        "error: the 'ghost' command is not available in this installation "
        "(module firestream_core.cli.commands.ghost_command_not_written is missing)\n"
    )


def test_unknown_command_and_no_command_exit_2(capsys) -> None:
    assert main(["frobnicate"]) == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err
    assert main([]) == 2
    assert "commands:" in capsys.readouterr().err


def test_every_command_is_listed_in_help(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("plugins", "validate", "graph", "plan", "apply", "destroy", "status", "import",
                 "template", "diff", "test", "drift", "state", "new"):
        assert f"    {name}" in out


def test_the_console_script_raises_the_young_collection_threshold_only_for_itself() -> None:
    """Start-up builds what lives until the process ends: the console script (``main()``)
    collects the young generation in larger batches and freezes what is alive when the
    command ends (the interpreter's exit does not walk it); ``main(argv)`` in a program does
    not touch the program's collector."""
    code = """
        import gc, sys
        from firestream_core.cli.main import ONE_SHOT_GC_THRESHOLD, main
        default = gc.get_threshold()
        main(["frobnicate"])
        assert gc.get_threshold() == default, gc.get_threshold()
        assert gc.get_freeze_count() == 0, gc.get_freeze_count()
        sys.argv = ["firestream", "frobnicate"]
        main()
        assert gc.get_threshold() == (ONE_SHOT_GC_THRESHOLD, *default[1:]), gc.get_threshold()
        assert gc.isenabled()
        # the process ends with the command: what is alive is frozen, the exit does not walk it
        assert gc.get_freeze_count() > 0, gc.get_freeze_count()
        print("ok")
    """
    result = run_py(code)
    assert result.stdout == "ok\n", result.stderr


def test_the_console_script_does_not_look_up_where_each_log_line_came_from(tmp_path: Path) -> None:
    """Its one handler prints level and message: while the console script's command runs,
    records skip the logging module's caller, thread and process lookups, and the knobs are
    put back when it returns; ``main(argv)`` in a program leaves them as they are. The
    printed line is the same either way."""
    code = """
        import logging, sys
        from firestream_core.cli.main import main
        seen = []
        class Keep(logging.Handler):
            def emit(self, record):
                seen.append((record.pathname, record.threadName, record.processName))
        logging.getLogger("firestream").addHandler(Keep())
        knobs = lambda: (logging._srcfile, logging.logThreads, logging.logProcesses,
                         logging.logMultiprocessing)
        before = knobs()
        assert before[0] is not None and before[1]
        main(["validate"])  # found above the current folder: one info line says which file
        assert knobs() == before
        assert seen[-1][0].endswith("main.py") and seen[-1][1] == "MainThread", seen
        sys.argv = ["firestream", "validate"]
        main()
        assert seen[-1] == ("(unknown file)", None, None), seen  # nothing looked up meanwhile
        assert knobs() == before  # and put back for what runs next
        print("ok")
    """
    (tmp_path / "firestream.toml").write_text('[[deployments.generic]]\nname = "web"\nchart = "tiny-app"\n'
                                             'repository = "fixtures"\nversion = "0.1.0"\n'
                                             '[repositories]\nfixtures = "https://charts.example.com"\n')
    (tmp_path / "sub").mkdir()
    result = run_py(code, cwd=tmp_path / "sub")
    assert result.stdout.splitlines()[-1] == "ok", result.stderr
    assert result.stderr.splitlines().count(
        "INFO using ../firestream.toml (the nearest firestream.toml above the current folder)") == 2, result.stderr


# -- the console script's exit -------------------------------------------------------------------


def test_the_console_script_exits_with_the_commands_code_its_output_and_the_atexit_handlers(
    tmp_path: Path,
) -> None:
    """``console()`` ends the process without the interpreter's teardown: the exit code, every
    byte written to stdout and stderr (a file, not a terminal: block-buffered) and what the
    ``atexit`` handlers do (a plugin's, logging's) are as a normal exit gives them."""
    mark = tmp_path / "atexit-ran"
    out = tmp_path / "out.txt"
    code = f"""
        import atexit, sys
        atexit.register(lambda: open({str(mark)!r}, "w").write("ran"))
        from firestream_core.cli.main import console
        sys.argv = ["firestream", "graph", "-f", {str(tmp_path / "missing.toml")!r}]
        print("x" * 100_000)  # still in the buffer when console() ends the process
        console()
        print("never reached")
    """
    with out.open("w") as fh:
        r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], stdout=fh, stderr=subprocess.PIPE,  # noqa: S603
                           text=True, timeout=60, env={**os.environ, "FIRESTREAM_CACHE_DIR": str(tmp_path)})
    assert r.returncode == 1
    assert out.read_text() == "x" * 100_000 + "\n"
    assert "missing.toml" in r.stderr and r.stderr.startswith("error: ")
    assert mark.read_text() == "ran"


def test_the_console_script_waits_for_a_thread_that_is_not_a_daemon(tmp_path: Path) -> None:
    """A plugin's non-daemon thread still running: the process exits as the interpreter does,
    after it ended (``os._exit`` would cut it short)."""
    mark = tmp_path / "thread-done"
    code = f"""
        import sys, threading, time
        def later():
            time.sleep(0.3)
            open({str(mark)!r}, "w").write("done")
        threading.Thread(target=later).start()
        from firestream_core.cli.main import console
        sys.argv = ["firestream", "--version"]
        console()
    """
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],  # noqa: S603 - fixed argv
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, "firestream 0.1.0\n")
    assert mark.read_text() == "done"
