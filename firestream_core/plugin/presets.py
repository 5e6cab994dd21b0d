"""Helpers for chart-type presets: values the configuration can still override.

A preset's values are kept as one generated values document
(``ChartInfo.yaml_files_content``), not as ``--set`` pairs: helm gives
``--set`` pairs the last word, so a preset written as pairs could not be
changed by ``[deployments.x.values]`` in ``firestream.toml``. As a document
placed first, the preset's values are overridden by the config's
``values``, by its ``set`` pairs and by any ``ChartSetValue`` appended from
Python (``info.values.append(...)``), in that order::

    DEFAULTS = {"primary.persistence.size": "10Gi", "metrics.enabled": True}

    def development() -> ChartInfo:
        return ChartInfo(
            name="postgresql",
            chart="postgresql",
            yaml_files_content=[preset_values("postgresql", "development",
                                              {**DEFAULTS, "primary.persistence.size": "1Gi"})],
        )

The document is JSON (a subset of YAML), so building it needs no YAML
library and no value changes type on the way.

:class:`ChartPresets` holds what every preset of a chart type shares (chart,
version, repository, namespace, ...), so each preset states only its values::

    PRESETS = ChartPresets("postgresql", chart="postgresql", version="17.1.0",
                           repository="bitnami", namespace="default")

    @attrs.define
    class PostgresqlChart(HelmChart):
        chart_info: ChartInfo = attrs.field(factory=PRESETS.factory("default", DEFAULTS))
        ...

        @classmethod
        def development(cls) -> PostgresqlChart:
            return cls(PRESETS.info("development", {**DEFAULTS, "primary.persistence.size": "1Gi"}))
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from firestream_core.model import ChartInfo, ChartValuesGenerated, HelmChartNamespace

__all__ = ["ChartPresets", "preset_values"]

PRESET_PREFIX = "preset:"


def preset_values(chart_type: str, preset: str, values: Mapping[str, Any]) -> ChartValuesGenerated:
    """The preset's values as one generated document named ``preset:<type>.<preset>``.

    :param values: ``--set``-style dotted keys (``primary.persistence.size``,
        ``sources[0]``) to values (strings, booleans, numbers, lists or
        mappings), kept as given: a string is not typed as ``--set`` would.

    >>> doc = preset_values("redis", "development", {"replica.replicaCount": 1})
    >>> doc.filename
    'preset:redis.development'
    >>> print(doc.yaml_content, end="")
    {
     "replica": {
      "replicaCount": 1
     }
    }
    """
    import json

    from firestream_core.tools.values import _set_path, parse_key

    nested: dict[str, Any] = {}
    for key, value in values.items():
        _set_path(nested, parse_key(key), value)
    return ChartValuesGenerated(
        f"{PRESET_PREFIX}{chart_type}.{preset}", json.dumps(nested, indent=1, ensure_ascii=False) + "\n"
    )



@attrs.frozen
class ChartPresets:
    """What every preset of a chart type shares; :meth:`info` adds one preset's values.

    Each preset's ``ChartInfo`` is named after the chart type (the default
    release name) and carries its values as the first values document
    (:func:`preset_values`), so the config's ``values`` and ``set`` override them.

    :ivar chart_type: the chart type's name: the release name, and the preset
        documents' prefix (``preset:<chart_type>.<preset>``).
    :ivar chart: the chart's name in its repository.
    :ivar version: the default chart version.
    :ivar repository: the helm repository's name (its URL is the chart type's
        ``repositories``).
    :ivar namespace: a ``HelmChartNamespace`` or a namespace name.
    :ivar fields: further ``ChartInfo`` fields every preset has (``timeout``,
        ``last_breaking_version_requiring_restart``...); each ``info`` gets its
        own copy of them.

    >>> presets = ChartPresets("redis", chart="redis", version="18.6.1", repository="bitnami",
    ...                        namespace="redis", fields={"timeout": "600s"})
    >>> info = presets.info("development", {"replica.replicaCount": 1})
    >>> info.name, info.chart, info.version, info.namespace_name, info.timeout
    ('redis', 'redis', '18.6.1', 'redis', '600s')
    >>> info.yaml_files_content[0].filename
    'preset:redis.development'
    >>> presets.info("small", {}, timeout="120s").timeout   # a preset's own field
    '120s'
    """

    chart_type: str
    chart: str
    version: str | None = None
    repository: str | None = None
    namespace: HelmChartNamespace | str = HelmChartNamespace.DEFAULT
    fields: Mapping[str, Any] = attrs.field(factory=dict)

    def info(self, preset: str, values: Mapping[str, Any], **fields: Any) -> ChartInfo:
        """A fresh ``ChartInfo`` of preset ``preset``: the shared fields, ``fields`` over them, and ``values``.

        >>> ChartPresets("cache", chart="redis").info("default", {"auth.enabled": True}).yaml_files_content[0].filename
        'preset:cache.default'
        """
        return ChartInfo(
            name=self.chart_type,
            repository=self.repository,
            chart=self.chart,
            version=self.version,
            namespace=self.namespace,
            yaml_files_content=[preset_values(self.chart_type, preset, values)],
            **{**copy.deepcopy(dict(self.fields)), **fields},
        )

    def factory(self, preset: str, values: Mapping[str, Any], **fields: Any) -> Callable[[], ChartInfo]:
        """:meth:`info` as a function of no argument, for ``attrs.field(factory=...)``.

        >>> make = ChartPresets("cache", chart="redis").factory("default", {})
        >>> make() is not make(), make().name
        (True, 'cache')
        """
        return functools.partial(self.info, preset, values, **fields)
