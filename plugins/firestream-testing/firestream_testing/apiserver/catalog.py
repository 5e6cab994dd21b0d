"""The resource types the emulator serves: built-ins plus CRD kinds added at run time.

The built-in catalogue (kinds, verbs, short names, scope, subresources) is the
discovery snapshot bundled with kmock (taken from a K3s cluster), minus groups
that are CRDs or aggregated APIs on a real cluster (Gateway API, metrics).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import kmock

__all__ = ["Catalog", "ResourceType"]

_SKIPPED_GROUPS = frozenset({"gateway.networking.k8s.io", "metrics.k8s.io"})
_DEFAULT_VERBS = (
    "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch",
)


@dataclass(frozen=True)
class ResourceType:
    """One served resource type (one group/version/plural)."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    verbs: tuple[str, ...] = _DEFAULT_VERBS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    from_crd: str | None = field(default=None, compare=False)  # the CRD's name, if any

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.group, self.version, self.plural)


class Catalog:
    """All resource types by (group, version, plural)."""

    def __init__(self, types: Iterable[ResourceType] = ()) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for rtype in types:
            self.add(rtype)

    @classmethod
    def builtin(cls) -> Catalog:
        """The built-in Kubernetes resource types (from kmock's bundled discovery)."""
        bundled = kmock.ResourcesArray()
        bundled.load_bundled()
        types = []
        for res in bundled:
            info = bundled[res]
            group, version, plural = str(res.group or ""), str(res.version), str(res.plural)
            if group in _SKIPPED_GROUPS or info.kind is None:
                continue
            types.append(ResourceType(
                group=group, version=version, plural=plural, kind=info.kind,
                namespaced=bool(info.namespaced), singular=info.singular or info.kind.lower(),
                verbs=tuple(sorted(info.verbs)), short_names=tuple(sorted(info.shortnames)),
                categories=tuple(sorted(info.categories)),
                subresources=tuple(sorted(info.subresources)),
            ))
        return cls(types)

    def add(self, rtype: ResourceType) -> None:
        self._types[rtype.key] = rtype

    def remove_crd(self, crd_name: str) -> list[ResourceType]:
        """Forget the types a CRD added; return them."""
        gone = [t for t in self._types.values() if t.from_crd == crd_name]
        for rtype in gone:
            del self._types[rtype.key]
        return gone

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._types.values()))

    def groups(self) -> dict[str, list[str]]:
        """Non-core group -> its versions (preferred first: the highest ``v1 > v1beta1``)."""
        found: dict[str, set[str]] = {}
        for rtype in self._types.values():
            if rtype.group:
                found.setdefault(rtype.group, set()).add(rtype.version)
        return {g: sorted(v, key=_version_priority) for g, v in sorted(found.items())}

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return sorted(
            (t for t in self._types.values() if t.group == group and t.version == version),
            key=lambda t: t.plural,
        )


def _version_priority(version: str) -> tuple[int, int, int]:
    """Sort key for Kubernetes versions: GA before beta before alpha, higher first."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0)
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor)
