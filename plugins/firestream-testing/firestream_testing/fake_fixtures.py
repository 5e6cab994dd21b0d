"""Fixtures for the recording fake helm (:mod:`firestream_testing.fakehelm`).

================ ========= =====================================================
fixture          scope     value
================ ========= =====================================================
``fake_helm``    function  :class:`~firestream_testing.fakehelm.FakeHelm`
                           reporting helm 3; ``fake_helm.set_major(4)`` for 4
``fake_kubectl`` function  the path of a kubectl that answers every command
                           with an empty list (validation: nothing to wait for)
================ ========= =====================================================

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

import sys
from pathlib import Path

import pytest

from firestream_testing.fakehelm import FakeHelm

__all__ = ["FAKE_KUBECTL", "fake_helm", "fake_kubectl"]

FAKE_KUBECTL = """#!{python}
# kubectl for runs with the fake helm: no pods, no workloads, nothing to wait for
import json
print(json.dumps({{"apiVersion": "v1", "kind": "List", "items": []}}))
"""
"""The stand-in kubectl's script (``{python}``: the interpreter)."""


@pytest.fixture
def fake_helm(tmp_path: Path) -> FakeHelm:
    """A fresh recording fake helm (``.binary``, ``.env``, ``.calls()``, ``.call_log()``,
    ``.set_delay``, ``.fail_on``, ``.releases()``, ``.set_major(n)``, ``.helm()``)."""
    return FakeHelm(tmp_path / "fake-helm")


@pytest.fixture
def fake_kubectl(tmp_path: Path) -> Path:
    """A kubectl answering every command with an empty list, for runs on ``fake_helm``.

    The fake helm has no cluster, so firestream's validation must find nothing
    to wait for: pass it as ``FIRESTREAM_KUBECTL_BINARY`` (a subprocess) or
    ``kubectl_binary=`` (``Project.load``).
    """
    path = tmp_path / "fake-kubectl"
    path.write_text(FAKE_KUBECTL.format(python=sys.executable))
    path.chmod(0o755)
    return path
