"""config/selectors.py: helmfile's selector syntax over release labels."""

from __future__ import annotations

import pytest

from firestream_core.config.selectors import expand, parse_selector, release_labels, select
from firestream_core.errors import FirestreamError

LABELS = {
    "db": {"tier": "db", "name": "db"},
    "api": {"tier": "app", "name": "api"},
    "web": {"tier": "app", "name": "web"},
}


def test_equal_and_not_equal_terms_joined_by_commas_are_and() -> None:
    sel = parse_selector("tier=app,name!=web")
    assert [n for n, ls in LABELS.items() if sel.matches(ls)] == ["api"]


def test_repeated_selectors_are_or_and_keep_the_config_order() -> None:
    assert select(LABELS, ["name=web", "tier=db"]) == ["db", "web"]


@pytest.mark.parametrize("bad", ["", "tier", "=db", "tier=db,", "ti er=db"])
def test_a_malformed_selector_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(FirestreamError) as err:
        parse_selector(bad)
    assert repr(bad) in str(err.value)


def test_a_selector_matching_nothing_is_an_error() -> None:
    with pytest.raises(FirestreamError, match="no release matches the selector 'tier=cache'"):
        select(LABELS, ["tier=cache"])


def test_implicit_labels_win_over_configured_ones() -> None:
    labels = release_labels({"tier": "db", "name": "x"}, {"team": "a", "tier": "z"},
                            name="db", namespace="shop", chart="bitnami/postgresql", chart_type="generic")
    assert labels == {"team": "a", "tier": "db", "name": "db", "namespace": "shop",
                      "chart": "bitnami/postgresql", "type": "generic"}


def test_expand_adds_dependencies_and_dependents_only_on_request() -> None:
    deps = {"web": ["api"], "api": ["db"]}
    dependents = {"db": ["api"], "api": ["web"]}
    assert expand(["api"], deps, dependents, include_deps=False, include_dependents=False) == ["api"]
    assert expand(["api"], deps, dependents, include_deps=True, include_dependents=False) == ["api", "db"]
    assert expand(["api"], deps, dependents, include_deps=False, include_dependents=True) == ["api", "web"]
