"""Values: --set semantics, merging in helm's order, digests, changed keys, the 0600 file."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from firestream_core.model import ChartInfo, ChartSetValue, ChartValuesGenerated
from firestream_core.tools import values as values_module
from firestream_core.tools.values import (
    changed_keys,
    host_marker,
    merged_values,
    parse_key,
    parse_set_pairs,
    sweep_stale_values_dirs,
    typed_value,
    values_digest,
    values_file,
)


def pairs(**kv: str) -> list[ChartSetValue]:
    return [ChartSetValue(k.replace("__", "."), v) for k, v in kv.items()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True), ("FALSE", False), ("null", None), ("Null", None),
        ("0", 0), ("42", 42), ("-7", -7), ("+5", 5),
        ("007", "007"), ("1.5", "1.5"), ("1e3", "1e3"), ("", ""),
        ("9223372036854775808", "9223372036854775808"), ("yes", "yes"),
    ],
)
def test_values_are_typed_like_helm_strvals(text: str, expected: object) -> None:
    assert typed_value(text) == expected
    assert type(typed_value(text)) is type(expected)


def test_dotted_keys_nest() -> None:
    assert parse_set_pairs([ChartSetValue("a.b.c", "x"), ChartSetValue("a.d", "2")]) == {
        "a": {"b": {"c": "x"}, "d": 2}
    }


def test_escaped_dot_is_part_of_the_name() -> None:
    got = parse_set_pairs([ChartSetValue(r"annotations.kubernetes\.io/ingress\.class", "nginx")])
    assert got == {"annotations": {"kubernetes.io/ingress.class": "nginx"}}


def test_list_indexes_fill_with_null_like_helm() -> None:
    got = parse_set_pairs([ChartSetValue("hosts[2].name", "c"), ChartSetValue("hosts[0].name", "a")])
    assert got == {"hosts": [{"name": "a"}, None, {"name": "c"}]}


def test_nested_list_indexes() -> None:
    assert parse_set_pairs([ChartSetValue("m[1][0]", "x")]) == {"m": [None, ["x"]]}


def test_value_is_never_split_on_commas_or_braces() -> None:
    got = parse_set_pairs([ChartSetValue("pw", "a,b=c"), ChartSetValue("list", "{x,y}")])
    assert got == {"pw": "a,b=c", "list": "{x,y}"}


def test_later_pair_wins() -> None:
    got = parse_set_pairs([ChartSetValue("a.b", "1"), ChartSetValue("a", "flat"), ChartSetValue("c", "1"), ChartSetValue("c.d", "2")])
    assert got == {"a": "flat", "c": {"d": 2}}


@pytest.mark.parametrize("key", ["", ".a", "a.", "a..b", "a[", "a[x]", "a[-1]", "[0]", "a]", "a[0]b", "a\\", "a.[0]", "a[99999999]"])
def test_malformed_keys_name_the_key_never_the_value(key: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_set_pairs([ChartSetValue(key, "VALUE-MUST-NOT-SHOW")])
    assert "VALUE-MUST-NOT-SHOW" not in str(info.value)
    assert repr(key) in str(info.value)


def test_parse_key_parts() -> None:
    assert parse_key(r"a.b[0].c\.d[1][2]") == ["a", "b", 0, "c.d", 1, 2]


def _info(**kw: object) -> ChartInfo:
    return ChartInfo(name="rel", chart="c", **kw)  # type: ignore[arg-type]


def test_merged_values_documents_in_order_then_set_pairs_on_top() -> None:
    info = _info(
        yaml_files_content=[
            ChartValuesGenerated("one.yaml", "a: {x: 1, y: 1}\nlist: [1, 2, 3]\nkeep: k\n"),
            ChartValuesGenerated("two.yaml", "a: {y: 2, z: 2}\nlist: [9]\n"),
            ChartValuesGenerated("empty.yaml", ""),
        ],
        values=[ChartSetValue("a.z", "3"), ChartSetValue("list[1]", "s"), ChartSetValue("new", "true")],
    )
    assert merged_values(info) == {
        "a": {"x": 1, "y": 2, "z": 3},
        "list": [9, "s"],  # a later file replaces a list; --set changes one element
        "keep": "k",
        "new": True,
    }


def test_merged_values_extra_on_top_and_string_keys() -> None:
    info = _info(yaml_files_content=[ChartValuesGenerated("g.yaml", "true: 1\n5: five\n")])
    assert merged_values(info, {"a": {"b": 1}}) == {"true": 1, "5": "five", "a": {"b": 1}}


def test_invalid_document_names_the_file_not_the_content() -> None:
    info = _info(yaml_files_content=[ChartValuesGenerated("gen.yaml", "pw: [unclosed SECRETVALUE\n")])
    with pytest.raises(ValueError) as info_exc:
        merged_values(info)
    assert "gen.yaml" in str(info_exc.value)
    assert "SECRETVALUE" not in str(info_exc.value)
    with pytest.raises(ValueError, match="mapping"):
        merged_values(_info(yaml_files_content=[ChartValuesGenerated("l.yaml", "- a\n")]))


def test_a_document_read_again_is_a_fresh_copy_of_the_same_values() -> None:
    """Parsed once, copied after: what one caller changes, the next never sees."""
    text = (
        "a: {x: 1, list: [1, {deep: v}]}\n"
        "when: 2026-12-06T10:00:00Z\nday: 2026-12-06\nblob: !!binary aGVsbG8=\n"
        "kinds: !!set {one, two}\nordered: !!omap [{k1: {n: 1}}, {k2: 2}]\n"
    )
    expected = values_module._string_keys(yaml.safe_load(text))
    first = values_module.load_document("doc.yaml", text)
    assert first == expected
    first["a"]["list"][1]["deep"] = "changed"
    first["kinds"].add("three")
    first["ordered"][0][1]["n"] = 99
    del first["a"]["x"]
    assert text in values_module._documents  # the second read is not parsed again
    again = values_module.load_document("doc.yaml", text)
    assert again == expected


_NASTY = ["true", "False", "yes", "no", "on", "null", "~", "", " ", "1e3", "1.5", ".inf", "-.nan", "0x1F", "0o17",
          "017", "1_000", "+1", "12:30:00", "2026-12-06", "2026-12-06T10:00:00Z", "=", "<<", "-", "- x", "? x",
          ": x", "a: b", "#c", "a #c", "'q'", '"dq"', "!tag", "&a", "*a", "%x", "@x", "`x", "{x}", "[x]", "a,b",
          " lead", "trail ", "multi\nline", "tab\there", "\u2028", "\x85", "\ufeff", "é", "🙂", "\x00", "\x1b[0m"]


def _plain_value(rnd: random.Random, depth: int = 0) -> object:
    r = rnd.random()
    if depth < 3 and r < 0.15:
        return {rnd.choice(_NASTY + ["k", "key"]): _plain_value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))}
    if depth < 3 and r < 0.25:
        return [_plain_value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]
    return rnd.choice([rnd.choice(_NASTY), rnd.randint(-(10**30), 10**30), rnd.uniform(-1e300, 1e300), 1e-300,
                       -0.0, 0.1, True, False, None, rnd.choice(_NASTY) * 3])


def test_a_written_document_reads_back_as_the_data_it_was_written_from() -> None:
    """What ``dump_document`` hands ``load_document`` instead of a parse is what the parse gives."""
    rnd = random.Random(3)
    with_nel = 0
    for _ in range(400):
        data = {rnd.choice(_NASTY + ["a", "b"]): _plain_value(rnd) for _ in range(rnd.randint(1, 6))}
        text = values_module.dump_document(data)
        parsed = values_module._parse_document("d.yaml", text)
        assert values_module._documents[text] == data
        assert parsed == data
        assert json.dumps(parsed, sort_keys=True) == json.dumps(data, sort_keys=True)  # -0.0, float vs int
        with_nel += "\\u0085" in json.dumps(data)
    assert with_nel > 20


def test_a_values_table_holding_nel_reaches_helm_unchanged() -> None:
    """PyYAML writes NEL unescaped and reads it back as a space: such a document is escaped."""
    data = {"banner": "line one\x85line two", "name": "é"}
    text = values_module.dump_document(data)
    assert "\x85" not in text and "\\N" in text
    assert values_module._parse_document("d.yaml", text) == data
    info = _info(yaml_files_content=[ChartValuesGenerated("d.yaml", text)])
    assert merged_values(info) == data


def test_a_document_with_dates_is_parsed_not_handed_over() -> None:
    import datetime

    data = {"when": datetime.datetime(2026, 12, 6, 10, 0), "n": float("nan"), "ok": "x"}
    text = values_module.dump_document(data)
    assert text not in values_module._documents
    doc = values_module.load_document("d.yaml", text)
    assert doc["when"] == data["when"] and doc["ok"] == "x"


def test_the_config_checks_parse_hands_load_document_the_same_values() -> None:
    """A values file is parsed once: by the check that reports its problems."""
    from firestream_core.config.files import yaml_mapping_problem

    for text in ("auth:\n  password: pw-1\nlist: [1, {a: b}]\ntrue: 1\n", "", "---\n", "# only a comment\n"):
        assert yaml_mapping_problem(text) is None
        assert values_module._documents[text] == values_module._parse_document("f.yaml", text)
    for text in ("- a\n", "---\nnull\n---\nk: v\n", "a: 1\n---\nb: 2\n"):
        yaml_mapping_problem(text)
        assert text not in values_module._documents  # what load_document refuses or reads otherwise


def test_an_invalid_document_is_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ValueError, match="'bad.yaml' is not valid YAML"):
            values_module.load_document("bad.yaml", "pw: [unclosed\n")


def test_values_digest_is_stable_and_sensitive(tmp_path: Path) -> None:
    (tmp_path / "v.yaml").write_text("a: 1\n")
    info = _info(values_files=[Path("v.yaml")], values=[ChartSetValue("b", "2")])
    d1 = values_digest(info, tmp_path)
    assert d1 == values_digest(info, tmp_path)
    assert d1.startswith("sha256:")
    # the order in which mapping keys were written does not matter
    same = _info(values_files=[Path("v.yaml")], yaml_files_content=[ChartValuesGenerated("g", "x: 1\ny: 2\n")])
    swapped = _info(values_files=[Path("v.yaml")], yaml_files_content=[ChartValuesGenerated("g", "y: 2\nx: 1\n")])
    assert values_digest(same, tmp_path) == values_digest(swapped, tmp_path)
    # a changed file, pair or document changes it
    (tmp_path / "v.yaml").write_text("a: 2\n")
    d2 = values_digest(info, tmp_path)
    assert d2 != d1
    info.values[0].value = "3"
    assert values_digest(info, tmp_path) != d2
    with pytest.raises(FileNotFoundError):
        values_digest(_info(values_files=[Path("missing.yaml")]), tmp_path)


def test_changed_keys_reports_keys_only() -> None:
    old = {"a": {"b": 1, "c": "SAME"}, "gone": 1, "list": [1, 2], "d.e": "x", "t": 1}
    new = {"a": {"b": 2, "c": "SAME"}, "added": {"x": 1}, "list": [1, 3, 4], "d.e": "y", "t": True}
    assert changed_keys(old, new) == ["a.b", "added", r"d\.e", "gone", "list[1]", "list[2]", "t"]
    assert changed_keys(old, old) == []
    assert changed_keys(None, {"a": 1}) == ["a"]


def test_values_file_is_private_and_removed(tmp_path: Path) -> None:
    values = {"pw": "s3cret", "n": 1, "f": "1e3", "b": "true"}
    with values_file(values, dir=tmp_path) as path:
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
        loaded = yaml.safe_load(path.read_text())
        assert loaded == values  # strings stay strings through YAML
        assert json.loads(path.read_text()) == values
        folder = path.parent
    assert not path.exists()
    assert not folder.exists()


def test_values_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        with values_file({"a": 1}, dir=tmp_path) as path:
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        os.umask(old)


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_values_file_removed_whatever_happens(tmp_path: Path, exc: type[BaseException]) -> None:
    seen: list[Path] = []
    with pytest.raises(exc):
        with values_file({"a": 1}, dir=tmp_path) as path:
            seen.append(path)
            raise exc()
    assert not seen[0].exists()
    assert list(tmp_path.iterdir()) == []


def test_values_folder_removed_with_whatever_else_was_put_in_it(tmp_path: Path) -> None:
    # the file and its folder go with two calls; anything else in there (a file helm left,
    # the file already gone) still leaves nothing behind
    with values_file({"a": 1}, dir=tmp_path) as path:
        (path.parent / "left-by-someone").write_text("x")
        (path.parent / "sub").mkdir()
    with values_file({"a": 1}, dir=tmp_path) as path:
        path.unlink()
    assert list(tmp_path.iterdir()) == []


def test_values_file_default_location_is_not_left_behind() -> None:
    with values_file({"a": 1}) as path:
        assert path.exists()
    assert not path.parent.exists()


# -- folders left by a killed process -------------------------------------------------------


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603 - the test interpreter
    proc.wait()
    return proc.pid


def left_folder(base: Path, pid: int, *, marker: str | None = None, age: float = 3600.0) -> Path:
    """A values folder as a process ``pid`` of host ``marker`` would have left it, ``age`` seconds old."""
    folder = base / f"firestream-values-{marker or host_marker()}-{pid}-x{len(list(base.iterdir()))}"
    folder.mkdir(mode=0o700)
    (folder / "values.yaml").write_text('{"password": "left behind"}')
    then = time.time() - age
    os.utime(folder, (then, then))
    return folder


def test_values_folder_names_carry_the_host_and_the_pid(tmp_path: Path) -> None:
    with values_file({"a": 1}, dir=tmp_path) as path:
        assert path.parent.name.startswith(f"firestream-values-{host_marker()}-{os.getpid()}-")
    assert len(host_marker()) == 10 and host_marker() == host_marker()


def test_the_first_values_file_sweeps_dead_processes_folders_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(values_module, "_swept", set())  # as in a fresh process
    live = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],  # noqa: S603
                            stdin=subprocess.PIPE)
    try:
        dead = left_folder(tmp_path, dead_pid())
        alive = left_folder(tmp_path, live.pid)
        young = left_folder(tmp_path, dead_pid(), age=0)  # could still be starting up: kept
        elsewhere = left_folder(tmp_path, dead_pid(), marker="0123456789")  # another host's pid
        old_style = tmp_path / "firestream-values-k2j4_x9"  # no pid: nobody can tell
        old_style.mkdir()
        with values_file({"a": 1}, dir=tmp_path) as path:
            assert not dead.exists()
            assert alive.exists() and young.exists() and elsewhere.exists() and old_style.exists()
            assert path.exists()
        # once per process: a folder left after the first sweep waits for the next process
        later = left_folder(tmp_path, dead_pid())
        with values_file({"a": 1}, dir=tmp_path):
            assert later.exists()
    finally:
        live.communicate(b"")


def test_a_sigkilled_processs_values_file_is_removed_by_the_next_one(tmp_path: Path) -> None:
    holder = subprocess.Popen(  # noqa: S603 - the test interpreter
        [sys.executable, "-c",
         "import sys\n"
         "from firestream_core.tools.values import values_file\n"
         "with values_file({'password': 'pw'}, dir=sys.argv[1]) as p:\n"
         "    print(p, flush=True)\n"
         "    sys.stdin.read()\n",
         str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    path = Path(holder.stdout.readline().strip())
    assert path.exists()
    # while it runs, its folder is never swept, however old
    os.utime(path.parent, (time.time() - 3600, time.time() - 3600))
    assert sweep_stale_values_dirs(tmp_path) == []
    holder.send_signal(signal.SIGKILL)
    holder.communicate()
    assert path.exists()  # nothing could remove it
    assert sweep_stale_values_dirs(tmp_path) == [path.parent]
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_never_removes_this_processs_own_folders(tmp_path: Path) -> None:
    with values_file({"a": 1}, dir=tmp_path) as path:
        os.utime(path.parent, (time.time() - 3600, time.time() - 3600))
        assert sweep_stale_values_dirs(tmp_path) == []
        assert path.exists()
    # a folder with this pid that it does not hold: an earlier process had the pid
    earlier = left_folder(tmp_path, os.getpid())
    assert sweep_stale_values_dirs(tmp_path) == [earlier]


# -- YAML aliases: refused as helm refuses them, never expanded --------------------------------


def _chain(levels: int, fan: int = 9, plain: int = 0) -> str:
    """Each level a list of ``fan`` aliases of the one before (a "billion laughs" at 10 x 9),
    after ``plain`` ordinary keys."""
    lines = [f"k{i}: v" for i in range(plain)]
    lines.append("l0: &l0 [" + ",".join(['"lol"'] * fan) + "]")
    lines += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * fan) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def in_child(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``code`` run by a child Python bounded in time and memory: a document that is expanded
    after all fails the test instead of hanging it or eating the machine's memory."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,  # noqa: S603
                          timeout=timeout, check=False, preexec_fn=limit)  # noqa: PLW1509


def test_a_billion_laughs_is_refused_at_once_without_expanding_it() -> None:
    code = f"""
import time
from firestream_core.config.files import yaml_mapping_problem
from firestream_core.tools import values
started = time.process_time()
try:
    values.load_document("bomb.yaml", {_chain(10)!r})
except ValueError as exc:
    print(exc)
try:
    values.load_values_yaml_all({_chain(200)!r})  # 9**200 values: counted, never built
except values.ExcessiveAliasing as exc:
    print(exc)
print(yaml_mapping_problem({_chain(10)!r}))
print(round(time.process_time() - started, 3))
"""
    done = in_child(code)
    assert done.returncode == 0, done.stderr[-500:]
    bomb, deep, checked, seconds = done.stdout.splitlines()
    assert bomb.startswith("values document 'bomb.yaml' has too many YAML aliases")
    assert "has too many YAML aliases" in deep and "excessive aliasing" in deep
    assert checked.startswith("has too many YAML aliases")
    assert float(seconds) < 5


def test_aliases_helm_reads_are_read() -> None:
    doc = values_module.load_document("ok.yaml", "base: &b {x: 1}\nuse: *b\nmerged: {<<: *b, y: 2}\n")
    assert doc == {"base": {"x": 1}, "use": {"x": 1}, "merged": {"x": 1, "y": 2}}
    assert values_module.load_values_yaml_all(_chain(3))  # 819 values from aliases: helm reads it


def test_an_alias_inside_the_node_it_names_is_refused() -> None:
    with pytest.raises(values_module.ExcessiveAliasing, match="an alias inside the node it names"):
        values_module.load_values_yaml_all("a: &x [1, *x]\n")


ALIAS_SHAPES = [  # pairs on either side of helm's bound: the last it reads, the first it refuses
    (3, 17, 0), (3, 18, 0), (9, 2, 0), (10, 2, 0), (6, 3, 0), (6, 4, 0),
    (4, 9, 24), (4, 9, 23), (7, 6, 7517), (7, 6, 7516),  # plain keys first dilute the aliases
    (6, 9, 51580), (6, 9, 51579),  # over 400,000 nodes, where the share allowed falls
]


@pytest.mark.helm
@pytest.mark.parametrize(("levels", "fan", "plain"), ALIAS_SHAPES)
def test_firestream_and_helm_refuse_the_same_aliases(levels: int, fan: int, plain: int, helm_tools,  # noqa: ANN001
                                                     tmp_path: Path) -> None:
    """go-yaml's ``excessive aliasing`` test, counted on PyYAML's nodes: both sides of its bound
    (and diluted by plain keys), against helm 3 and helm 4 themselves."""
    import firestream_testing

    chart = Path(firestream_testing.__file__).parent / "charts" / "tiny-app"
    doc = tmp_path / "v.yaml"
    doc.write_text(_chain(levels, fan, plain))
    try:
        values_module.load_values_yaml_all(doc.read_text())
        ours = None
    except values_module.ExcessiveAliasing as exc:
        ours = str(exc)
    for binary in (helm_tools["helm"], helm_tools["helm4"]):
        helm = subprocess.run([binary, "template", "x", chart, "-f", doc], capture_output=True,  # noqa: S603
                              text=True, timeout=120, check=False)
        refused = "excessive aliasing" in helm.stderr
        assert refused == (ours is not None), (binary, helm.returncode, helm.stderr[-300:], ours)
        if not refused:
            assert helm.returncode == 0, helm.stderr[-300:]
