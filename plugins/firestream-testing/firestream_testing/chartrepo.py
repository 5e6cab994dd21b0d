"""A local helm chart repository served over loopback HTTP, for tests.

Charts are packaged with the real ``helm package`` and indexed with the real
``helm repo index`` (relative URLs), then the folder is served by a
:class:`http.server.ThreadingHTTPServer` in a daemon thread on a free
``127.0.0.1`` port. Nothing here depends on the current directory.

The fixture charts shipped with firestream live in :data:`FIXTURE_CHARTS_DIR`:

============ ============== ====================================================
chart        versions       what it holds
============ ============== ====================================================
tiny-app     0.1.0, 0.2.0   ConfigMap (message, password, chartVersion),
                            Deployment, Service; values ``replicaCount``,
                            ``message``, ``password``, ``image``, ``service``,
                            ``podAnnotations``
with-crds    0.1.0          ``crds/`` with the ``Widget`` CRD and a Widget
with-hooks   0.1.0          pre-install and pre-upgrade hook Jobs, a ConfigMap,
                            a ``helm test`` Pod (restartPolicy Never); value
                            ``hookPodAnnotations``
broken       0.1.0          fails to render (``required`` value ``missing``)
============ ============== ====================================================

``tiny-app`` has one source folder packaged twice (``helm package --version``).
On firestream's emulator, the pod annotation ``emulator.firestream.dev/ready:
"false"`` (through ``podAnnotations`` / ``hookPodAnnotations``) plays a broken
workload: Deployment pods never get Ready, hook Jobs fail.

Example::

    with build_chart_repo([Path("charts/my-chart")], tmp, helm=Path("helm")) as repo:
        subprocess.run([helm, "repo", "add", repo.name, repo.url], check=True)
"""

from __future__ import annotations

import base64
import functools
import http.server
import os
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

__all__ = [
    "FIXTURE_CHARTS_DIR",
    "FIXTURE_VERSIONS",
    "ChartRepo",
    "ChartRepoError",
    "RepoServer",
    "build_chart_repo",
    "fixture_chart_dirs",
    "package_charts",
]

FIXTURE_CHARTS_DIR = Path(__file__).resolve().with_name("charts")

#: Fixture charts packaged at more than their ``Chart.yaml`` version.
FIXTURE_VERSIONS: dict[str, tuple[str, ...]] = {"tiny-app": ("0.1.0", "0.2.0")}


class ChartRepoError(RuntimeError):
    """A chart could not be packaged or indexed; the message holds helm's stderr."""


def fixture_chart_dirs() -> list[Path]:
    """The source folders of the fixture charts, sorted by name."""
    return sorted(p.parent for p in FIXTURE_CHARTS_DIR.glob("*/Chart.yaml"))


class RepoServer:
    """Serves one folder over HTTP on a free loopback port, in a daemon thread.

    With ``auth`` (user, password) every request must carry them (HTTP basic
    authentication, as a private ChartMuseum, Harbor or Artifactory asks);
    one without them, or with others, gets 401.
    """

    def __init__(self, root: Path, auth: tuple[str, str] | None = None) -> None:
        expected = None
        if auth is not None:
            expected = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        handler = functools.partial(_QuietHandler, directory=str(root), expected_auth=expected)
        self.root = root
        self.auth = auth
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"chart-repo:{self.port}", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files without one stderr line per request (behind basic auth when asked)."""

    def __init__(self, *args: Any, expected_auth: str | None = None, **kwargs: Any) -> None:
        self.expected_auth = expected_auth
        super().__init__(*args, **kwargs)

    def _allowed(self) -> bool:
        if self.expected_auth is None or self.headers.get("Authorization") == self.expected_auth:
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="charts"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self._allowed():
            super().do_GET()

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
        if self._allowed():
            super().do_HEAD()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


@dataclass
class ChartRepo:
    """A served chart repository.

    ``name`` is the name to give ``helm repo add``; ``charts`` maps each chart
    name to its versions (oldest first), as read from ``index.yaml``.
    """

    name: str
    root: Path
    sources: dict[str, Path]
    charts: dict[str, list[str]]
    server: RepoServer | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The repository URL (``http://127.0.0.1:PORT``), without a trailing slash."""
        if self.server is None:
            raise ChartRepoError(f"chart repository {self.name!r} is not being served")
        return self.server.url

    @property
    def index(self) -> Path:
        return self.root / "index.yaml"

    def chart_dir(self, name: str) -> Path:
        """The unpacked source folder of chart ``name``."""
        try:
            return self.sources[name]
        except KeyError:
            raise KeyError(f"no chart {name!r} in repository {self.name!r}") from None

    def tgz(self, name: str, version: str) -> Path:
        """The packaged ``name-version.tgz``."""
        path = self.root / f"{name}-{version}.tgz"
        if version not in self.charts.get(name, ()) or not path.is_file():
            raise KeyError(f"no chart {name} {version} in repository {self.name!r}")
        return path

    def ref(self, name: str) -> str:
        """``<repo name>/<chart>``, as helm names a chart of an added repository."""
        return f"{self.name}/{name}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def __enter__(self) -> ChartRepo:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _helm_env(home: Path) -> dict[str, str]:
    """An environment for ``helm package``/``repo index`` that touches no user state."""
    return {
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "PATH": os.defpath,
    }


def _run_helm(helm: Path, args: Sequence[str], env: Mapping[str, str]) -> None:
    argv = [str(helm), *args]
    try:
        done = subprocess.run(  # noqa: S603
            argv, capture_output=True, text=True, env=dict(env), timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ChartRepoError(f"cannot run {' '.join(argv)}: {e}") from e
    if done.returncode != 0:
        raise ChartRepoError(
            f"{' '.join(argv)} failed (exit {done.returncode}): {done.stderr.strip()}"
        )


def _chart_name(chart_dir: Path) -> str:
    try:
        meta = yaml.safe_load((chart_dir / "Chart.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ChartRepoError(f"cannot read {chart_dir / 'Chart.yaml'}: {e}") from e
    if not isinstance(meta, dict) or not meta.get("name"):
        raise ChartRepoError(f"{chart_dir / 'Chart.yaml'} has no name")
    return str(meta["name"])


def package_charts(
    helm: Path,
    chart_dirs: Sequence[Path],
    dest: Path,
    versions: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Path]:
    """``helm package`` each folder into ``dest``, then ``helm repo index dest``.

    ``versions`` maps a chart name to the versions to package it at (with
    ``helm package --version``); other charts are packaged at their
    ``Chart.yaml`` version. Returns ``{chart name: source folder}``.
    """
    dest.mkdir(parents=True, exist_ok=True)
    sources: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="firestream-helm-home-") as home:
        env = _helm_env(Path(home))
        for chart_dir in chart_dirs:
            chart_dir = Path(chart_dir).resolve()
            name = _chart_name(chart_dir)
            if name in sources:
                raise ChartRepoError(f"two charts named {name!r}: {sources[name]} and {chart_dir}")
            sources[name] = chart_dir
            wanted: Sequence[str | None] = (versions or {}).get(name) or [None]
            for version in wanted:
                extra = ["--version", version] if version else []
                _run_helm(helm, ["package", str(chart_dir), "--destination", str(dest), *extra], env)
        _run_helm(helm, ["repo", "index", str(dest)], env)
    return sources


def read_index(index: Path) -> dict[str, list[str]]:
    """``{chart: [versions, oldest first]}`` from a repository's ``index.yaml``."""
    data = yaml.safe_load(index.read_text(encoding="utf-8")) or {}
    charts: dict[str, list[str]] = {}
    for name, entries in sorted((data.get("entries") or {}).items()):
        charts[name] = sorted((str(e["version"]) for e in entries), key=_version_key)
    return charts


def _version_key(version: str) -> tuple[Any, ...]:
    core, _, pre = version.partition("-")
    parts = tuple(int(p) if p.isdigit() else 0 for p in core.split("+")[0].split("."))
    return (*parts, pre == "", pre)


def build_chart_repo(
    chart_dirs: Sequence[Path],
    dest: Path,
    *,
    helm: Path,
    name: str = "extra",
    versions: Mapping[str, Sequence[str]] | None = None,
    serve: bool = True,
    auth: tuple[str, str] | None = None,
) -> ChartRepo:
    """Package and index ``chart_dirs`` into ``dest`` and (by default) serve it.

    ``auth`` (user, password): serve it behind HTTP basic authentication.
    Call :meth:`ChartRepo.stop` (or use it as a context manager) when done.
    """
    sources = package_charts(helm, chart_dirs, dest, versions)
    repo = ChartRepo(name=name, root=dest, sources=sources, charts=read_index(dest / "index.yaml"))
    if serve:
        repo.server = RepoServer(dest, auth=auth)
    return repo
