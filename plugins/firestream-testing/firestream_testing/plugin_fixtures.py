"""Fixtures to run releases through firestream's real lifecycle on the emulated cluster.

What a chart plugin's tests need to call ``run_release`` themselves: a
``DeployContext`` whose helm and kubectl talk to the test's emulated
cluster (:func:`~firestream_testing.kube_fixtures.kube`) and share one
redactor and one recording process runner, pointed at the chart repository
serving the plugin's stand-in charts.

===================== ========= ===============================================
fixture               scope     value
===================== ========= ===============================================
``deploy_chart_repo`` session   the :class:`~firestream_testing.chartrepo.ChartRepo`
                                the contexts point at; firestream's fixture
                                charts (``chart_repo``) unless overridden
``deploy_context``    function  :class:`DeployContexts`:
                                ``deploy_context(binary=None, **overrides)
                                -> DeployContext``, ``.runner``, ``.redactor``
``run_lifecycle``     function  ``run_lifecycle(chart, binary=None, *,
                                context=None, manager=None, **overrides)
                                -> ReleaseOutcome`` with a fresh plugin manager
===================== ========= ===============================================

A plugin's ``tests/conftest.py`` overrides ``deploy_chart_repo`` with its
stand-in charts, and that is all it needs::

    CHARTS = Path(__file__).parent / "charts"

    @pytest.fixture(scope="session")
    def deploy_chart_repo(make_chart_repo):
        return make_chart_repo([CHARTS / "redis"], "bitnami")   # served as "bitnami"

    # tests/test_redis_helm.py
    def test_deploys(kube, helm_bin, run_lifecycle):
        chart = RedisChart.development()
        chart.chart_info.namespace = kube.namespace
        result = run_lifecycle(chart, helm_bin)                  # under helm 3, then helm 4
        assert result.ok, result.error

Tests using these fixtures use ``kube``, so they are marked ``helm``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from firestream_core.tools.process import Completed, Runner
from firestream_testing.argv_watch import assert_not_on_command_lines

if TYPE_CHECKING:
    from firestream_core.deploy.results import ReleaseOutcome
    from firestream_core.model import ChartPayload, HelmChart
    from firestream_core.plugin.context import DeployContext
    from firestream_core.plugin.manager import FirestreamPluginManager
    from firestream_core.tools.redact import Redactor
    from firestream_testing.chartrepo import ChartRepo
    from firestream_testing.kube_fixtures import KubeEnv

__all__ = ["DeployContexts", "RecordingRunner", "deploy_chart_repo", "deploy_context", "run_lifecycle"]

VALIDATION_INTERVAL = 0.1
"""Seconds between validations of pending checks in a test (firestream's default is 1)."""


class RecordingRunner(Runner):
    """firestream's process runner (programs really run), keeping what it was given.

    It sees what firestream asks to run, including the programs that end too
    fast for :func:`~firestream_testing.argv_watch.watch_argv` to see.

    :ivar argvs: every argument list run, in order, as strings.
    :ivar stdins: the ``stdin`` bytes of each (None when nothing was fed).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.argvs: list[list[str]] = []
        self.stdins: list[bytes | None] = []
        self._record_lock = threading.Lock()

    def run(self, argv: Sequence[Any], **kwargs: Any) -> Completed:
        with self._record_lock:
            self.argvs.append([str(a) for a in argv])
            self.stdins.append(kwargs.get("stdin"))
        return super().run(argv, **kwargs)

    def of(self, word: str) -> list[list[str]]:
        """The argument lists run that hold ``word`` as one argument (e.g. ``"upgrade"``)."""
        return [argv for argv in self.argvs if word in argv]

    def index(self, *words: str) -> int:
        """The position in :attr:`argvs` of the first argument list holding every one of
        ``words``, to assert an order: ``runner.index("apply") < runner.index("upgrade")``."""
        for i, argv in enumerate(self.argvs):
            if all(w in argv for w in words):
                return i
        raise AssertionError(f"no command line holds {list(words)}: {self.argvs}")

    def assert_absent(self, *secrets: str) -> None:
        """Fail unless something was run and no argument list held any of ``secrets``
        (:func:`~firestream_testing.argv_watch.assert_not_on_command_lines`)."""
        assert_not_on_command_lines(self.argvs, secrets, seen_by="the RecordingRunner")

    def clear(self) -> None:
        """Forget what was recorded (e.g. after a first release)."""
        with self._record_lock:
            self.argvs.clear()
            self.stdins.clear()


class DeployContexts:
    """``DeployContext`` factory for one test on the emulated cluster (the ``deploy_context`` fixture).

    Each call is a new run (a new ``Helm``, so ``repo add`` happens again);
    all of a test's runs share :attr:`runner` and :attr:`redactor`.

    :ivar runner: the :class:`RecordingRunner` every helm and kubectl call goes through.
    :ivar redactor: the one ``Redactor`` of helm, kubectl and the contexts.
    """

    def __init__(self, kube: KubeEnv, repo: ChartRepo | None, project_dir: Path) -> None:
        from firestream_core.tools.redact import Redactor

        self.kube = kube
        self.repo = repo
        self.project_dir = project_dir
        self.redactor: Redactor = Redactor()
        self.runner = RecordingRunner(redactor=self.redactor)

    def __call__(self, binary: Path | None = None, **overrides: Any) -> DeployContext:
        """A context for one run.

        :param binary: the helm binary; helm 3 by default, pass ``helm_bin`` to
            run under both majors.
        :param overrides: ``DeployContext`` fields replacing the defaults:
            ``project_dir`` (the test's ``tmp_path``), ``repositories``
            (``{repo.name: repo.url}`` of ``deploy_chart_repo``), ``settings``
            (``{"validation_interval": 0.1}``), ``log`` (``firestream.test``),
            ``redactor``, ``helm``, ``kubectl``, ``dry_run``, ``change``, ...
        """
        from firestream_core.plugin.context import DeployContext

        fields: dict[str, Any] = {
            "helm": self.kube.helm(binary, runner=self.runner, redactor=self.redactor),
            "kubectl": self.kube.kubectl(runner=self.runner, redactor=self.redactor),
            "project_dir": self.project_dir,
            "repositories": {self.repo.name: self.repo.url} if self.repo is not None else {},
            "redactor": self.redactor,
            "log": logging.getLogger("firestream.test"),
            "settings": {"validation_interval": VALIDATION_INTERVAL},
        }
        fields.update(overrides)
        return DeployContext(**fields)

    def run(
        self,
        chart: HelmChart,
        binary: Path | None = None,
        *,
        context: DeployContext | None = None,
        manager: FirestreamPluginManager | None = None,
        payload: ChartPayload | None = None,
        **overrides: Any,
    ) -> ReleaseOutcome:
        """One release through ``firestream_core.deploy.lifecycle.run_release`` (the ``run_lifecycle`` fixture).

        :param chart: the release.
        :param binary: the helm binary of a new context (see :meth:`__call__`).
        :param context: a context of your own (e.g. one kept to call a hook again);
            not together with ``binary`` or ``overrides``.
        :param manager: the plugin manager; a fresh ``get_plugin_manager()``
            (entry points, disable list) by default.
        :param payload: passed to ``run_release``.
        :param overrides: ``DeployContext`` fields of a new context (see :meth:`__call__`).
        :return: the release's ``ReleaseOutcome``; it never raises for a failed stage.
        """
        from firestream_core.deploy.lifecycle import run_release
        from firestream_core.plugin.manager import get_plugin_manager

        if context is None:
            context = self(binary, **overrides)
        elif binary is not None or overrides:
            raise TypeError("run_lifecycle: give either context or binary/overrides, not both")
        return run_release(chart, manager or get_plugin_manager(), context, payload)


@pytest.fixture(scope="session")
def deploy_chart_repo(chart_repo: ChartRepo) -> ChartRepo:
    """The chart repository ``deploy_context`` points at: override it in your ``conftest.py``.

    By default firestream's fixture charts (``chart_repo``, repository ``fixtures``).
    A plugin serves its stand-in charts instead, e.g.
    ``return make_chart_repo([CHARTS / "redis"], "bitnami")``.
    """
    return chart_repo


@pytest.fixture
def deploy_context(kube: KubeEnv, deploy_chart_repo: ChartRepo, tmp_path: Path) -> DeployContexts:
    """``deploy_context(binary=None, **overrides) -> DeployContext`` for runs on the emulator.

    Helm and kubectl use ``kube``'s cluster and environment and share
    ``deploy_context.runner`` (a :class:`RecordingRunner`: ``.argvs``) and
    ``deploy_context.redactor``; ``repositories`` is ``deploy_chart_repo``.
    """
    return DeployContexts(kube, deploy_chart_repo, tmp_path)


@pytest.fixture
def run_lifecycle(deploy_context: DeployContexts) -> Callable[..., ReleaseOutcome]:
    """``run_lifecycle(chart, binary=None, **overrides) -> ReleaseOutcome``: one release, fresh manager.

    The context is ``deploy_context(binary, **overrides)``, or ``context=``;
    the runs share ``deploy_context.runner``.
    """
    return deploy_context.run
