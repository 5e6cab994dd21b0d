"""``firestream new chart``: names, the files written, all-or-nothing, and the package itself.

The fast tests check the generator and the command. The slow one does what a
chart author does right after generating: installs the package (editable)
and runs its own tests, which deploy it with the real helm 3 and helm 4 on
the emulated cluster.

That install goes into a throwaway virtual environment layered on this one
(a ``.pth`` adds this environment's site-packages), never into this
environment itself: other test runs sharing it must not see a plugin appear,
and a killed run must not leave an editable install pointing at a deleted
folder behind.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
import yaml

from firestream_core.cli.main import main
from firestream_core.scaffold import (
    NAME_MAX,
    ScaffoldError,
    chart_names,
    new_chart_plugin,
    render_chart_plugin,
)

EXPECTED_FILES = {
    ".github/workflows/publish.yml",
    ".github/workflows/test.yml",
    ".gitignore",
    "LICENSE",
    "README.md",
    "charts/hello-world/Chart.yaml",
    "charts/hello-world/templates/_helpers.tpl",
    "charts/hello-world/templates/configmap.yaml",
    "charts/hello-world/templates/deployment.yaml",
    "charts/hello-world/values.yaml",
    "firestream_chart_hello_world/__init__.py",
    "firestream_chart_hello_world/chart.py",
    "pyproject.toml",
    "tests/conftest.py",
    "tests/test_deploy.py",
    "tests/test_package.py",
    "tests/test_plugin.py",
}


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


# -- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "package", "prefix"),
    [
        ("redis", "firestream_chart_redis", "Redis"),
        ("hello-world", "firestream_chart_hello_world", "HelloWorld"),
        ("a", "firestream_chart_a", "A"),
        ("cert-manager2", "firestream_chart_cert_manager2", "CertManager2"),
        ("x-1-2b", "firestream_chart_x_1_2b", "X12b"),
    ],
)
def test_names_derived_from_a_chart_name(name: str, package: str, prefix: str) -> None:
    names = chart_names(name)
    assert (names.name, names.dist, names.package, names.class_prefix) == (
        name, f"firestream-chart-{name}", package, prefix,
    )
    assert names.package.isidentifier() and f"{names.class_prefix}Chart".isidentifier()


@pytest.mark.parametrize(
    ("name", "message", "hint"),
    [
        ("", "must not be empty", None),
        ("Redis", "'Redis' is invalid: use lower-case letters", "firestream new chart redis"),
        ("my_app", "'my_app' is invalid", "firestream new chart my-app"),
        ("2fast", "'2fast' is invalid", "firestream new chart fast"),
        ("trailing-", "'trailing-' is invalid", "firestream new chart trailing"),
        ("has space", "'has space' is invalid", "firestream new chart has-space"),
        ("a" * (NAME_MAX + 1), f"is {NAME_MAX + 1} characters long, at most {NAME_MAX}", None),
        ("generic", "'generic' cannot be used: it is firestream's built-in chart type", None),
        ("firestream-chart-redis", "give the chart type's name, not the distribution's", "firestream new chart redis"),
    ],
)
def test_bad_names_are_refused_with_the_rule_and_a_suggestion(
    name: str, message: str, hint: str | None
) -> None:
    with pytest.raises(ScaffoldError) as exc:
        chart_names(name)
    assert message in str(exc.value)
    if hint is None:
        assert exc.value.hint is None
    else:
        assert exc.value.hint.startswith(hint)


def test_the_longest_name_is_accepted() -> None:
    assert chart_names("a" * NAME_MAX).name == "a" * NAME_MAX


# -- what is written ---------------------------------------------------------------------------


def test_the_package_holds_every_file_with_no_placeholder_left() -> None:
    files = render_chart_plugin("hello-world")
    assert set(files) == EXPECTED_FILES
    for path, text in files.items():
        assert "__NAME__" not in text and "__PACKAGE__" not in text, path
        if path.startswith(".git") or path == "LICENSE":
            continue
        assert "hello-world" in text or "hello_world" in text, path


def test_pyproject_declares_the_entry_point_classifier_and_test_extra() -> None:
    doc = tomllib.loads(render_chart_plugin("hello-world")["pyproject.toml"])
    project = doc["project"]
    assert doc["build-system"]["build-backend"] == "setuptools.build_meta"
    assert project["name"] == "firestream-chart-hello-world"
    assert [d.split(">=")[0] for d in project["dependencies"]] == ["firestream-core"]
    assert project["optional-dependencies"]["test"][:2] == ["firestream-testing", "pytest"]
    assert {"build", "twine", "trove-classifiers"} <= set(project["optional-dependencies"]["test"])
    assert project["entry-points"]["firestream.charts"] == {
        "hello-world": "firestream_chart_hello_world"
    }
    # ready for PyPI: an SPDX license with its file, only registered classifiers
    assert (project["license"], project["license-files"]) == ("Apache-2.0", ["LICENSE"])
    from trove_classifiers import classifiers

    assert [c for c in project["classifiers"] if c not in classifiers] == []
    assert "firestream" in project["keywords"]


def test_the_python_files_compile_and_declare_the_plugin_api() -> None:
    from firestream_core.plugin.markers import PLUGIN_API_VERSION

    files = render_chart_plugin("hello-world")
    for path, text in files.items():
        if path.endswith(".py"):
            compile(text, path, "exec")
    init = ast.parse(files["firestream_chart_hello_world/__init__.py"])
    api = [
        n.value.value for n in init.body
        if isinstance(n, ast.Assign) and [t.id for t in n.targets] == ["FIRESTREAM_PLUGIN_API"]
    ]
    assert api == [PLUGIN_API_VERSION]
    hooks = [
        n.name for n in init.body
        if isinstance(n, ast.FunctionDef)
        and any(getattr(d, "id", None) == "hookimpl" for d in n.decorator_list)
    ]
    assert hooks == ["register_chart_types", "validate"]


def test_the_generated_code_passes_its_own_ruff_settings(tmp_path: Path) -> None:
    target = new_chart_plugin("hello-world", tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=target, capture_output=True, text=True, check=False, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_workflows_publish_with_trusted_publishing() -> None:
    files = render_chart_plugin("hello-world")
    publish = yaml.safe_load(files[".github/workflows/publish.yml"])
    on = publish.get("on", publish.get(True))  # YAML 1.1 reads a bare `on` as True
    assert on == {"release": {"types": ["published"]}}
    assert publish["permissions"] == {"contents": "read"}
    jobs = publish["jobs"]
    assert jobs["build"]["needs"] == "test" and jobs["publish"]["needs"] == "build"
    job = jobs["publish"]
    assert job["permissions"] == {"id-token": "write"}
    assert job["environment"]["name"] == "pypi"
    assert job["environment"]["url"] == "https://pypi.org/p/firestream-chart-hello-world"
    uses = [s.get("uses", "") for s in job["steps"]]
    assert any(u.startswith("pypa/gh-action-pypi-publish@") for u in uses)
    assert not any("password" in s.get("with", {}) for s in job["steps"])  # no token
    build_steps = " ".join(s.get("run", "") for s in jobs["build"]["steps"])
    assert "python -m build" in build_steps and "trove_classifiers" in build_steps
    test = yaml.safe_load(files[".github/workflows/test.yml"])
    assert "pytest" in " ".join(s.get("run", "") for s in test["jobs"]["test"]["steps"])


def test_the_chart_yaml_names_the_chart() -> None:
    files = render_chart_plugin("hello-world")
    chart = yaml.safe_load(files["charts/hello-world/Chart.yaml"])
    assert (chart["apiVersion"], chart["name"], chart["version"]) == ("v2", "hello-world", "0.1.0")


# -- all or nothing ----------------------------------------------------------------------------


def test_new_chart_plugin_writes_the_tree(tmp_path: Path) -> None:
    target = new_chart_plugin("hello-world", tmp_path)
    assert target == tmp_path / "firestream-chart-hello-world"
    assert tree(target) == EXPECTED_FILES
    assert os.listdir(tmp_path) == ["firestream-chart-hello-world"]  # no staging folder left


def test_an_existing_target_is_refused_and_left_untouched(tmp_path: Path) -> None:
    existing = tmp_path / "firestream-chart-redis"
    existing.mkdir()
    (existing / "mine.txt").write_text("keep me")
    with pytest.raises(ScaffoldError, match="already exists; nothing was written"):
        new_chart_plugin("redis", tmp_path)
    assert tree(existing) == {"mine.txt"} and (existing / "mine.txt").read_text() == "keep me"
    assert sorted(os.listdir(tmp_path)) == ["firestream-chart-redis"]


def test_an_existing_empty_target_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "firestream-chart-redis").mkdir()
    with pytest.raises(ScaffoldError, match="already exists"):
        new_chart_plugin("redis", tmp_path)
    assert tree(tmp_path) == set()


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="does not exist"):
        new_chart_plugin("redis", tmp_path / "nope")
    assert not (tmp_path / "nope").exists()


def test_a_file_given_as_the_directory_is_named_as_a_file(tmp_path: Path) -> None:
    """``new chart x --dir FILE``: the file exists, it is not a folder (it said "does not exist")."""
    (tmp_path / "afile").write_text("")
    with pytest.raises(ScaffoldError, match="'.*afile' is not a directory"):
        new_chart_plugin("redis", tmp_path / "afile")
    assert (tmp_path / "afile").read_text() == ""


def test_a_failure_half_way_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = Path.write_text
    written: list[str] = []

    def fail_on_the_fifth(self: Path, *args, **kwargs):
        if len(written) == 4:
            raise OSError(28, "No space left on device")
        written.append(self.name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", fail_on_the_fifth)
    with pytest.raises(OSError, match="No space left"):
        new_chart_plugin("redis", tmp_path)
    assert len(written) == 4  # it did get half-way
    assert os.listdir(tmp_path) == []


# -- the command ---------------------------------------------------------------------------------


def test_the_command_writes_the_package_and_prints_the_next_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new", "chart", "hello-world", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    target = tmp_path / "firestream-chart-hello-world"
    assert f"created {target}/" in out
    assert "python -m pip install -e '.[test]'" in out and "python -m pytest" in out
    assert tree(target) == EXPECTED_FILES


def test_the_command_refuses_a_bad_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "chart", "My_App", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "error: chart name 'My_App' is invalid" in err
    assert "hint: firestream new chart my-app" in err
    assert os.listdir(tmp_path) == []


def test_the_command_refuses_an_existing_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "chart", "redis", "--dir", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["new", "chart", "redis", "--dir", str(tmp_path)]) == 1
    assert "already exists; nothing was written" in capsys.readouterr().err


def test_the_command_knows_only_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "widget", "x", "--dir", str(tmp_path)]) == 2
    assert "invalid choice: 'widget'" in capsys.readouterr().err


def test_the_command_warns_when_an_installed_plugin_has_the_name(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from firestream_core.cli.commands import new

    monkeypatch.setattr(new, "_already_provided", lambda name, disabled: "'redis' (acme-redis 1.0.0)")
    assert main(["new", "chart", "redis", "--dir", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "chart type 'redis' is already provided by plugin 'redis' (acme-redis 1.0.0)" in (
        err + caplog.text
    )
    assert (tmp_path / "firestream-chart-redis" / "pyproject.toml").is_file()


# -- the generated package's own tests --------------------------------------------------------------


def _layered_venv(root: Path) -> Path:
    """A venv seeing this environment's packages, but installing into its own folder."""
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120,
    )
    python = root / "bin" / "python"
    purelib = subprocess.run(  # noqa: S603
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(purelib, "_firestream_parent_env.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return python


@pytest.fixture
def installed_package(tmp_path: Path):
    """``firestream new chart hello-world``, pip-installed (editable) into a layered venv."""
    target = new_chart_plugin("hello-world", tmp_path)
    python = _layered_venv(tmp_path / "venv")
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    done = subprocess.run(  # noqa: S603
        [*pip, "install", "--no-deps", "--no-build-isolation", "-e", str(target)],
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert done.returncode == 0, f"pip install -e failed:\n{done.stdout}\n{done.stderr}"
    yield python, target
    subprocess.run(  # noqa: S603
        [*pip, "uninstall", "-y", "firestream-chart-hello-world"],
        capture_output=True, text=True, check=False, timeout=300,
    )


@pytest.mark.slow
@pytest.mark.helm
def test_the_generated_package_passes_its_own_tests(
    installed_package: tuple[Path, Path], request: pytest.FixtureRequest
) -> None:
    python, target = installed_package
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("FIRESTREAM_DISABLE_PLUGINS", None)
    major = request.config.getoption("--helm-major", default="all")
    done = subprocess.run(  # noqa: S603
        [str(python), "-m", "pytest", "-v", "-p", "no:cacheprovider", "--helm-major", str(major)],
        cwd=target, env=env, capture_output=True, text=True, check=False, timeout=900,
    )
    report = done.stdout[-6000:] + done.stderr[-3000:]
    assert done.returncode == 0, report
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", done.stdout.splitlines()[-1])}
    assert counts.get("passed", 0) > 0 and not counts.keys() & {"failed", "error", "errors", "skipped"}, report
    majors = ("3", "4") if major == "all" else (str(major),)
    for m in majors:  # every deploy test really ran, once per helm major
        for test in ("test_deploy_validate_destroy", "test_preset_config_values_and_options",
                     "test_one_release_through_the_lifecycle"):
            assert f"test_deploy.py::{test}[helm{m}] PASSED" in done.stdout, report
    # the wheel and the sdist were built and passed `twine check --strict`
    assert "test_package.py::test_the_wheel_and_the_sdist_pass_twine_check PASSED" in done.stdout, report
    assert "test_plugin.py::test_firestream_plugins_json_lists_it PASSED" in done.stdout, report
    # this environment never saw the plugin: it lives in the layered venv only
    import importlib.metadata

    assert "hello-world" not in {ep.name for ep in importlib.metadata.entry_points(group="firestream.charts")}


def test_every_distribution_of_the_repository_is_ready_for_pypi() -> None:
    """The core's and the plugins' pyproject.toml: SPDX license with its file, known classifiers."""
    from trove_classifiers import classifiers

    root = Path(__file__).resolve().parents[2]
    for path in [root / "pyproject.toml", *sorted(root.glob("plugins/firestream-chart-*/pyproject.toml"))]:
        project = tomllib.loads(path.read_text())["project"]
        assert project["license"] == "Apache-2.0", path
        assert [(path.parent / f).is_file() for f in project["license-files"]] == [True], path
        assert [c for c in project.get("classifiers", []) if c not in classifiers] == [], path
