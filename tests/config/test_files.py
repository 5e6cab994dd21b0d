"""config/files.py: the values-and-files pass (values files are YAML mappings, local charts are charts)."""

from __future__ import annotations

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
