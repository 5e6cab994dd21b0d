"""Apply never does what the plan did not say: an invariant over many generated projects (issue 11, point 4).

Each generated project is a random DAG of releases (generic releases and
releases of a chart type whose options become values in ``contribute_values``
or act after helm only), deployed on the recording fake helm with a
recording kubectl. Then, round after round, the config changes at random
(values, options, chart versions, helm settings, breaking versions with and
without ``requires_uninstall`` and pre-upgrade commands, ``action =
"destroy"``), sometimes a release is left ``pending-upgrade`` as by a killed
helm, the plan is made, the cluster drifts at random (an out-of-band
upgrade with other values, an out-of-band uninstall) and the plan is
applied. After every apply:

* every helm mutation (``upgrade``/``install``/``uninstall``/``rollback``)
  and every kubectl mutation the run performed belongs to a change of the
  plan, in the order the plan's action implies: ``create``/``upgrade`` ->
  its pre-upgrade commands then one ``upgrade``; ``reinstall`` -> the
  commands, ``uninstall``, ``upgrade``; ``recover`` -> ``rollback`` or
  ``uninstall`` then ``upgrade``; ``destroy`` -> ``uninstall``; ``no-op`` ->
  nothing. A release that failed (drift can make helm refuse) performed a
  prefix of that sequence, never anything else;
* the kubectl commands run are exactly the destructive steps the plan listed.

Deterministic: the generator's seeds are fixed, so a failure reproduces.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from firestream_testing.fakehelm import FakeHelm

from firestream_core.deploy.plan import Plan
from firestream_core.plugin.manager import get_plugin_manager
from firestream_core.project import Project

from .conftest import write_config

PROJECTS = 10
"""Generated projects."""
ROUNDS = 3
"""Random change rounds per project, after the first apply."""

VERSIONS = ("0.1.0", "0.2.0", "1.0.0", "2.0.0")
HELM_MUTATIONS = {"install", "upgrade", "uninstall", "rollback"}
KUBECTL_MUTATIONS = {"apply", "create", "delete", "replace", "patch", "label", "annotate", "scale"}

RECORDING_KUBECTL = """#!{python} -S
# kubectl for the invariant test: answers an empty list, records every call
import json, sys
with open({log!r}, "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
print(json.dumps({{"apiVersion": "v1", "kind": "List", "items": []}}))
"""


def recording_kubectl(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "kubectl-calls.jsonl"
    path = folder / "kubectl"
    path.write_text(RECORDING_KUBECTL.format(python=sys.executable, log=str(log)))
    path.chmod(0o755)
    return path, log


# -- the generated project -------------------------------------------------------------------------


class Generated:
    """A random project's releases, as plain data turned into ``firestream.toml``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        n = rng.randint(2, 5)
        self.releases: dict[str, dict[str, Any]] = {}
        for i in range(n):
            name = f"r{i}"
            earlier = list(self.releases)
            deps = sorted(rng.sample(earlier, rng.randint(0, min(2, len(earlier))))) if earlier else []
            self.releases[name] = {
                "type": rng.choice(["generic", "contrib"]),
                "version": rng.choice(VERSIONS[:2]),
                "message": f"m{rng.randint(0, 3)}",
                "greeting": f"g{rng.randint(0, 3)}",
                "flag": rng.random() < 0.5,
                "timeout": "60s",
                "deps": deps,
                "breaking": None,
                "action": "deploy",
            }

    def change(self) -> list[str]:
        """Change a few things at random; returns what changed (for a failure's message)."""
        done = []
        live = [n for n, r in self.releases.items() if r["action"] == "deploy"]
        for name in self.rng.sample(live, self.rng.randint(min(1, len(live)), len(live))):
            r = self.releases[name]
            what = self.rng.choice(["value", "option", "flag", "version", "timeout", "breaking",
                                    "breaking", "destroy", "nothing"])
            if what == "value":
                r["message"] = f"m{self.rng.randint(0, 9)}"
            elif what == "option" and r["type"] == "contrib":
                r["greeting"] = f"g{self.rng.randint(0, 9)}"
            elif what == "flag" and r["type"] == "contrib":
                r["flag"] = not r["flag"]
            elif what == "version":
                r["version"] = self.rng.choice(VERSIONS)
            elif what == "timeout":
                r["timeout"] = self.rng.choice(["60s", "90s", "120s"])
            elif what == "breaking":
                # mostly an upgrade that crosses it (installed < breaking <= target), else one that does not
                above = [v for v in VERSIONS if VERSIONS.index(v) > VERSIONS.index(r["version"])]
                crossing = bool(above) and self.rng.random() < 0.75
                version = self.rng.choice(above) if crossing else self.rng.choice(VERSIONS[1:])
                r["version"] = (self.rng.choice([v for v in VERSIONS if VERSIONS.index(v) >= VERSIONS.index(version)])
                                if crossing else self.rng.choice(VERSIONS))
                r["breaking"] = {
                    "version": version,
                    "requires_uninstall": self.rng.random() < 0.5,
                    "commands": [f"kubectl delete configmap {name}-old-{k} --namespace default"
                                 for k in range(self.rng.randint(0, 2))],
                }
            elif what == "destroy" and not any(name in o["deps"] for o in self.releases.values()
                                               if o["action"] == "deploy"):
                r["action"] = "destroy"
            done.append(f"{name}:{what}")
        return done

    def toml(self) -> str:
        out = ['[repositories]\nfixtures = "http://127.0.0.1:9/fixtures"\n']
        for name, r in self.releases.items():
            t = r["type"]
            lines = [f"[[deployments.{t}]]", f'name = "{name}"', 'chart = "tiny-app"',
                     'repository = "fixtures"', f'version = "{r["version"]}"', f'timeout = "{r["timeout"]}"',
                     f'action = "{r["action"]}"']
            if r["deps"]:
                lines.append("depends_on = [" + ", ".join(f'"{d}"' for d in r["deps"]) + "]")
            if t == "contrib":
                lines += [f'greeting = "{r["greeting"]}"', f"flag = {str(r['flag']).lower()}"]
            bv = r["breaking"]
            if bv is not None:
                cmds = ", ".join(f'"{c}"' for c in bv["commands"])
                lines.append(
                    f'last_breaking_version_requiring_restart = {{ version = "{bv["version"]}", '
                    f'requires_uninstall = {str(bv["requires_uninstall"]).lower()}, '
                    f"pre_upgrade_commands = [{cmds}] }}"
                )
            lines += [f"[deployments.{t}.values]", f'message = "{r["message"]}"']
            out.append("\n".join(lines) + "\n")
        return "\n".join(out)


# -- what the plan allows, what the run did ----------------------------------------------------------


def allowed(change: Any) -> list[tuple[str, ...]]:
    """The helm mutation sequences the plan's action allows for one release."""
    if change.action == "no-op":
        return [()]
    if change.action == "create":
        return [("upgrade",)]
    if change.action == "destroy":
        return [("uninstall",)]
    tail = ("uninstall", "upgrade") if change.breaking is not None and change.breaking.uninstall else ("upgrade",)
    if change.action == "recover":
        return [("rollback", *tail), ("uninstall", *tail), ("uninstall", "upgrade")]
    return [tail]


def planned_commands(plan: Plan) -> list[list[str]]:
    return sorted(list(argv) for c in plan.releases if c.is_change and c.breaking is not None
                  for argv in c.breaking.commands)


def kubectl_mutations(log: Path, seen: int) -> tuple[list[list[str]], int]:
    lines = log.read_text().splitlines() if log.exists() else []
    out = []
    for line in lines[seen:]:
        argv = json.loads(line)
        words = [a for a in argv if not a.startswith("-")]
        if words and words[0] in KUBECTL_MUTATIONS:
            out.append(argv)
    return out, len(lines)


def check_run(plan: Plan, result: Any, fake: FakeHelm, kubectl_log: Path, seen: int, story: str) -> int:
    calls = fake.call_log()
    by_release: dict[str, list[str]] = {}
    for call in calls:
        # a dry run (the immutable-field check renders each upgrade) changes nothing
        if call.op in HELM_MUTATIONS and not any(a.startswith("--dry-run") for a in call.argv):
            op = "upgrade" if call.op == "install" else call.op
            by_release.setdefault(call.release or "?", []).append(op)
    names = {c.name for c in plan.releases}
    assert set(by_release) <= names, f"{story}: helm mutated releases outside the plan: {by_release}"
    for change in plan.releases:
        done = tuple(by_release.get(change.name, ()))
        ok = result.releases[change.name].result == "ok"
        options = allowed(change)
        if ok:
            assert done in options, f"{story}: {change.name} planned {change.action}, helm did {done}"
        else:
            assert any(done == o[: len(done)] for o in options), (
                f"{story}: {change.name} planned {change.action} and failed, helm did {done}")
    commands, seen = kubectl_mutations(kubectl_log, seen)
    stripped = sorted([a for a in argv if a not in ("--kubeconfig",)] for argv in commands)
    expected = planned_commands(plan)
    assert all(any(cmd[1:] == got[: len(cmd) - 1] for cmd in expected) for got in stripped), (
        f"{story}: kubectl mutations the plan did not list: {stripped} (plan: {expected})")
    if result.ok:
        assert len(stripped) == len(expected), f"{story}: planned commands {expected}, ran {stripped}"
    return seen


# -- the drift ---------------------------------------------------------------------------------------


def drift(rng: random.Random, fake: FakeHelm, names: list[str]) -> str:
    """Change the cluster behind the plan's back; returns what was done."""
    live = [r for r in fake.releases() if r["name"] in names and r["status"] == "deployed"]
    if not live or rng.random() < 0.4:
        return "no drift"
    rel = rng.choice(live)
    kind = rng.choice(["upgrade", "upgrade", "upgrade", "uninstall"])
    if kind == "upgrade":
        fake.seed_release(rel["name"], rel["namespace"], chart=rel["chart"], version=rng.choice(VERSIONS),
                          revision=rel["revision"] + 1, values={"message": "drifted"})
        return f"out-of-band upgrade of {rel['name']}"
    fake.seed_release(rel["name"], rel["namespace"], chart=rel["chart"], version=rel["version"],
                      status="uninstalled", revision=rel["revision"])
    return f"out-of-band uninstall of {rel['name']}"


def kill_midway(rng: random.Random, fake: FakeHelm) -> str:
    """Sometimes leave a release ``pending-upgrade``, as a killed helm does (plans ``recover``)."""
    live = [r for r in fake.releases() if r["status"] == "deployed" and r["revision"] >= 1]
    if not live or rng.random() < 0.7:
        return ""
    rel = rng.choice(live)
    fake.seed_release(rel["name"], rel["namespace"], chart=rel["chart"], version=rel["version"],
                      status="pending-upgrade", revision=rel["revision"] + 1, values=rel["values"])
    return f"; {rel['name']} left pending-upgrade"


# -- the test ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(PROJECTS))
def test_apply_does_exactly_what_the_plan_said(seed, tmp_path, monkeypatch, no_log_redactors):
    from tests.deploy.contrib_plugin import Plugin

    rng = random.Random(seed)
    fake = FakeHelm(tmp_path / "fake-helm")
    kubectl, kubectl_log = recording_kubectl(tmp_path / "kubectl")
    manager = get_plugin_manager(load_entry_points=False, extra_plugins=[Plugin()])
    gen = Generated(rng)
    folder = tmp_path / "project"
    seen = 0
    changes_tried = 0
    for round_ in range(ROUNDS + 1):
        what = gen.change() if round_ else ["first apply"]
        changes_tried += len(what)
        path = write_config(folder, gen.toml())
        pending = kill_midway(rng, fake) if round_ else ""
        project = Project.load(path, helm_binary=fake.binary, env=fake.env, kubectl_binary=kubectl,
                               manager=manager)
        plan = project.plan()
        drifted = drift(rng, fake, project.names) if round_ else "no drift"
        story = f"seed {seed} round {round_} ({', '.join(what)}{pending}; {drifted})"
        fake.reset_calls()
        result = project.apply(plan, concurrency=2)
        seen = check_run(plan, result, fake, kubectl_log, seen, story)
        if drifted == "no drift":
            assert result.ok, f"{story}: {[(n, o.reason) for n, o in result.releases.items() if o.result != 'ok']}"
    TRIED.append(changes_tried)


TRIED: list[int] = []
"""Changes tried per project (the size of the invariant test, for the report)."""
