"""Helpers for the project tests: write a firestream.toml, load it as a Project."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest


def write_config(folder: Path, text: str) -> Path:
    """Write ``firestream.toml`` (dedented) into ``folder``; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "firestream.toml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def release_blocks(releases: list[tuple[str, list[str], dict[str, Any]]], *, chart: str,
                   repository: str | None, namespace: str, version: str | None = None) -> str:
    """``[[deployments.generic]]`` blocks: (name, depends_on, flat values) each."""
    out = []
    for name, deps, values in releases:
        lines = ["[[deployments.generic]]", f'name = "{name}"', f'chart = "{chart}"',
                 f'namespace = "{namespace}"']
        if repository:
            lines.append(f'repository = "{repository}"')
        if version:
            lines.append(f'version = "{version}"')
        if deps:
            lines.append("depends_on = [" + ", ".join(f'"{d}"' for d in deps) + "]")
        if values:
            lines.append("[deployments.generic.values]")
            for k, v in values.items():
                lines.append(f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"')
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


@pytest.fixture
def no_log_redactors():
    """Registered log redactors are process-global: forget them after the test."""
    yield
    from firestream_core.cli.logs import remove_redactors

    remove_redactors()
