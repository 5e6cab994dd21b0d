"""attrs' and cattrs' generated code, compiled once and read back on later runs (the console script only).

attrs writes the ``__init__``, ``__repr__``, ``__eq__`` and ``__hash__`` of each
class it defines as Python source and compiles it when the class is defined.
A command defines 40 to 70 such classes (firestream's models, its config, its
results) and ``compile()`` was a fifth of its start-up: 24 ms of the ~120 ms
before an apply's first helm call. With this cache the code objects are read
back with ``marshal``, as Python reads its own ``.pyc`` files, which saves 17
ms there and 9.5 ms of a ``validate`` (bench/README.md, "Seventh pass").
cattrs does the same for the functions that structure the config (one of 15
KB for a release's table), and attrs for its own classes when it is imported:
both are read back too (bench/README.md, "Ninth pass").

**Exactly the same code.** An entry is found by the name attrs gives the
generated file (``<attrs generated methods module.Class>``) and used only when
the source text attrs wrote this time is the one it was compiled from. The
one part of that text that changes from run to run is the number ``__hash__``
mixes in, ``hash()`` of a string (randomised per process, ``PYTHONHASHSEED``):
it is stored as a placeholder and this run's number is put back into the code
object's constants. Its width moves the columns the code object records for
tracebacks, so there is one entry per width (two, almost always: 19 digits,
with or without a sign). Anything else (another mode, flags, a source that is not
a ``str``) compiles as usual. One file per interpreter version and
optimisation level, since code objects are specific to both, and a file
whose bytecode version (a ``.pyc``'s magic number) differs is not read.
Each entry (source and code) is marshalled on its own inside the file and
read when attrs first asks for it: a command pays for the classes it
defines, not for every class the file holds (the whole file is about 1 MB
once every command ran, 2.3 ms to read in one piece).

**Installed only by the console script** (``cli/main.py``), before the first
model is imported: a program that imports ``firestream_core`` gets attrs and
cattrs unchanged. It puts the name ``compile`` in the namespace of
``attr._make`` and ``cattrs.gen`` (:data:`PATCHED`), the modules that compile
the generated code, each calling it as ``compile(script, filename, "exec")``,
as they are imported and before their bodies run. cattrs' names for its
generated files may repeat for another source (or be empty), so its entries
are found by name and source together.

**Only ever saves time.** The file lives beside the plugin cache
(``$FIRESTREAM_CACHE_DIR``, default ``~/.cache/firestream``); it is written
atomically (mode 0600) when a run compiled something new (which also removes
cache files nobody wrote for 30 days: another Python's, an older format's), and read only when
it belongs to this user and nobody else may write it (it holds code, as a
``.pyc`` does). A file that cannot be read, does not parse or has another
format is ignored, and ``FIRESTREAM_CODE_CACHE=off`` turns the cache off.
"""

from __future__ import annotations

import marshal
import os
import sys
from types import CodeType
from typing import TYPE_CHECKING

from firestream_core.plugin.cache import cache_dir, prune_stale, switched_on

if TYPE_CHECKING:
    from typing import Any

__all__ = ["CODE_CACHE_ENV", "MAX_ENTRIES", "CodeCache", "PATCHED", "cache_path", "enabled", "install", "uninstall"]

CODE_CACHE_ENV = "FIRESTREAM_CODE_CACHE"
"""``off`` (or ``0``, ``no``, ``false``) disables the cache: attrs compiles as usual."""
_FORMAT = 2  # 2: each entry marshalled on its own, read when first asked for
MAX_ENTRIES = 4000
"""Past this many entries a save keeps only what this run used (old versions' code goes)."""
_PLACEHOLDER = "\x00type-hash\x00"
"""Stands for this run's ``__hash__`` number, in a stored key and a stored code object."""
_PREFIX = "<attrs generated "


def _magic() -> bytes:
    """The bytecode's version, as in a ``.pyc`` file: another one and the file is not read."""
    from importlib.util import MAGIC_NUMBER

    return MAGIC_NUMBER


def _type_hash(filename: str) -> int | None:
    """The number attrs mixes into the ``__hash__`` of the class ``filename`` was generated for.

    attrs computes it as ``hash("<attrs generated hash module.Class>")`` whichever
    file the ``__hash__`` source ends up in (its own, or the class's ``methods``).
    """
    if not (filename.startswith(_PREFIX) and filename.endswith(">")):
        return None
    _, _, qualified = filename[len(_PREFIX):].partition(" ")
    if "-" in qualified:  # "<... mod.Class-1>": attrs' suffix for a name linecache holds already
        qualified = qualified[:qualified.rindex("-")] + ">"
    return hash(f"{_PREFIX}hash {qualified}") if qualified else None


def _swap(value: Any, old: object, new: object) -> Any:
    """``value`` (a code object, or a constant tuple in one) with the constant ``old``
    replaced by ``new`` wherever it is, nested functions included."""
    if isinstance(value, CodeType):
        consts = tuple(_swap(c, old, new) for c in value.co_consts)
        return value.replace(co_consts=consts) if consts != value.co_consts else value
    if type(value) is tuple:
        return tuple(_swap(v, old, new) for v in value)
    if type(value) is type(old) and value == old:
        return new
    return value


def _read_entry(raw: bytes) -> tuple[str, CodeType] | None:
    """An entry's (source, code), or None when it is not one (a damaged entry is a miss)."""
    if type(raw) is not bytes:  # what a file that parsed holds may be anything
        return None
    try:
        entry = marshal.loads(raw)
    except (EOFError, ValueError, TypeError):
        return None
    if type(entry) is tuple and len(entry) == 2 and type(entry[0]) is str and isinstance(entry[1], CodeType):
        return entry
    return None


class CodeCache:
    """The cache file of this interpreter (see the module doc)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._entries: dict[str, bytes] = {}
        """Name -> ``marshal.dumps((source, code))``: an entry is unmarshalled when asked for,
        so a command pays for the classes it defines, not for every class the file holds."""
        self._used: dict[str, bytes] = {}
        self._dirty = False
        self._loaded = False
        self.hits = self.misses = 0
        self.installed: list[Any] = []
        """The modules compiling through this cache (:data:`PATCHED`), once patched."""
        self.pending: _PatchOnImport | None = None

    def load(self) -> None:
        """Read the file, when there is one this user owns and only this user can write (once:
        attrs and cattrs are patched one after the other)."""
        if self._loaded:
            return
        self._loaded = True
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return
        with os.fdopen(fd, "rb") as f:
            try:
                st = os.fstat(f.fileno())
                if st.st_uid != os.geteuid() or st.st_mode & 0o022:
                    return
                doc = marshal.loads(f.read())
            except (OSError, EOFError, ValueError, TypeError):
                return
        if isinstance(doc, dict) and doc.get("format") == _FORMAT and doc.get("magic") == _magic() \
                and isinstance(doc.get("entries"), dict):
            self._entries = doc["entries"]

    def compile(self, source: Any, filename: Any, mode: str, flags: int = 0, dont_inherit: bool = False,
                optimize: int = -1) -> Any:
        """``compile()`` as attrs calls it, answered from the cache when the source is the same.

        Compiled here, in a module that like ``attr._make`` has ``from __future__
        import annotations``: the flags a call inherits are the same.
        """
        if mode != "exec" or flags or dont_inherit or optimize != -1 or type(source) is not str \
                or type(filename) is not str:
            return compile(source, filename, mode, flags, dont_inherit, optimize)
        number = _type_hash(filename)
        text, name = source, filename
        if number is not None and str(number) in source:
            text = source.replace(str(number), _PLACEHOLDER)
            # the number's width moves the columns a code object records (tracebacks'
            # carets): one entry per width (19 digits, or a sign and 19, almost always)
            name = f"{filename}\x00{len(str(number))}"
        else:
            number = None
            if not filename.startswith(_PREFIX):
                # cattrs' names ("<cattrs generated structure module.Class>", or "") may
                # stand for another source elsewhere: the source is part of the key
                name = f"{filename}\x00{source}"
        raw = self._entries.get(name)
        if raw is not None and (entry := _read_entry(raw)) is not None and entry[0] == text:
            self.hits += 1
            self._used[name] = raw
            return entry[1] if number is None else _swap(entry[1], _PLACEHOLDER, number)
        self.misses += 1
        code = compile(source, filename, mode)
        stored = code if number is None else _swap(code, number, _PLACEHOLDER)
        self._entries[name] = self._used[name] = marshal.dumps((text, stored))
        self._dirty = True
        return code

    def save(self) -> None:
        """Write the file if this run compiled something new (atomically, 0600; errors ignored)."""
        if not self._dirty:
            return
        entries = self._entries if len(self._entries) <= MAX_ENTRIES else self._used
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(marshal.dumps({"format": _FORMAT, "magic": _magic(), "entries": entries}))
            os.replace(tmp, self.path)
            self._dirty = False
        except (OSError, ValueError):
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return
        # another Python's or format's file, unwritten for a month, goes (the plugin cache's rule)
        prune_stale(os.path.dirname(self.path), keep=os.path.basename(self.path))


def enabled(environ: Any = None) -> bool:
    return switched_on(CODE_CACHE_ENV, environ)


def cache_path(environ: Any = None) -> str:
    """This interpreter's cache file: code objects are specific to its version and ``-O`` level,
    and the file's layout to this module's format (two firestreams of different formats on
    one machine each keep their own file instead of replacing each other's on every run)."""
    env = os.environ if environ is None else environ
    tag = sys.implementation.cache_tag or "python"
    return os.path.join(cache_dir(env), f"attrs-code-{tag}-O{sys.flags.optimize}-f{_FORMAT}.marshal")


PATCHED = {"attr._make": "_linecache_and_compile", "cattrs.gen": "make_dict_structure_fn"}
"""The modules that compile generated code through the cache, each with a name it must define
(the attrs and cattrs this module was written against); each calls the built-in ``compile``
by that name, as ``compile(script, filename, "exec")``."""


def _patch(module: Any, cache: CodeCache) -> bool:
    """Have ``module`` (one of :data:`PATCHED`, run already) compile through ``cache``; False
    when it is not the module expected or something replaced its ``compile`` already."""
    if not hasattr(module, PATCHED[module.__name__]) or "compile" in vars(module):
        return False
    cache.load()
    module.compile = cache.compile
    cache.installed.append(module)
    return True


class _PatchOnImport:
    """A ``sys.meta_path`` finder that has each of :data:`PATCHED` compile through the cache
    from the moment it is imported: ``compile`` is put in the module's namespace before its
    body runs, so attrs' own classes (``Attribute``, ``Factory``...) are read back too. A
    module that turns out not to be the one expected gets the built-in back; a command
    that defines no attrs class (``firestream plugins``) imports neither.

    It stays in ``sys.meta_path``, answering nothing, until :func:`uninstall`: taking
    itself out while another thread's import walks the list could make that import
    skip the finder after it.
    """

    def __init__(self, cache: CodeCache) -> None:
        self.cache = cache
        self.waiting = set(PATCHED)

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in self.waiting:
            return None
        self.waiting.discard(name)
        for finder in sys.meta_path:
            if finder is self:
                continue
            spec = getattr(finder, "find_spec", lambda *a: None)(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return spec
        cache = self.cache
        own = getattr(loader, "__dict__", {}).get("exec_module")  # what the loader held, if anything

        def exec_and_patch(module: Any) -> None:
            cache.load()
            module.compile = cache.compile
            try:
                exec_module(module)
            finally:  # the loader as it was
                if own is None:
                    del loader.exec_module
                else:
                    loader.exec_module = own
            if vars(module).get("compile") == cache.compile:
                if hasattr(module, PATCHED[name]):
                    cache.installed.append(module)
                else:  # not the module expected: the built-in from now on
                    del module.compile

        try:
            loader.exec_module = exec_and_patch
        except AttributeError:  # a loader that takes no attributes: it compiles as usual
            pass
        return spec

    def remove(self) -> None:
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass


def install() -> CodeCache | None:
    """Have attrs and cattrs compile through this interpreter's cache from now on (from when
    each is imported, if it is not yet); None when the cache is off."""
    if not enabled():
        return None
    cache = CodeCache(cache_path())
    hook = _PatchOnImport(cache)
    for name in PATCHED:
        module = sys.modules.get(name)
        if module is not None:
            hook.waiting.discard(name)
            _patch(module, cache)
    if hook.waiting:
        cache.pending = hook
        sys.meta_path.insert(0, hook)
    return cache


def uninstall(cache: CodeCache | None) -> None:
    """Give attrs and cattrs back the built-in ``compile`` (and save what ``cache`` learned)."""
    if cache is None:
        return
    if cache.pending is not None:
        cache.pending.remove()
        cache.pending = None
    for module in cache.installed:
        if vars(module).get("compile") == cache.compile:
            del module.compile
    cache.installed = []
    cache.save()
