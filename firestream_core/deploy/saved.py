"""Saved plans: ``firestream plan --out plan.json``, then ``firestream apply plan.json``.

The review-then-apply workflow of CI pipelines: one job writes the plan, a
person (or a policy) reviews it, a later job carries out exactly that plan.

The file holds what the plan decided and what it saw, never a value:

* per release: the action, the reasons, the destructive steps (secrets
  hidden), the digest of the release's whole desired state
  (:class:`~firestream_core.deploy.desired.DesiredState`), and the helm
  revision and status the plan saw (None when not installed);
* the targets, ``include_deps`` and the config file's path.

Applying it makes the plan again, now, and compares it with the file
(:func:`check_saved`). A release whose namespace, desired state digest,
cluster revision or status, or action differs is refused with a message naming the
release and what changed: the run carries out the saved plan exactly, or
nothing at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.errors import FirestreamError, PlanMismatchError

if TYPE_CHECKING:
    from firestream_core.deploy.plan import Change, Plan

__all__ = ["FORMAT", "SavedPlan", "check_saved", "read_saved", "saved_plan", "write_saved"]

FORMAT = "firestream-plan/1"
"""The ``format`` field of a saved plan file."""


@attrs.frozen
class SavedRelease:
    """One release of a saved plan: the decision and what it was made from (no value)."""

    name: str
    namespace: str
    action: str
    desired_digest: str | None
    revision: int | None
    status: str | None
    reasons: tuple[str, ...] = ()
    destructive: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.name, "namespace": self.namespace, "action": self.action,
            "desired_digest": self.desired_digest, "cluster": {"revision": self.revision, "status": self.status},
            "reasons": list(self.reasons), "destructive": list(self.destructive),
        }


@attrs.frozen
class SavedPlan:
    """A plan as written by ``firestream plan --out``."""

    config: str
    targets: tuple[str, ...]
    include_deps: bool
    destroy: bool
    releases: tuple[SavedRelease, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "config": self.config,
            "targets": list(self.targets),
            "include_deps": self.include_deps,
            "destroy": self.destroy,
            "releases": [r.to_dict() for r in self.releases],
        }


def _saved_release(change: Change) -> SavedRelease:
    inst = change.installed
    return SavedRelease(
        name=change.name,
        namespace=change.namespace,
        action=change.action,
        desired_digest=change.desired_digest,
        revision=inst.revision if inst is not None else None,
        status=inst.status if inst is not None else None,
        reasons=tuple(change.reasons),
        destructive=tuple(change.destructive),
    )


def saved_plan(plan: Plan, *, config: str | os.PathLike[str], include_deps: bool = False) -> SavedPlan:
    """What ``plan --out`` writes for ``plan``."""
    return SavedPlan(
        config=str(config),
        targets=tuple(plan.targets),
        include_deps=include_deps,
        destroy=plan.destroy,
        releases=tuple(_saved_release(c) for c in plan.releases),
    )


def write_saved(saved: SavedPlan, path: str | os.PathLike[str]) -> None:
    """Write the plan file atomically (a temporary file renamed into place)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(saved.to_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target)


def _problem(path: str, what: str) -> FirestreamError:
    return FirestreamError(f"{path}: not a saved firestream plan ({what})",
                           hint="write one with 'firestream plan --out FILE'")


def read_saved(path: str | os.PathLike[str]) -> SavedPlan:
    """Read a plan file; a readable :class:`FirestreamError` naming the file when it is not one."""
    name = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise FirestreamError(f"{name}: cannot read the saved plan ({exc.strerror})") from None
    except ValueError:
        raise _problem(name, "not JSON") from None
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise _problem(name, f"format is not {FORMAT!r}")
    try:
        releases = tuple(
            SavedRelease(
                name=str(r["release"]), namespace=str(r["namespace"]), action=str(r["action"]),
                desired_digest=r.get("desired_digest"),
                revision=(r.get("cluster") or {}).get("revision"),
                status=(r.get("cluster") or {}).get("status"),
                reasons=tuple(r.get("reasons") or ()), destructive=tuple(r.get("destructive") or ()),
            )
            for r in data["releases"]
        )
        return SavedPlan(config=str(data.get("config", "")), targets=tuple(data.get("targets") or ()),
                         include_deps=bool(data.get("include_deps")), destroy=bool(data.get("destroy")),
                         releases=releases)
    except (KeyError, TypeError, AttributeError) as exc:
        raise _problem(name, f"a release entry lacks {exc}") from None


def _release_problem(saved: SavedRelease, now: SavedRelease) -> str | None:
    where = f"release '{saved.name}'"
    if saved.namespace != now.namespace:
        return (f"{where}: its namespace changed since the plan was saved "
                f"(the plan has {saved.namespace}, the config now {now.namespace})")
    if (saved.revision, saved.status) != (now.revision, now.status):
        def seen(rev: int | None, status: str | None) -> str:
            return "not installed" if rev is None else f"revision {rev} ({status})"

        return (f"{where}: the cluster changed since the plan was saved "
                f"(the plan saw {seen(saved.revision, saved.status)}, now {seen(now.revision, now.status)})")
    if saved.desired_digest != now.desired_digest:
        return f"{where}: its desired state changed since the plan was saved (config, values, options or chart)"
    if saved.action != now.action or saved.destructive != now.destructive:
        return f"{where}: the plan now says {now.action}, the saved plan {saved.action}"
    return None


def check_saved(saved: SavedPlan, fresh: Plan) -> None:
    """Refuse ``fresh`` unless it is exactly ``saved``: same releases, digests, revisions, actions.

    :raises PlanMismatchError: naming the first release that differs and how
        (every difference is listed in the message).
    """
    now = {c.name: _saved_release(c) for c in fresh.releases}
    problems: list[str] = []
    for r in saved.releases:
        current = now.pop(r.name, None)
        if current is None:
            problems.append(f"release '{r.name}': no longer in the project")
            continue
        problem = _release_problem(r, current)
        if problem:
            problems.append(problem)
    problems += [f"release '{n}': not in the saved plan" for n in now]
    if problems:
        raise PlanMismatchError(
            "refusing to apply the saved plan: " + "; ".join(problems),
            release=problems[0].split("'")[1] if "'" in problems[0] else "",
            hint="make and review a new plan ('firestream plan --out FILE')",
        )
