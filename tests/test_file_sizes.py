"""No module of the package grows past ``MAX_LINES`` lines without saying why at its top, and no
function body past ``MAX_BODY`` lines.

A long module is usually two ideas in one file; when it really is one (a table of data, a
single algorithm that reads best in one place), its docstring carries a line starting with
``Over 500 lines:`` that gives the reason, and the check lets it through.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "mlstrat"
MAX_LINES = 500
REASON = "Over 500 lines:"


def long_modules_without_reason(root: Path = SRC, *, limit: int = MAX_LINES) -> list[str]:
    """``path (N lines)`` for every ``.py`` file under ``root`` longer than ``limit`` lines
    whose module docstring has no line starting with :data:`REASON`."""
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines <= limit:
            continue
        doc = ast.get_docstring(ast.parse(text, filename=str(path))) or ""
        if not any(line.strip().startswith(REASON) for line in doc.splitlines()):
            found.append(f"{path.relative_to(root.parent)} ({lines} lines)")
    return found


def test_no_module_is_long_without_a_reason():
    assert long_modules_without_reason() == [], (
        f"split these modules, or start a line of their docstring with {REASON!r} and the reason"
    )


def _module(path: Path, docstring: str, lines: int) -> None:
    body = "\n".join(f"X{i} = {i}" for i in range(lines))
    path.write_text(f'"""{docstring}"""\n{body}\n', encoding="utf-8")


def test_the_check_names_a_long_module_and_accepts_a_written_reason(tmp_path):
    root = tmp_path / "pkg"
    root.mkdir()
    _module(root / "short.py", "Short.", 10)
    _module(root / "long.py", "Long, with no reason.", 600)
    _module(root / "table.py", "A lookup table.\n\nOver 500 lines: one table of constants.\n", 600)
    _module(root / "said_later.py", "Long.\n\nIt is over 500 lines: no line starts with the marker.\n", 600)
    assert long_modules_without_reason(root) == ["pkg/long.py (601 lines)",
                                                 "pkg/said_later.py (604 lines)"]


MAX_BODY = 60  # lines of a function's body, its docstring left out


def long_functions(root: Path = SRC, *, limit: int = MAX_BODY) -> list[str]:
    """``path:line name (N lines)`` for every function under ``root`` whose body, without its
    docstring, spans more than ``limit`` lines: one job per function, split into named steps."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            if body and body[-1].end_lineno - body[0].lineno + 1 > limit:
                lines = body[-1].end_lineno - body[0].lineno + 1
                found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_body_is_over_60_lines():
    assert long_functions() == [], "split these functions into named steps"


def test_the_function_check_counts_the_body_without_the_docstring(tmp_path):
    root = tmp_path / "pkg"
    root.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    (root / "m.py").write_text(f'def long():\n    """Doc."""\n{body}\n\n'
                               f'def fits():\n    """Doc\n\n    more doc.\n    """\n'
                               + "\n".join(f"    y{i} = {i}" for i in range(60)) + "\n", encoding="utf-8")
    assert long_functions(root) == ["pkg/m.py:1 long (61 lines)"]
