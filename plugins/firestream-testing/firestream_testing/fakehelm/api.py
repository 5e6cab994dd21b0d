"""The fake helm's test side: :class:`FakeHelm` writes the script, configures and reads the state."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from firestream_testing.fakehelm.store import (
    CALLS_FILE,
    ENV_STATE,
    VERSIONS,
    Store,
    key,
    latest,
    now,
)

if TYPE_CHECKING:
    from firestream_core.tools.helm import Helm

_SCRIPT = """#!{python} -S
# firestream fake helm (firestream_testing.fakehelm); state in ${env}.
# -S: no site-packages scan at start-up (it costs more than the fake itself).
# The state folder is written in too: firestream gives its children an
# allow-listed environment (docs/secrets.md), which ${env} is not part of.
import os
import sys
os.environ.setdefault({env!r}, {state!r})
sys.path.insert(0, {root!r})
from firestream_testing.fakehelm.cli import main
sys.exit(main())
"""


class FakeCall(NamedTuple):
    """One call of the fake helm, from its log."""

    argv: tuple[str, ...]
    op: str
    release: str | None
    namespace: str | None
    start: float
    end: float
    exit: int


class FakeHelm:
    """The fake helm's binary, environment and state, for a test.

    :param root: a folder for the script and its state (created).
    :param major: the helm major version the fake reports (3 or 4).
    """

    def __init__(self, root: Path, major: int = 3) -> None:
        self.root = Path(root)
        self.state_dir = self.root / "state"
        self._store = Store(self.state_dir)
        self.binary = self.root / "helm"
        package_root = Path(__file__).resolve().parents[2]
        self.binary.write_text(_SCRIPT.format(python=sys.executable, env=ENV_STATE, root=str(package_root),
                                              state=str(self.state_dir)))
        self.binary.chmod(0o755)
        self.set_major(major)

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to use this fake (``FAKE_HELM_STATE``)."""
        return {ENV_STATE: str(self.state_dir)}

    def helm(self, **kwargs: Any) -> Helm:
        """A firestream :class:`~firestream_core.tools.helm.Helm` driving this fake."""
        from firestream_core.tools.helm import Helm

        env = {**self.env, **kwargs.pop("env", {})}
        return Helm(binary=self.binary, env=env, **kwargs)

    # -- configuring ---------------------------------------------------------------
    def set_major(self, major: int) -> None:
        """Make the fake report helm ``major`` (3 or 4), with that major's flags."""
        if major not in VERSIONS:
            raise ValueError(f"the fake helm knows majors {sorted(VERSIONS)}, not {major}")
        with self._store.locked() as state:
            state["major"] = major

    def set_delay(self, release: str, seconds: float) -> None:
        """Make upgrades/uninstalls/rollbacks of ``release`` take ``seconds`` (``"*"``: all)."""
        with self._store.locked() as state:
            state["delays"][release] = float(seconds)

    def set_manifest_extra(self, release: str, documents: str) -> None:
        """Add the YAML ``documents`` to the manifest of ``release``'s next revisions (its
        ``upgrade -o json``, ``get manifest``), after the fake's ConfigMap: e.g. a Deployment or a
        custom resource, to give the release something that may run pods."""
        with self._store.locked() as state:
            state["manifest_extra"][release] = documents

    def fail_on(self, release: str, op: str = "upgrade", message: str = "injected failure",
                times: int | None = None) -> None:
        """Make ``op`` (``upgrade``, ``uninstall``, ``rollback``, ``test``, ``template``,
        ``repo add``, ``registry login``, ``pull``; a chart that does not render:
        :meth:`fail_render`) fail for ``release`` (``"*"``: any) with
        ``message`` in helm's stderr; ``times`` limits how often (None: always)."""
        with self._store.locked() as state:
            state["failures"].append({"release": release, "op": op, "message": message, "times": times})

    def fail_render(self, release: str, message: str = "") -> None:
        """Make ``release``'s chart (``"*"``: every release's) fail to render with its values, as a
        chart's ``required`` does: every ``install`` / ``upgrade`` of it (a ``--dry-run`` too)
        and ``template`` fails, nothing recorded, with ``message`` as helm's reason (by default
        ``execution error at (CHART/templates/secret.yaml:7:15): A valid .Values.auth.password
        entry is required!``), the way the real helm words it. A message that is not a chart's
        error (``Kubernetes cluster unreachable: ...``) makes a rendering that fails for another
        reason."""
        with self._store.locked() as state:
            state["failures"].append({"release": release, "op": "render", "message": message, "times": None})

    def clear_failures(self) -> None:
        with self._store.locked() as state:
            state["failures"] = []

    def publish(self, ref: str, *versions: str) -> None:
        """Make the repository or OCI chart ``ref`` (``repo/chart``, ``oci://host/path/chart``)
        exist at ``versions`` (added to those published before): ``search repo``, ``show
        chart`` and an install with a version constraint (or none) pick among them as helm
        does. A chart nothing was published for exists at ``1.0.0`` only."""
        with self._store.locked() as state:
            known = state.setdefault("charts", {}).setdefault(ref, [])
            known.extend(v for v in versions if v not in known)

    def seed_release(
        self,
        name: str,
        namespace: str = "default",
        *,
        chart: str = "tiny-app",
        version: str = "0.1.0",
        status: str = "deployed",
        revision: int = 1,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """Put a release in the fake's state as if helm had left it (e.g. ``pending-install``).

        Earlier revisions (``1 .. revision-1``) are recorded as ``superseded``.
        """
        revisions = [
            {"revision": n, "status": "superseded", "chart": chart, "version": version,
             "app_version": "", "values": dict(values or {}), "updated": now(), "description": ""}
            for n in range(1, revision)
        ]
        revisions.append({"revision": revision, "status": status, "chart": chart, "version": version,
                          "app_version": "", "values": dict(values or {}), "updated": now(),
                          "description": "seeded by the test"})
        with self._store.locked() as state:
            state["releases"][key(namespace, name)] = {"name": name, "namespace": namespace,
                                                        "revisions": revisions}

    # -- reading -----------------------------------------------------------------------
    def call_log(self, op: str | None = None, *, release: str | None = None) -> list[FakeCall]:
        """Every call so far (oldest first by end time), optionally of one ``op`` / ``release``."""
        path = self.state_dir / CALLS_FILE
        if not path.exists():
            return []
        calls = []
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            d = json.loads(line)
            call = FakeCall(tuple(d["argv"]), d["op"], d.get("release"), d.get("namespace"),
                            float(d["start"]), float(d["end"]), int(d["exit"]))
            if (op is None or call.op == op) and (release is None or call.release == release):
                calls.append(call)
        return calls

    def calls(self, op: str | None = None) -> list[list[str]]:
        """The argument lists of every call (without the binary), optionally of one ``op``."""
        return [list(c.argv) for c in self.call_log(op)]

    def reset_calls(self) -> None:
        (self.state_dir / CALLS_FILE).unlink(missing_ok=True)

    def releases(self) -> list[dict[str, Any]]:
        """Every release: ``name``, ``namespace``, ``revision``, ``status``, ``chart``,
        ``version``, ``values`` (of the latest revision) and ``history`` (statuses)."""
        out = []
        for rel in self._store.read()["releases"].values():
            rev = latest(rel)
            out.append({
                "name": rel["name"], "namespace": rel["namespace"], "revision": rev["revision"],
                "status": rev["status"], "chart": rev["chart"], "version": rev["version"],
                "values": rev.get("values") or {},
                "history": [r["status"] for r in rel["revisions"]],
            })
        return sorted(out, key=lambda r: (r["namespace"], r["name"]))

    def release(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """One release as in :meth:`releases`, or None."""
        for r in self.releases():
            if r["name"] == name and (namespace is None or r["namespace"] == namespace):
                return r
        return None

    def repos(self, config: str | os.PathLike[str] | None = None) -> dict[str, str]:
        """Repositories added so far: name -> URL. The user's (added without
        ``$HELM_REPOSITORY_CONFIG``), or those of the ``repositories.yaml`` ``config`` (a
        firestream run's own: ``Helm.repository_home.config``)."""
        state = self._store.read()
        if config is None:
            return dict(state["repos"])
        return dict(state["repo_configs"].get(os.fspath(config), {}))

