"""Fixtures for the recording fake helm (:mod:`firestream_testing.fakehelm`).

================ ========= =====================================================
fixture          scope     value
================ ========= =====================================================
``fake_helm``    function  :class:`~firestream_testing.fakehelm.FakeHelm`
                           reporting helm 3; ``fake_helm.set_major(4)`` for 4
``fake_kubectl`` function  the path of a kubectl that answers every command
                           with an empty list (validation: nothing to wait for),
                           except ``get namespace(s)``: see :data:`FAKE_KUBECTL`
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
# kubectl for runs with the fake helm: no pods, no workloads, nothing to wait for; the
# namespaces are the cluster's own four, those the fake helm created (--create-namespace)
# or holds a release in ($FAKE_HELM_STATE), and $FAKE_KUBECTL_NAMESPACES (comma separated)
import json, os, sys
args = sys.argv[1:]
if len(args) > 1 and args[0] == "get" and args[1] in ("namespaces", "namespace", "ns"):
    have = {{"default", "kube-system", "kube-public", "kube-node-lease"}}
    have.update(n for n in os.environ.get("FAKE_KUBECTL_NAMESPACES", "").split(",") if n)
    folder = os.environ.get("FAKE_HELM_STATE")
    if folder:
        try:
            with open(os.path.join(folder, "state.json")) as f:
                state = json.load(f)
        except (OSError, ValueError):
            state = {{}}
        have.update(state.get("namespaces") or ())
        have.update(r.get("namespace", "") for r in (state.get("releases") or {{}}).values())
    names = [a for a in args[2:] if not a.startswith("-") and a not in ("json", "name")]
    names = [a for i, a in enumerate(args[2:], 2) if a in names and args[i - 1] not in ("--output", "-o",
             "--kubeconfig", "--context", "--namespace", "-n")]
    forbidden = [n for n in os.environ.get("FAKE_KUBECTL_FORBIDDEN", "").split(",") if n]
    if not names and os.environ.get("FAKE_KUBECTL_FORBID_LIST"):
        sys.exit('Error from server (Forbidden): namespaces is forbidden: User "fake" cannot list '
                 'resource "namespaces" in API group "" at the cluster scope')
    errors = ['Error from server (Forbidden): namespaces "%s" is forbidden: User "fake" cannot get '
              'resource "namespaces" in API group "" in the namespace "%s"' % (n, n) for n in names if n in forbidden]
    if "--ignore-not-found" not in args:
        errors += ['Error from server (NotFound): namespaces "%s" not found' % n
                   for n in names if n not in have and n not in forbidden]
    shown = [n for n in (names or sorted(have)) if n in have and n not in forbidden]
    items = [{{"apiVersion": "v1", "kind": "Namespace", "metadata": {{"name": n}},
              "status": {{"phase": "Active"}}}} for n in shown]
    if len(names) == 1 and items:
        print(json.dumps(items[0]))
    elif items or not names:
        print(json.dumps({{"apiVersion": "v1", "kind": "List", "items": items}}))
    if errors:
        sys.exit("\\n".join(errors))
    sys.exit(0)
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

    ``kubectl get namespaces`` (and ``get namespace A B``, ``--ignore-not-found``) answers
    ``default``, ``kube-system``, ``kube-public`` and ``kube-node-lease``, the namespaces
    the fake helm holds a release in or created (``--create-namespace``; read from
    ``$FAKE_HELM_STATE``, by default the ``fake_helm`` fixture's) and those of ``$FAKE_KUBECTL_NAMESPACES`` (comma separated).
    RBAC refusals, as kubectl words them: ``$FAKE_KUBECTL_FORBID_LIST`` (any value) refuses
    the list, ``$FAKE_KUBECTL_FORBIDDEN`` (comma separated) the ``get`` of those names.

    The fake helm has no cluster, so firestream's validation must find nothing
    to wait for: pass it as ``FIRESTREAM_KUBECTL_BINARY`` (a subprocess) or
    ``kubectl_binary=`` (``Project.load``).
    """
    path = tmp_path / "fake-kubectl"
    # the fake_helm fixture's state (tmp_path / "fake-helm"), unless $FAKE_HELM_STATE names one
    state = repr(str(tmp_path / "fake-helm" / "state"))
    path.write_text(FAKE_KUBECTL.format(python=sys.executable).replace(
        "import json, os, sys\n", f"import json, os, sys\nos.environ.setdefault('FAKE_HELM_STATE', {state})\n", 1))
    path.chmod(0o755)
    return path
