"""config/files.py: the values-and-files pass (values files are YAML mappings, local charts are charts)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from firestream_core.config.files import (
    chart_path_problem,
    file_problems,
    values_file_problem,
    yaml_mapping_problem,
)
from firestream_core.config.parse import parse_config


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a: [1\n", ["is not valid YAML"]),
        ("- a\n- b\n", ["a list", "not a mapping"]),
        ("just text\n", ["a string", "not a mapping"]),
        ("a: 1\n---\nb: 2\n", ["several YAML documents"]),
        ("a: &x [*x]\n", ["is not valid YAML", "nested too deeply"]),  # an alias inside what it names
    ],
)
def test_values_that_are_not_one_yaml_mapping_are_named(text: str, words: list[str]) -> None:
    problem = yaml_mapping_problem(text)
    assert problem is not None
    for word in words:
        assert word in problem


def test_a_mapping_and_an_empty_file_are_fine() -> None:
    assert yaml_mapping_problem("replicaCount: 2\nimage: {tag: '1.0'}\n") is None


def test_values_files_missing_a_folder_or_binary_are_problems_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00bad")
    (tmp_path / "ok.yaml").write_text("a: 1\n")
    missing = values_file_problem(tmp_path, "nope.yaml")
    assert missing is not None and "'nope.yaml'" in missing and "not found" in missing
    assert "is a folder" in (values_file_problem(tmp_path, "dir") or "")
    assert "not UTF-8" in (values_file_problem(tmp_path, "bin.yaml") or "")
    assert values_file_problem(tmp_path, "ok.yaml") is None


def test_a_local_chart_must_be_a_chart_folder_or_archive(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "chart").mkdir()
    (tmp_path / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (tmp_path / "file.txt").write_text("x")
    assert "without Chart.yaml" in (chart_path_problem(tmp_path, "empty") or "")
    assert "not found" in (chart_path_problem(tmp_path, "gone") or "")
    assert "is a file that is not a chart archive (.tgz) or folder" in (chart_path_problem(tmp_path, "file.txt") or "")
    assert chart_path_problem(tmp_path, "chart") is None


def test_a_folder_or_file_several_releases_name_is_reported_at_each_of_them(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    data = {"deployments": {"generic": [
        {"name": "a", "path": "empty", "values_files": ["gone.yaml"]},
        {"name": "b", "path": "empty", "values_files": ["gone.yaml"]},
        {"name": "c", "chart": "./empty"},
    ]}}
    problems = file_problems(parse_config(data, tmp_path / "firestream.toml"))
    assert [p.split(": ", 1)[0] for p in problems] == [
        "deployments.generic[0].path", "deployments.generic[0].values_files[0]",
        "deployments.generic[1].path", "deployments.generic[1].values_files[0]",
        "deployments.generic[2].chart",
    ]
    assert problems[0].split(": ", 1)[1] == problems[2].split(": ", 1)[1]
    assert "chart path './empty'" in problems[4] and "without Chart.yaml" in problems[4]


@pytest.mark.parametrize(("text", "key"), [
    ("a: .inf\n", "a"), ("x: {y: [1, .NaN]}\n", "x.y[1]"), ("deep: {q: -.Inf}\n", "deep.q")])
def test_values_helm_cannot_read_are_named_when_the_project_is_checked(text: str, key: str) -> None:
    """A values file holding ``.inf`` or ``.nan`` passed validate and plan; helm 3 and 4 then
    refused it at apply (``error converting YAML to JSON: json: unsupported value: +Inf``)."""
    assert yaml_mapping_problem(text) == (
        f"holds a number that is not finite (.inf or .nan) at '{key}', which helm cannot read: quote it")
    assert yaml_mapping_problem("a: '.inf'\nb: 1.5e300\n") is None


def _chart(folder: Path, name: str, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 1.0.0\n{extra}")
    (folder / "templates").mkdir(exist_ok=True)
    (folder / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}-{{ .Release.Name }}\n")
    return folder


def _archive(charts: Path, file_name: str, chart_name: str, tmp: Path) -> None:
    import tarfile

    src = _chart(tmp / "src" / chart_name, chart_name)
    with tarfile.open(charts / file_name, "w:gz") as tar:
        tar.add(src, arcname=chart_name)


# kube-prometheus-stack's dependencies as its Chart.yaml lists them (prometheus-community/helm-charts,
# charts/kube-prometheus-stack): `crds` is a folder kept in the repository, the others are fetched by
# `helm dependency build`, each behind a condition; bitnami charts add `common` from an OCI registry.
KPS_DEPENDENCIES = """dependencies:
  - name: crds
    version: "0.0.0"
    condition: crds.enabled
  - name: kube-state-metrics
    version: "5.27.*"
    repository: https://prometheus-community.github.io/helm-charts
    condition: kubeStateMetrics.enabled
  - name: grafana
    version: "8.6.*"
    repository: https://grafana.github.io/helm-charts
    condition: grafana.enabled
  - name: common
    repository: oci://registry-1.docker.io/bitnamicharts
    tags: [bitnami-common]
    version: 2.x.x
"""


def test_a_chart_folder_must_hold_the_dependencies_its_chart_yaml_lists(tmp_path: Path) -> None:
    chart = _chart(tmp_path / "stack", "stack", KPS_DEPENDENCIES)
    _chart(chart / "charts" / "crds", "crds")
    problem = chart_path_problem(tmp_path, "stack")
    assert problem is not None
    assert "chart path 'stack'" in problem
    assert "not in its charts/ folder: kube-state-metrics, grafana, common" in problem
    assert f"helm dependency build {chart}" in problem
    # present under any folder or archive name: helm goes by the subchart's own name
    _chart(chart / "charts" / "ksm-vendored", "kube-state-metrics")
    _archive(chart / "charts", "grafana-8.6.4.tgz", "grafana", tmp_path)
    _archive(chart / "charts", "vendored.tgz", "common", tmp_path)
    assert chart_path_problem(tmp_path, "stack") is None
    (chart / "charts" / "vendored.tgz").write_bytes(b"not a tar")  # an unreadable archive counts as absent
    assert "folder: common;" in (chart_path_problem(tmp_path, "stack") or "")


def test_an_apiversion_v1_charts_requirements_yaml_and_a_broken_list_are_named(tmp_path: Path) -> None:
    chart = _chart(tmp_path / "old", "old")
    (chart / "requirements.yaml").write_text("dependencies:\n  - name: redis\n    version: 10.x\n")
    assert "folder: redis;" in (chart_path_problem(tmp_path, "old") or "")
    _chart(tmp_path / "bad", "bad", "dependencies: [oops\n")
    assert "Chart.yaml is not valid YAML (line" in (chart_path_problem(tmp_path, "bad") or "")
    _chart(tmp_path / "odd", "odd", "dependencies:\n  - redis\n")
    assert "dependencies must be a list of tables, each with a name" in (chart_path_problem(tmp_path, "odd") or "")
    _chart(tmp_path / "none", "none", "dependencies: []\n")
    assert chart_path_problem(tmp_path, "none") is None


def test_the_dependency_check_agrees_with_helm(tmp_path: Path, helm_bin: Path) -> None:
    """What the check refuses is what helm refuses to render, and what it passes helm renders."""
    import subprocess

    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           **{k: str(tmp_path / k) for k in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME")}}
    chart = _chart(tmp_path / "stack", "stack", KPS_DEPENDENCIES)
    _chart(chart / "charts" / "crds", "crds")
    _chart(chart / "charts" / "ksm", "kube-state-metrics")
    _archive(chart / "charts", "vendored.tgz", "common", tmp_path)

    def helm_template() -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(helm_bin), "template", "r", str(chart), "--set", "grafana.enabled=false"],  # noqa: S603
                              capture_output=True, text=True, env=env, timeout=60, check=False)

    refused = helm_template()
    assert refused.returncode != 0 and "missing in charts/ directory: grafana" in refused.stderr
    assert "folder: grafana;" in (chart_path_problem(tmp_path, "stack") or "")
    _archive(chart / "charts", "gf.tgz", "grafana", tmp_path)
    rendered = helm_template()
    assert rendered.returncode == 0, rendered.stderr
    assert "name: common-r" in rendered.stdout or "name: stack-r" in rendered.stdout
    assert chart_path_problem(tmp_path, "stack") is None


# Chart.yaml files helm refuses before it renders anything, and the words of firestream's message
REFUSED_CHART_YAML = [
    ("apiVersion: v2\nname: app\n", "chart.metadata.version is required", "has no version"),
    ("apiVersion: v2\nversion: 1.0.0\n", "chart.metadata.name is required", "has no name"),
    ("apiVersion: v2\nname: app\nversion: one\n", 'chart.metadata.version "one" is invalid',
     "version 'one' is not a version helm accepts"),
    ("apiVersion: v2\nname: app\nversion: 1.0.0\ntype: weird\n", "must be application or library",
     "type 'weird' is neither application nor library"),
    ("apiVersion: v2\nname: app\nversion: 1.0.0\ntype: library\n", "library charts are not installable",
     "library chart"),
    ("apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n  - {name: a}\n  - {name: b, alias: a}\n",
     'more than one dependency with name or alias "a"', "more than one dependency with name or alias 'a'"),
    ("apiVersion: v2\nname: [app\nversion: 1.0.0\n", "cannot load Chart.yaml", "Chart.yaml is not valid YAML (line "),
]
# ... and ones it takes: a number or a short version, no apiVersion (helm assumes v1), a name unlike the folder's,
# a second YAML document
ACCEPTED_CHART_YAML = ["apiVersion: v2\nname: app\nversion: 1.0\n", "apiVersion: v2\nname: app\nversion: '2'\n",
                       "name: app\nversion: v1.0.0-rc.1+b\n", "apiVersion: v2\nname: other\nversion: 1.0.0\n",
                       "apiVersion: v2\nname: app\nversion: 1.0.0\n---\nfoo: bar\n"]  # helm reads the first document


@pytest.mark.parametrize(("text", "helm_says", "words"), REFUSED_CHART_YAML)
def test_a_chart_yaml_helm_refuses_is_named(tmp_path: Path, text: str, helm_says: str, words: str) -> None:
    chart = _chart(tmp_path / "app", "app")
    (chart / "Chart.yaml").write_text(text)
    problem = chart_path_problem(tmp_path, "app")
    assert problem is not None and problem.startswith(f"chart path 'app' ({chart}): ") and words in problem


@pytest.mark.parametrize("text", ACCEPTED_CHART_YAML)
def test_a_chart_yaml_helm_takes_is_fine(tmp_path: Path, text: str) -> None:
    (_chart(tmp_path / "app", "app") / "Chart.yaml").write_text(text)
    assert chart_path_problem(tmp_path, "app") is None


def test_the_chart_yaml_check_agrees_with_helm(tmp_path: Path, helm_bin: Path) -> None:
    import subprocess

    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           **{k: str(tmp_path / k) for k in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME")}}
    chart = _chart(tmp_path / "app", "app")
    for text, helm_says, _ in REFUSED_CHART_YAML + [(t, None, None) for t in ACCEPTED_CHART_YAML]:
        (chart / "Chart.yaml").write_text(text)
        done = subprocess.run([str(helm_bin), "template", "r", str(chart)],  # noqa: S603
                              capture_output=True, text=True, env=env, timeout=60, check=False)
        if helm_says is None:
            assert done.returncode == 0 and chart_path_problem(tmp_path, "app") is None, (text, done.stderr)
        else:
            assert done.returncode != 0 and helm_says in done.stderr, (text, done.stderr)
            assert chart_path_problem(tmp_path, "app") is not None, text


def test_a_chart_yaml_whose_aliases_helm_refuses_is_named(tmp_path: Path) -> None:
    """Chart.yaml is read with the values files' reader: a "billion laughs" is refused as helm
    refuses it (go-yaml's excessive aliasing), not parsed."""
    lines = ["apiVersion: v2", "name: app", "version: 1.0.0", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    (_chart(tmp_path / "app", "app") / "Chart.yaml").write_text("\n".join(lines) + "\n")
    assert "Chart.yaml has too many YAML aliases" in (chart_path_problem(tmp_path, "app") or "")


# -- a chart archive (path = "x.tgz") is checked as helm loads one --------------------------------


def _pack(archive: Path, members: dict[str, bytes], *, gzip: bool = True) -> Path:
    """A tar (gzip unless told) holding ``members`` by their exact names."""
    import io
    import tarfile

    with tarfile.open(archive, "w:gz" if gzip else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


def _chart_archive(archive: Path, chart_yaml: str, extra: dict[str, bytes] | None = None, top: str = "app") -> Path:
    cm = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}-{{ .Release.Name }}\n"
    return _pack(archive, {f"{top}/Chart.yaml": chart_yaml.encode(), f"{top}/templates/cm.yaml": cm,
                           **{f"{top}/{k}": v for k, v in (extra or {}).items()}})


def _subchart_tgz(name: str) -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = f"apiVersion: v2\nname: {name}\nversion: 1.0.0\n".encode()
        info = tarfile.TarInfo(f"{name}/Chart.yaml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_a_chart_archive_must_hold_the_dependencies_its_chart_yaml_lists(tmp_path: Path) -> None:
    head = "apiVersion: v2\nname: stack\nversion: 1.0.0\n"
    _chart_archive(tmp_path / "stack.tgz", head + KPS_DEPENDENCIES, {"charts/crds/Chart.yaml": b"name: crds\nversion: 0.0.0\n"})
    problem = chart_path_problem(tmp_path, "stack.tgz")
    assert problem is not None and problem.startswith(f"chart path 'stack.tgz' ({tmp_path / 'stack.tgz'}): ")
    assert "not in its charts/ folder: kube-state-metrics, grafana, common" in problem
    assert "run 'helm dependency build' on the chart's folder, then package it again" in problem
    # by the subcharts' own names, as folders or archives; helm skips names starting with _ or .
    _chart_archive(tmp_path / "stack.tgz", head + KPS_DEPENDENCIES, {
        "charts/crds/Chart.yaml": b"name: crds\nversion: 0.0.0\n",
        "charts/ksm/Chart.yaml": b"name: kube-state-metrics\nversion: 5.27.0\n",
        "charts/grafana-8.6.4.tgz": _subchart_tgz("grafana"),
        "charts/_common.tgz": _subchart_tgz("common")})
    assert "folder: common;" in (chart_path_problem(tmp_path, "stack.tgz") or "")
    _chart_archive(tmp_path / "stack.tgz", head + KPS_DEPENDENCIES, {
        "charts/crds/Chart.yaml": b"name: crds\nversion: 0.0.0\n",
        "charts/ksm/Chart.yaml": b"name: kube-state-metrics\nversion: 5.27.0\n",
        "charts/grafana-8.6.4.tgz": _subchart_tgz("grafana"),
        "charts/vendored.tgz": _subchart_tgz("common")})
    assert chart_path_problem(tmp_path, "stack.tgz") is None


@pytest.mark.parametrize(("text", "helm_says", "words"), REFUSED_CHART_YAML)
def test_a_chart_archives_chart_yaml_helm_refuses_is_named(tmp_path: Path, text: str, helm_says: str, words: str) -> None:
    _chart_archive(tmp_path / "app.tgz", text)
    problem = chart_path_problem(tmp_path, "app.tgz")
    assert problem is not None and words in problem


# archives helm refuses to load, what it says (helm 3's words | helm 4's), and firestream's words
REFUSED_ARCHIVES = [
    ("plain tar", {"app/Chart.yaml": b"name: app\nversion: 1.0.0\n"}, False,
     "does not appear to be a gzipped archive", "is a file that is not a chart archive (.tgz) or folder"),
    ("Chart.yaml at the top", {"Chart.yaml": b"name: app\nversion: 1.0.0\n"}, True,
     "outside the base directory|unable to load chart archive", "holds 'Chart.yaml' outside the chart's folder"),
    ("parent folder", {"app/Chart.yaml": b"name: app\nversion: 1.0.0\n", "app/../../x": b"x"}, True,
     "chart illegally references parent directory|unable to load chart archive", "holds a path into its parent folder"),
    ("no Chart.yaml", {"app/values.yaml": b"a: 1\n"}, True, "Chart.yaml file is missing|no Chart.yaml found", "holds no Chart.yaml"),
]


@pytest.mark.parametrize(("what", "members", "gz", "helm_says", "words"), REFUSED_ARCHIVES,
                         ids=[r[0] for r in REFUSED_ARCHIVES])
def test_an_archive_helm_will_not_load_is_named(tmp_path: Path, what: str, members: dict[str, bytes], gz: bool,
                                                helm_says: str, words: str) -> None:
    _pack(tmp_path / "app.tgz", members, gzip=gz)
    assert words in (chart_path_problem(tmp_path, "app.tgz") or ""), what


def test_the_archive_checks_agree_with_helm(tmp_path: Path, helm_bin: Path) -> None:
    """Each archive firestream refuses, helm refuses to render (with the words quoted above); the ones
    it passes, helm renders: a BOM before Chart.yaml, a top folder named unlike the chart."""
    import subprocess

    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           **{k: str(tmp_path / k) for k in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME")}}

    def helm_template(archive: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(helm_bin), "template", "r", str(archive)],  # noqa: S603
                              capture_output=True, text=True, env=env, timeout=60, check=False)

    for what, members, gz, helm_says, _ in REFUSED_ARCHIVES:
        archive = _pack(tmp_path / f"{what.replace(' ', '-')}.tgz", members, gzip=gz)
        done = helm_template(archive)
        assert done.returncode != 0 and any(w in done.stderr for w in helm_says.split("|")), (what, done.stderr)
        assert chart_path_problem(tmp_path, archive.name) is not None, what
    missing = _chart_archive(tmp_path / "deps.tgz", "apiVersion: v2\nname: app\nversion: 1.0.0\n"
                             "dependencies:\n  - name: common\n    version: 2.x.x\n")
    done = helm_template(missing)
    assert done.returncode != 0 and "missing in charts/ directory: common" in done.stderr, done.stderr
    assert "folder: common;" in (chart_path_problem(tmp_path, "deps.tgz") or "")
    for name, archive in [("bom", _chart_archive(tmp_path / "bom.tgz", "\ufeffapiVersion: v2\nname: app\nversion: 1.0.0\n")),
                          ("top", _chart_archive(tmp_path / "top.tgz", "apiVersion: v2\nname: app\nversion: 1.0.0\n",
                                                 {"charts/x.tgz": _subchart_tgz("common")}, top="whatever"))]:
        done = helm_template(archive)
        assert done.returncode == 0, (name, done.stderr)
        assert chart_path_problem(tmp_path, archive.name) is None, name
