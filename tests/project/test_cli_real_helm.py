"""The ``firestream`` command on the emulated cluster with the real helm 3 and helm 4 (marked ``helm``).

Run through the real entry point (the ``firestream`` console script), in a
subprocess, as an operator would: the live display under a pseudo-terminal,
destroy refusing to strand dependents, rollback, selectors and environments.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import release_blocks, write_config

pytestmark = pytest.mark.helm

FIRESTREAM = str(Path(sys.executable).with_name("firestream"))


def config(folder: Path, kube, chart_repo, releases, extra: str = "") -> Path:
    body = release_blocks(releases, chart="tiny-app", repository=chart_repo.name,
                          namespace=kube.namespace, version="0.2.0")
    return write_config(folder, f"""
        [repositories]
        {chart_repo.name} = "{chart_repo.url}"

        [defaults]
        timeout = "60s"

    """ + body + extra)


def cli(kube, helm_bin, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {**kube.env, **(env or {})}
    return subprocess.run(  # noqa: S603 - fixed argv
        [FIRESTREAM, "--helm-binary", str(helm_bin), "--kubeconfig", str(kube.kubeconfig),
         "--kubectl-binary", str(kube.tools["kubectl"]), *args],
        cwd=cwd, env=full, capture_output=True, text=True, timeout=300,
    )


# -- the live display under a terminal ------------------------------------------------------------


class Screen:
    """Just enough of a VT100 to replay what the live display writes: text, CR, LF,
    ``ESC[nF`` (up n lines), ``ESC[J`` (clear below), ``ESC[K`` (clear to end of line), SGR."""

    def __init__(self) -> None:
        self.rows: list[str] = [""]
        self.row = 0
        self.col = 0

    def feed(self, text: str) -> None:
        for token in re.findall(r"\x1b\[[0-9;?]*[A-Za-z]|\r|\n|[^\x1b\r\n]+", text):
            if token == "\r":
                self.col = 0
            elif token == "\n":
                self.row += 1
                if self.row == len(self.rows):
                    self.rows.append("")
            elif token.startswith("\x1b["):
                n = token[2:-1]
                op = token[-1]
                if op == "F":
                    self.row = max(0, self.row - int(n or 1))
                    self.col = 0
                elif op == "J":
                    self.rows[self.row] = self.rows[self.row][: self.col]
                    del self.rows[self.row + 1:]
                elif op == "K":
                    self.rows[self.row] = self.rows[self.row][: self.col]
                # "m" (colour) and the rest change nothing on the text
            else:
                line = self.rows[self.row].ljust(self.col)
                self.rows[self.row] = line[: self.col] + token + line[self.col + len(token):]
                self.col += len(token)

    def lines(self) -> list[str]:
        return [r.rstrip() for r in self.rows]


def run_in_pty(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> tuple[int, str]:
    """Run ``argv`` with a 200-column pseudo-terminal as stdin/stdout/stderr; (exit code, output)."""
    import fcntl
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,  # noqa: S603
                            close_fds=True, start_new_session=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=30)
    os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_live_display_keeps_every_log_line_under_a_terminal(tmp_path, kube, chart_repo, helm_bin,
                                                            helm_tools):
    releases = [("db", [], {"message": "db"}), ("cache", [], {"message": "cache"}),
                ("api", ["db", "cache"], {"message": "api"})]
    path = config(tmp_path / "p", kube, chart_repo, releases)
    env = {**kube.env, "TERM": "xterm"}
    env.pop("FIRESTREAM_LOG", None)
    code, raw = run_in_pty(
        [FIRESTREAM, "--helm-binary", str(helm_bin), "--kubeconfig", str(kube.kubeconfig),
         "--kubectl-binary", str(helm_tools["kubectl"]), "apply", "--yes"],
        env, path.parent)
    assert code == 0, raw
    assert "\x1b[" in raw  # it was drawn live, in place
    screen = Screen()
    screen.feed(raw)
    lines = screen.lines()
    info = [line for line in lines if line.startswith("INFO ")]
    # every INFO line the run logged is on the final screen, exactly once
    logged = re.findall(r"INFO [^\r\n\x1b]*", raw)
    assert logged and sorted(set(logged)) == sorted(set(info)), (logged, info)
    for line in set(info):
        assert info.count(line) == logged.count(line), line
    for name in ("db", "cache", "api"):
        assert any(f"release '{name}': Running lifecycle" in line for line in info), name
        # the live block ends with one final line per release; nothing stale remains
        final = [line for line in lines if re.match(rf"^  {name}\s+create\s+", line)]
        assert len(final) == 1 and re.search(r"create\s+ok \(\d", final[0]), (name, final)
    assert not any(re.search(r"\b(starting|waiting|pre exec|exec|post exec|validate) \(", line)
                   for line in lines), lines
    # the summary table: one line per release
    summary = [line for line in lines if re.match(r"^(db|cache|api)\s+create\s+ok\s", line)]
    assert len(summary) == 3, lines


def deployed(kube, helm_bin) -> set[str]:
    return {r.name for r in kube.helm(helm_bin).list_releases() if r.namespace == kube.namespace}


def test_exit_codes_selectors_and_destroy_with_dependents(tmp_path, kube, chart_repo, helm_bin):
    releases = [("db", [], {"message": "db"}), ("cache", [], {"message": "cache"}),
                ("api", ["db"], {"message": "api"}), ("web", ["api"], {"message": "web"})]
    path = config(tmp_path / "p", kube, chart_repo, releases)
    # labels: db/cache are tier=data, api/web tier=app (appended per release)
    text = path.read_text().replace('[defaults]\ntimeout = "60s"', '[defaults]\ntimeout = "60s"\nlabels = { team = "shop" }')
    for name, tier in (("db", "data"), ("cache", "data"), ("api", "app"), ("web", "app")):
        text = text.replace(f'name = "{name}"\n', f'name = "{name}"\nlabels = {{ tier = "{tier}" }}\n')
    path.write_text(text)
    d = path.parent

    # plan --detailed-exitcode: 2 = changes; a selection plans only what it matches
    done = cli(kube, helm_bin, "plan", "--detailed-exitcode", "-l", "tier=data", cwd=d)
    assert done.returncode == 2, done.stderr
    assert re.search(r"\+\s+db\s", done.stdout) and re.search(r"\+\s+cache\s", done.stdout)
    assert "api" not in done.stdout and "web" not in done.stdout

    # apply --detailed-exitcode: 2 when it changed something, then 0 when nothing is left
    done = cli(kube, helm_bin, "apply", "--yes", "--detailed-exitcode", "-l", "tier=app,name=api",
               "--include-deps", cwd=d)
    assert done.returncode == 2, done.stdout + done.stderr
    assert deployed(kube, helm_bin) == {"db", "api"}
    done = cli(kube, helm_bin, "apply", "--yes", "--detailed-exitcode", cwd=d)
    assert done.returncode == 2, done.stdout + done.stderr
    assert deployed(kube, helm_bin) == {"db", "cache", "api", "web"}
    done = cli(kube, helm_bin, "apply", "--yes", "--detailed-exitcode", cwd=d)
    assert done.returncode == 0 and "Nothing to do." in done.stdout
    done = cli(kube, helm_bin, "plan", "--detailed-exitcode", cwd=d)
    assert done.returncode == 0, done.stderr

    # destroy of a release deployed releases depend on: refused, naming them; nothing removed
    done = cli(kube, helm_bin, "destroy", "--yes", "--target", "db", cwd=d)
    assert done.returncode == 1
    assert "refusing to destroy: 'db' is needed by 'api', 'web' (still deployed)" in done.stderr
    assert "--include-deps" in done.stderr
    assert deployed(kube, helm_bin) == {"db", "cache", "api", "web"}

    # --include-deps: the dependents go too, dependents first
    done = cli(kube, helm_bin, "destroy", "--yes", "--target", "api", "--include-deps", cwd=d)
    assert done.returncode == 0, done.stdout + done.stderr
    plan_lines = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("-  ")
                  and "destroy" in line]
    assert plan_lines == ["web", "api"], done.stdout
    assert deployed(kube, helm_bin) == {"db", "cache"}

    # no deployed dependent left: db alone is fine; --force skips the check
    done = cli(kube, helm_bin, "apply", "--yes", "-l", "name=api", cwd=d)
    assert done.returncode == 0, done.stdout + done.stderr
    done = cli(kube, helm_bin, "destroy", "--yes", "-l", "tier=data", "--force", cwd=d)
    assert done.returncode == 0, done.stdout + done.stderr
    assert deployed(kube, helm_bin) == {"api"}
    done = cli(kube, helm_bin, "destroy", "--yes", cwd=d)
    assert done.returncode == 0 and deployed(kube, helm_bin) == set()


def test_environments_keep_their_own_state_and_overrides_show_in_the_plan(tmp_path, kube, chart_repo,
                                                                         helm_bin):
    releases = [("db", [], {"message": "db"}), ("api", ["db"], {"message": "api"})]
    path = config(tmp_path / "p", kube, chart_repo, releases, extra=f"""
[environments.staging]
releases = ["db"]

[environments.staging.deployments.db]
namespace = "{kube.namespace}-staging"
values = {{ replicaCount = 2 }}
""")
    d = path.parent
    staging_ns = f"{kube.namespace}-staging"
    done = cli(kube, helm_bin, "plan", "-e", "staging", "--detailed-exitcode", cwd=d)
    assert done.returncode == 2, done.stderr
    assert done.stdout.splitlines()[0].startswith("firestream.toml: environment staging (state ")
    assert "state.staging.json" in done.stdout.splitlines()[0]
    assert re.search(rf"\+\s+db\s+{staging_ns}\s+create", done.stdout) and "api" not in done.stdout

    # -e from the environment variable; create the namespace through the release
    text = path.read_text().replace('timeout = "60s"', 'timeout = "60s"\ncreate_namespace = true')
    path.write_text(text)
    done = cli(kube, helm_bin, "apply", "--yes", cwd=d, env={"FIRESTREAM_ENVIRONMENT": "staging"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (d / ".firestream" / "state.staging.json").is_file()
    assert not (d / ".firestream" / "state.json").exists()
    releases_live = {(r.namespace, r.name) for r in kube.helm(helm_bin).list_releases()}
    assert (staging_ns, "db") in releases_live and (kube.namespace, "db") not in releases_live
    values = kube.helm(helm_bin).get_values("db", staging_ns)
    assert values.get("replicaCount") == 2

    # the default environment has its own (empty) state: it plans both releases as new
    done = cli(kube, helm_bin, "plan", cwd=d)
    assert re.search(rf"\+\s+db\s+{kube.namespace}\s+create", done.stdout), done.stdout

    # a one-off --set shows in the plan and becomes an upgrade; the header names the override's
    # path, and the value change shows as old -> new (not a sensitive key: docs/secrets.md)
    done = cli(kube, helm_bin, "plan", "-e", "staging", "--set", "message=one-off-9931", cwd=d)
    assert "overrides: --set message" in done.stdout
    assert re.search(r"~\s+db\s.*upgrade\s+tiny-app 0.2.0\s+values changed: message", done.stdout), done.stdout
    assert "message: db -> one-off-9931" in done.stdout
    assert "--set message=one-off-9931" not in done.stdout
    done = cli(kube, helm_bin, "destroy", "--yes", "-e", "staging", cwd=d)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_read_command_json_follows_one_schema(tmp_path, kube, chart_repo, helm_bin):
    import jsonschema

    from firestream_core.cli.jsonout import SCHEMA

    releases = [("db", [], {"message": "db"}), ("api", ["db"], {"message": "api"})]
    path = config(tmp_path / "p", kube, chart_repo, releases)
    d = path.parent
    assert cli(kube, helm_bin, "apply", "--yes", "--target", "db", cwd=d).returncode == 0
    commands = {
        "plan": ["plan", "--json"],
        "status": ["status", "--json"],
        "state": ["state", "show", "--json"],
        "diff": ["diff", "--json"],
        "drift": ["drift", "--json"],
        "graph": ["graph", "--json"],
        "validate": ["validate", "--json"],
        "plugins": ["plugins", "--json"],
    }
    for command, argv in commands.items():
        done = cli(kube, helm_bin, *argv, cwd=d)
        assert done.returncode in (0, 2), (command, done.stderr)
        doc = json.loads(done.stdout)
        jsonschema.validate(doc, SCHEMA)
        assert doc["command"] == command
        keys = [r["key"] for r in doc["releases"]]
        if command == "plugins":
            assert keys == []
        elif command in ("state", "drift"):  # only what is recorded / deployed
            assert f"{kube.namespace}/db" in keys and all(k.startswith(f"{kube.namespace}/") for k in keys)
        elif command == "diff":  # only what changes
            assert keys == [f"{kube.namespace}/api"]
        else:
            assert sorted(keys) == sorted([f"{kube.namespace}/db", f"{kube.namespace}/api"]), (command, keys)
        for r in doc["releases"]:
            assert r["key"] == f"{r['namespace']}/{r['name']}"
            assert "release" not in r  # one spelling: name
    # an invalid file: validate --json still answers in the shape, valid=false
    path.write_text(path.read_text() + "\n[bogus]\n")
    done = cli(kube, helm_bin, "validate", "--json", cwd=d)
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc["valid"] is False and any(p["path"] == "bogus" for p in doc["problems"])


def test_rollback_after_a_failed_apply_returns_to_the_last_successful_one(tmp_path, kube, chart_repo,
                                                                           helm_bin):
    def project(message: str, broken: bool) -> Path:
        body = release_blocks([("web", [], {"message": message})], chart="tiny-app",
                              repository=chart_repo.name, namespace=kube.namespace, version="0.2.0")
        if broken:  # the new pods never get ready: the (non-atomic) upgrade fails, left `failed`
            body += 'podAnnotations = { "emulator.firestream.dev/ready" = "false" }\n'
        return write_config(tmp_path / "p", f"""
            [repositories]
            {chart_repo.name} = "{chart_repo.url}"

            [defaults]
            timeout = "3s"
            atomic = false

        """ + body)

    d = project("good", broken=False).parent
    assert cli(kube, helm_bin, "apply", "--yes", cwd=d).returncode == 0
    project("bad", broken=True)
    done = cli(kube, helm_bin, "apply", "--yes", cwd=d)
    assert done.returncode == 1, done.stdout + done.stderr
    helm = kube.helm(helm_bin)
    [(failed_at, status)] = [(r.revision, r.status) for r in helm.list_releases()
                             if r.key == (kube.namespace, "web")]  # the other helm's test has a web too
    # helm's wait failed the upgrade (revision 2 `failed`), or validate did and firestream's
    # rollback on validation failure put revision 1 back (revision 3): either way, not "good"
    assert (failed_at, status) in ((2, "failed"), (3, "deployed")), (failed_at, status)

    done = cli(kube, helm_bin, "rollback", "web", "--yes", cwd=d)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(rf"<\s+web\s+\S+\s+rollback\s+revision {failed_at} -> 1 \(last successful create at ",
                     done.stdout), done.stdout
    assert helm.get_values("web", kube.namespace)["message"] == "good"
    assert [(r.revision, r.status) for r in helm.list_releases()
            if r.key == (kube.namespace, "web")] == [(failed_at + 1, "deployed")]


def test_rollback_to_the_last_successful_apply(tmp_path, kube, chart_repo, helm_bin):
    releases = [("db", [], {"message": "applied"}), ("api", ["db"], {"message": "applied"})]
    path = config(tmp_path / "p", kube, chart_repo, releases)
    d = path.parent
    assert cli(kube, helm_bin, "apply", "--yes", cwd=d).returncode == 0
    # someone upgrades db by hand, outside firestream: revision 2
    # by hand, with the user's own helm repositories (firestream's apply never added it there)
    kube.run([str(helm_bin), "repo", "add", chart_repo.name, chart_repo.url])
    kube.run([str(helm_bin), "upgrade", "db", f"{chart_repo.name}/tiny-app", "--version", "0.2.0",
              "-n", kube.namespace, "--reuse-values", "--set", "message=by-hand"])
    helm = kube.helm(helm_bin)
    assert helm.get_values("db", kube.namespace)["message"] == "by-hand"

    done = cli(kube, helm_bin, "rollback", "--dry-run", cwd=d)
    assert done.returncode == 0, done.stderr
    assert re.search(r"<\s+db\s+\S+\s+rollback\s+revision 2 -> 1 \(last successful create at ", done.stdout)
    assert re.search(r"=\s+api\s+\S+\s+no-op\s+already at revision 1", done.stdout)
    assert helm.get_values("db", kube.namespace)["message"] == "by-hand"  # a dry run changes nothing

    done = cli(kube, helm_bin, "rollback", "--yes", cwd=d)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^db\s+ok\s+3\s", done.stdout, re.M), done.stdout
    assert helm.get_values("db", kube.namespace)["message"] == "applied"
    state = json.loads((d / ".firestream" / "state.json").read_text())["releases"][f"{kube.namespace}/db"]
    assert (state["action"], state["result"], state["revision"]) == ("rollback", "succeeded", 3)
    assert "Rolling back release 'db' to revision 1" in done.stderr

    # --to-revision: one release only, to that revision
    done = cli(kube, helm_bin, "rollback", "db", "--to-revision", "2", "--yes", cwd=d)
    assert done.returncode == 0, done.stdout + done.stderr
    assert helm.get_values("db", kube.namespace)["message"] == "by-hand"
    done = cli(kube, helm_bin, "rollback", "--to-revision", "2", "--yes", cwd=d)
    assert done.returncode == 1 and "--to-revision needs exactly one release" in done.stderr
    done = cli(kube, helm_bin, "rollback", "db", "--to-revision", "9", "--yes", cwd=d)
    assert done.returncode == 1 and "no revision 9 (current 4)" in done.stdout
