"""config/environments.py: [environments.NAME] overlays on the parsed TOML."""

from __future__ import annotations

from firestream_core.config.environments import apply_environment

DATA = {
    "defaults": {"timeout": "5m"},
    "deployments": {
        "generic": [
            {"name": "db", "chart": "repo/db", "values": {"size": "1Gi", "auth": {"database": "shop"}}},
            {"name": "web", "chart": "repo/web", "values_files": ["a.yaml"]},
        ]
    },
    "environments": {
        "prod": {
            "kube_context": "prod-ctx",
            "namespace": "shop-prod",
            "values": {},
            "deployments": {"db": {"values": {"size": "50Gi"}}, "web": {"values_files": ["prod.yaml"]}},
        },
        "dev": {"releases": ["db"]},
    },
}


def test_no_environment_drops_the_table_and_changes_nothing_else() -> None:
    problems: list[str] = []
    out, env = apply_environment(DATA, None, problems)
    assert problems == [] and env is None
    assert "environments" not in out and out["deployments"] == DATA["deployments"]


def test_an_environment_overlays_values_deeply_appends_values_files_and_sets_the_namespace() -> None:
    problems: list[str] = []
    out, env = apply_environment(DATA, "prod", problems)
    assert problems == []
    assert env is not None and env.kube_context == "prod-ctx"
    db, web = out["deployments"]["generic"]
    assert db["values"] == {"size": "50Gi", "auth": {"database": "shop"}}
    assert web["values_files"] == ["a.yaml", "prod.yaml"]
    assert out["defaults"] == {"timeout": "5m", "namespace": "shop-prod"}
    assert DATA["deployments"]["generic"][0]["values"]["size"] == "1Gi"  # the input is not changed


def test_an_environment_can_enable_a_subset_of_the_releases() -> None:
    problems: list[str] = []
    out, _ = apply_environment(DATA, "dev", problems)
    assert problems == []
    assert [r["name"] for r in out["deployments"]["generic"]] == ["db"]


def test_an_unknown_environment_or_key_is_a_problem_naming_it() -> None:
    problems: list[str] = []
    apply_environment({**DATA, "environments": {"prod": {"kube_contxt": "x"}}}, "staging", problems)
    assert any("environments.prod" in p and "kube_contxt" in p for p in problems)
    assert any("unknown environment 'staging'" in p and "'prod'" in p for p in problems)


def test_an_environment_key_of_the_wrong_type_names_the_item() -> None:
    """``releases = ["db", 5]`` used to say only "expected an array of strings"."""
    envs = {"prod": {"releases": ["db", 5], "values_files": "prod.yaml", "kube_context": 1}}
    problems: list[str] = []
    _, env = apply_environment({**DATA, "environments": envs}, "prod", problems)
    assert env is None
    assert problems == [
        "environments.prod.kube_context: expected a string, got an integer",
        "environments.prod.releases[1]: expected a string, got an integer",
        "environments.prod.values_files: expected an array of strings, got a string",
    ]


def test_a_bad_key_an_overlay_sets_is_named_where_it_is_written(tmp_path) -> None:
    """Through validate --json: the overlay's key and line, not the release it was merged into
    (once each: the build pass does not report it again under the release)."""
    import json
    import subprocess
    import sys

    (tmp_path / "firestream.toml").write_text(
        '[[deployments.generic]]\nname = "db"\nchart = "repo/db"\n'
        '[[deployments.generic]]\nname = "a"\nchart = "repo/a"\ntimeout = "bad-too"\n'
        '[environments.prod]\nreleases = ["a"]\n'
        '[environments.prod.deployments.a]\ntimeout = "forever"\nbogus = 1\n'
        '[repositories]\nrepo = "https://charts.example.com"\n')
    done = subprocess.run([sys.executable, "-m", "firestream_core.cli.main", "validate", "-e", "prod", "--json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    problems = [(p["path"], p["line"]) for p in json.loads(done.stdout)["problems"]]
    assert problems == [("environments.prod.deployments.a.timeout", 11),
                        ("environments.prod.deployments.a.bogus", 12)]


def test_an_environment_that_is_not_a_table_is_not_also_unknown() -> None:
    problems: list[str] = []
    apply_environment({"environments": {"prod": 5}}, "prod", problems)
    assert problems == ["environments.prod: expected a table, got an integer"]


def test_a_dependency_the_environment_leaves_out_is_named_as_left_out(tmp_path, capsys) -> None:
    """``releases = ["api"]`` leaving out ``db``, which ``api`` depends on, read ``depends on
    'db', which is not defined``: the file defines it, the environment leaves it out."""
    from firestream_core.cli.main import main

    (tmp_path / "firestream.toml").write_text(
        '[[deployments.generic]]\nname = "db"\nchart = "repo/db"\n'
        '[[deployments.generic]]\nname = "api"\nchart = "repo/api"\ndepends_on = ["db", "ghost"]\n'
        '[environments.prod]\nreleases = ["api"]\n'
        '[repositories]\nrepo = "https://charts.example.com"\n')
    assert main(["validate", "-f", str(tmp_path), "-e", "prod"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[1:] == [
        "  deployments.generic[1].depends_on: release 'api' depends on 'db', which environment 'prod' "
        "leaves out (environments.prod.releases)",
        f"  deployments.generic[1].depends_on: release 'api' depends on 'ghost', which is not defined "
        f"({tmp_path / 'firestream.toml'})",
    ]


def test_a_problem_of_a_release_after_a_left_out_one_is_named_at_its_own_block(tmp_path, capsys) -> None:
    """With ``releases = ["api"]`` leaving out ``db`` written before it, api's bad timeout was
    reported at ``deployments.generic[0]`` (db's block, line 1): its index in the merged
    config, not in the file."""
    import json

    from firestream_core.cli.main import main

    (tmp_path / "firestream.toml").write_text(
        '[[deployments.generic]]\nname = "db"\nchart = "repo/db"\n'
        '[[deployments.generic]]\nname = "api"\nchart = "repo/api"\ntimeout = "soon"\n'
        '[[deployments.generic]]\nname = "web"\nchart = "repo/web"\ntimeout = "later"\n'
        '[environments.prod]\nreleases = ["api", "web"]\n'
        '[repositories]\nrepo = "https://charts.example.com"\n')
    assert main(["validate", "-f", str(tmp_path), "-e", "prod", "--json"]) == 1
    problems = [(p["path"], p["line"]) for p in json.loads(capsys.readouterr().out)["problems"]]
    assert problems == [("deployments.generic[1].timeout", 7), ("deployments.generic[2].timeout", 11)]


def test_a_cycle_an_overlay_makes_names_the_overlay(tmp_path, capsys) -> None:
    """A ``depends_on`` set in ``[environments.prod.deployments.db]`` closing a cycle read only
    ``dependency cycle in firestream.toml: db -> api -> db``: the releases' own blocks hold no
    cycle, and nothing pointed at the overlay."""
    from firestream_core.cli.main import main

    (tmp_path / "firestream.toml").write_text(
        '[[deployments.generic]]\nname = "db"\nchart = "repo/db"\n'
        '[[deployments.generic]]\nname = "api"\nchart = "repo/api"\ndepends_on = ["db"]\n'
        '[environments.prod.deployments.db]\ndepends_on = ["api"]\n'
        '[repositories]\nrepo = "https://charts.example.com"\n')
    assert main(["validate", "-f", str(tmp_path), "-e", "prod"]) == 1
    assert capsys.readouterr().err.splitlines()[1] == (
        f"  dependency cycle in {tmp_path / 'firestream.toml'}: db -> api -> db "
        "(environments.prod.deployments.db.depends_on)")


def test_a_problem_in_a_merged_table_is_named_where_its_value_is_written(tmp_path, capsys) -> None:
    """An overlay's ``labels`` / ``values`` are merged into the release's: a bad label the
    release itself wrote was named at the overlay (``environments.prod.deployments.a.labels.tier``),
    which does not hold it, as soon as the overlay set any label."""
    import json

    from firestream_core.cli.main import main

    (tmp_path / "firestream.toml").write_text(
        '[[deployments.generic]]\nname = "a"\nchart = "repo/a"\nlabels = {tier = 5}\nvalues = {n = inf}\n'
        '[[deployments.generic]]\nname = "b"\nchart = "repo/b"\nvalues = {ok = 1}\n'
        '[environments.prod.deployments.a]\nlabels = {extra = 1}\nvalues = {m = 1}\n'
        '[environments.prod.deployments.b]\nvalues = {x = {y = [nan]}}\n'
        '[repositories]\nrepo = "https://charts.example.com"\n')
    assert main(["validate", "-f", str(tmp_path), "-e", "prod", "--json"]) == 1
    problems = [(p["path"], p["line"]) for p in json.loads(capsys.readouterr().out)["problems"]]
    assert problems == [
        ("deployments.generic[0].labels.tier", 4),
        ("environments.prod.deployments.a.labels.extra", 11),
        ("deployments.generic[0].values.n", 5),
        ("environments.prod.deployments.b.values.x.y[0]", 14),
    ]


def test_a_problem_in_the_environments_own_values_is_named_there_once(tmp_path, capsys) -> None:
    """``[environments.prod] values = {x = inf}`` is merged into every release: it was reported
    once per release, each time at the release's block (``deployments.generic[0].values.x``,
    line 1), none of which holds it."""
    import json

    from firestream_core.cli.main import main

    (tmp_path / "firestream.toml").write_text(
        '[[deployments.generic]]\nname = "a"\nchart = "repo/a"\n'
        '[[deployments.generic]]\nname = "b"\nchart = "repo/b"\n'
        '[environments.prod]\nvalues = {x = {y = inf}}\n'
        '[environments.prod.deployments.b]\nvalues = {z = 1}\n'
        '[repositories]\nrepo = "https://charts.example.com"\n')
    assert main(["validate", "-f", str(tmp_path), "-e", "prod", "--json"]) == 1
    problems = [(p["path"], p["line"]) for p in json.loads(capsys.readouterr().out)["problems"]]
    assert problems == [("environments.prod.values.x.y", 8)]


def test_a_values_file_an_environment_adds_is_named_where_it_is_written_once(tmp_path, capsys) -> None:
    """A missing file of ``[environments.prod] values_files`` was named at each release's own
    ``values_files`` with the index it got there (``deployments.generic[0].values_files[1]``),
    and one of a release overlay's at the overlay with that shifted index."""
    import json

    from firestream_core.cli.main import main

    (tmp_path / "own.yaml").write_text("a: 1\n")
    (tmp_path / "firestream.toml").write_text(
        '[[deployments.generic]]\nname = "a"\nchart = "repo/a"\nvalues_files = ["own.yaml"]\n'
        '[[deployments.generic]]\nname = "b"\nchart = "repo/b"\n'
        '[environments.prod]\nvalues_files = ["own.yaml", "prod.yaml"]\n'
        '[environments.prod.deployments.a]\nvalues_files = ["a-prod.yaml"]\n'
        '[repositories]\nrepo = "https://charts.example.com"\n')
    assert main(["validate", "-f", str(tmp_path), "-e", "prod", "--json"]) == 1
    problems = [(p["path"], p["line"]) for p in json.loads(capsys.readouterr().out)["problems"]]
    assert problems == [("environments.prod.values_files[1]", 9),
                        ("environments.prod.deployments.a.values_files[0]", 11)]
