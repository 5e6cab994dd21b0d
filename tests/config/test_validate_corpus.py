"""The corpus: hundreds of malformed projects, each refused in one run, before any cluster call.

Every case is a ``firestream.toml`` (plus the files a project may hold: values
files, folders, a symlink, binary junk) with one kind of mistake, or several
at once. Each runs through the real ``firestream`` entry point in this process
(``cli.main.main([...])``) three ways:

* ``validate``: exit 1, ONE ``error:`` line naming the file, then every problem;
  the offending dotted key (and value, where the mistake is a value) is
  named; no traceback and no ``unexpected`` line;
* ``validate --json``: the same problems as ``problems: [{path, message, file, line}]``,
  one of them at the offending key;
* ``plan`` on the recording fake helm: the same refusal, and the fake
  records no call at all (not even ``helm version`` or ``helm list``).

A control project (the base of every case) is valid and its plan does call
the fake helm, so the "no call" assertion can fail. The corpus size by kind is
checked at the end (at least 200 projects).
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import pytest

from firestream_core.cli.main import main

BASE = """[project]
name = "corpus"

[repositories]
fixtures = "https://charts.example.com/fixtures"
"""
WEB = '[deployments.web]\nchart = "fixtures/tiny-app"\nversion = "0.1.0"\n'

FILES: dict[str, Any] = {
    "adir/": None,
    "emptydir/": None,
    "afile.txt": "just some words\n",
    "notyaml.yaml": "a: [b\n",
    "list.yaml": "- a\n- b\n",
    "scalar.yaml": "hello\n",
    "binary.yaml": b"\xff\xfe\x00\x01garbage",
    "link.yaml": ("symlink", "notyaml.yaml"),
    "good.yaml": "a: 1\n",
    "charts/tiny/Chart.yaml": "apiVersion: v2\nname: tiny\nversion: 0.1.0\n",
    # bitnami-style: `common` listed, `helm dependency build` never run
    "charts/undeps/Chart.yaml": ("apiVersion: v2\nname: undeps\nversion: 0.1.0\ndependencies:\n"
                                 "  - name: common\n    version: 2.x.x\n"
                                 "    repository: oci://registry-1.docker.io/bitnamicharts\n"),
}


class Case:
    def __init__(self, kind: str, text: str | bytes, expect: list[str], *, json_path: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.text = text
        self.expect = expect
        # the dotted path one JSON problem must have (the first expected string by default)
        paths = [e for e in expect if not e.startswith("firestream.toml")]
        self.json_path = json_path if json_path is not None else (paths[0].split(":")[0] if paths else "")
        self.env = env or {}


CASES: dict[str, Case] = {}


def case(id_: str, kind: str, text: str | bytes, *expect: str, **kw: Any) -> None:
    assert id_ not in CASES, id_
    CASES[id_] = Case(kind, text, list(expect), **kw)


# -- the release keys (docs/configuration.md "Keys"), in a release and in [defaults] --------------

BOOL_KEYS = ("atomic", "force_upgrade", "create_namespace", "dry_run", "wait", "wait_for_jobs",
             "hooks_disabled", "skip_crds", "run_tests")
# key -> [(TOML value, kind, expected substrings after the dotted path)]
RELEASE_BAD: dict[str, list[tuple[str, str, list[str]]]] = {
    "sensitive_keys": [
        ('"auth.*"', "wrong-type", ["expected an array of strings, got a string"]),
        ("[5]", "wrong-type", ["sensitive_keys[0]", "expected a string, got an integer"]),
        ('[""]', "value", ["sensitive_keys[0]", "must not be empty"]),
        ('["auth. password"]', "value", ["'auth. password'", "contains a space"]),
    ],
    "labels": [
        ("5", "wrong-type", ["expected a table of label = value, got an integer"]),
        ('["db"]', "wrong-type", ["expected a table of label = value, got an array"]),
        ("{tier = {a = 1}}", "wrong-type", ["labels.tier", "expected a string, got a table"]),
        # labels are text, compared as text with -l tier=5 (docs/configuration.md: a table of strings)
        ("{tier = 5}", "wrong-type", ["labels.tier", "expected a string, got an integer", "quote it"]),
        ("{ok = true}", "wrong-type", ["labels.ok", "expected a string, got a boolean"]),
    ],
    "chart": [
        ("5", "wrong-type", ["expected a string, got an integer"]),
        ('""', "value", ["must not be empty"]),
        ('"oci://"', "url", ["no host after 'oci://'"]),
        ('"oci:///charts/web"', "url", ["no host after 'oci://'"]),
        ('"oci://host"', "url", ["no chart after the host 'host'"]),
        ('"oci://host/"', "url", ["no chart after the host 'host'"]),
        ('"oci://ho st/web"', "url", ["'ho st'", "contains a space"]),
        ('"oci://host/my chart"', "url", ["'/my chart'", "contains a space"]),
        ('"oci:host/web"', "url", ["starts with 'oci://'"]),
        ('"ftp://host/web"', "url", ["scheme 'ftp'"]),
        ('"my chart"', "value", ["'my chart'", "contains a space"]),
    ],
    "repository": [
        ("5", "wrong-type", ["expected a string, got an integer"]),
        ('"no such repo"', "name", ["'no such repo'"]),
        ('"unknown"', "value", ["repository 'unknown' has no known URL"]),
    ],
    "version": [
        ("5", "wrong-type", ["expected a version string, got an integer"]),
        ('"banana"', "value", ["'banana'"]),
        ('"1.x.y.z"', "value", ["'1.x.y.z'"]),
        ("[1]", "wrong-type", ["expected a version string, got an array"]),
    ],
    "path": [
        ("5", "wrong-type", ["expected a string, got an integer"]),
        ('"missing-chart"', "file", ["'missing-chart'", "not found"]),
        ('"afile.txt"', "file", ["'afile.txt'", "not a chart archive"]),
        ('"emptydir"', "file", ["'emptydir'", "without Chart.yaml"]),
        ('"charts/undeps"', "file", ["'charts/undeps'", "not in its charts/ folder: common",
                                     "helm dependency build"]),
    ],
    "namespace": [
        ("5", "wrong-type", ["expected a string, got an integer"]),
        ('"Not_OK"', "name", ["'Not_OK'", "DNS-1123"]),
        ('"-x-"', "name", ["'-x-'", "DNS-1123"]),
        ('"' + "n" * 64 + '"', "bound", ["64 characters long, at most 63"]),
        ('"ns\\n"', "name", ["'ns\\n'"]),
    ],
    "custom_namespace": [
        ("5", "wrong-type", ["expected a string, got an integer"]),
        ('"Bad_NS"', "name", ["'Bad_NS'"]),
    ],
    "action": [
        ("5", "wrong-type", ["expected a string, got an integer"]),
        ('"deploy-now"', "value", ["'deploy-now'", "'deploy', 'destroy' or 'skip'"]),
    ],
    "timeout": [
        ("5", "wrong-type", ["expected a duration such as '300s', got an integer"]),
        ('"soon"', "value", ["'soon'"]),
        ('"25h"', "bound", ["'25h'", "24h"]),
        ('"9999999999999999999h"', "bound", ["'9999999999999999999h'", "24h"]),
        ('"-5s"', "value", ["'-5s'"]),
        ('"5 m"', "value", ["'5 m'"]),
    ],
    "retry_delay": [
        ("true", "wrong-type", ["expected a duration such as '300s', got a boolean"]),
        ('"later"', "value", ["'later'"]),
        ('"48h"', "bound", ["'48h'", "24h"]),
    ],
    "values": [
        ('"a=b"', "wrong-type", ["expected a table, got a string"]),
        ("[1]", "wrong-type", ["expected a table, got an array"]),
    ],
    "set": [
        ('"a=b"', "wrong-type", ["got a string"]),
        ('[{key = "", value = 1}]', "value", ["set[0].key", "must not be empty"]),
        ('[{key = "a b", value = 1}]', "value", ["set[0].key", "'a b'"]),
        ('[{key = "a"}]', "wrong-type", ["set[0].value", "required key missing"]),
        ('[{key = "a", value = [1]}]', "wrong-type", ["set[0].value", "got an array"]),
        ("[5]", "wrong-type", ["set[0]"]),
        ('{key = "a", value = 1}', "wrong-type", ["expected an array, got a table"]),
        ('[{key = "a", value = 1, colour = "x"}]', "unknown-key", ["set[0].colour", "unknown key"]),
    ],
    "values_files": [
        ('"good.yaml"', "wrong-type", ["expected an array of strings, got a string"]),
        ('[""]', "file", ["values_files[0]", "must not be empty"]),
        ('["missing.yaml"]', "file", ["values_files[0]", "'missing.yaml'", "not found"]),
        ('["adir"]', "file", ["values_files[0]", "'adir'", "is a folder"]),
        ('["notyaml.yaml"]', "yaml", ["values_files[0]", "'notyaml.yaml'", "not valid YAML"]),
        ('["list.yaml"]', "yaml", ["values_files[0]", "'list.yaml'", "a list, not a mapping"]),
        ('["scalar.yaml"]', "yaml", ["values_files[0]", "'scalar.yaml'", "a string, not a mapping"]),
        ('["link.yaml"]', "yaml", ["values_files[0]", "'link.yaml'", "not valid YAML"]),
        ('["binary.yaml"]', "file", ["values_files[0]", "'binary.yaml'", "not UTF-8"]),
        ('["/dev/zero"]', "file", ["values_files[0]", "'/dev/zero'", "not a regular file"]),
        ('["good.yaml", 5]', "wrong-type", ["values_files[1]", "got an integer"]),
        ('{a = "good.yaml"}', "wrong-type", ["expected an array, got a table"]),
    ],
    "yaml_files_content": [
        ('"x"', "wrong-type", ["yaml_files_content"]),
        ('[{filename = "g", yaml_content = "a: [b"}]', "yaml", ["yaml_files_content[0].yaml_content",
                                                                "not valid YAML"]),
        ('[{filename = "g", yaml_content = "- a"}]', "yaml", ["yaml_files_content[0].yaml_content",
                                                              "a list, not a mapping"]),
        ('[{filename = "g", yaml_content = "7"}]', "yaml", ["yaml_files_content[0].yaml_content",
                                                            "a number, not a mapping"]),
        ('[{filename = "g"}]', "wrong-type", ["yaml_files_content[0].yaml_content", "required key missing"]),
        ('[{filename = "", yaml_content = "a: 1"}]', "value", ["yaml_files_content[0].filename",
                                                                "must not be empty"]),
    ],
    "last_breaking_version_requiring_restart": [
        ('"2.0.0"', "wrong-type", ["last_breaking_version_requiring_restart"]),
        ('{version = "2"}', "value", ["last_breaking_version_requiring_restart.version", "'2'"]),
        ('{version = "2.0.0", pre_upgrade_commands = [5]}', "wrong-type",
         ["pre_upgrade_commands[0]", "got an integer"]),
        ('{version = "2.0.0", pre_upgrade_commands = [""]}', "value",
         ["pre_upgrade_commands[0]", "must name a program"]),
        ('{version = "2.0.0", bogus = 1}', "unknown-key",
         ["last_breaking_version_requiring_restart.bogus", "unknown key"]),
        ('{version = "2.0.0", requires_uninstall = "yes"}', "wrong-type",
         ["requires_uninstall", "expected a boolean"]),
    ],
    "history_max": [
        ("-1", "bound", ["must not be negative"]),
        ('"3"', "wrong-type", ["expected an integer, got a string"]),
        ("1.5", "wrong-type", ["expected an integer, got a float"]),
        ("99999999999999999", "bound", ["99999999999999999 is over the bound of 1000000"]),
    ],
    "retries": [
        ("-2", "bound", ["must not be negative"]),
        ("true", "wrong-type", ["expected an integer, got a boolean"]),
        ("1000", "bound", ["1000 is over the bound of 100"]),
    ],
    "secret_values": [
        ('"x"', "wrong-type", ["secret_values", "expected a table"]),
        ("{a = 5}", "wrong-type", ["secret_values.a", "got an integer"]),
        ('{a = {env = "FS_CORPUS_UNSET_VAR"}}', "secret", ["secret_values.a", "'FS_CORPUS_UNSET_VAR'",
                                                            "is not set"]),
        ('{a = {file = "nope.txt"}}', "secret", ["secret_values.a", "'nope.txt'", "not found"]),
        ('{a = {env = "A", file = "b"}}', "value", ["secret_values.a", "not both"]),
        ('{a = {env = ""}}', "value", ["secret_values.a.env", "non-empty string"]),
    ],
    "on_validation_failure": [
        ('"explode"', "value", ["'explode'", "'fail' or 'warn'"]),
        ("5", "wrong-type", ["expected a string, got an integer"]),
    ],
}
for _k in BOOL_KEYS:
    RELEASE_BAD[_k] = [
        ('"yes"', "wrong-type", ["expected a boolean (true or false), got a string"]),
        ("1", "wrong-type", ["expected a boolean (true or false), got an integer"]),
    ]
PER_RELEASE_BAD: dict[str, list[tuple[str, str, list[str]]]] = {
    "name": [
        ("5", "wrong-type", ["expected a string, got an integer"]),
        ('""', "name", ["must not be empty"]),
        ('"Web_1"', "name", ["'Web_1'", "DNS-1123"]),
        ('"web\\n"', "name", ["'web\\n'"]),
        ('"' + "w" * 54 + '"', "bound", ["54 characters long, at most 53"]),
    ],
    "depends_on": [
        ('"db"', "wrong-type", ["expected an array of strings, got a string"]),
        ("[5]", "wrong-type", ["depends_on[0]", "got an integer"]),
        ('["nope"]', "graph", ["depends on 'nope', which is not defined"]),
    ],
    "preset": [
        ("5", "wrong-type", ["expected a string, got an integer"]),
        ('"nope"', "value", ["unknown preset 'nope'"]),
    ],
}

for _key, _bad in {**RELEASE_BAD, **PER_RELEASE_BAD}.items():
    for _i, (_value, _kind, _expect) in enumerate(_bad):
        _where = f"deployments.web.{_key}"
        _first = _expect[0] if _expect[0].startswith(_key) else None
        _path = f"deployments.web.{_first.split(' ')[0]}" if _first else _where
        _base = "".join(x + "\n" for x in WEB.splitlines() if not x.startswith(f"{_key} ="))
        case(f"release-{_key}-{_i}", _kind, BASE + _base + f"{_key} = {_value}\n",
             "firestream.toml", _path, *[e for e in _expect if e != _first], json_path=_path)

for _key, _bad in RELEASE_BAD.items():
    if _key in ("repository",):  # [defaults] repository: reported where the release uses it
        continue
    for _i, (_value, _kind, _expect) in enumerate(_bad):
        if _kind in ("secret",):
            continue
        _first = _expect[0] if _expect[0].startswith(_key) else None
        _path = f"defaults.{_first.split(' ')[0]}" if _first else f"defaults.{_key}"
        case(f"defaults-{_key}-{_i}", "defaults", BASE + f"[defaults]\n{_key} = {_value}\n\n" + WEB,
             "firestream.toml", _path, *[e for e in _expect if e != _first], json_path=_path)

for _key in ("name", "preset", "depends_on"):
    case(f"defaults-per-release-{_key}", "defaults", BASE + f'[defaults]\n{_key} = "x"\n\n' + WEB,
         "firestream.toml", f"defaults.{_key}", "only per release")
case("defaults-unknown", "unknown-key", BASE + '[defaults]\ntimout = "5m"\n\n' + WEB,
     "firestream.toml", "defaults.timout", "did you mean 'timeout'")
case("defaults-not-a-table", "wrong-type", 'defaults = 5\n' + BASE + WEB,
     "firestream.toml", "defaults", "expected a table, got an integer")

# -- unknown keys and wrong types in every table -----------------------------------------------------
case("top-unknown", "unknown-key", BASE + "[projct]\n" + WEB, "firestream.toml", "projct",
     "did you mean 'project'")
case("release-unknown", "unknown-key", BASE + WEB + 'tiemout = "5m"\n', "firestream.toml",
     "deployments.web.tiemout", "did you mean 'timeout'")
case("project-name-type", "wrong-type", '[project]\nname = 5\n' + WEB.replace("fixtures/", "oci://r.example.com/c/"),
     "firestream.toml", "project.name", "expected a string, got an integer")
case("project-not-table", "wrong-type", 'project = 5\n' + WEB.replace("fixtures/", "oci://r.example.com/c/"),
     "firestream.toml", "project", "expected a table, got an integer")
case("project-unknown", "unknown-key", '[project]\nnmae = "x"\n' + WEB.replace("fixtures/", "oci://r.example.com/c/"),
     "firestream.toml", "project.nmae", "unknown key")
for _i, (_url, _kind, _exp) in enumerate([
    ('"ftp://charts.example.com"', "url", ["scheme 'ftp' is not supported"]),
    ('"https://exa mple.com/charts"', "url", ["'exa mple.com'", "contains a space"]),
    ('"https://example.com/my charts"', "url", ["'/my charts'", "contains a space"]),
    ('"https://"', "url", ["no host after 'https://'"]),
    ('"oci://"', "url", ["no host after 'oci://'"]),
    ('"charts.example.com"', "url", ["no scheme"]),
    ('"https://example.com:port/x"', "url", ["not a URL"]),
    ("5", "wrong-type", ["expected a repository URL, got an integer"]),
]):
    case(f"repositories-url-{_i}", _kind, BASE.replace('"https://charts.example.com/fixtures"', _url) + WEB,
         "firestream.toml", "repositories.fixtures", *_exp)
case("repositories-name", "name", BASE + '"bad name" = "https://x.example.com"\n' + WEB,
     "firestream.toml", 'repositories."bad name"', "invalid repository name")
case("repositories-not-table", "wrong-type", 'repositories = 5\n[project]\nname = "c"\n' + WEB,
     "firestream.toml", "repositories", "expected a table, got an integer")
case("registries-not-table", "wrong-type", 'registries = 5\n' + BASE + WEB,
     "firestream.toml", "registries", "expected a table, got an integer")
case("registries-entry-type", "wrong-type", BASE + '[registries]\n"r.example.com" = 5\n' + WEB,
     "firestream.toml", 'registries."r.example.com"', "expected a table, got an integer")
case("registries-unknown", "unknown-key", BASE + '[registries."r.example.com"]\nbogus = 1\n' + WEB,
     "firestream.toml", 'registries."r.example.com".bogus', "unknown key")

STATE_BAD = [
    ('backend = "s3"', "value", "state.backend", ["'s3'", "'local' or 'kubernetes'"]),
    ("backend = 5", "wrong-type", "state.backend", ["expected a string, got an integer"]),
    ('backend = "kubernetes"\npath = "x.json"', "state", "state.path", ["local backend only"]),
    ('backend = "kubernetes"\nname = "Bad_Name"', "state", "state.name", ["'Bad_Name'"]),
    ('backend = "kubernetes"\nname = ""', "state", "state.name", ["''"]),
    ('backend = "kubernetes"\nnamespace = "Bad_NS"', "state", "state.namespace", ["'Bad_NS'"]),
    ('lease_duration = "0s"', "bound", "state.lease_duration", ["'0s'", "minimum of 1s"]),
    ('lease_duration = "25h"', "bound", "state.lease_duration", ["'25h'", "24h"]),
    ('lease_duration = "soon"', "value", "state.lease_duration", ["'soon'"]),
    ('bogus = 1', "unknown-key", "state.bogus", ["unknown key"]),
]
for _i, (_body, _kind, _path, _exp) in enumerate(STATE_BAD):
    case(f"state-{_i}", _kind, BASE + f"[state]\n{_body}\n\n" + WEB, "firestream.toml", _path, *_exp)
case("state-kubernetes-no-name", "state",
     '[repositories]\nfixtures = "https://c.example.com"\n[state]\nbackend = "kubernetes"\n\n' + WEB,
     "firestream.toml", "state.name", "required")
case("state-not-table", "wrong-type", 'state = "local"\n' + BASE + WEB, "firestream.toml", "state",
     "expected a table, got a string")

SETTINGS_BAD = [
    ("concurrency = -1", "bound", "settings.concurrency", ["must not be negative"]),
    ('concurrency = "4"', "wrong-type", "settings.concurrency", ["got a string"]),
    ("concurrency = 100000", "bound", "settings.concurrency", ["100000 is over the bound of 10000"]),
    ('fail_fast = "yes"', "wrong-type", "settings.fail_fast", ["expected a boolean"]),
    ('on_validation_failure = "x"', "value", "settings.on_validation_failure", ["'x'"]),
    ("bogus = 1", "unknown-key", "settings.bogus", ["unknown key"]),
]
for _i, (_body, _kind, _path, _exp) in enumerate(SETTINGS_BAD):
    case(f"settings-{_i}", _kind, BASE + f"[settings]\n{_body}\n\n" + WEB, "firestream.toml", _path, *_exp)

case("deployments-not-table", "wrong-type", "deployments = 5\n" + BASE, "firestream.toml", "deployments",
     "expected a table, got an integer")
case("deployments-entry-type", "wrong-type", BASE + "[deployments]\nweb = 5\n", "firestream.toml",
     "deployments.web", "expected a table or an array of tables")
case("deployments-array-item", "wrong-type", BASE + "[deployments]\nweb = [5]\n", "firestream.toml",
     "deployments.web[0]", "expected a table, got an integer")
case("unknown-chart-type", "value", BASE + "[deployments.mystery]\nnamespace = \"x\"\n", "firestream.toml",
     "deployments.mystery", "unknown chart type 'mystery'")
case("no-chart", "value", BASE + "[deployments.web]\nversion = \"1.0.0\"\n", "firestream.toml",
     "deployments.web", "unknown chart type 'web'")

# -- chart-type options (the built-in plugins' options classes) --------------------------------------
OPTIONS_BAD = [
    ("postgresql", "password_length = 4", "deployments.postgresql.password_length",
     ["password_length = 4", "minimum of 16"]),
    ("postgresql", "password_length = \"x\"", "deployments.postgresql.password_length", ["got a string"]),
    ("postgresql", 'auth_secret = "Bad_Name"', "deployments.postgresql.auth_secret",
     ["auth_secret = 'Bad_Name'", "Secret name"]),
    ("postgresql", 'password_env = "1X"', "deployments.postgresql.password_env", ["password_env = '1X'"]),
    ("postgresql", 'delete_secret_on_destroy = "yes"', "deployments.postgresql.delete_secret_on_destroy",
     ["expected a boolean"]),
    ("postgresql", "delet_secret_on_destroy = true", "deployments.postgresql.delet_secret_on_destroy",
     ["did you mean 'delete_secret_on_destroy'"]),
    ("kafka", "kafka_cluster = 5", "deployments.kafka.kafka_cluster", ["kafka_cluster"]),
    ("kafka", "kafka_cluster = {replicas = 0}", "deployments.kafka.kafka_cluster",
     ["replicas = 0", "minimum of 1"]),
    ("kafka", 'kafka_cluster = {storage = "lots"}', "deployments.kafka.kafka_cluster", ["storage", "'lots'"]),
    ("kafka", "kafka_cluster = {bogus = 1}", "deployments.kafka.kafka_cluster.bogus", ["unknown key"]),
    ("kafka", 'upgrade_crds = "no"', "deployments.kafka.upgrade_crds", ["expected a boolean"]),
    ("kafka", 'preset = "nope"', "deployments.kafka.preset", ["unknown preset 'nope'"]),
]
for _i, (_ctype, _body, _path, _exp) in enumerate(OPTIONS_BAD):
    case(f"option-{_ctype}-{_i}", "option", BASE + f"[deployments.{_ctype}]\n{_body}\n", "firestream.toml",
         _path, *_exp)

# -- the graph -----------------------------------------------------------------------------------
case("graph-cycle", "graph", BASE + WEB + 'depends_on = ["api"]\n' + WEB.replace("web", "api")
     + 'depends_on = ["web"]\n', "firestream.toml", "dependency cycle", "web -> api -> web", json_path="")
case("graph-self", "graph", BASE + WEB + 'depends_on = ["web"]\n', "firestream.toml", "dependency cycle",
     json_path="")
case("graph-duplicate", "graph", BASE + WEB + 'namespace = "a"\n' + '[deployments.other]\nname = "web"\n'
     'chart = "fixtures/x"\nnamespace = "a"\n', "firestream.toml", "deployments.other",
     "already defined by deployments.web")

# -- files that are not TOML at all -----------------------------------------------------------------
case("toml-syntax", "toml", BASE + WEB + "version = \n", "firestream.toml:", "invalid TOML at line", json_path="")
case("toml-duplicate-key", "toml", BASE + WEB + 'chart = "again"\n', "firestream.toml:", "invalid TOML",
     json_path="")
case("toml-duplicate-table", "toml", BASE + WEB + WEB, "firestream.toml:", "invalid TOML", json_path="")
case("garbage-binary", "garbage", bytes(range(256)) * 4, "firestream.toml", "not UTF-8", json_path="")
case("garbage-invalid-utf8", "garbage", BASE.encode() + b'[deployments.web]\nchart = "\xc3\x28"\n',
     "firestream.toml", "not UTF-8", json_path="")
case("garbage-nul", "garbage", BASE + WEB + "\x00\x00\n", "firestream.toml:", "invalid TOML", json_path="")
case("deep-arrays-500", "nesting", BASE + WEB + "values = {a = " + "[" * 500 + "]" * 500 + "}\n",
     "firestream.toml", "nested too deeply", json_path="")
case("deep-tables-200", "nesting", BASE + WEB + "values = " + "{a = " * 200 + "1" + "}" * 200 + "\n",
     "firestream.toml", "deployments.web.values.a.a", "nested more than 64 levels deep", json_path="")
case("deep-arrays-80", "nesting", BASE + WEB + "values = {a = " + "[" * 80 + "]" * 80 + "}\n",
     "firestream.toml", "deployments.web.values.a[0]", "nested more than 64 levels deep", json_path="")
case("huge-file", "huge", BASE + WEB + "#" + "x" * (17 * 1024 * 1024) + "\n", "firestream.toml",
     "larger than 16 MiB", json_path="")

# -- several problems at once (the example: four kinds, one run) ------------------------
case(
    "all-at-once", "multi",
    BASE + '[deployments.web]\nchart = "fixtures/tiny-app"\ncolour = "blue"\nversion = "1.x.y.z"\ndepends_on = ["api"]\n'
    'secret_values = {a = {env = "FS_CORPUS_UNSET_VAR"}}\n' + WEB.replace("web", "api")
    + 'depends_on = ["web"]\nvalues_files = ["list.yaml"]\n[defaults]\nnamespace = "Not_OK"\n',
    "deployments.web.colour", "deployments.web.version: invalid chart version '1.x.y.z'",
    "environment variable 'FS_CORPUS_UNSET_VAR' is not set", "dependency cycle",
    "deployments.api.values_files[0]", "defaults.namespace: namespace 'Not_OK'",
)
case(
    "every-table-at-once", "multi",
    '[projct]\n[state]\nbackend = "s3"\n[settings]\nconcurrency = -1\n[repositories]\nr = "ftp://x"\n'
    '[defaults]\ntimeout = "99h"\n' + WEB + 'name = "Web"\n',
    "projct", "state.backend", "settings.concurrency", "repositories.r", "defaults.timeout",
    "deployments.web.name",
)


def _make_project(root: Path, case_: Case) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, content in FILES.items():
        p = root / name
        if name.endswith("/"):
            p.mkdir(parents=True, exist_ok=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple):
            p.symlink_to(content[1])
        elif isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    cfg = root / "firestream.toml"
    if isinstance(case_.text, bytes):
        cfg.write_bytes(case_.text)
    else:
        cfg.write_text(case_.text)
    return cfg


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def corpus_env(monkeypatch: pytest.MonkeyPatch, fake_helm: Any, tmp_path: Path) -> Any:
    for k, v in fake_helm.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("FIRESTREAM_TMPDIR", str(tmp_path / "values-tmp"))
    (tmp_path / "values-tmp").mkdir()
    monkeypatch.delenv("FS_CORPUS_UNSET_VAR", raising=False)
    monkeypatch.delenv("FIRESTREAM_DISABLE_PLUGINS", raising=False)
    return fake_helm


def test_the_control_project_is_valid_and_its_plan_calls_helm(tmp_path, capsys, corpus_env) -> None:
    cfg = _make_project(tmp_path / "p", Case("control", BASE + WEB, []))
    code, out, err = _run(capsys, "validate", "-f", str(cfg))
    assert code == 0, err
    code, out, err = _run(capsys, "validate", "--json", "-f", str(cfg))
    assert code == 0 and json.loads(out)["valid"] is True and json.loads(out)["problems"] == []
    _run(capsys, "plan", "-f", str(cfg), "--helm-binary", str(corpus_env.binary))
    assert corpus_env.calls(), "the fake helm records calls: the no-call assertion below can fail"


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_malformed_project_is_refused_in_one_run_before_any_cluster_call(
    case_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], corpus_env: Any
) -> None:
    c = CASES[case_id]
    cfg = _make_project(tmp_path / "p", c)
    before = sorted(p.name for p in cfg.parent.iterdir())

    code, out, err = _run(capsys, "validate", "-f", str(cfg))
    assert code == 1, (out, err)
    assert "Traceback" not in err and "unexpected" not in err, err
    error_lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(error_lines) == 1, err
    assert "firestream.toml" in error_lines[0], err
    for want in c.expect:
        assert want in err, f"{want!r} not in:\n{err}"

    code, out, err_json = _run(capsys, "validate", "--json", "-f", str(cfg))
    assert code == 1, err_json
    doc = json.loads(out)
    assert doc["valid"] is False and doc["command"] == "validate"
    problems = doc["problems"]
    assert problems and all(set(p) == {"path", "message", "file", "line"} for p in problems)
    assert all(p["file"].endswith("firestream.toml") for p in problems)
    if c.json_path:
        mine = [p for p in problems if p["path"].startswith(c.json_path)]
        assert mine, (c.json_path, problems)
        assert isinstance(mine[0]["line"], int), mine[0]

    code, out, err_plan = _run(capsys, "plan", "-f", str(cfg), "--helm-binary", str(corpus_env.binary))
    assert code == 1, err_plan
    assert "Traceback" not in err_plan and "unexpected" not in err_plan, err_plan
    assert corpus_env.calls() == [], "no cluster call for a project at fault"
    assert sorted(p.name for p in cfg.parent.iterdir()) == before  # nothing written (no state, no lock)


def test_the_corpus_covers_every_kind_and_is_large_enough() -> None:
    kinds = collections.Counter(c.kind for c in CASES.values())
    print("corpus by kind:", dict(sorted(kinds.items())), "total", len(CASES))
    assert len(CASES) >= 200
    for kind in ("wrong-type", "unknown-key", "value", "bound", "name", "url", "file", "yaml", "state",
                 "defaults", "option", "graph", "secret", "toml", "garbage", "nesting", "huge", "multi"):
        assert kinds[kind] > 0, kind
    for key in {**RELEASE_BAD, **PER_RELEASE_BAD}:
        assert any(i.startswith(f"release-{key}-") for i in CASES), key


def test_every_release_key_of_the_docs_is_in_the_corpus() -> None:
    import re

    docs = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    table = docs.split("### Keys", 1)[1].split("###", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", table, re.M))
    assert documented, "the docs' key table was found"
    covered = set(RELEASE_BAD) | set(PER_RELEASE_BAD)
    assert documented - covered == set()


# -- a wrong type at every level: every value of a full project replaced by each kind ------------------

FULL = """
[project]
name = "fz"
[repositories]
fixtures = "https://charts.example.com/fixtures"
[registries."r.example.com"]
username = "u"
password_env = "FS_CORPUS_REGISTRY_PASSWORD"
[state]
backend = "kubernetes"
namespace = "fs"
name = "st"
lease_duration = "30s"
[settings]
concurrency = 2
fail_fast = true
on_validation_failure = "warn"
[defaults]
timeout = "60s"
namespace = "apps"
[[deployments.web]]
chart = "fixtures/tiny-app"
version = "0.1.0"
depends_on = []
set = [{key = "a", value = 1}]
values = {a = {b = [1, 2]}}
yaml_files_content = [{filename = "x", yaml_content = "a: 1"}]
last_breaking_version_requiring_restart = {version = "1.0.0", pre_upgrade_commands = ["echo hi"]}
secret_values = {"a.b" = {env = "HOME"}}
[deployments.postgresql]
password_length = 20
[deployments.kafka]
kafka_cluster = {replicas = 1, storage = "ephemeral"}
"""
REPLACEMENTS = [5, "x", True, [1], {"a": 1}, 1.5, [], {}, "", -1, [[]], [{}]]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Any:
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def test_a_wrong_value_at_every_level_gives_problems_never_a_crash(tmp_path: Path) -> None:
    import copy
    import tomllib

    from firestream_core.config.project_check import check_project, split_problem
    from firestream_core.errors import ConfigError
    from firestream_core.ops.importer import _key, _toml_value
    from firestream_core.plugin.manager import get_plugin_manager

    data = tomllib.loads(FULL)
    manager = get_plugin_manager()
    cfg = tmp_path / "firestream.toml"
    runs = refused = 0
    for path in list(_paths(data))[1:]:
        for value in REPLACEMENTS:
            d = copy.deepcopy(data)
            node = d
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = value
            cfg.write_text("\n".join(f"{_key(k)} = {_toml_value(v)}" for k, v in d.items()))
            runs += 1
            try:
                problems = check_project(cfg, manager).problems
            except ConfigError as exc:  # the whole file (e.g. nothing): one message
                problems = [str(exc)]
            refused += bool(problems)
            for p in problems:
                assert "unexpected" not in p and "Traceback" not in p, (path, value, p)
                assert not any(w in p for w in ("AttributeError", "KeyError", "TypeError:")), (path, value, p)
                # a problem names where it is (a dotted path) unless it is about the whole graph
                assert split_problem(p)[0] or "dependency cycle" in p, (path, value, p)
    assert runs > 500 and refused > runs // 2


def test_json_lines_point_at_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (BASE + "\n[defaults]\n# a comment\nnamespace = \"Not_OK\"\n\n"
            "[[deployments.web]]\nchart = \"fixtures/tiny-app\"\n\n[[deployments.web]]\nname = \"b\"\n"
            "chart = \"fixtures/tiny-app\"\ntimeout = \"25h\"\n")
    cfg = tmp_path / "firestream.toml"
    cfg.write_text(text)
    lines = text.splitlines()
    assert main(["validate", "--json", "-f", str(cfg)]) == 1
    got = {p["path"]: p["line"] for p in json.loads(capsys.readouterr().out)["problems"]}
    assert lines[got["defaults.namespace"] - 1] == 'namespace = "Not_OK"'
    assert lines[got["deployments.web[1].timeout"] - 1] == 'timeout = "25h"'
    assert got["deployments.web[1].timeout"] > lines.index("[[deployments.web]]", lines.index("[[deployments.web]]") + 1)
