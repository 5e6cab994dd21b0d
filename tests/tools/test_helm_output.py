"""What helm prints, read: output of an unexpected shape is a readable HelmCommandError."""

from __future__ import annotations

import pytest

from firestream_core.errors import HelmCommandError
from firestream_core.tools.helm_output import parse_list


def test_a_list_of_releases_is_read() -> None:
    (release,) = parse_list('[{"name": "web", "namespace": "shop", "revision": "3", "status": "deployed", '
                            '"chart": "web-1.0.0"}]')
    assert (release.name, release.namespace, release.revision, release.status) == ("web", "shop", 3, "deployed")
    assert parse_list("") == [] and parse_list("[]") == []


@pytest.mark.parametrize(("printed", "message"), [
    ('{"releases": []}', "helm list printed JSON that is not a list of releases"),
    ('["web"]', "helm list printed JSON that is not a list of releases"),
    ('[{"name": "web", "revision": "three"}]', "helm list printed a revision that is not a number for release 'web'"),
])
def test_a_list_of_another_shape_is_named_not_an_unexpected_error(printed: str, message: str) -> None:
    """A helm (or a wrapper) printing JSON of another shape made every command fail with
    'unexpected AttributeError' / 'ValueError'."""
    with pytest.raises(HelmCommandError) as caught:
        parse_list(printed)
    assert str(caught.value) == message
