"""Fixtures for the emulated cluster, real helm binaries and the chart repository.

Loaded by the ``firestream`` pytest plugin (``pytest11`` entry point), so any
project that installs ``firestream-core[testing]`` gets them. Nothing here
depends on the current directory or on the caller's environment variables:
every helm/kubectl call a test makes through :class:`KubeEnv` gets its own
``KUBECONFIG`` and its own ``HELM_*_HOME`` folders.

=================== ========= =================================================
fixture             scope     value
=================== ========= =================================================
``helm_tools``      session   ``{"helm", "helm4", "kubectl"}`` -> binary paths
``helm_bin``        function  helm 3 or helm 4 (parametrized, ids helm3/helm4)
``helm_major``      function  3 or 4, the major of ``helm_bin``
``kubectl_bin``     session   kubectl binary path
``kube_cluster``    module    the API emulator (one per test module)
``kube``            function  :class:`KubeEnv`: kubeconfig, env, fresh namespace
``chart_repo``      session   :class:`~firestream_testing.chartrepo.ChartRepo`
                              with the fixture charts, served over HTTP
``make_chart_repo`` session   ``(chart_dirs, name="extra") -> ChartRepo``
=================== ========= =================================================

Command-line option: ``--helm-major {3,4,all}`` (default ``all``) keeps only
the ``helm_bin`` parametrizations of that major. Tests that use any of these
fixtures are marked ``helm`` automatically (deselect with ``-m "not helm"``).
If the binaries cannot be installed, the tests that need them *fail* with
the installer's message; they are never skipped silently.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from firestream_testing.chartrepo import (
    FIXTURE_VERSIONS,
    ChartRepo,
    ChartRepoError,
    build_chart_repo,
    fixture_chart_dirs,
)

if TYPE_CHECKING:
    from firestream_core.tools.helm import Helm
    from firestream_core.tools.kubectl import Kubectl
    from firestream_testing.cluster import ClusterProcess

__all__ = [
    "HELM_FIXTURES",
    "KubeEnv",
    "helm_env",
    "helm_major_of",
]

#: ``helm_bin`` parameter id -> key in :func:`~firestream_testing.tools.ensure_tools`.
HELM_PARAMS: dict[str, str] = {"helm3": "helm", "helm4": "helm4"}

#: Fixtures whose tests drive the real binaries; such tests get the ``helm`` marker.
HELM_FIXTURES = frozenset(
    {"helm_tools", "helm_bin", "helm_major", "kubectl_bin", "kube_cluster", "kube",
     "chart_repo", "make_chart_repo"}
)

_MARKER = "helm: drives the real helm/kubectl binaries against the emulated API server"


# ---------------------------------------------------------------------------
# pytest hooks: option, marker, selection by helm major
# ---------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("firestream", "firestream test kit")
    group.addoption(
        "--helm-major",
        choices=("3", "4", "all"),
        default="all",
        help="run the helm_bin-parametrized tests for helm 3, helm 4 or both (default: all)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests that use the real binaries; keep only the selected helm major."""
    wanted = config.getoption("--helm-major", default="all")
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & HELM_FIXTURES:
            item.add_marker(pytest.mark.helm)
        callspec = getattr(item, "callspec", None)
        param = callspec.params.get("helm_bin") if callspec is not None else None
        if wanted != "all" and param in HELM_PARAMS and param != f"helm{wanted}":
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


# ---------------------------------------------------------------------------
# binaries
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def helm_tools() -> dict[str, Path]:
    """``{"helm": helm 3.19, "helm4": helm 4.3, "kubectl": kubectl}``, installed if missing.

    Installing is cached (see :mod:`firestream_testing.tools`); a failure
    fails every test that needs the binaries, with the installer's message.
    """
    from firestream_testing.tools import ToolsError, ensure_tools

    try:
        return ensure_tools()
    except ToolsError as e:
        pytest.fail(
            f"firestream test kit: cannot install helm/kubectl: {e}\n"
            "Run `python -m firestream_testing.tools` to see the details.",
            pytrace=False,
        )


@pytest.fixture(params=list(HELM_PARAMS), ids=list(HELM_PARAMS))
def helm_bin(request: pytest.FixtureRequest, helm_tools: dict[str, Path]) -> Path:
    """The real helm binary: helm 3.19 (id ``helm3``) then helm 4.3 (id ``helm4``).

    Example::

        def test_install(kube, chart_repo, helm_bin):
            kube.run([helm_bin, "install", "r", chart_repo.tgz("tiny-app", "0.2.0"),
                      "-n", kube.namespace, "--create-namespace"])
    """
    return helm_tools[HELM_PARAMS[request.param]]


@pytest.fixture
def helm_major(helm_bin: Path) -> int:
    """The major version (3 or 4) of ``helm_bin``, for tests that branch on it."""
    return helm_major_of(helm_bin)


@functools.cache
def helm_major_of(binary: Path | str) -> int:
    """The major version of a helm binary (asks it once per path and process)."""
    from firestream_testing.tools import ToolsError, tool_version

    try:
        version = tool_version("helm", Path(binary))  # e.g. "v3.19.0"
    except ToolsError as e:
        raise RuntimeError(f"cannot tell the version of {binary}: {e}") from e
    try:
        return int(version.lstrip("v").split(".", 1)[0])
    except ValueError:
        raise RuntimeError(f"{binary} reports an unreadable version {version!r}") from None


@pytest.fixture(scope="session")
def kubectl_bin(helm_tools: dict[str, Path]) -> Path:
    """The real kubectl binary (1.34)."""
    return helm_tools["kubectl"]


# ---------------------------------------------------------------------------
# the emulated cluster
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterProcess]:
    """One Kubernetes API emulator per test module, stopped when the module ends.

    Its log is ``apiserver.log`` next to its kubeconfig (under pytest's
    temporary folder). Tests should use ``kube``, which also resets the
    controller switches; use this directly only to share module-level state.
    """
    from firestream_testing.cluster import ClusterError, start_cluster

    folder = tmp_path_factory.mktemp("kube-cluster")
    try:
        cluster = start_cluster(folder / "kubeconfig", log_file=folder / "apiserver.log")
    except ClusterError as e:
        pytest.fail(f"firestream test kit: cannot start the API emulator: {e}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


def helm_env(root: Path, kubeconfig: Path, tools: Mapping[str, Path] | None = None) -> dict[str, str]:
    """A complete environment for helm/kubectl that shares nothing with the caller's.

    ``HOME`` and the three ``HELM_*_HOME`` folders live under ``root`` (created
    here); ``PATH`` holds the tools folder, this interpreter's folder and the
    system default, so it does not depend on ``os.environ`` either.
    """
    home = root / "home"
    dirs = {
        "HOME": home,
        "HELM_CACHE_HOME": root / "helm" / "cache",
        "HELM_CONFIG_HOME": root / "helm" / "config",
        "HELM_DATA_HOME": root / "helm" / "data",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    bins = [str(p.parent) for p in (tools or {}).values()]
    bins.append(str(Path(sys.executable).parent))
    path_value = os.pathsep.join(dict.fromkeys([*bins, *os.defpath.split(os.pathsep)]))
    return {
        **{key: str(value) for key, value in dirs.items()},
        "KUBECONFIG": str(kubeconfig),
        "PATH": path_value,
    }


@dataclass
class KubeEnv:
    """What one test needs to talk to the emulated cluster.

    ``namespace`` is a fresh name (``t-<hex>``), not created: pass
    ``--create-namespace`` or create it. ``env`` is complete (not merged
    with ``os.environ``): use it as ``subprocess.run(..., env=kube.env)``
    or through :meth:`run`.
    """

    kubeconfig: Path
    cluster: ClusterProcess
    env: dict[str, str]
    namespace: str
    tools: dict[str, Path] = field(repr=False)
    tmp_path: Path = field(repr=False)

    @property
    def url(self) -> str:
        """The API server URL (``http://127.0.0.1:PORT``)."""
        return self.cluster.url

    def helm(self, binary: Path | None = None, **kwargs: Any) -> Helm:
        """firestream's :class:`~firestream_core.tools.helm.Helm` wired to this cluster and env.

        ``binary`` defaults to helm 3; pass ``helm_bin`` to follow the
        parametrization. Extra keyword arguments go to ``Helm``.
        """
        from firestream_core.tools.helm import Helm

        return Helm(
            binary=binary or self.tools["helm"],
            kubeconfig=self.kubeconfig,
            env=dict(self.env),
            **kwargs,
        )

    def kubectl(self, binary: Path | None = None, **kwargs: Any) -> Kubectl:
        """firestream's :class:`~firestream_core.tools.kubectl.Kubectl` wired to this cluster."""
        from firestream_core.tools.kubectl import Kubectl

        return Kubectl(
            binary=binary or self.tools["kubectl"],
            kubeconfig=self.kubeconfig,
            env=dict(self.env),
            **kwargs,
        )

    def run(
        self,
        argv: Sequence[str | Path],
        *,
        check: bool = True,
        timeout: float = 120,
        input: str | None = None,  # noqa: A002
    ) -> subprocess.CompletedProcess[str]:
        """Run a program (e.g. ``[helm_bin, "list", "-A"]``) in this env; text output.

        With ``check`` (default), a non-zero exit fails with the command's stderr.
        """
        args = [str(a) for a in argv]
        done = subprocess.run(  # noqa: S603
            args, env=self.env, capture_output=True, text=True, timeout=timeout,
            input=input, check=False, cwd=self.tmp_path,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited with {done.returncode}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done


@pytest.fixture
def kube(
    kube_cluster: ClusterProcess, helm_tools: dict[str, Path], tmp_path: Path
) -> KubeEnv:
    """The module's emulated cluster with this test's own kubeconfig, HELM homes and namespace.

    The controller and the LoadBalancer switches are turned back on first.

    Example::

        def test_install(kube, chart_repo, helm_bin):
            kube.run([helm_bin, "repo", "add", chart_repo.name, chart_repo.url])
            kube.run([helm_bin, "install", "r", "fixtures/tiny-app",
                      "-n", kube.namespace, "--create-namespace"])
    """
    from firestream_testing.cluster import ClusterError

    try:
        if not kube_cluster.alive:
            raise ClusterError("the emulator process has exited")
        kube_cluster.set_controller(True)
        kube_cluster.set_loadbalancer(True)
        kube_cluster.set_status_rules([])
    except ClusterError as e:
        log = kube_cluster.kubeconfig.parent / "apiserver.log"
        pytest.fail(f"firestream test kit: the module's API emulator is unusable: {e}\n"
                    f"last lines of {log}:\n{_tail(log)}", pytrace=False)
    root = tmp_path / "kube-env"
    root.mkdir()
    kubeconfig = root / "kubeconfig"
    shutil.copyfile(kube_cluster.kubeconfig, kubeconfig)
    kubeconfig.chmod(0o600)
    return KubeEnv(
        kubeconfig=kubeconfig,
        cluster=kube_cluster,
        env=helm_env(root, kubeconfig, helm_tools),
        namespace=f"t-{secrets.token_hex(4)}",
        tools=dict(helm_tools),
        tmp_path=tmp_path,
    )


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(cannot read it: {e})"


# ---------------------------------------------------------------------------
# chart repositories
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def make_chart_repo(
    helm_tools: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., ChartRepo]]:
    """A factory ``(chart_dirs, name="extra", *, versions=None, auth=None) -> ChartRepo``.

    Packages the chart folders with the real ``helm package``, indexes them
    and serves them on a loopback port until the session ends. ``versions``
    maps a chart name to extra versions to package it at; ``auth`` (user,
    password) serves it behind HTTP basic authentication. Charts with
    dependencies must have them vendored (``charts/``): nothing is fetched.

    Example::

        def test_my_chart(make_chart_repo, kube, helm_bin):
            repo = make_chart_repo([Path(__file__).parent / "charts" / "my-chart"])
            kube.run([helm_bin, "repo", "add", repo.name, repo.url])
    """
    repos: list[ChartRepo] = []

    def make(
        chart_dirs: Sequence[Path],
        name: str = "extra",
        *,
        versions: Mapping[str, Sequence[str]] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> ChartRepo:
        dest = tmp_path_factory.mktemp(f"chart-repo-{name}")
        try:
            repo = build_chart_repo(
                [Path(d) for d in chart_dirs], dest, helm=helm_tools["helm"],
                name=name, versions=versions, auth=auth,
            )
        except ChartRepoError as e:
            pytest.fail(f"firestream test kit: cannot build chart repository {name!r}: {e}",
                        pytrace=False)
        repos.append(repo)
        return repo

    try:
        yield make
    finally:
        for repo in repos:
            repo.stop()


@pytest.fixture(scope="session")
def chart_repo(make_chart_repo: Callable[..., ChartRepo]) -> ChartRepo:
    """The fixture charts (tiny-app 0.1.0/0.2.0, with-crds, with-hooks, broken), served.

    Name ``fixtures``; packaged once per session. Example::

        def test_search(kube, chart_repo, helm_bin):
            kube.run([helm_bin, "repo", "add", chart_repo.name, chart_repo.url])
            out = kube.run([helm_bin, "search", "repo", "fixtures/", "--versions"]).stdout
    """
    return make_chart_repo(fixture_chart_dirs(), "fixtures", versions=FIXTURE_VERSIONS)
