"""Saved plans: ``firestream plan --out plan.json``, then ``firestream apply plan.json``.

The review-then-apply workflow of CI pipelines: one job writes the plan, a
person (or a policy) reviews it, a later job carries out exactly that plan.

The file holds what the plan decided, what it saw and where, never a value:

* where it was made for: the environment (``-e``), the kube context and the
  server URL of its cluster (:mod:`~firestream_core.tools.kubeconfig`; no
  credential), the ``--set`` paths and ``--values`` files (relative to the
  project folder) it was made with: never a ``--set`` value;
* per release: its namespace, the action, the reasons, the destructive steps
  (secrets hidden), the digest of the release's whole desired state
  (:class:`~firestream_core.deploy.desired.DesiredState`) keyed with the
  project's plan key (:func:`plan_key`, an HMAC: the desired state covers the
  values, secrets included, and a plain digest would let whoever holds the file
  confirm a guessed password offline), and the helm revision and status the
  plan saw (None when not installed);
* the namespaces the plan creates, each with its releases and who creates it
  (``Plan.namespaces_to_create``);
* the targets, ``include_deps`` and the config file's path.

Applying it first checks, before any cluster call, that the run is for the
same environment, cluster and overrides (:func:`check_target`); then makes
the plan again, now, and compares it with the file (:func:`check_saved`). A
release whose namespace, desired state digest (a ``--set`` value given
differently included), cluster revision or status, action, or destructive steps (each
step that appeared or went named) differs is
refused with a message naming the release and what changed; so is a
namespace the plan now creates that the saved one did not list (deleted
since), or one it listed that now exists: the run carries out the saved plan
exactly, or nothing at all.

The format is versioned (:data:`FORMAT`); a file of an older format (the first
recorded neither the environment nor the cluster, the second not the
namespaces it creates, the third plain digests) is refused with a message saying to plan again.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.errors import FirestreamError, PlanMismatchError
from firestream_core.graph import ReleaseGraph
from firestream_core.tools.kubeconfig import ClusterIdentity

if TYPE_CHECKING:
    from firestream_core.deploy.plan import Change, Plan

__all__ = ["FORMAT", "PLAN_KEY", "PLAN_KEY_ENV", "SavedPlan", "apply_command", "check_key", "check_saved", "check_target",
           "check_unchanged", "key_id", "keyed_digest", "plan_key", "read_saved", "saved_plan", "unseen_changes",
           "write_saved"]

FORMAT = "firestream-plan/4"
"""The ``format`` field of a saved plan file (2: the environment, cluster and overrides recorded;
3: the namespaces the plan creates; 4: the desired-state digests keyed with :func:`plan_key`)."""

_MISSING = {1: "the environment, kube context and overrides it was made for",
            2: "the namespaces it creates", 3: "its desired-state digests keyed with the project's plan key"}
"""What a file of an older format does not record (named when it is refused)."""

PLAN_KEY = "plan.key"
"""The project's plan key, in its ``.firestream`` folder beside the state (mode 0600)."""

PLAN_KEY_ENV = "FIRESTREAM_PLAN_KEY"
"""The plan key given in the environment (hex), instead of the file: a CI job's secret."""

_PREFIX = "firestream-plan/"


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
    """A plan as written by ``firestream plan --out``.

    ``values_files``: the ``--values`` files, relative to the project folder
    (``/``-separated); ``set_keys``: the ``--set`` paths, never their values.
    """

    config: str
    targets: tuple[str, ...]
    include_deps: bool
    destroy: bool
    releases: tuple[SavedRelease, ...]
    environment: str | None = None
    cluster: ClusterIdentity = ClusterIdentity(None, None)
    set_keys: tuple[str, ...] = ()
    values_files: tuple[str, ...] = ()
    namespaces: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    """``(namespace, ((release, created_by), ...))`` of each namespace the plan creates."""
    key_id: str | None = None
    """Which plan key the digests were keyed with (:func:`key_id`; tells a wrong key from a change)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "config": self.config,
            "environment": self.environment,
            "kube": {"context": self.cluster.context, "server": self.cluster.server},
            "overrides": {"set": list(self.set_keys), "values": list(self.values_files)},
            "targets": list(self.targets),
            "include_deps": self.include_deps,
            "destroy": self.destroy,
            "releases": [r.to_dict() for r in self.releases],
            "namespaces_to_create": [{"namespace": ns, "releases": [{"release": r, "created_by": by} for r, by in rs]}
                                     for ns, rs in self.namespaces],
            "key_id": self.key_id,
        }


def _namespaces(plan: Plan) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    return tuple((n.name, tuple(n.releases)) for n in getattr(plan, "namespaces_to_create", ()))


def keyed_digest(key: bytes | None, digest: str | None) -> str | None:
    """``digest`` keyed with ``key`` (``hmac-sha256:<hex>``), as a saved plan records it; as it is
    without a key (the plan shown and the plan made again after the prompt, both in memory).

    >>> keyed_digest(b"k" * 32, "sha256:00")[:20], keyed_digest(None, "sha256:00")
    ('hmac-sha256:7a829e03', 'sha256:00')
    """
    if key is None or digest is None:
        return digest
    import hmac

    from firestream_core.tools.digest import sha256

    return "hmac-sha256:" + hmac.new(key, digest.encode(), sha256).hexdigest()


def key_id(key: bytes) -> str:
    """What a saved plan records of the key its digests were keyed with: enough to tell that
    another key is given (a plan made in another folder), nothing of the key itself.

    >>> key_id(b"k" * 32) == key_id(b"k" * 32) != key_id(b"j" * 32)
    True
    """
    return str(keyed_digest(key, "firestream-plan-key"))[:len("hmac-sha256:") + 16]


def _key_from_hex(text: str, where: str, hint: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) < 16:
        raise FirestreamError(f"{where}: not a plan key (hex, at least 16 bytes)", hint=hint)
    return key


def plan_key(project_dir: str | os.PathLike[str], *, create: bool,
             environ: Mapping[str, str] | None = None) -> bytes:
    """The project's plan key: what a saved plan's digests are keyed with (:func:`keyed_digest`).

    ``$FIRESTREAM_PLAN_KEY`` (hex) when set (a CI job's secret; no child sees it: it is not
    on the child environment's allow-list), else ``.firestream/plan.key`` (32 random bytes,
    hex, mode 0600). ``create``: the file is made when missing (``plan --out``); else a
    missing key is refused, naming the file (``apply PLAN``).

    :raises FirestreamError: the key is missing (and not to be made), unreadable or not a key.
    """
    from firestream_core.state.lock import STATE_DIR, make_state_dir
    from firestream_core.tools.readfile import LOCK_FILE_LIMIT, UnreadableFile, read_bounded

    given = (os.environ if environ is None else environ).get(PLAN_KEY_ENV, "")
    if given.strip():
        return _key_from_hex(given, f"${PLAN_KEY_ENV}",
                             "give the hex of .firestream/plan.key, or unset it to use that file")
    folder = Path(project_dir) / STATE_DIR
    path = folder / PLAN_KEY
    if create and not path.exists():
        import secrets

        make_state_dir(folder, "plan key")
        tmp = folder / f".{PLAN_KEY}.{os.getpid()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(32) + "\n")
            with contextlib.suppress(FileExistsError):  # another run made it first: theirs is kept
                os.link(tmp, path)
        except OSError as exc:
            raise FirestreamError(f"cannot write the plan key {path}: {exc.strerror or exc}",
                                  hint="make the project folder writable") from None
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
    try:
        text = read_bounded(path, LOCK_FILE_LIMIT).decode("ascii", "replace").strip()
    except UnreadableFile as exc:
        if exc.missing:
            raise FirestreamError(
                f"cannot check the saved plan: the project's plan key {path} is missing",
                hint="a saved plan is checked with the key of the project folder it was made in: copy "
                     f"{STATE_DIR}/{PLAN_KEY} from there (mode 0600; keep it apart from the plan, as a CI "
                     f"secret, or give its hex as ${PLAN_KEY_ENV}), or make and review a new plan here "
                     "('firestream plan --out FILE')") from None
        raise FirestreamError(f"cannot read the plan key {path} ({exc.reason})") from None
    return _key_from_hex(text, str(path), "move it aside: 'firestream plan --out FILE' makes a new one")


def check_key(saved: SavedPlan, key: bytes, name: str) -> None:
    """Refuse ``key`` when ``saved`` was keyed with another one (a plan made in another project
    folder, or a copied key of another project): its digests could only all differ.

    :raises FirestreamError: naming the plan file and where the key was looked for.
    """
    if saved.key_id is not None and saved.key_id != key_id(key):
        raise FirestreamError(
            f"{name}: the saved plan was made with another plan key than this project's "
            f"({PLAN_KEY_ENV} or .firestream/{PLAN_KEY}): it cannot be checked here; nothing was applied",
            hint=f"give the key of the project folder the plan was made in (${PLAN_KEY_ENV}, or copy its "
                 f".firestream/{PLAN_KEY}), or make and review a new plan here ('firestream plan --out FILE')")


def _saved_release(change: Change, key: bytes | None = None) -> SavedRelease:
    inst = change.installed
    return SavedRelease(
        name=change.name,
        namespace=change.namespace,
        action=change.action,
        desired_digest=keyed_digest(key, change.desired_digest),
        revision=inst.revision if inst is not None else None,
        status=inst.status if inst is not None else None,
        reasons=tuple(change.reasons),
        destructive=tuple(change.destructive),
    )


def saved_plan(
    plan: Plan,
    *,
    config: str | os.PathLike[str],
    include_deps: bool = False,
    environment: str | None = None,
    cluster: ClusterIdentity | None = None,
    set_keys: Iterable[str] = (),
    values_files: Iterable[str] = (),
    key: bytes | None = None,
) -> SavedPlan:
    """What ``plan --out`` writes for ``plan``, made for ``environment`` against ``cluster`` with
    the ``--set`` paths ``set_keys`` and the ``--values`` files ``values_files`` (relative to
    the project folder), its digests keyed with ``key`` (:func:`plan_key`; the project's
    ``save_plan`` always gives it)."""
    return SavedPlan(
        config=str(config),
        targets=tuple(plan.targets),
        include_deps=include_deps,
        destroy=plan.destroy,
        releases=tuple(_saved_release(c, key) for c in plan.releases),
        key_id=None if key is None else key_id(key),
        environment=environment,
        cluster=cluster or ClusterIdentity(None, None),
        set_keys=tuple(set_keys),
        values_files=tuple(values_files),
        namespaces=_namespaces(plan),
    )


def write_saved(saved: SavedPlan, path: str | os.PathLike[str]) -> None:
    """Write the plan file atomically (a temporary file renamed into place, beside it), mode
    0600 as every file holding a digest of the values (the state's ``STATE_MODE``): a digest
    of a weak secret can be confirmed offline by whoever reads it.

    :raises FirestreamError: the file cannot be written (a folder of that name, a missing or
        read-only folder, a full disk), naming it; no temporary file is left behind.
    """
    target = Path(path)
    if target.is_dir():
        raise FirestreamError(f"cannot write the plan to {path}: it is a folder",
                              hint="name a file: firestream plan --out FILE")
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)  # a leftover temporary file keeps its mode through O_CREAT
            fh.write(json.dumps(saved.to_dict(), indent=2) + "\n")
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise FirestreamError(
            f"cannot write the plan to {path}: {exc.strerror or exc}",
            hint="name a file in a folder that exists and is writable",
        ) from None


def _problem(path: str, what: str) -> FirestreamError:
    return FirestreamError(f"{path}: not a saved firestream plan ({what})",
                           hint="write one with 'firestream plan --out FILE'")


def read_saved(path: str | os.PathLike[str]) -> SavedPlan:
    """Read a plan file; a readable :class:`FirestreamError` naming the file when it is not one."""
    from firestream_core.tools.readfile import PLAN_FILE_LIMIT, UnreadableFile, read_bounded

    name = str(path)
    try:
        data = json.loads(read_bounded(path, PLAN_FILE_LIMIT))
    except UnreadableFile as exc:
        raise FirestreamError(f"{name}: cannot read the saved plan ({exc.reason})") from None
    except ValueError:
        raise _problem(name, "not JSON") from None
    if not isinstance(data, Mapping):
        raise _problem(name, f"format is not {FORMAT!r}")
    _check_format(name, data.get("format"))
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
    except (KeyError, TypeError, AttributeError) as exc:
        raise _problem(name, f"a release entry lacks {exc}") from None
    kube = data.get("kube")
    overrides = data.get("overrides")
    if not isinstance(kube, Mapping) or not isinstance(overrides, Mapping):
        raise _problem(name, "'kube' and 'overrides' must be objects")
    environment, context, server = data.get("environment"), kube.get("context"), kube.get("server")
    set_keys, values_files = overrides.get("set", []), overrides.get("values", [])
    if not all(v is None or isinstance(v, str) for v in (environment, context, server)):
        raise _problem(name, "'environment', 'kube.context' and 'kube.server' must be strings or null")
    if not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in (set_keys, values_files)):
        raise _problem(name, "'overrides.set' and 'overrides.values' must be lists of strings")
    try:
        namespaces = tuple(
            (str(n["namespace"]), tuple((str(r["release"]), str(r["created_by"])) for r in n["releases"]))
            for n in data["namespaces_to_create"]
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise _problem(name, f"'namespaces_to_create' lacks {exc}") from None
    key = data.get("key_id")
    if key is not None and not isinstance(key, str):
        raise _problem(name, "'key_id' must be a string or null")
    return SavedPlan(config=str(data.get("config", "")), targets=tuple(data.get("targets") or ()),
                     include_deps=bool(data.get("include_deps")), destroy=bool(data.get("destroy")),
                     releases=releases, environment=environment, cluster=ClusterIdentity(context, server),
                     set_keys=tuple(set_keys), values_files=tuple(values_files), namespaces=namespaces,
                     key_id=key)


def _check_format(name: str, fmt: object) -> None:
    """Refuse a file of another format: an older one cannot be checked, a newer one is unknown."""
    if fmt == FORMAT:
        return
    version = fmt[len(_PREFIX):] if isinstance(fmt, str) and fmt.startswith(_PREFIX) else ""
    if not version.isdigit():
        raise _problem(name, f"format is not {FORMAT!r}")
    if int(version) < int(FORMAT[len(_PREFIX):]):
        missing = _MISSING.get(int(version), _MISSING[1])
        raise FirestreamError(
            f"{name}: a saved plan of an older firestream (format {fmt!r}): it does not record "
            f"{missing}, so this run cannot be checked against it; nothing was applied",
            hint="make and review the plan again: 'firestream plan --out FILE'")
    raise FirestreamError(
        f"{name}: a saved plan of a newer firestream (format {fmt!r}); this one reads {FORMAT!r}",
        hint="apply it with the firestream that wrote it, or make the plan again with this one")


def _overrides(set_keys: Sequence[str], values_files: Sequence[str]) -> str:
    return ", ".join([*(f"--set {k}" for k in set_keys), *(f"--values {f}" for f in values_files)])


def apply_command(
    saved: SavedPlan,
    plan_file: str | os.PathLike[str],
    *,
    flags: Sequence[str] = (),
    values_files: Sequence[str] | None = None,
) -> str:
    """The ``firestream apply`` command line that carries ``saved`` out: its ``-e``, each
    ``--set`` path with ``<value>`` for its value (never the value), its ``--values`` files.

    :param flags: more options first (``-f``, ``--kubeconfig``, ``--kube-context``), as given.
    :param values_files: the ``--values`` files as this command's reader would write them
        (default: as recorded, relative to the project folder).

    >>> plan = SavedPlan("firestream.toml", (), False, False, (), environment="prod",
    ...                  set_keys=("image.tag",), values_files=("over.yaml",))
    >>> apply_command(plan, "prod.plan")
    'firestream apply -e prod --set image.tag=<value> --values over.yaml prod.plan'
    """
    import shlex

    parts = ["firestream", "apply", *(shlex.quote(f) for f in flags)]
    if saved.environment:
        parts += ["-e", shlex.quote(saved.environment)]
    parts += [f"--set {shlex.quote(k)}=<value>" for k in saved.set_keys]
    files = saved.values_files if values_files is None else values_files
    parts += [f"--values {shlex.quote(f)}" for f in files]
    parts.append(shlex.quote(os.fspath(plan_file)))
    return " ".join(parts)


def check_target(
    saved: SavedPlan,
    *,
    environment: str | None,
    cluster: ClusterIdentity,
    set_keys: Sequence[str],
    values_files: Sequence[str],
    command: str,
) -> None:
    """Refuse a run for another environment, cluster or overrides than ``saved`` was made for.

    Made before the plan is made again: nothing of the cluster is read or changed.

    :param values_files: this run's ``--values`` files, relative to the project folder.
    :param command: the command to run instead (:func:`apply_command`), for the hint.
    :raises PlanMismatchError: every difference in one message.
    """
    def env(name: str | None) -> str:
        return f"environment '{name}'" if name else "no environment"

    problems = []
    if saved.environment != environment:
        problems.append(f"the plan was made for {env(saved.environment)}, this run is for {env(environment)}")
    if saved.cluster != cluster:
        problems.append(f"the plan was made against {saved.cluster.describe()}, "
                        f"this run uses {cluster.describe()}")
    if (tuple(saved.set_keys), tuple(saved.values_files)) != (tuple(set_keys), tuple(values_files)):
        problems.append(f"the plan was made with {_overrides(saved.set_keys, saved.values_files) or 'no overrides'}, "
                        f"this run has {_overrides(set_keys, values_files) or 'none'}")
    if not problems:
        return
    notes = [*(["the --set values it was made with"] if saved.set_keys else []),
             *(["the kubeconfig it was made with"] if saved.cluster.context == cluster.context
               and saved.cluster != cluster else [])]
    raise PlanMismatchError(
        "refusing to apply the saved plan: " + "; ".join(problems),
        hint=f"carry it out with: {command}" + (f" ({', '.join(notes)})" if notes else "")
        + "; or make and review a new plan ('firestream plan --out FILE')",
    )


def _release_problem(saved: SavedRelease, now: SavedRelease, since: str = "saved",
                     where: str | None = None) -> str | None:
    """What differs between the release as the plan had it and as it is now (None: nothing),
    said of ``where`` (``release '<name>'``)."""
    where = where or f"release '{saved.name}'"
    if saved.namespace != now.namespace:
        return (f"{where}: its namespace changed since the plan was {since} "
                f"(the plan has {saved.namespace}, the config now {now.namespace})")
    if (saved.revision, saved.status) != (now.revision, now.status):
        def seen(rev: int | None, status: str | None) -> str:
            return "not installed" if rev is None else f"revision {rev} ({status})"

        return (f"{where}: the cluster changed since the plan was {since} "
                f"(the plan saw {seen(saved.revision, saved.status)}, now {seen(now.revision, now.status)})")
    if saved.desired_digest != now.desired_digest:
        return f"{where}: its desired state changed since the plan was {since} (config, values, options or chart)"
    if saved.action != now.action:
        return f"{where}: the plan now says {now.action}, the {'earlier' if since == 'made' else since} plan {saved.action}"
    if saved.destructive != now.destructive:
        added = [s for s in now.destructive if s not in saved.destructive]
        gone = [s for s in saved.destructive if s not in now.destructive]
        said = "; ".join([*(f"now also: {s}" for s in added), *(f"no longer: {s}" for s in gone)]
                         or ["the same steps in another order"])
        return f"{where}: its {now.action}'s destructive steps changed since the plan was {since} ({said})"
    return None


def check_saved(saved: SavedPlan, fresh: Plan, *, key: bytes | None = None) -> None:
    """Refuse ``fresh`` unless it is exactly ``saved``: same releases, digests, revisions, actions.

    ``key``: what ``saved``'s digests were keyed with (:func:`plan_key`).

    :raises PlanMismatchError: naming the first release that differs and how
        (every difference is listed in the message).
    """
    _check_same(saved.releases, fresh, "saved", "refusing to apply the saved plan: ",
                "make and review a new plan ('firestream plan --out FILE')", saved.namespaces, key=key)


def check_unchanged(shown: Plan, fresh: Plan, *, command: str = "apply") -> None:
    """Refuse ``fresh``, the plan made again after the user confirmed ``shown``, unless it is
    exactly ``shown``: what ``firestream apply`` (``destroy``) checks after its prompt, for the
    minutes a person may spend reading the plan (another firestream run waits for the lock,
    but not a ``helm`` or ``kubectl`` run by hand, nor an edited values file).

    :raises PlanMismatchError: naming each release that differs and how.

    >>> from firestream_core.deploy.plan import Change, Plan
    >>> shown = Plan(releases=(Change("web", "apps", "generic", "create", ("not deployed",)),), deps={"web": ()})
    >>> check_unchanged(shown, shown)
    >>> moved = Plan(releases=(Change("web", "web", "generic", "create", ("not deployed",)),), deps={"web": ()})
    >>> check_unchanged(shown, moved)
    Traceback (most recent call last):
    ...
    firestream_core.errors.PlanMismatchError: refusing to apply the plan shown: release 'web': its namespace changed since the plan was shown (the plan has apps, the config now web)
    """
    # a release the plan shown refused (a chart that does not render, an immutable field) is
    # refused now too, and one it let through is not refused now: apply does what was shown
    refused = {c.name for c in shown.releases if c.problems}
    turned = [f"release '{c.name}': the plan shown " + ("refused it, now it is not refused" if c.name in refused
                                                        else "did not refuse it, now it is refused")
              for c in fresh.releases if (c.name in refused) != bool(c.problems)
              and any(s.name == c.name for s in shown.releases)]
    _check_same(tuple(_saved_release(c) for c in shown.releases), fresh, "shown",
                f"refusing to {command} the plan shown: ",
                f"run 'firestream {command}' again to see the plan as things are now", _namespaces(shown),
                extra=turned)


def unseen_changes(made: Plan, fresh: Plan) -> dict[str, str]:
    """Per release ``made`` changes, why carrying it out now would do what ``made`` did not show:
    ``fresh``, the same releases planned again now, saw another helm revision or status (a
    release installed, upgraded, rolled back or uninstalled by hand since), decides another
    action, or takes a destructive step ``made`` did not show; the same of a release it depends
    on that ``made`` leaves as it is (a change runs only once those are deployed, as ``made``
    saw them be); or a namespace ``fresh`` creates that ``made`` did not (deleted since). What ``Project.apply(plan)`` checks of a plan a program made
    earlier; a run stops each release named before any change of it. Its desired state is
    not compared here: the run compares it release by release as it deploys it (its files,
    its chart), and deploys the values and the version the plan computed.

    >>> from firestream_core.deploy.plan import Change, Plan
    >>> from firestream_core.model import InstalledRelease
    >>> made = Plan(releases=(Change("web", "apps", "generic", "create"),), deps={"web": ()})
    >>> seen = InstalledRelease("web", "apps", revision=1, status="deployed", chart="app-1.0.0")
    >>> now = Plan(releases=(Change("web", "apps", "generic", "upgrade", installed=seen),), deps={"web": ()})
    >>> unseen_changes(made, made)
    {}
    >>> unseen_changes(made, now)["web"]
    "release 'web': the cluster changed since the plan was made (the plan saw not installed, now revision 1 (deployed))"
    """
    now = {c.name: c for c in fresh.releases}
    created = {ns for ns, _ in _namespaces(made)}
    under: dict[str, set[str]] = {}  # what each change depends on, however indirectly (a destroy: none)
    if not made.destroy:
        graph = ReleaseGraph(made.deps)
        under = {c.name: set(graph.dependencies(c.name)) if c.name in graph else set() for c in made.changes}
    needed: set[str] = set().union(*under.values())
    found: dict[str, tuple[SavedRelease, SavedRelease]] = {}  # what the plan had, what is now
    out: dict[str, str] = {}
    for change in made.releases:
        current = now.get(change.name)
        if current is None or not (change.is_change or change.name in needed):
            continue  # not the project's (refused before: Project._check_plan_releases), or not needed
        was, is_ = _saved_release(change), _saved_release(current)
        same: dict[str, Any] = {"namespace": was.namespace, "desired_digest": was.desired_digest}
        if change.reason.startswith("drift repair:"):  # the plan turned a no-op into an upgrade
            same["action"] = was.action
        if set(is_.destructive) <= set(was.destructive):  # a step more is unseen; one fewer (the CRDs
            same["destructive"] = was.destructive       # a rendered plan found) is not done unseen
        is_ = attrs.evolve(is_, **same)
        problem = _release_problem(was, is_, "made")
        if problem and change.is_change:
            out[change.name] = problem
        elif problem:  # one the plan leaves as it is: said of the changes depending on it
            found[change.name] = (was, is_)
    for name, deps in under.items():
        gone = sorted(deps & found.keys())
        if name not in out and gone:
            out[name] = str(_release_problem(
                *found[gone[0]], "made", where=f"release '{name}': its dependency '{gone[0]}' (which the plan "
                                               "leaves as it is)"))
    for ns, releases in _namespaces(fresh):
        for name, _ in releases:
            if ns not in created and name not in out and name in made:
                out[name] = (f"release '{name}': the plan now creates its namespace '{ns}', "
                             "the earlier plan did not (deleted since)")
    return out


def _namespace_problems(
    before: Sequence[tuple[str, tuple[tuple[str, str], ...]]],
    now: Sequence[tuple[str, tuple[tuple[str, str], ...]]], since: str,
) -> list[str]:
    """How the namespaces the plan creates differ: one the plan now creates that the earlier
    one did not list (deleted since: apply would make a namespace nobody was shown), one it
    listed that exists now, or another release or creator for one."""
    was, is_ = dict(before), dict(now)
    out = []
    for ns, rs in is_.items():
        if ns not in was:
            out.append(f"namespace '{ns}': the plan now creates it (for {', '.join(r for r, _ in rs)}), "
                       f"the {since} plan did not")
        elif was[ns] != rs:
            out.append(f"namespace '{ns}': the plan now creates it for {_who(rs)}, the {since} plan for {_who(was[ns])}")
    out += [f"namespace '{ns}': the {since} plan creates it, it exists now" for ns in was if ns not in is_]
    return out


def _who(releases: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{r} ({by})" for r, by in releases)


def _check_same(releases: Sequence[SavedRelease], fresh: Plan, since: str, refusing: str, hint: str,
                namespaces: Sequence[tuple[str, tuple[tuple[str, str], ...]]] = (),
                extra: Sequence[str] = (), key: bytes | None = None) -> None:
    now = {c.name: _saved_release(c, key) for c in fresh.releases}
    problems: list[str] = []
    for r in releases:
        current = now.pop(r.name, None)
        if current is None:
            problems.append(f"release '{r.name}': no longer in the project")
            continue
        problem = _release_problem(r, current, since)
        if problem:
            problems.append(problem)
    problems += [f"release '{n}': not in the {since} plan" for n in now]
    problems += _namespace_problems(namespaces, _namespaces(fresh), since)
    named = {p.split("'")[1] for p in problems if p.startswith("release '")}
    problems += [p for p in extra if p.split("'")[1] not in named]
    if problems:
        raise PlanMismatchError(
            refusing + "; ".join(problems),
            release=next((p.split("'")[1] for p in problems if p.startswith("release '")), ""),
            hint=hint,
        )
