"""docs/architecture.md stays true: it names every source file, and every file it names exists.

A newcomer reads the architecture first; a module it does not mention is a room nobody was shown,
and a path it names that is gone sends them looking for nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
# Where the doc must name every module (package markers and migration revisions aside).
SOURCES = ("bot", "handlers", "routing")


def _sources() -> list[Path]:
    found = []
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if path.name == "__init__.py" and _only_a_docstring(path):
                continue
            if "versions" in rel.parts or "__pycache__" in rel.parts:
                continue
            found.append(rel)
    return found


def _only_a_docstring(path: Path) -> bool:
    """A package marker: nothing in it but perhaps its docstring."""
    import ast

    body = ast.parse(path.read_text(encoding="utf-8")).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def _named(text: str, rel: Path) -> bool:
    """A file counts as named by its whole path, or by its name in a row or paragraph that
    names its folder (e.g. "`bot/services/cases/` `status.py`, `actions.py`")."""
    whole = rel.as_posix()
    if whole in text:
        return True
    folder = rel.parent.as_posix() + "/"
    short = rel.parent.name + "/" + rel.name
    for block in re.split(r"\n(?=[|*#-])|\n\n", text):
        if rel.name in block and (folder in block or short in block):
            return True
    return False


def test_every_source_file_is_named() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [p.as_posix() for p in _sources() if not _named(text, p)]
    assert not missing, f"docs/architecture.md does not name: {missing}"


def test_every_path_it_names_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:bot|handlers|routing|templates|tests|docs)/[\w./<>-]*)`", text))
    gone = [
        p
        for p in sorted(paths)
        if "<" not in p and "*" not in p and not (ROOT / p.rstrip("/")).exists()
    ]
    assert not gone, f"docs/architecture.md names paths that do not exist: {gone}"
