"""The ``depends_on`` graph over a project's releases.

``build_graph(charts)`` turns each release's ``depends_on`` into a DAG with the
standard library's ``graphlib``. It refuses duplicate release names (so a
``depends_on`` entry is never ambiguous), unknown dependencies (naming both
releases and the config file) and cycles (naming the members in order, each
depending on the next). The graph gives the deploy order, the parallel
levels (longest-path depth, as helmfile's layers), transitive dependents and
dependencies, sub-graphs for targeted runs, and text / Graphviz ``dot`` /
Mermaid renderings.

Releases are identified by name. The scheduler does not wait for a whole
level: a release starts as soon as its own dependencies are done; levels are
for people reading the plan.
"""

from __future__ import annotations

import graphlib
import heapq
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from firestream_core.errors import CycleError, GraphError, UnknownDependencyError

FORMATS = ("text", "dot", "mermaid")
"""The renderings :meth:`ReleaseGraph.render` knows."""


class ReleaseGraph:
    """A DAG of release names; ``deps[name]`` are the releases ``name`` depends on.

    Node order is the order releases were given (the config file's order) and
    every listing keeps it, so output is stable.
    """

    def __init__(
        self,
        deps: Mapping[str, Sequence[str]],
        labels: Mapping[str, str] | None = None,
        source: str | None = None,
    ) -> None:
        self.deps: dict[str, tuple[str, ...]] = {n: tuple(dict.fromkeys(d)) for n, d in deps.items()}
        self.labels: dict[str, str] = dict(labels or {})
        self.source = source
        self._index = {n: i for i, n in enumerate(self.deps)}
        self._rdeps: dict[str, list[str]] = {n: [] for n in self.deps}
        for n, ds in self.deps.items():
            for d in ds:
                if d in self._rdeps:
                    self._rdeps[d].append(n)
        problems = find_problems(self.deps, source)
        if problems:
            raise problems[0] if len(problems) == 1 else GraphError(
                f"invalid depends_on{_where(source)}", [str(p) for p in problems]
            )

    # -- queries -------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """Every release, in the given order."""
        return list(self.deps)

    def __contains__(self, name: object) -> bool:
        return name in self.deps

    def __len__(self) -> int:
        return len(self.deps)

    def _sorter(self) -> graphlib.TopologicalSorter[str]:
        ts: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
        for n, ds in self.deps.items():
            ts.add(n, *ds)
        return ts

    def order(self) -> list[str]:
        """A deploy order: every release after its dependencies, ties in config order."""
        ts = self._sorter()
        ts.prepare()
        ready: list[tuple[int, str]] = []
        out: list[str] = []
        while ts.is_active():
            for n in ts.get_ready():
                heapq.heappush(ready, (self._index[n], n))
            _, n = heapq.heappop(ready)
            out.append(n)
            ts.done(n)
        return out

    def reverse_order(self) -> list[str]:
        """A destroy order: every release before the releases it depends on."""
        return list(reversed(self.order()))

    def depth(self) -> dict[str, int]:
        """Longest-path depth of each release (0 for releases with no dependencies)."""
        depth: dict[str, int] = {}
        for n in self.order():
            depth[n] = 1 + max((depth[d] for d in self.deps[n]), default=-1)
        return depth

    def levels(self) -> list[list[str]]:
        """Releases grouped by depth: a level needs only releases of earlier levels."""
        depth = self.depth()
        out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for n in self.deps:
            out[depth[n]].append(n)
        return out

    def dependencies(self, name: str) -> list[str]:
        """Every release ``name`` needs, directly or not, in config order."""
        return self._closure(name, self.deps)

    def dependents(self, name: str) -> list[str]:
        """Every release that needs ``name``, directly or not, in config order."""
        return self._closure(name, self._rdeps)

    def _closure(self, name: str, edges: Mapping[str, Sequence[str]]) -> list[str]:
        if name not in self.deps:
            raise KeyError(name)
        seen: set[str] = set()
        stack = list(edges[name])
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(edges[n])
        return sorted(seen, key=self._index.__getitem__)

    def subgraph(self, targets: Iterable[str], include_deps: bool = True) -> ReleaseGraph:
        """The graph restricted to ``targets`` (plus their dependencies when ``include_deps``).

        Dependencies left out are dropped from ``depends_on`` (the caller
        chose to run the targets alone). Unknown targets raise ``GraphError``.
        """
        wanted = list(dict.fromkeys(targets))
        unknown = [t for t in wanted if t not in self.deps]
        if unknown:
            raise GraphError(
                "unknown release" + ("s" if len(unknown) > 1 else "") + ": "
                + ", ".join(f"'{u}'" for u in unknown)
                + f" (releases: {', '.join(self.deps) or 'none'})"
            )
        keep = set(wanted)
        if include_deps:
            for t in wanted:
                keep.update(self.dependencies(t))
        deps = {n: [d for d in ds if d in keep] for n, ds in self.deps.items() if n in keep}
        return ReleaseGraph(deps, {n: v for n, v in self.labels.items() if n in keep}, self.source)

    # -- renderings ------------------------------------------------------------

    def render(self, fmt: str = "text") -> str:
        """The graph as ``text``, ``dot`` (Graphviz) or ``mermaid``."""
        if fmt == "text":
            return self.to_text()
        if fmt == "dot":
            return self.to_dot()
        if fmt == "mermaid":
            return self.to_mermaid()
        raise ValueError(f"unknown graph format {fmt!r}: expected one of {', '.join(FORMATS)}")

    def to_text(self) -> str:
        """The parallel levels, each release with what it depends on."""
        lines: list[str] = []
        for i, level in enumerate(self.levels(), 1):
            lines.append(f"level {i}:")
            for n in level:
                label = f" [{self.labels[n]}]" if n in self.labels else ""
                needs = f" (depends on {', '.join(self.deps[n])})" if self.deps[n] else ""
                lines.append(f"  {n}{label}{needs}")
        return "\n".join(lines) + ("\n" if lines else "")

    def to_dot(self) -> str:
        """Graphviz: an edge ``a -> b`` means ``b`` depends on ``a`` (deploy flows along edges)."""
        lines = ["digraph firestream {", "  rankdir=LR;", "  node [shape=box];"]
        for n in self.deps:
            label = f"{n}\\n{self.labels[n]}" if n in self.labels else n
            lines.append(f"  {_dot_id(n)} [label={_dot_id(label)}];")
        for n, ds in self.deps.items():
            for d in ds:
                lines.append(f"  {_dot_id(d)} -> {_dot_id(n)};")
        for level in self.levels():
            if len(level) > 1:
                lines.append("  { rank=same; " + " ".join(_dot_id(n) for n in level) + "; }")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def to_mermaid(self) -> str:
        """Mermaid flowchart for Markdown pages; an arrow points to the dependent release."""
        ids = {n: f"r{i}" for i, n in enumerate(self.deps)}
        lines = ["flowchart LR"]
        for n in self.deps:
            text = f"{n}<br/>{self.labels[n]}" if n in self.labels else n
            lines.append(f'  {ids[n]}["{_mermaid_text(text)}"]')
        for n, ds in self.deps.items():
            for d in ds:
                lines.append(f"  {ids[d]} --> {ids[n]}")
        return "\n".join(lines) + "\n"


def _where(source: str | None) -> str:
    return f" in {source}" if source else ""


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\\\\n", "\\n") + '"'


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def find_problems(deps: Mapping[str, Sequence[str]], source: str | None = None) -> list[GraphError]:
    """Every unknown dependency and, when there are none, the first cycle.

    Each problem is a ``GraphError`` (``UnknownDependencyError`` with
    ``release``/``missing`` or ``CycleError`` with ``cycle``), in config order.
    """
    problems: list[GraphError] = []
    for n, ds in deps.items():
        for d in ds:
            if d not in deps:
                problems.append(UnknownDependencyError(n, d, source))
    if problems:
        return problems
    cycle = _find_cycle(deps)
    if cycle:
        problems.append(CycleError(cycle, source))
    return problems


def destroyed_but_needed(charts: Iterable[Any]) -> dict[str, list[str]]:
    """Each release whose ``action`` is destroy -> the releases whose action is deploy that
    depend on it directly, in config order (releases nothing deployed needs are left out).

    ``charts`` are ``HelmChart``s or ``ChartInfo``s. A dependent whose action is
    destroy goes too (dependents first); one whose action is skip is left as it
    stands, which the user chose: neither is a problem. A deployed dependent
    would be upgraded after its dependency was uninstalled (the ``destroy``
    command refuses the same thing).

    >>> from firestream_core.model import ChartInfo, HelmAction
    >>> destroyed_but_needed([
    ...     ChartInfo(name="api", chart="a/api", action=HelmAction.DESTROY),
    ...     ChartInfo(name="web", chart="a/web", depends_on=["api"]),
    ...     ChartInfo(name="admin", chart="a/admin", depends_on=["api"], action=HelmAction.SKIP),
    ... ])
    {'api': ['web']}
    """
    from firestream_core.model import HelmAction

    infos = [getattr(c, "chart_info", c) for c in charts]
    destroyed = {i.name for i in infos if i.action is HelmAction.DESTROY}
    out: dict[str, list[str]] = {}
    for info in infos:
        if info.action is not HelmAction.DEPLOY:
            continue
        for dep in dict.fromkeys(info.depends_on):
            if dep in destroyed:
                out.setdefault(dep, []).append(info.name)
    order = {i.name: n for n, i in reversed(list(enumerate(infos)))}
    return {k: out[k] for k in sorted(out, key=order.__getitem__)}


def _find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle in depends-on direction, starting at its earliest release in config order."""
    ts: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for n, ds in deps.items():
        ts.add(n, *ds)
    try:
        ts.prepare()
    except graphlib.CycleError as exc:
        # graphlib lists each node before the node that depends on it; reverse it
        # so each member depends on the next, then rotate to the earliest release.
        members = list(reversed(exc.args[1][:-1]))
        index = {n: i for i, n in enumerate(deps)}
        start = min(range(len(members)), key=lambda i: index[members[i]])
        members = members[start:] + members[:start]
        return [*members, members[0]]
    return None


def build_graph(
    charts: Iterable[Any],
    source: str | None = None,
) -> ReleaseGraph:
    """The ``depends_on`` DAG of ``charts`` (``HelmChart``s or ``ChartInfo``s).

    :param charts: the project's releases, in config order.
    :param source: the config file, named in error messages.
    :raises GraphError: duplicate release names (several problems are listed
        in one ``GraphError``); ``UnknownDependencyError``; ``CycleError``.
    """
    deps: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    seen: dict[str, int] = {}
    dupes: list[str] = []
    for chart in charts:
        info = getattr(chart, "chart_info", chart)
        name = info.name
        if name in deps:
            seen[name] += 1
            if seen[name] == 2:
                dupes.append(name)
            continue
        seen[name] = 1
        deps[name] = list(info.depends_on)
        ctype = getattr(chart, "chart_type", None)
        try:
            ns = info.namespace_name
        except (ValueError, AttributeError):
            ns = ""
        labels[name] = "/".join(p for p in (ns, ctype if ctype and ctype != "generic" else "") if p)
    if dupes:
        raise GraphError(
            f"release names must be unique in a project{_where(source)} so that depends_on is unambiguous",
            [f"release '{d}' is defined {seen[d]} times" for d in dupes],
        )
    return ReleaseGraph(deps, {k: v for k, v in labels.items() if v}, source)
