"""docs/architecture.md names every module of the package (a row, or its folder's row)."""

from __future__ import annotations

from pathlib import Path

import firestream_core

PACKAGE = Path(firestream_core.__file__).parent
DOC = (PACKAGE.parent / "docs" / "architecture.md").read_text()


def test_every_module_has_a_row_in_architecture_md() -> None:
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if path.name == "__init__.py" and rel not in ("__init__.py", "plugin/__init__.py", "scaffold/__init__.py"):
            continue
        folder_rows = ("cli/commands/" if rel.startswith("cli/commands/") else None,
                       "scaffold/" if rel.startswith("scaffold/") else None)
        if f"`{rel}`" in DOC or any(f and f"`{f}`" in DOC for f in folder_rows):
            continue
        missing.append(rel)
    assert missing == [], f"docs/architecture.md has no row for: {', '.join(missing)}"
