"""What a lifecycle stage may call on ``context.helm`` and ``context.kubectl``.

:class:`HelmTool` and :class:`KubectlTool` are the typed shape of the two
tools a stage receives in its :class:`~firestream_core.plugin.context.DeployContext`:
the public calls of :class:`~firestream_core.tools.helm.Helm` and
:class:`~firestream_core.tools.kubectl.Kubectl`, with the same signatures
(``tests/plugin/test_stage_tools.py`` compares them). A run hands a stage
the real ``Helm`` and ``Kubectl``; the pure ``contribute_values`` stage gets
read-only views of them (:class:`~firestream_core.deploy.desired.ReadOnlyHelm`,
:class:`~firestream_core.deploy.desired.ReadOnlyKubectl`) whose writes raise.
A plugin annotates ``context: DeployContext`` and never names these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pathlib import Path

    from firestream_core.model import ChartInfo, InstalledRelease
    from firestream_core.tools.helm_output import TestRun, UpgradedRelease
    from firestream_core.tools.kubectl import NamespaceLookup
    from firestream_core.tools.process import Completed, Runner
    from firestream_core.tools.redact import Redactor

__all__ = ["ClusterTool", "HelmTool", "KubectlTool"]


class ClusterTool(Protocol):
    """What ``context.helm`` and ``context.kubectl`` share: the program and how it reaches the cluster."""

    @property
    def binary(self) -> str: ...

    @property
    def kube_context(self) -> str | None: ...

    @property
    def env(self) -> dict[str, str]: ...

    @property
    def redactor(self) -> Redactor: ...

    @property
    def runner(self) -> Runner: ...

    def argv(self, args: Sequence[str]) -> list[str]: ...

    def program_env(self) -> dict[str, str]: ...


class HelmTool(ClusterTool, Protocol):
    """``context.helm``: :class:`~firestream_core.tools.helm.Helm`'s calls (reads and writes)."""

    @property
    def kubeconfig(self) -> Path | None: ...

    @property
    def version(self) -> str: ...

    @property
    def major(self) -> int: ...

    # -- reads ------------------------------------------------------------------------
    def list_releases(self) -> list[InstalledRelease]: ...

    def status(self, name: str, namespace: str) -> dict[str, Any]: ...

    def history(self, name: str, namespace: str) -> list[dict[str, Any]]: ...

    def get_values(self, name: str, namespace: str, all_values: bool = False) -> dict[str, Any]: ...

    def get_manifest(self, name: str, namespace: str) -> str: ...

    def get_hooks(self, name: str, namespace: str, revision: int | None = None) -> str: ...

    def template(
        self,
        info: ChartInfo,
        project_dir: Path | str,
        *,
        extra_values: Mapping[str, Any] | None = None,
        include_crds: bool = True,
        is_upgrade: bool = False,
        server: bool = False,
    ) -> str: ...

    def render_release(
        self,
        info: ChartInfo,
        project_dir: Path | str,
        *,
        extra_values: Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> str: ...

    def repo_add(
        self, name: str, url: str, *, username: str | None = None, password: str | None = None
    ) -> bool: ...

    def repo_update(self, names: Sequence[str] | None = None) -> None: ...

    def repo_list(self) -> dict[str, str]: ...

    def search_repo(self, chart: str, version: str | None = None) -> list[str]: ...

    def resolve_version(self, chart_ref: str, version: str | None = None) -> str | None: ...

    def pull(self, chart_ref: str, version: str | None, dest: Path | str) -> Path: ...

    # -- writes -----------------------------------------------------------------------
    def upgrade_install_args(
        self, info: ChartInfo, project_dir: Path, values_path: Path | None = None, *, replace: bool = False,
        server_dry_run: bool = False,
    ) -> list[str]: ...

    def upgrade_install(
        self,
        info: ChartInfo,
        project_dir: Path | str,
        *,
        extra_values: Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> int: ...

    def upgrade_install_release(
        self,
        info: ChartInfo,
        project_dir: Path | str,
        *,
        extra_values: Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> UpgradedRelease: ...

    def uninstall(
        self,
        name: str,
        namespace: str,
        *,
        wait: bool = True,
        timeout: str | int = "300s",
        ignore_not_found: bool = True,
        keep_history: bool = False,
        no_hooks: bool = False,
    ) -> bool: ...

    def rollback(
        self,
        name: str,
        namespace: str,
        revision: int | None = None,
        *,
        wait: bool = True,
        timeout: str | int = "300s",
        history_max: int = 50,
        no_hooks: bool = False,
    ) -> None: ...

    def test(self, name: str, namespace: str, timeout: str | int = "300s") -> TestRun: ...

    def dependency_build(self, chart_dir: Path | str) -> None: ...

    def registry_login(
        self, host: str, username: str, password: str, insecure: bool = False, *, plain_http: bool = False
    ) -> None: ...

    def push(
        self,
        chart_archive: Path | str,
        remote: str,
        *,
        plain_http: bool | None = None,
        insecure: bool | None = None,
    ) -> str: ...


class KubectlTool(ClusterTool, Protocol):
    """``context.kubectl``: :class:`~firestream_core.tools.kubectl.Kubectl`'s calls (reads and writes)."""

    @property
    def kubeconfig(self) -> str | None: ...

    # -- reads ------------------------------------------------------------------------
    def get(
        self,
        kind: str,
        name: str | None = None,
        *,
        namespace: str | None = None,
        selector: str | None = None,
        all_namespaces: bool = False,
    ) -> dict[str, Any] | None: ...

    def get_labelled(self, kind: str, label: str, value: str, *, namespace: str) -> dict[str, Any] | None: ...

    def get_manifest_objects(
        self, manifest: str | Sequence[Mapping[str, Any]], *, namespace: str | None = None
    ) -> list[dict[str, Any]]: ...

    def logs(self, pod: str, namespace: str, *, tail: int = 50, container: str | None = None) -> str: ...

    def events(self, namespace: str, *, involved_object: str | None = None) -> list[dict[str, Any]]: ...

    def namespaces_exist(self, names: Sequence[str]) -> NamespaceLookup: ...

    def wait(
        self,
        kind: str,
        name: str | None = None,
        *,
        namespace: str,
        condition: str = "condition=Ready",
        selector: str | None = None,
        timeout: str | int = "60s",
    ) -> bool: ...

    # -- writes -----------------------------------------------------------------------
    def apply_server_side(
        self,
        manifests: str | Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        namespace: str | None = None,
        field_manager: str = "firestream",
        force_conflicts: bool = True,
    ) -> list[str]: ...

    def delete(
        self,
        kind: str,
        name: str,
        *,
        namespace: str | None = None,
        ignore_not_found: bool = True,
        wait: bool = True,
        timeout: str | int = "120s",
    ) -> bool: ...

    def create(self, manifest: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any] | None: ...

    def replace(self, manifest: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any] | None: ...

    def run(self, argv: Sequence[str], *, label: str | None = None, timeout: float | None = None) -> Completed: ...

