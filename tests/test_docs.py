"""The documentation stands alone: no reference to files outside the repository, and every
relative link in the README and docs/ resolves to a file of the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"METHOD\.md|DESIGN\.md|STYLE\.md|\.\./shared")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
TEXTS = sorted([ROOT / "README.md", ROOT / "BENCHMARKS.md", *(ROOT / "docs").rglob("*.md")])


def _sources() -> list[Path]:
    return [*TEXTS, *(ROOT / "src").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]


def test_nothing_points_at_files_outside_the_repository():
    found = [f"{p.relative_to(ROOT)}:{i}" for p in _sources() if p.name != "test_docs.py"
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if OUTSIDE.search(line)]
    assert found == [], "cite docs/method.md or docs/ARCHITECTURE.md instead"


@pytest.mark.parametrize("page", TEXTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = [target for target in LINK.findall(page.read_text(encoding="utf-8"))
              if "://" not in target and not target.startswith("mailto:")
              and not (page.parent / target).exists()]
    assert broken == []
