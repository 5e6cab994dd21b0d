"""Release selection: helmfile's label selectors over the releases' ``labels``.

A selector is ``key=value`` or ``key!=value`` terms joined by commas (all must
hold); several selectors (``-l a=b -l c=d``) select the releases any of them
matches. Every release also carries the labels ``name``, ``namespace``,
``chart`` and ``type`` (its chart type), as in helmfile. ``labels`` come from
``[defaults]`` and the release (the release's own win).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import attrs

from firestream_core.errors import SelectorError

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]*$")


@attrs.frozen
class Term:
    key: str
    value: str
    negate: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        equal = labels.get(self.key) == self.value
        return not equal if self.negate else equal

    def __str__(self) -> str:
        return f"{self.key}{'!=' if self.negate else '='}{self.value}"


@attrs.frozen
class Selector:
    """One ``-l`` argument: every term must match."""

    terms: tuple[Term, ...]
    text: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(t.matches(labels) for t in self.terms)


def parse_selector(text: str) -> Selector:
    """``tier=db,name!=api`` -> a :class:`Selector`.

    :raises SelectorError: an empty term, a term without ``=``/``!=`` or a bad key.
    """
    terms = []
    for raw in text.split(","):
        part = raw.strip()
        m = re.fullmatch(r"([^=!]+)(!=|=)(.*)", part)
        if not m or not _KEY.match(m.group(1).strip()):
            raise SelectorError(
                f"invalid selector {text!r}: expected key=value or key!=value terms joined by commas",
                hint="e.g. -l tier=db or -l tier=app,name!=web",
            )
        terms.append(Term(m.group(1).strip(), m.group(3).strip(), m.group(2) == "!="))
    return Selector(tuple(terms), text)


def release_labels(
    own: Mapping[str, str] | None,
    defaults: Mapping[str, str] | None,
    *,
    name: str,
    namespace: str,
    chart: str,
    chart_type: str,
) -> dict[str, str]:
    """A release's labels: ``[defaults]``, then its own, then the implicit ones."""
    out = {**(defaults or {}), **(own or {})}
    out.update(name=name, namespace=namespace, chart=chart, type=chart_type)
    return out


def select(labels: Mapping[str, Mapping[str, str]], selectors: Sequence[str]) -> list[str]:
    """The releases (keys of ``labels``, their order kept) any selector matches.

    :raises SelectorError: a selector is invalid or matches no release.
    """
    parsed = [parse_selector(s) for s in selectors]
    out = [name for name, ls in labels.items() if any(p.matches(ls) for p in parsed)]
    if not out:
        shown = " or ".join(repr(s) for s in selectors)
        raise SelectorError(f"no release matches the selector {shown}",
                            hint="'firestream plan' lists the releases; labels are set with labels = {...}")
    return out


def expand(
    names: Iterable[str],
    dependencies: Mapping[str, Sequence[str]],
    dependents: Mapping[str, Sequence[str]],
    *,
    include_deps: bool,
    include_dependents: bool,
) -> list[str]:
    """``names`` plus, on request, every release they need and every release that needs them."""
    out = list(dict.fromkeys(names))
    for n in list(out):
        if include_deps:
            out.extend(dependencies.get(n, ()))
        if include_dependents:
            out.extend(dependents.get(n, ()))
    return list(dict.fromkeys(out))
