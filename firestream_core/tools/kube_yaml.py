"""Kubernetes manifests read as Kubernetes reads them: YAML 1.2 core-schema scalars.

PyYAML's loaders follow YAML 1.1: a bare ``=`` is the ``value`` tag (which
``SafeLoader`` refuses with ``ConstructorError ... 'tag:yaml.org,2002:value'``),
``y`` / ``yes`` / ``no`` / ``on`` / ``off`` are booleans, ``012`` is octal,
``1:30`` is sexagesimal and ``2024-01-01`` a date. Real charts hold all of
these as *strings* (kube-prometheus-stack's CRDs have enum items written
``- =``; GitHub Actions-style ``on:`` keys; label values ``y``), and JSON,
which the API server speaks, has no dates. This module is the one place a
manifest, a CRD or an object body is parsed: ``crds``, the kubectl helpers,
``manifests`` (diff, drift, ``plan --hooks``) and the test kit's API
emulator all use :func:`load_all` / :func:`load`.

The scalars resolved implicitly are those of the YAML 1.2 core schema:
``null`` / ``Null`` / ``NULL`` / ``~`` / empty; ``true`` / ``True`` /
``TRUE`` / ``false`` / ``False`` / ``FALSE``; decimal, ``0o`` octal and
``0x`` hex integers; floats with ``.inf`` / ``.nan``; and the ``<<`` merge
key. Everything else plain is a string. Explicit tags (``!!str``,
``!!int``...) keep working.

helm and kubectl themselves read with go-yaml's YAML 1.1 rules: an unquoted
``y`` / ``on`` / ``no`` becomes a boolean where the field is not typed as a
string (a CRD's enum, a map key: ``on:`` is stored as ``"true"``), which is
why charts quote them. ``=`` is a string to both. So that what firestream
applies is what it read, :class:`~firestream_core.tools.kubectl.Kubectl`
hands kubectl JSON documents, never YAML it re-reads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import yaml

__all__ = ["KubeLoader", "YAMLError", "load", "load_all"]

YAMLError = yaml.YAMLError

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KubeLoader(_Base):  # type: ignore[misc]
    """A safe loader (libyaml's when present) resolving plain scalars by the YAML 1.2 core schema."""


KubeLoader.yaml_implicit_resolvers = {}

_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
KubeLoader.add_implicit_resolver("tag:yaml.org,2002:bool",
                                 re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
KubeLoader.add_implicit_resolver("tag:yaml.org,2002:null",
                                 re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
KubeLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
KubeLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
KubeLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


def _construct_bool(loader: Any, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith(("0o", "0x")):
        return int(text, 0)
    if not _INT.match(text):  # an explicit !!int: YAML 1.1 spellings (1_000, 0b1) are accepted too
        return int(text.replace("_", ""), 0)
    return int(text, 10)


def _construct_float(loader: Any, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).lower()
    if text.endswith(".inf"):
        return -math.inf if text.startswith("-") else math.inf
    if text.endswith(".nan"):
        return math.nan
    return float(text.replace("_", ""))


def _construct_str(loader: Any, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


KubeLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
KubeLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
KubeLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
# YAML 1.1's "value" and "timestamp" tags are never resolved implicitly here; written
# explicitly (``!!value``, ``!!timestamp``) they are read as the string they hold.
KubeLoader.add_constructor("tag:yaml.org,2002:value", _construct_str)
KubeLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_str)


def load(text: str | bytes) -> Any:
    """One YAML document (None when empty)."""
    return yaml.load(text, Loader=KubeLoader)  # noqa: S506 - KubeLoader is a safe loader


def load_all(text: str | bytes) -> Iterator[Any]:
    """Every document of a YAML stream, in order; empty documents come back as None."""
    return yaml.load_all(text, Loader=KubeLoader)  # noqa: S506 - KubeLoader is a safe loader
