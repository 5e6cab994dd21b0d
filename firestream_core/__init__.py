"""firestream: deploy Helm charts through a pluggable lifecycle.

Public names are re-exported here lazily so ``import firestream_core`` (and
``firestream --version``) stays cheap.
"""

from __future__ import annotations

from firestream_core.lazy import lazy_attribute
from firestream_core.version import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2 ms of --version)
if TYPE_CHECKING:
    from typing import Any

_EXPORTS = {
    "hookimpl": "plugin.markers",
    "hookspec": "plugin.markers",
    "NAME": "plugin.markers",
    "PLUGIN_API_VERSION": "plugin.markers",
    "ChartInfo": "model",
    "ChartSetValue": "model",
    "ChartValuesGenerated": "model",
    "HelmAction": "model",
    "HelmChartNamespace": "model",
    "BreakingVersion": "model",
    "SemVer": "model",
    "HelmChart": "model",
    "ReleaseSettings": "model",
    "ChartPayload": "model",
    "ChartType": "model",
    "ValidationResult": "model",
    "ValidationStatus": "model",
    "InstalledRelease": "model",
    "ExecOutcome": "model",
    "DeployContext": "plugin.context",
    "FirestreamError": "errors",
    "ConfigError": "errors",
    "PluginError": "errors",
    "HelmError": "errors",
    "Project": "project",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    return lazy_attribute(globals(), _EXPORTS, name)


def __dir__() -> list[str]:
    return __all__
