"""Fixtures for the recording fake helm (:mod:`firestream_core.testing.fakehelm`).

=============== ========= ======================================================
fixture         scope     value
=============== ========= ======================================================
``fake_helm``   function  :class:`~firestream_core.testing.fakehelm.FakeHelm`
                          reporting helm 3; ``fake_helm.set_major(4)`` for 4
=============== ========= ======================================================

Example::

    def test_upgrade_order(fake_helm):
        helm = fake_helm.helm()                 # a firestream Helm on the fake
        fake_helm.set_delay("db", 0.1)
        ...
        (db,) = fake_helm.call_log("upgrade", release="db")
        (web,) = fake_helm.call_log("upgrade", release="web")
        assert web.start >= db.end
"""

from __future__ import annotations

from pathlib import Path

import pytest

from firestream_core.testing.fakehelm import FakeHelm

__all__ = ["fake_helm"]


@pytest.fixture
def fake_helm(tmp_path: Path) -> FakeHelm:
    """A fresh recording fake helm (``.binary``, ``.env``, ``.calls()``, ``.call_log()``,
    ``.set_delay``, ``.fail_on``, ``.releases()``, ``.set_major(n)``, ``.helm()``)."""
    return FakeHelm(tmp_path / "fake-helm")
