"""config/files.py: the values-and-files pass (values files are YAML mappings, local charts are charts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from firestream_core.config.files import (
    chart_path_problems,
    values_file_problems,
    yaml_mapping_problem,
)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a: [1\n", ["is not valid YAML"]),
        ("- a\n- b\n", ["a list", "not a mapping"]),
        ("just text\n", ["a string", "not a mapping"]),
        ("a: 1\n---\nb: 2\n", ["several YAML documents"]),
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
    where = "deployments.web[0].values_files[0]"
    [missing] = values_file_problems(tmp_path, "nope.yaml", where)
    assert missing.startswith(where) and "'nope.yaml'" in missing and "not found" in missing
    [folder] = values_file_problems(tmp_path, "dir", where)
    assert "is a folder" in folder
    [binary] = values_file_problems(tmp_path, "bin.yaml", where)
    assert "not UTF-8" in binary
    assert values_file_problems(tmp_path, "ok.yaml", where) == []


def test_a_local_chart_must_be_a_chart_folder_or_archive(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "chart").mkdir()
    (tmp_path / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (tmp_path / "file.txt").write_text("x")
    where = "deployments.web[0].path"
    assert "without Chart.yaml" in chart_path_problems(tmp_path, "empty", where)[0]
    assert "not found" in chart_path_problems(tmp_path, "gone", where)[0]
    assert "is a file that is not a chart archive (.tgz) or folder" in chart_path_problems(tmp_path, "file.txt", where)[0]
    assert chart_path_problems(tmp_path, "chart", where) == []
