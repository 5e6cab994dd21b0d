"""What every lifecycle stage receives besides the chart and the payload."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from firestream_core.model import BreakingStep, InstalledRelease
    from firestream_core.tools.helm import Helm
    from firestream_core.tools.kubectl import Kubectl
    from firestream_core.tools.redact import Redactor


@attrs.define
class DeployContext:
    """The run's tools and settings, as one release's stages see them.

    :ivar helm: the helm layer (``firestream_core.tools.helm.Helm``); every helm call
        goes through it.
    :ivar kubectl: the kubectl layer (``firestream_core.tools.kubectl.Kubectl``).
    :ivar project_dir: the folder of ``firestream.toml``; relative paths in the
        config are relative to it.
    :ivar repositories: repository name -> URL, the config's ``[repositories]``
        over the chart types' defaults.
    :ivar installed: this release as the run's single cluster-state call saw
        it, or None when it is not installed.
    :ivar change: what the plan decided: ``create``, ``upgrade``, ``recover``,
        ``reinstall``, ``destroy``, ``no-op`` (None outside a plan).
    :ivar breaking: the breaking-version step the plan decided for this release
        (:func:`~firestream_core.model.breaking_step`), None when it decided none;
        exec refuses a different one while ``change`` is set.
    :ivar redactor: hides sensitive values (docs/secrets.md) in any text shown or logged.
    :ivar log: the logger stages should use (its output is redacted).
    :ivar dry_run: nothing may be changed in the cluster.
    :ivar settings: further run settings (``on_validation_failure``: ``fail`` or
        ``warn``; ``run_tests``; ...). The old key ``validation_failure`` is still
        read, with a ``DeprecationWarning``.
    :ivar cancel: set when the run is interrupted; long waits should poll it.

    A stage reads it, never builds it (the runner does)::

        @hookimpl
        def post_exec(chart, context, payload):
            if context.dry_run:
                return
            ns = chart.chart_info.namespace_name
            context.log.info("release '%s': %s", chart.name, context.change)
            context.kubectl.get("service", f"{chart.name}-headless", namespace=ns)
            seed = context.resolve("seed/schema.sql")    # relative to firestream.toml
            if context.settings.get("on_validation_failure") == "warn":
                ...
    """

    helm: Helm
    kubectl: Kubectl
    project_dir: Path = attrs.field(factory=Path.cwd)
    repositories: Mapping[str, str] = attrs.field(factory=dict)
    installed: InstalledRelease | None = None
    change: str | None = None
    breaking: BreakingStep | None = None
    redactor: Redactor | None = None
    log: logging.Logger = attrs.field(factory=lambda: logging.getLogger("firestream"))
    dry_run: bool = False
    settings: Mapping[str, Any] = attrs.field(factory=dict)
    cancel: threading.Event = attrs.field(factory=threading.Event)

    def resolve(self, path: Path | str) -> Path:
        """A config path made absolute against the project folder.

        >>> from pathlib import Path
        >>> context = DeployContext(helm=None, kubectl=None, project_dir=Path("/srv/shop"))
        >>> context.resolve("values/web.yaml"), context.resolve("/etc/web.yaml")
        (PosixPath('/srv/shop/values/web.yaml'), PosixPath('/etc/web.yaml'))
        """
        p = Path(path)
        return p if p.is_absolute() else self.project_dir / p
