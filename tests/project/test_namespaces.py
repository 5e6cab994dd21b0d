"""The namespaces apply creates, shown by the plan, on the recording fake helm and the test kit's
fake kubectl (which answers the namespaces the fake helm made, ``$FAKE_KUBECTL_NAMESPACES``,
and words RBAC refusals as kubectl does)."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

from firestream_core.cli.main import main
from firestream_core.errors import FirestreamError, PlanMismatchError
from firestream_core.plugin import hookimpl
from firestream_core.plugin.manager import get_plugin_manager
from firestream_core.project import Project

from .conftest import write_config

REPOS = '[repositories]\nfixtures = "http://127.0.0.1:9/fixtures"\n\n'

RECORDING = """#!/bin/sh
printf '%s %s\\n' "$(date +%s.%N)" "$*" >> "{log}"
exec "{fake}" "$@"
"""


def block(name: str, namespace: str, deps: tuple[str, ...] = (), extra: str = "") -> str:
    dep = f"depends_on = [{', '.join(repr(d) for d in deps)}]\n" if deps else ""
    return (f'[[deployments.generic]]\nname = "{name}"\nchart = "tiny-app"\nrepository = "fixtures"\n'
            f'version = "0.1.0"\nnamespace = "{namespace}"\n{dep}{extra}\n')


@pytest.fixture
def env(fake_helm, fake_kubectl, tmp_path, monkeypatch, no_log_redactors):
    """A project folder; kubectl is the fake, behind a wrapper logging each call."""
    log = tmp_path / "kubectl-calls.log"
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(RECORDING.format(log=log, fake=fake_kubectl))
    kubectl.chmod(0o755)
    for k, v in fake_helm.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("FIRESTREAM_KUBECTL_BINARY", str(kubectl))
    monkeypatch.setenv("FIRESTREAM_CHILD_ENV", "FAKE_*")  # the fake kubectl's settings reach it
    folder = tmp_path / "project"

    class Env:
        dir = folder
        path = folder / "firestream.toml"
        flags = ["-f", str(path), "--helm-binary", str(fake_helm.binary)]

        @staticmethod
        def write(*blocks: str) -> Path:
            return write_config(folder, REPOS + "".join(blocks))

        @staticmethod
        def load(**kw) -> Project:
            return Project.load(folder / "firestream.toml", helm_binary=fake_helm.binary, kubectl_binary=kubectl, **kw)

        @staticmethod
        def namespace_reads() -> list[str]:
            lines = log.read_text().splitlines() if log.exists() else []
            return [line.split(" ", 1)[1] for line in lines if " get namespace" in line]

        @staticmethod
        def reset() -> None:
            log.unlink(missing_ok=True)

        log_file = log

    return Env


def test_plan_lists_the_missing_namespace_apply_creates_it_and_the_next_plan_reads_nothing(env, fake_helm, capsys):
    env.write(block("db", "data"), block("cache", "data"), block("web", "default"))
    assert main(["plan", *env.flags]) == 0
    out = capsys.readouterr().out
    head, table = out.split("\n\n", 1)
    assert head == "+ namespace data (created for db, cache)"  # before the release lines
    assert "db       data       create" in table
    assert out.endswith("Plan: 3 to create; 1 namespace to create.\n")
    assert env.namespace_reads() == ["get namespaces --output json"]

    env.reset()
    assert main(["plan", "--json", *env.flags]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["namespaces_to_create"] == [{"namespace": "data", "releases": [
        {"release": "db", "created_by": "helm"}, {"release": "cache", "created_by": "helm"}]}]

    assert main(["apply", "--yes", *env.flags]) == 0
    assert all("--create-namespace" in c.argv for c in fake_helm.call_log("upgrade"))
    env.reset()
    capsys.readouterr()
    assert main(["plan", *env.flags]) == 0
    out = capsys.readouterr().out
    assert "namespace" not in out.split("release", 1)[0] and out.endswith("Plan: no changes (3 unchanged).\n")
    assert env.namespace_reads() == []  # no change: nothing asked
    # a new release where one already lives: nothing asked either
    env.write(block("db", "data"), block("cache", "data"), block("web", "default"), block("queue", "data"))
    assert main(["plan", *env.flags]) == 0
    assert capsys.readouterr().out.endswith("Plan: 1 to create, 3 unchanged.\n")
    assert env.namespace_reads() == []


def test_create_namespace_false_into_a_missing_namespace_is_refused_and_apply_changes_nothing_for_it(
        env, fake_helm, capsys):
    env.write(block("db", "data", extra="create_namespace = false\n"), block("web", "data", ("db",)),
              block("api", "default"))
    assert main(["plan", *env.flags]) == 1
    captured = capsys.readouterr()
    refusal = ("namespace 'data' does not exist and create_namespace is false (nothing else creates it): "
               "create it first, or set create_namespace = true")
    assert f"Refused (apply stops these releases before any change):\n  ! db: {refusal}\n" in captured.out
    assert f"error: the plan refuses release 'db': {refusal}" in captured.err
    assert "Traceback" not in captured.err

    fake_helm.reset_calls()  # the plan's dry runs of the creates it renders are not apply's
    assert main(["apply", "--yes", *env.flags]) == 1
    assert [c.release for c in fake_helm.call_log("upgrade")] == ["api"]  # db and its dependent web: nothing
    # with the namespace made by someone, the same config passes
    env.reset()
    capsys.readouterr()
    project = env.load(env={"FAKE_KUBECTL_NAMESPACES": "data"})
    plan = project.plan()
    assert plan.problems == [] and plan.namespaces_to_create == ()


def test_a_user_refused_the_namespace_list_is_answered_by_one_get_or_told_it_could_not_be_learned(
        env, monkeypatch, capsys):
    env.write(block("db", "data", extra="create_namespace = false\n"), block("web", "shop"))
    monkeypatch.setenv("FAKE_KUBECTL_FORBID_LIST", "1")
    monkeypatch.setenv("FAKE_KUBECTL_NAMESPACES", "data")
    assert main(["plan", *env.flags]) == 0
    out = capsys.readouterr().out
    assert out.startswith("+ namespace shop (created for web)\n")
    assert env.namespace_reads() == ["get namespaces --output json",
                                     "get namespace data shop --ignore-not-found --output json"]
    monkeypatch.setenv("FAKE_KUBECTL_FORBIDDEN", "data,shop")
    assert main(["plan", *env.flags]) == 0  # nothing refused, nothing guessed
    out = capsys.readouterr().out
    assert "+ namespace" not in out and "Refused" not in out
    assert "Note: could not learn whether namespaces data, shop exist (kubectl get namespace: " in out


def test_a_plugin_that_creates_the_namespace_says_so_and_is_not_refused(env, fake_helm):
    class Creates:
        @hookimpl
        def contribute_values(self, chart, context):
            context.creates_namespace()

    env.write(block("db", "data", extra="create_namespace = false\n"))
    project = env.load(manager=get_plugin_manager(extra_plugins=[Creates()]))
    plan = project.plan()
    assert plan.problems == []
    assert [n.to_dict() for n in plan.namespaces_to_create] == [
        {"namespace": "data", "releases": [{"release": "db", "created_by": "plugin"}]}]


def test_the_namespace_read_runs_while_the_plugins_make_the_desired_state(env):
    """The plan takes no longer for its namespace read: it runs beside contribute_values."""
    seen: dict[str, float] = {}

    class Slow:
        @hookimpl
        def contribute_values(self, chart, context):
            seen["start"] = time.time()
            deadline = time.time() + 10
            while not env.namespace_reads() and time.time() < deadline:  # waits for kubectl to start
                time.sleep(0.01)
            seen["end"] = time.time()

    env.write(block("db", "data"))
    plan = env.load(manager=get_plugin_manager(extra_plugins=[Slow()])).plan()
    assert [n.name for n in plan.namespaces_to_create] == ["data"]
    started = float(env.log_file.read_text().split(" ", 1)[0])
    # the read started before contribute_values ended (it may start just before it begins: it is
    # started first), and contribute_values did not wait the 10 s it would if the plan ran it first
    assert started <= seen["end"] and seen["end"] - seen["start"] < 10


def test_a_saved_plan_records_its_namespaces_and_is_refused_when_they_changed(env, capsys, tmp_path, monkeypatch):
    env.write(block("db", "data"))
    saved = tmp_path / "plan.json"
    assert main(["plan", "--out", str(saved), *env.flags]) == 0
    data = json.loads(saved.read_text())
    assert data["format"] == "firestream-plan/4"
    assert data["namespaces_to_create"] == [{"namespace": "data", "releases": [{"release": "db", "created_by": "helm"}]}]
    project = env.load(env={"FAKE_KUBECTL_NAMESPACES": "data"})  # made by someone since
    with pytest.raises(PlanMismatchError, match="namespace 'data': the saved plan creates it, it exists now"):
        project.saved_plan(saved)
    assert env.load().saved_plan(saved).namespaces_to_create[0].name == "data"
    # saved while the namespace existed, deleted since: apply would make a namespace not shown
    monkeypatch.setenv("FAKE_KUBECTL_NAMESPACES", "data")
    assert main(["plan", "--out", str(saved), *env.flags]) == 0
    assert json.loads(saved.read_text())["namespaces_to_create"] == []
    monkeypatch.delenv("FAKE_KUBECTL_NAMESPACES")
    capsys.readouterr()
    assert main(["apply", str(saved), *env.flags]) == 1
    assert ("error: refusing to apply the saved plan: namespace 'data': the plan now creates it (for db), "
            "the saved plan did not") in capsys.readouterr().err
    # an older file does not record the namespaces: refused, saying to plan again
    old = {**data, "format": "firestream-plan/2"}
    del old["namespaces_to_create"]
    saved.write_text(json.dumps(old))
    with pytest.raises(FirestreamError, match=r"format 'firestream-plan/2'\): it does not record the namespaces "
                                              "it creates"):
        env.load().saved_plan(saved)


class _Terminal:
    def isatty(self) -> bool:
        return True


def test_a_namespace_deleted_while_the_prompt_waits_stops_the_apply(env, fake_helm, monkeypatch, capsys):
    env.write(block("db", "data"), block("web", "default"))
    monkeypatch.setenv("FAKE_KUBECTL_NAMESPACES", "data")
    monkeypatch.setattr(sys, "stdin", _Terminal())

    def deleted(question: str) -> str:  # someone deletes the namespace while the plan is on screen
        monkeypatch.setenv("FAKE_KUBECTL_NAMESPACES", "")
        return "y"

    monkeypatch.setattr("builtins.input", deleted)
    assert main(["apply", *env.flags]) == 1
    err = capsys.readouterr().err
    assert ("error: refusing to apply the plan shown: namespace 'data': the plan now creates it (for db), "
            "the shown plan did not") in err
    assert [c for c in fake_helm.call_log("upgrade") if "--dry-run=server" not in c.argv] == []


def test_a_destroy_plan_says_once_that_namespaces_stay_and_reads_none(env, capsys):
    env.write(block("db", "data"), block("cache", "data"), block("web", "default"))
    assert main(["apply", "--yes", *env.flags]) == 0
    env.reset()
    capsys.readouterr()
    assert main(["destroy", "--yes", *env.flags]) == 0
    out = capsys.readouterr().out
    assert out.count("Note: firestream never deletes a namespace: data stays, with anything else in it\n") == 1
    assert env.namespace_reads() == []


def test_one_thread_reads_while_another_plans_nothing_leaks(env):
    """The read's thread ends with the plan: none is left running."""
    env.write(block("db", "data"))
    before = {t.name for t in threading.enumerate()}
    env.load().plan()
    assert "kubectl-namespaces" not in {t.name for t in threading.enumerate()} - before
