"""progress: the plan listing, the live display and the summary table."""

from __future__ import annotations

import io
import logging

from firestream_core.cli.progress import LiveProgress, format_plan, format_summary
from firestream_core.deploy.plan import Change, Plan
from firestream_core.deploy.results import ApplyEvent, ApplyResult, ReleaseOutcome


def _plan() -> Plan:
    return Plan(
        releases=(
            Change("db", "default", "generic", "create", ("not deployed",)),
            Change("api", "default", "generic", "upgrade", ("values changed: replicaCount",),
                   changed_keys=("replicaCount",), depends_on=("db",)),
            Change("web", "default", "generic", "no-op", ("up to date",), depends_on=("api",)),
        ),
        deps={"db": (), "api": ("db",), "web": ("api",)},
    )


def test_format_plan_lists_every_release_and_summary() -> None:
    text = format_plan(_plan())
    lines = text.splitlines()
    assert lines[0].split() == ["release", "namespace", "action", "chart", "why"]
    assert lines[2].split() == ["+", "db", "default", "create", "-", "not", "deployed"]
    assert lines[3].split()[:4] == ["~", "api", "default", "upgrade"]
    assert "values changed: replicaCount" in lines[3]
    assert lines[4].split()[:4] == ["=", "web", "default", "no-op"]
    assert lines[-1] == "Plan: 1 to create, 1 to upgrade, 1 unchanged."
    assert "web" not in format_plan(_plan(), show_noop=False)


def test_the_chart_column_names_what_each_change_leaves_running() -> None:
    from firestream_core.model import InstalledRelease

    installed = InstalledRelease("db", "default", 3, "deployed", "postgresql-13.2.24")
    plan = Plan(releases=(
        Change("db", "default", "postgresql", "upgrade", ("chart 13.2.24 -> 13.4.2",), installed=installed,
               desired_chart="postgresql", desired_version="13.4.2", version_constraint="^13"),
        Change("web", "default", "generic", "create", ("not deployed",), desired_chart="web", desired_version="0.1.0"),
        Change("old", "default", "generic", "destroy", ("destroy requested",), installed=installed),
    ), deps={"db": (), "web": (), "old": ()})
    rows = [line.split("  ") for line in format_plan(plan).splitlines()[2:5]]
    assert [[cell.strip() for cell in row if cell.strip()][4] for row in rows] == [
        "postgresql 13.4.2 (^13)", "web 0.1.0", "postgresql 13.2.24"]


def test_format_plan_lists_destructive_steps_under_the_table() -> None:
    steps = ("run: kubectl delete pvc data --namespace db", "uninstall release 'db', then install it afresh "
             "(helm history restarts)")
    plan = Plan(releases=(Change("db", "default", "generic", "reinstall", ("breaking version 2.0.0: ...",),
                                 destructive=steps),), deps={"db": ()})
    text = format_plan(plan)
    assert (f"{STEPS}\n  ! db: run: kubectl delete pvc data --namespace db\n") in text
    assert "  ! db: uninstall release 'db', then install it afresh (helm history restarts)\n" in text
    assert "Steps to review" not in format_plan(_plan())


STEPS = "Steps to review, in the order they run (a step may delete or overwrite):"


def test_the_steps_heading_is_true_of_a_step_that_destroys_nothing() -> None:
    """A chart type's own step (exec_step: its cluster applied after helm) is no destructive step:
    the plan listed it under "Destructive steps:", a heading untrue of it."""
    line = ("post_exec: apply Kafka cluster 'events' and node pool 'events-nodes' (3 nodes, a 10Gi volume each) "
            "in namespace 'kafka' and wait until it is Ready")
    plan = Plan(releases=(Change("kafka", "kafka", "kafka", "create", ("not deployed",), destructive=(line,)),),
                deps={"kafka": ()})
    text = format_plan(plan)
    assert f"{STEPS}\n  ! kafka: {line}\n" in text
    assert "Destructive" not in text


def test_summary_table_has_release_action_result_duration() -> None:
    result = ApplyResult(
        plan=_plan(),
        releases={
            "db": ReleaseOutcome("db", "create", "failed", "release 'db' failed at exec: boom", 1.5),
            "api": ReleaseOutcome("api", "upgrade", "skipped", "dependency 'db' failed"),
            "web": ReleaseOutcome("web", "no-op", "ok", "up to date"),
        },
        duration=1.5,
    )
    lines = format_summary(result).splitlines()
    assert lines[0].split() == ["release", "action", "result", "duration", "why"]
    assert lines[2].split()[:4] == ["db", "create", "failed", "1.5s"]
    assert lines[3].split()[:3] == ["api", "upgrade", "skipped"] and "dependency 'db' failed" in lines[3]
    assert lines[4].split() == ["web", "no-op", "ok", "-"]
    assert lines[-1].startswith("FAILED in 1.5s: 1 failed, 1 skipped, 1 ok")
    assert result.exit_code == 1


def test_live_progress_redraws_stages_and_keeps_log_lines_above() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("firestream")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        with LiveProgress(_plan(), stream, live=True) as progress:
            progress(ApplyEvent("started", "db", "create", time=1.0))
            progress(ApplyEvent("stage", "db", "create", stage="pre_exec"))
            logger.warning("a log line")
            progress(ApplyEvent("finished", "db", "create", result="ok", time=2.0))
        text = stream.getvalue()
    finally:
        logger.removeHandler(handler)
    assert "pre exec" in text
    assert "a log line\n" in text
    assert "ok (1.0s)" in text
    assert "\x1b[" in text  # redrawn in place
    assert "web" not in text  # no-op releases are not shown
    assert handler.stream is stream  # restored


def test_a_large_live_block_is_redrawn_a_few_times_a_second_not_on_every_event() -> None:
    """issue 13: each draw writes every release's line; 200 releases' events and log lines
    redrawn one by one would write ~100,000 lines. A large block is drawn at most ten times
    a second (and at the end), whatever happens meanwhile."""
    names = [f"r{i:03d}" for i in range(200)]
    plan = Plan(releases=tuple(Change(n, "default", "generic", "create", ("not deployed",)) for n in names),
                deps={n: () for n in names})
    stream = io.StringIO()
    logger = logging.getLogger("firestream")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        with LiveProgress(plan, stream, live=True) as progress:
            for n in names:
                progress(ApplyEvent("started", n, "create", time=1.0))
                logger.warning("log line of %s", n)
                progress(ApplyEvent("finished", n, "create", result="ok", time=2.0))
        text = stream.getvalue()
    finally:
        logger.removeHandler(handler)
    draws = text.count("  r000 ")
    assert 2 <= draws < 50, draws  # the first draw, the ticker's, the last: not one per event
    assert all(f"log line of {n}\n" in text for n in names)  # every log line, above the block
    last = text.splitlines()[-len(names):]  # the final block, drawn when the run ends
    assert [line.split()[:3] for line in last] == [[n, "create", "ok"] for n in names]


def test_progress_off_a_terminal_prints_one_line_per_finished_release() -> None:
    stream = io.StringIO()
    with LiveProgress(_plan(), stream, live=False) as progress:
        progress(ApplyEvent("started", "db", "create", time=1.0))
        progress(ApplyEvent("stage", "db", "create", stage="exec"))
        progress(ApplyEvent("finished", "db", "create", result="failed", reason="exec failed", time=3.0))
        progress(ApplyEvent("skipped", "api", "upgrade", result="skipped", reason="dependency 'db' failed"))
    assert stream.getvalue().splitlines() == [
        "db: create failed (2.0s): exec failed",
        "api: upgrade skipped: dependency 'db' failed",
    ]


def test_summary_keeps_one_line_per_release_with_a_long_error() -> None:
    long_error = "release 'db' failed at exec: " + "UPGRADE FAILED: some helm error text\nover lines " * 10
    result = ApplyResult(
        plan=_plan(),
        releases={"db": ReleaseOutcome("db", "create", "failed", long_error, 1.5)},
        duration=1.5,
    )
    lines = format_summary(result).splitlines()
    row = lines[2]
    assert row.startswith("db ") and row.endswith("...")
    assert len(row) < 160 and lines[3] == ""  # one line, cut short


def test_format_plan_shows_value_changes_old_new_and_sensitive() -> None:
    """issue 12: ordinary values in clear (terraform's convention), secrets as (sensitive)."""
    plan = Plan(releases=[
        Change("api", "shop", "generic", "upgrade", ("values changed: auth.password, env.LOG_LEVEL",),
               changed_keys=("auth.password", "env.LOG_LEVEL"),
               value_changes=(("auth.password", "(sensitive)", "(sensitive)"), ("env.LOG_LEVEL", "info", "debug"))),
        Change("web", "shop", "generic", "no-op", ("up to date",)),
    ])
    text = format_plan(plan)
    assert "Value changes:\n  api\n    auth.password: (sensitive) -> (sensitive)\n" \
           "    env.LOG_LEVEL: info -> debug\n" in text
    assert "shop" in text and "web" in text


def test_format_plan_shows_the_namespaces_to_create_first_and_the_plans_notes_last() -> None:
    import attrs

    from firestream_core.deploy.plan import NamespaceToCreate

    plan = attrs.evolve(_plan(), namespaces_to_create=(
        NamespaceToCreate("data", (("db", "plugin"), ("api", "helm"))), NamespaceToCreate("web", (("web", "helm"),))),
        notes=("could not learn whether namespace shop exists (forbidden): ...",))
    text = format_plan(plan)
    assert text.startswith("+ namespace data (created for db, api)\n+ namespace web (created for web)\n\n   release")
    assert "\nNote: could not learn whether namespace shop exists (forbidden): ...\n\nPlan: " in text
    assert text.endswith("Plan: 1 to create, 1 to upgrade, 1 unchanged; 2 namespaces to create.\n")
    colored = format_plan(plan, color=True)
    assert colored.startswith("\x1b[") and "+ namespace data (created for db, api)" in colored
