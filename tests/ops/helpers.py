"""Shared helpers for the extras tests (OCI, diff, helm tests, drift)."""

from __future__ import annotations

import json
import os
import textwrap
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from firestream_core.project import Project

from .conftest import CHARTS

EXTRAS_APP = CHARTS / "extras-app"


def write_config(folder: Path, text: str) -> Path:
    """Write ``firestream.toml`` (dedented) into ``folder``; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "firestream.toml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def extras_app_config(
    tmp_path: Path, kube: Any, *, name: str = "web", keys: str = "",
    values: Mapping[str, object], more: str = "",
) -> Path:
    """``tmp_path/p/firestream.toml``: one generic release of ``charts/extras-app``.

    The release ``name`` in the test's namespace (timeout 60s), then ``keys``
    (more release keys, TOML lines), its ``values`` (strings and numbers) and
    ``more`` (TOML appended last).
    """
    value_lines = "\n".join(f"{key} = {json.dumps(value)}" for key, value in values.items())
    return write_config(tmp_path / "p", f"""
[[deployments.generic]]
name = "{name}"
path = "{EXTRAS_APP}"
namespace = "{kube.namespace}"
timeout = "60s"
{keys}
[deployments.generic.values]
{value_lines}
""" + more)


def load(path: Path, kube: Any, helm_bin: Any, env: dict[str, str] | None = None) -> Project:
    """The project at ``path``, wired to the test's emulated cluster and helm binary."""
    return Project.load(path, helm_binary=helm_bin, kubeconfig=kube.kubeconfig,
                        env={**kube.env, **(env or {})}, kubectl_binary=kube.tools["kubectl"])


class ArgvRecorder:
    """Every argument list firestream's Runner is given (complete, unlike polling /proc)."""

    def __init__(self) -> None:
        self.argvs: list[list[str]] = []
        self.stdins: list[bytes | None] = []
        self._lock = threading.Lock()

    def of(self, word: str) -> list[list[str]]:
        """The recorded argvs holding ``word``."""
        return [a for a in self.argvs if word in a]


@contextmanager
def record_argv(monkeypatch: Any) -> Iterator[ArgvRecorder]:
    from firestream_core.tools.process import Runner

    recorder = ArgvRecorder()
    original = Runner.run

    def run(self: Runner, argv: Any, **kwargs: Any) -> Any:
        with recorder._lock:
            recorder.argvs.append([os.fspath(a) for a in argv])
            recorder.stdins.append(kwargs.get("stdin"))
        return original(self, argv, **kwargs)

    monkeypatch.setattr(Runner, "run", run)
    yield recorder


def interrupted_upgrade(kube: Any, helm_bin: Any, release: str, chart: Any) -> None:
    """A ``helm upgrade --wait`` of ``release`` to ``chart`` killed while it waits (the emulator's
    controller off: neither hook Jobs nor workloads get ready): helm leaves it ``pending-upgrade``."""
    import signal
    import subprocess
    import time

    kube.cluster.set_controller(False)
    proc = subprocess.Popen(  # noqa: S603 - the test kit's helm, an argument list
        [str(helm_bin), "upgrade", release, str(chart), "--namespace", kube.namespace, "--wait",
         "--timeout", "120s"],
        env=kube.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    out = ""
    try:
        for _ in range(300):
            out = kube.run([helm_bin, "history", release, "-n", kube.namespace, "-o", "json"]).stdout
            if '"pending-upgrade"' in out:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"the release never became pending-upgrade: {out}")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        kube.cluster.set_controller(True)


def kafka_crd(group: str) -> str:
    """strimzi-kafka-operator's ``crds/040-Crd-kafka.yaml``, reduced to its names and one version,
    in API group ``group`` (CRDs are cluster-wide: each test names its own)."""
    return f"""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: kafkas.{group}
spec:
  group: {group}
  names:
    kind: Kafka
    listKind: KafkaList
    singular: kafka
    plural: kafkas
  scope: Namespaced
  versions:
    - name: v1beta2
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"""


def operator_chart(root: Path, group: str) -> Path:
    """An operator chart as strimzi's is laid out: :func:`kafka_crd` in its ``crds/`` folder and one
    ConfigMap template, at ``root/operator``."""
    chart = root / "operator"
    (chart / "crds").mkdir(parents=True)
    (chart / "templates").mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: operator\nversion: 0.1.0\n")
    (chart / "crds" / "040-Crd-kafka.yaml").write_text(kafka_crd(group))
    (chart / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-operator\ndata:\n  role: operator\n")
    return chart
