"""``secret_values``: where each secret comes from, and reading it.

In the file: nested tables or quoted dotted keys ending in ``{env = "VAR"}``
or ``{file = "path"}`` (``flatten_secret_values``, when the file is checked).
When charts are built: each reference read from the environment or from a
file relative to the project (``resolve_secret_values``). Problems name the
key, the variable or the file, never a value.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from firestream_core.config.paths import type_name

if TYPE_CHECKING:
    from firestream_core.config.model import ProjectConfig, SecretRef

MAX_SECRET_FILE_BYTES = 1024 * 1024
"""The largest secret file read (1 MiB, what a Kubernetes Secret holds at most): a larger
file, or anything but a regular file (``/dev/zero``, a FIFO), is a problem naming the key."""


def flatten_secret_values(raw: Any, where: str) -> tuple[dict[str, Any], list[str]]:
    """``secret_values``: nested tables or quoted dotted keys -> {"a.b": {env|file}}.

    A table holding only ``env`` and/or ``file`` is a reference; anything
    else is a level of the dotted key.
    """
    out: dict[str, Any] = {}
    errs: list[str] = []
    if not isinstance(raw, dict):
        return {}, [f"{where}: expected a table of dotted key = {{env = \"VAR\"}} or {{file = \"path\"}}"]

    def walk(node: dict[str, Any], prefix: str, path: str) -> None:
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else k
            kpath = f"{path}.{k}"
            if isinstance(v, dict) and v and set(v) <= {"env", "file"}:
                if len(v) != 1:
                    errs.append(f"{kpath}: give either env or file, not both")
                elif not isinstance(next(iter(v.values())), str) or not next(iter(v.values())):
                    errs.append(f"{kpath}.{next(iter(v))}: expected a non-empty string")
                else:
                    out[key] = v
            elif isinstance(v, dict) and v:
                walk(v, key, kpath)
            else:
                errs.append(
                    f"{kpath}: expected {{env = \"VAR\"}} or {{file = \"path\"}}, got {type_name(v)}"
                )

    walk(raw, "", where)
    return out, errs


def resolve_secret_values(
    config: ProjectConfig, refs: Mapping[str, SecretRef], where: str, problems: list[str]
) -> dict[str, Any] | None:
    """The secret values as a nested table; problems name the key and variable, never a value."""
    out: dict[str, Any] = {}
    ok = True
    for dotted, ref in refs.items():
        kpath = f"{where}.{dotted}"
        if ref.env is not None:
            value = os.environ.get(ref.env)
            if value is None:
                problems.append(f"{kpath}: environment variable '{ref.env}' is not set")
                ok = False
                continue
        else:
            assert ref.file is not None
            from firestream_core.tools.readfile import UnreadableFile, read_bounded

            f = config.project_dir / ref.file
            try:
                value = read_bounded(f, MAX_SECRET_FILE_BYTES).decode("utf-8")
            except UnreadableFile as exc:
                problems.append(f"{kpath}: secret file '{ref.file}' {exc.reason}")
                ok = False
                continue
            except UnicodeDecodeError:
                problems.append(f"{kpath}: secret file '{ref.file}' cannot be read: not UTF-8 text")
                ok = False
                continue
            if value.endswith("\r\n"):
                value = value[:-2]
            elif value.endswith("\n"):
                value = value[:-1]
        node = out
        parts = dotted.split(".")
        for part in parts[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                problems.append(f"{kpath}: conflicts with the secret key '{part}'")
                ok = False
                break
            node = nxt
        else:
            node[parts[-1]] = value
    return out if ok else None


def leaves(node: Any) -> Iterable[str]:
    """Every value of a resolved (nested) table, as text: the secrets to redact."""
    if isinstance(node, dict):
        for v in node.values():
            yield from leaves(v)
    else:
        yield str(node)
