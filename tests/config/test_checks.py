"""config/checks.py: single-value checks the converter's types do not make."""

from __future__ import annotations

import pytest

from firestream_core.config.checks import chart_ref_problems


@pytest.mark.parametrize(
    ("chart", "words"),
    [
        ("", ["must not be empty"]),
        ("oci:host/web", ["starts with 'oci://'"]),
        ("oci://", ["no host after 'oci://'"]),
        ("oci://host", ["no chart after the host 'host'"]),
        ("ftp://host/web", ["scheme 'ftp'"]),
        ("my chart", ["'my chart'", "contains a space"]),
    ],
)
def test_bad_chart_references_name_the_offending_part(chart: str, words: list[str]) -> None:
    [problem] = chart_ref_problems(chart, "deployments.web[0].chart")
    assert problem.startswith("deployments.web[0].chart: ")
    for word in words:
        assert word in problem


@pytest.mark.parametrize("chart", ["bitnami/postgresql", "postgresql", "oci://registry.example:5000/charts/web"])
def test_good_chart_references_pass(chart: str) -> None:
    assert chart_ref_problems(chart, "x") == []
