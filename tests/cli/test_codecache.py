"""The console script's cache of attrs' and cattrs' generated code (``cli/codecache.py``)."""

from __future__ import annotations

import marshal
import os
import stat
import textwrap
from pathlib import Path

import pytest

from firestream_core.cli import codecache
from firestream_core.cli.codecache import CodeCache
from tests.cli.test_main import firestream, run_py

METHODS = "<attrs generated methods pkg.mod.Thing>"


def hashed_source(number: int) -> str:
    """What attrs writes for a frozen class with one field: ``__hash__`` mixes ``number`` in."""
    return textwrap.dedent(f"""\
        def __init__(self, name):
            _setattr = _cached_setattr_get(self)
            _setattr('name', name)
        def __hash__(self):
            return hash((
                    {number},
                    self.name,
                ))
        def __empty_hash__(self):
            return hash((
                    {number},
                ))
        """)


# -- the cache itself ---------------------------------------------------------------------------


def test_a_hit_returns_the_code_compile_would_and_a_changed_source_compiles_again(tmp_path: Path) -> None:
    path = str(tmp_path / "code.marshal")
    source = "def __repr__(self):\n    return f'Thing(name={self.name!r})'\n"
    first = CodeCache(path)
    assert first.compile(source, METHODS, "exec") == compile(source, METHODS, "exec")
    first.save()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    again = CodeCache(path)
    again.load()
    assert again.compile(source, METHODS, "exec") == compile(source, METHODS, "exec")
    assert (again.hits, again.misses) == (1, 0)
    changed = source.replace("name=", "label=")
    assert again.compile(changed, METHODS, "exec") == compile(changed, METHODS, "exec")
    assert (again.hits, again.misses) == (1, 1)


def test_the_hash_number_of_another_process_is_swapped_for_this_ones(tmp_path: Path, monkeypatch) -> None:
    """``__hash__`` mixes in ``hash()`` of a string, which differs in every process: the entry
    written by one process must give the next one code with the next one's number. A number
    of another width (a sign) moves the recorded columns: it has its own entry."""
    path = str(tmp_path / "code.marshal")
    monkeypatch.setattr(codecache, "_type_hash", lambda filename: 8_123_456_789_012_345_678)
    writer = CodeCache(path)
    writer.compile(hashed_source(8_123_456_789_012_345_678), METHODS, "exec")
    writer.save()

    class Thing:
        name = "x"

    reader = CodeCache(path)
    reader.load()
    for number, counts in ((7_987_654_321_098_765_432, (1, 0)), (-4_987_654_321_098_765_432, (1, 1)),
                           (-1_234_567_890_123_456_789, (2, 1))):
        monkeypatch.setattr(codecache, "_type_hash", lambda filename, n=number: n)
        source = hashed_source(number)
        code = reader.compile(source, METHODS, "exec")
        assert (reader.hits, reader.misses) == counts
        assert code == compile(source, METHODS, "exec")  # the nested functions' constants included
        namespace: dict[str, object] = {}
        exec(code, namespace)  # noqa: S102 - the test's own source
        assert namespace["__hash__"](Thing()) == hash((number, "x"))  # type: ignore[operator]
        assert namespace["__empty_hash__"](Thing()) == hash((number,))  # type: ignore[operator]


def test_what_attrs_never_asks_for_compiles_as_usual(tmp_path: Path) -> None:
    cache = CodeCache(str(tmp_path / "code.marshal"))
    assert cache.compile("1 + 1", "<x>", "eval") == compile("1 + 1", "<x>", "eval")
    assert cache.compile(b"x = 1\n", "<x>", "exec") == compile(b"x = 1\n", "<x>", "exec")
    assert (cache.hits, cache.misses) == (0, 0)
    cache.save()
    assert not (tmp_path / "code.marshal").exists()  # nothing learned, nothing written


@pytest.mark.parametrize("damage", ["garbage", "other format", "other bytecode version", "writable by others",
                                    "another owner"])
def test_a_damaged_or_unsafe_file_is_not_read_and_is_replaced(tmp_path: Path, damage: str, monkeypatch) -> None:
    path = tmp_path / "code.marshal"
    source = "def __repr__(self):\n    return 'Thing()'\n"
    good = CodeCache(str(path))
    good.compile(source, METHODS, "exec")
    good.save()
    if damage == "garbage":
        path.write_bytes(b"\x00not marshal")
    elif damage == "other format":
        path.write_bytes(marshal.dumps({"format": 99, "entries": {}}))
    elif damage == "other bytecode version":  # the same entries, from another Python
        doc = marshal.loads(path.read_bytes())
        path.write_bytes(marshal.dumps({**doc, "magic": b"\x00\x00\r\n"}))
    elif damage == "writable by others":  # it holds code: anyone who may write it could run theirs
        path.chmod(0o666)
    elif os.geteuid() == 0:  # root (as on the CI machine) gives the file away
        os.chown(path, 65534, 65534)
    cache = CodeCache(str(path))
    with monkeypatch.context() as m:
        if damage == "another owner" and os.geteuid() != 0:  # the file stays ours: we are someone else
            real = os.geteuid()
            m.setattr(os, "geteuid", lambda: real + 1)
        cache.load()
    assert cache.compile(source, METHODS, "exec") == compile(source, METHODS, "exec")
    assert (cache.hits, cache.misses) == (0, 1)
    cache.save()  # a fresh file of ours, readable next time
    st = os.stat(path)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (os.geteuid(), 0o600)
    after = CodeCache(str(path))
    after.load()
    after.compile(source, METHODS, "exec")
    assert after.hits == 1


def test_an_entry_is_read_only_when_asked_for_and_a_damaged_one_is_compiled_again(tmp_path: Path,
                                                                                  monkeypatch) -> None:
    path = str(tmp_path / "code.marshal")
    writer = CodeCache(path)
    for i in range(3):
        writer.compile(f"x = {i}\n", f"<attrs generated methods pkg.C{i}>", "exec")
    writer.save()
    doc = marshal.loads(Path(path).read_bytes())
    doc["entries"]["<attrs generated methods pkg.C1>"] = b"\x00not marshal"
    doc["entries"]["<attrs generated methods pkg.C2>"] = marshal.dumps(("x = 2\n", "not code"))
    Path(path).write_bytes(marshal.dumps(doc))

    read: list[bytes] = []
    real = codecache._read_entry
    monkeypatch.setattr(codecache, "_read_entry", lambda raw: read.append(raw) or real(raw))
    cache = CodeCache(path)
    cache.load()
    assert read == []  # loading the file unmarshals no entry
    first = "<attrs generated methods pkg.C0>"
    assert cache.compile("x = 0\n", first, "exec") == compile("x = 0\n", first, "exec")
    assert (len(read), cache.hits, cache.misses) == (1, 1, 0)
    for i in (1, 2):
        source, name = f"x = {i}\n", f"<attrs generated methods pkg.C{i}>"
        assert cache.compile(source, name, "exec") == compile(source, name, "exec")
    assert (cache.hits, cache.misses) == (1, 2)
    cache.save()
    again = CodeCache(path)
    again.load()
    for i in range(3):
        again.compile(f"x = {i}\n", f"<attrs generated methods pkg.C{i}>", "exec")
    assert (again.hits, again.misses) == (3, 0)


def test_past_the_limit_a_save_keeps_only_what_this_run_used(tmp_path: Path, monkeypatch) -> None:
    path = str(tmp_path / "code.marshal")
    old = CodeCache(path)
    for i in range(3):
        old.compile(f"x = {i}\n", f"<attrs generated methods old.C{i}>", "exec")
    old.save()
    monkeypatch.setattr(codecache, "MAX_ENTRIES", 3)
    run = CodeCache(path)
    run.load()
    run.compile("x = 0\n", "<attrs generated methods old.C0>", "exec")  # used again
    run.compile("y = 1\n", "<attrs generated methods new.D>", "exec")  # new
    run.save()
    kept = marshal.loads(Path(path).read_bytes())["entries"]
    assert sorted(kept) == ["<attrs generated methods new.D>", "<attrs generated methods old.C0>"]


# -- installed into attrs, by the console script --------------------------------------------------

CHECKED_RUN = """
    from __future__ import annotations  # as attr._make: the flags compile() inherits
    import builtins, json, sys
    import attr._make as make
    from firestream_core.cli import codecache
    cache = codecache.install()
    import cattrs.gen as gen  # patched as it is imported (attr._make was imported before install)
    mismatches = []
    def checked(module):
        through_cache = vars(module).get("compile", builtins.compile)  # the built-in when off
        def checked(source, filename, mode, *args):
            code = through_cache(source, filename, mode, *args)
            if code != builtins.compile(source, filename, mode, *args):
                mismatches.append(filename)
            return code
        module.compile = checked
        return through_cache
    through = {module: checked(module) for module in (make, gen)}
    import firestream_core.model as model, firestream_core.config.model as config
    import firestream_core.deploy.results, firestream_core.plugin.context
    from firestream_core.config.converter import structure
    release = model.InstalledRelease("db", "data", 3, "deployed", "postgresql-13.2.24")
    same = model.InstalledRelease("db", "data", 3, "deployed", "postgresql-13.2.24")
    parsed, problems = structure({"name": "db", "chart": "bitnami/postgresql", "depends_on": ["net"],
                                  "values": {"auth": {"database": "app"}}}, config.ReleaseConfig, "deployments.db")
    values = [hash(release), repr(release), release == same, hash(model.SemVer.parse("1.2.3-rc.1")),
              repr(parsed), problems]
    for module, through_cache in through.items():
        module.compile = through_cache
        if cache is None:
            del module.compile
    codecache.uninstall(cache)
    print(json.dumps({"hits": getattr(cache, "hits", 0), "misses": getattr(cache, "misses", 0), "mismatches": mismatches,
                      "values": [str(v) for v in values],
                      "patched": "compile" in vars(make) or "compile" in vars(gen),
                      "cattrs": sum(1 for k in getattr(cache, "_entries", {}) if "cattrs generated" in k)}))
"""


def test_another_process_reads_firestreams_classes_back_with_its_own_hashes(tmp_path: Path) -> None:
    """Every class of the models, config, results and chart context, and cattrs' structuring
    of a release: written by one process, read back by the next with another hash seed, each
    code object equal to what compile() gives in that process, and instances hashing (and
    the config structured) as with the cache off."""
    import json

    env = {"FIRESTREAM_CACHE_DIR": str(tmp_path)}
    first = run_py(CHECKED_RUN, env={**env, "PYTHONHASHSEED": "1"})
    assert first.returncode == 0, first.stderr
    written = json.loads(first.stdout)
    assert written["hits"] == 0 and written["misses"] >= 30 and written["mismatches"] == []
    assert written["cattrs"] >= 1  # cattrs' generated structuring code is in the file too

    second = run_py(CHECKED_RUN, env={**env, "PYTHONHASHSEED": "2"})
    assert second.returncode == 0, second.stderr
    read = json.loads(second.stdout)
    # read back, but for the __hash__ numbers whose width differs from the first process's
    assert read["hits"] + read["misses"] == written["misses"] and read["hits"] > read["misses"]
    assert read["mismatches"] == [] and read["patched"] is False  # uninstall gave attrs its compile back
    third = run_py(CHECKED_RUN, env={**env, "PYTHONHASHSEED": "2"})
    read = json.loads(third.stdout)
    assert (read["hits"], read["misses"], read["mismatches"]) == (written["misses"], 0, []), third.stderr

    off = run_py(CHECKED_RUN, env={**env, "PYTHONHASHSEED": "2", "FIRESTREAM_CODE_CACHE": "off"})
    assert off.returncode == 0, off.stderr
    assert read["values"] == json.loads(off.stdout)["values"]  # same hash, repr and eq as compiled
    assert read["values"] != written["values"]  # the hash did change with the seed


def test_the_console_script_writes_the_cache_once_and_the_off_switch_writes_none(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "firestream.toml").write_text('[repositories]\nbitnami = "https://charts.bitnami.com/bitnami"\n'
                                             '[deployments.db]\nchart = "bitnami/postgresql"\n')
    off = firestream("validate", cwd=project,
                     env={"FIRESTREAM_CACHE_DIR": str(tmp_path / "off"), "FIRESTREAM_CODE_CACHE": "off"})
    assert off.returncode == 0, off.stderr
    assert not list((tmp_path / "off").glob("attrs-code-*"))

    # one hash seed: the widths of the __hash__ numbers are the same in both runs
    env = {"FIRESTREAM_CACHE_DIR": str(tmp_path / "on"), "PYTHONHASHSEED": "7"}
    first = firestream("validate", cwd=project, env=env)
    assert first.returncode == 0, first.stderr
    [written] = (tmp_path / "on").glob("attrs-code-*.marshal")
    # the format in the name: a firestream writing another format keeps its own file
    assert written.name.endswith(f"-f{codecache._FORMAT}.marshal")
    before = written.stat().st_mtime_ns, written.read_bytes()
    second = firestream("validate", cwd=project, env=env)
    assert (second.returncode, second.stdout) == (0, first.stdout), second.stderr
    assert (written.stat().st_mtime_ns, written.read_bytes()) == before  # all read back: nothing new


def test_a_command_that_defines_no_attrs_class_does_not_import_attrs(tmp_path: Path) -> None:
    """The console script installs the cache as an import hook: ``firestream plugins`` from
    a warm plugin cache still imports no attrs, and the hook is gone when it ends."""
    code = """
        import sys
        sys.argv = ["firestream", "plugins", "--json"]
        from firestream_core.cli.main import main
        main()
        print("attrs imported:", "attr" in sys.modules, "hooks left:",
              [type(f).__name__ for f in sys.meta_path if "codecache" in type(f).__module__])
    """
    env = {"FIRESTREAM_CACHE_DIR": str(tmp_path), "FIRESTREAM_PLUGIN_CACHE": "on"}
    run_py(code, env=env)  # warms the plugin cache
    warm = run_py(code, env=env)
    assert warm.stdout.splitlines()[-1] == "attrs imported: False hooks left: []", warm.stderr


def test_the_hook_patches_attrs_when_it_is_imported_and_uninstall_undoes_it(tmp_path: Path) -> None:
    code = """
        import sys
        from firestream_core.cli import codecache
        cache = codecache.install()
        import attrs
        import attr._make as make

        @attrs.frozen
        class Point:
            x: int
        print("patched:", make.compile == cache.compile, "misses:", cache.misses)
        codecache.uninstall(cache)
        print("after:", "compile" in vars(make), any("codecache" in type(f).__module__ for f in sys.meta_path))
    """
    r = run_py(code, env={"FIRESTREAM_CACHE_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    patched, after = r.stdout.splitlines()
    assert patched.startswith("patched: True misses: ") and int(patched.split()[-1]) >= 1
    assert after == "after: False False"


def test_attrs_own_classes_are_read_back_when_the_hook_runs_before_its_body(tmp_path: Path) -> None:
    """``compile`` is in ``attr._make``'s namespace before its body runs: the classes attrs
    defines for itself (``Attribute``, ``Factory``...) are read back on the next run too."""
    import json

    code = """
        import json, sys
        from firestream_core.cli import codecache
        cache = codecache.install()
        import attrs
        import cattrs.gen
        names = sorted({k.split(">")[0] + ">" for k in cache._used})
        codecache.uninstall(cache)
        print(json.dumps({"hits": cache.hits, "misses": cache.misses, "names": names}))
    """
    env = {"FIRESTREAM_CACHE_DIR": str(tmp_path), "PYTHONHASHSEED": "5"}
    first = json.loads(run_py(code, env=env).stdout)
    second = json.loads(run_py(code, env=env).stdout)
    assert "<attrs generated __repr__ attr._make.Attribute>" in first["names"]
    assert first["misses"] >= 5 and first["hits"] == 0
    assert (second["hits"], second["misses"], second["names"]) == (first["misses"], 0, first["names"])


def test_a_module_that_is_not_the_one_expected_gets_the_built_in_back(tmp_path: Path) -> None:
    """An ``attr._make`` without ``_linecache_and_compile`` (another attrs than the one
    written against) compiles with the built-in once its body ran, and is left alone after."""
    fake = tmp_path / "fake" / "attr"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "_make.py").write_text("seen = compile('x = 1', '<attrs generated methods m.C>', 'exec')\n")
    code = """
        import sys
        from firestream_core.cli import codecache
        cache = codecache.install()
        import attr._make as make
        print("compile" in vars(make), cache.misses, make not in cache.installed)
        codecache.uninstall(cache)
    """
    r = run_py(code, env={"FIRESTREAM_CACHE_DIR": str(tmp_path / "cache"),
                          "PYTHONPATH": str(tmp_path / "fake")})
    assert r.stdout.split() == ["False", "1", "True"], r.stderr


def test_a_program_calling_main_keeps_attrs_as_it_is(tmp_path: Path, monkeypatch) -> None:
    import attr._make as make

    from firestream_core.cli.main import main

    monkeypatch.setenv("FIRESTREAM_CACHE_DIR", str(tmp_path))
    assert main(["plugins", "--json"]) in (0, 1)
    import cattrs.gen as gen

    for module in (make, gen):
        assert "compile" not in vars(module)
    assert not list(tmp_path.glob("attrs-code-*"))


def test_a_class_name_defined_twice_is_read_back_too(tmp_path: Path) -> None:
    """attrs names the second class of a name it saw already ``<... Point-1>``: its entry
    is found, and hashes as compiled, like the first one's."""
    import json

    code = """
        import json
        import attr._make
        from firestream_core.cli import codecache
        cache = codecache.install()
        import attrs

        def make(*names):
            @attrs.frozen
            class Point:
                pass
            return attrs.make_class("Point", list(names), frozen=True)

        first, second = make("x"), make("x", "y")
        values = [hash(first(1)), hash(second(1, 2))]
        codecache.uninstall(cache)
        print(json.dumps({"misses": getattr(cache, "misses", 0), "values": values}))
    """
    env = {"FIRESTREAM_CACHE_DIR": str(tmp_path)}
    for seed in ("1", "2", "3", "4"):  # every width of the hash numbers gets its entry
        run_py(code, env={**env, "PYTHONHASHSEED": seed})
    runs = {seed: json.loads(run_py(code, env={**env, "PYTHONHASHSEED": seed}).stdout) for seed in ("1", "2")}
    assert [r["misses"] for r in runs.values()] == [0, 0]
    off = json.loads(run_py(code, env={**env, "PYTHONHASHSEED": "2", "FIRESTREAM_CODE_CACHE": "off"}).stdout)
    assert runs["2"]["values"] == off["values"]


def test_a_cache_that_fails_costs_the_command_nothing(tmp_path: Path) -> None:
    """install() or the save failing unexpectedly: the command runs and exits as without it."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "firestream.toml").write_text('[repositories]\nbitnami = "https://charts.bitnami.com/bitnami"\n'
                                             '[deployments.db]\nchart = "bitnami/postgresql"\n')
    code = """
        import sys
        from firestream_core.cli import codecache
        from firestream_core.cli.main import main

        def broken(*args):
            raise RuntimeError("cache broke")

        codecache.install = broken if sys.argv[1] == "install" else codecache.install
        codecache.uninstall = broken if sys.argv[1] == "uninstall" else codecache.uninstall
        sys.argv = ["firestream", "validate"]
        sys.exit(main())
    """
    for where in ("install", "uninstall"):
        r = run_py(code, where, cwd=project, env={"FIRESTREAM_CACHE_DIR": str(tmp_path / "cache")})
        assert (r.returncode, r.stderr) == (0, ""), where
        assert "is valid" in r.stdout, where


def test_a_save_removes_another_formats_file_nobody_wrote_for_a_month(tmp_path: Path) -> None:
    import time

    from firestream_core.plugin.cache import STALE_DAYS

    old = tmp_path / "attrs-code-cpython-311-O0.marshal"  # the name before formats were in it
    recent = tmp_path / "attrs-code-cpython-312-O0-f2.marshal"  # another Python, used this week
    for path, age in ((old, STALE_DAYS * 86400 + 60), (recent, 3 * 86400)):
        path.write_bytes(b"")
        os.utime(path, (time.time() - age,) * 2)
    cache = CodeCache(str(tmp_path / "attrs-code-cpython-311-O0-f2.marshal"))
    cache.compile("x = 1\n", METHODS, "exec")
    cache.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([recent.name, "attrs-code-cpython-311-O0-f2.marshal"])
