"""Fixtures for the extras tests: running ``firestream`` in-process against the test's cluster.

``tests/conftest.py`` undoes what ``main()`` does to the ``firestream`` logger after each test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

CHARTS = Path(__file__).parent / "charts"


@pytest.fixture
def cli(kube, helm_bin, monkeypatch, capsys) -> Callable[..., tuple[int, str, str]]:
    """``cli(path, "diff", "--detailed-exitcode") -> (exit code, stdout, stderr)``, in-process.

    The environment is the test's (``kube.env``: its kubeconfig, HELM homes, tools on PATH).
    """
    from firestream_core.cli.main import main

    for key, value in kube.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FIRESTREAM_KUBECTL_BINARY", str(kube.tools["kubectl"]))

    def run(path: Path, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([*args, "-f", str(path), "--kubeconfig", str(kube.kubeconfig),
                     "--helm-binary", str(helm_bin)])
        out, err = capsys.readouterr()
        return code, out, err

    return run
