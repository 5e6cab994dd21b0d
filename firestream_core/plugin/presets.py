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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from firestream_core.model import ChartValuesGenerated

__all__ = ["preset_values"]

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

