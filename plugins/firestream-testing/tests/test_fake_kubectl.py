"""``fake_kubectl``: the stand-in kubectl for runs on the fake helm."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from firestream_core.tools.kubectl import Kubectl


def test_every_answer_is_an_empty_list(fake_kubectl: Path) -> None:
    done = subprocess.run(  # noqa: S603
        [fake_kubectl, "get", "pods", "-n", "x", "-o", "json"],
        capture_output=True, text=True, check=True, timeout=60,
    )
    assert json.loads(done.stdout) == {"apiVersion": "v1", "kind": "List", "items": []}
    assert Kubectl(binary=fake_kubectl).get("pods", namespace="x") == {
        "apiVersion": "v1", "kind": "List", "items": [],
    }
