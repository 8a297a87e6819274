"""The layering of the package, read from every module's syntax tree.

A module imports only from its own layer or below, imports written inside functions
included (and the modules behind a package's lazily loaded public names), and no chain of
imports leads back to where it started. The layers, from the
ground up, are ``LAYERS`` below; docs/ARCHITECTURE.md draws them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "mlstrat"

# From the ground up; packages on one line share a layer and may import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("_",),  # the shared mlstrat/_*.py modules
    ("display",),
    ("tables",),
    ("sealing",),
    ("metrics",),
    ("splits",),
    ("diagnosis", "errors"),
    ("runs",),
    ("report",),
    ("mismatch",),
    ("nn",),
    ("curves", "tune"),
    ("scenarios",),
    ("integrations", "sklearn", "lightning"),  # mlstrat.sklearn / mlstrat.lightning re-export integrations
    ("cli", "__main__", ROOT),  # the package root: lazy public names, and it wires MLflow into recording
)
LAYER_OF: dict[str, int] = {name: rank for rank, names in enumerate(LAYERS) for name in names}


@dataclass(frozen=True)
class Import:
    """One import statement's target, where it is written."""

    source: str  # importing module, dotted
    target: str  # imported module, dotted
    path: str  # importing file, relative to src/
    line: int

    def where(self) -> str:
        return f"{self.path}:{self.line} imports {self.target}"


def module_files(src: Path = SRC) -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted((src / ROOT).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The dotted name ``from ... import`` names, relative levels resolved."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _literal_import_module(node: ast.Call) -> str | None:
    """The module of ``importlib.import_module("...")`` / ``import_module("...")`` written as a literal."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name != "import_module" or not node.args:
        return None
    first = node.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def _lazy_name_modules(tree: ast.Module, package: str) -> list[tuple[int, str]]:
    """``(line, module)`` of each public name a package loads lazily: the values of the dict
    literal handed to ``lazy_names(__name__, WHERE, globals())`` (``"._x"`` is relative)."""
    passed = {call.args[1].id for call in ast.walk(tree)
              if isinstance(call, ast.Call) and len(call.args) >= 2 and isinstance(call.args[1], ast.Name)
              and getattr(call.func, "id", getattr(call.func, "attr", "")).lstrip("_") == "lazy_names"}
    found = []
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if isinstance(target, ast.Name) and target.id in passed and isinstance(node.value, ast.Dict):
            for value in node.value.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    name = value.value
                    found.append((value.lineno, package + name if name.startswith(".") else name))
    return found


def imports_of(module: str, path: Path, modules: Mapping[str, Path], src: Path = SRC) -> list[Import]:
    """The package modules ``module`` imports anywhere in its file (functions included)."""
    is_package = path.name == "__init__.py"
    rel = path.relative_to(src).as_posix()
    found: list[Import] = []

    def add(target: str, line: int) -> None:
        if target == ROOT or target.startswith(ROOT + "."):
            # `from pkg import name`: the submodule when `name` is one, else the package
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target != module:
                found.append(Import(module, target, rel, line))

    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for line, target in _lazy_name_modules(tree, module if is_package else module.rsplit(".", 1)[0]):
        add(target, line)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                add(candidate if candidate in modules else base, node.lineno)
        elif isinstance(node, ast.Call):
            literal = _literal_import_module(node)
            if literal is not None:
                add(literal, node.lineno)
    return found


def import_graph(src: Path = SRC) -> list[Import]:
    modules = module_files(src)
    return [edge for module, path in modules.items() for edge in imports_of(module, path, modules, src)]


def layer(module: str) -> int:
    """The layer of a dotted module name; an unknown package is an error, so a new one gets placed."""
    parts = module.split(".")
    if len(parts) == 1:
        return LAYER_OF[ROOT]
    if parts[1].startswith("_") and parts[1] != "__main__":
        return LAYER_OF["_"]
    if parts[1] not in LAYER_OF:
        raise KeyError(f"package {parts[1]!r} has no layer: add it to LAYERS in tests/test_layering.py")
    return LAYER_OF[parts[1]]


def upward_imports(edges: Iterable[Import]) -> list[str]:
    """Each import that runs up the layer order, as 'file:line imports module (layer a -> b)'."""
    return [f"{e.where()} (layer {layer(e.source)} -> {layer(e.target)})"
            for e in edges if layer(e.target) > layer(e.source)]


def import_cycles(edges: Iterable[Import]) -> list[str]:
    """The import circles between modules, each as the chain of 'file:line imports module'.

    Tarjan's strongly connected components; every component of two modules or more (or a
    module importing itself) is a circle, shown along one cycle through it."""
    edges = list(edges)
    out: dict[str, list[Import]] = {}
    for e in edges:
        out.setdefault(e.source, []).append(e)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:  # recursion depth is bounded by the number of modules
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for e in out.get(v, []):
            w = e.target
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            components.append(component)

    for v in sorted({e.source for e in edges} | {e.target for e in edges}):
        if v not in index:
            visit(v)
    return [_describe_cycle(sorted(c), out) for c in components
            if len(c) > 1 or any(e.target == c[0] for e in out.get(c[0], []))]


def _describe_cycle(component: list[str], out: Mapping[str, list[Import]]) -> str:
    """One cycle inside ``component``: walk its edges from its first module until a module
    repeats, and show the loop from that module back to itself."""
    members = set(component)
    chain: list[Import] = []
    position = {component[0]: 0}
    current = component[0]
    while True:
        inside = [e for e in out.get(current, []) if e.target in members]
        step = next((e for e in inside if e.target in position), inside[0])
        chain.append(step)
        if step.target in position:
            return " -> ".join(e.where() for e in chain[position[step.target]:])
        position[step.target] = len(chain)
        current = step.target


def test_every_package_has_a_layer():
    for module in module_files():
        layer(module)


def test_no_import_runs_up_the_layers():
    upward = upward_imports(import_graph())
    assert not upward, "imports that run up the layers:\n" + "\n".join(upward)


def test_no_import_circles():
    cycles = import_cycles(import_graph())
    assert not cycles, "import circles:\n" + "\n".join(cycles)


# --- the checker checks itself on a small synthetic package -----------------------------

def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_checker_finds_an_upward_import_inside_a_function(tmp_path):
    _write(tmp_path, {
        "mlstrat/__init__.py": "",
        "mlstrat/metrics/__init__.py": "",
        "mlstrat/metrics/_a.py": "def f():\n    from ..runs import _store\n",
        "mlstrat/runs/__init__.py": "",
        "mlstrat/runs/_store.py": "from mlstrat.metrics import _a\n",
    })
    edges = import_graph(tmp_path)
    assert upward_imports(edges) == ["mlstrat/metrics/_a.py:2 imports mlstrat.runs._store (layer 4 -> 7)"]


def test_checker_finds_a_circle_and_names_each_step(tmp_path):
    _write(tmp_path, {
        "mlstrat/__init__.py": "",
        "mlstrat/tables/__init__.py": "from ._engine import run\n",
        "mlstrat/tables/_engine.py": "import importlib\nfrom . import _io\n",
        "mlstrat/tables/_io.py": "import importlib\n\ndef g():\n    importlib.import_module('mlstrat.tables._engine')\n",
    })
    edges = import_graph(tmp_path)
    assert upward_imports(edges) == []
    assert import_cycles(edges) == [
        "mlstrat/tables/_engine.py:2 imports mlstrat.tables._io -> "
        "mlstrat/tables/_io.py:4 imports mlstrat.tables._engine"]


def test_checker_reads_the_lazy_public_names_of_a_package(tmp_path):
    _write(tmp_path, {
        "mlstrat/__init__.py": "",
        "mlstrat/metrics/__init__.py": (
            "from mlstrat._lazy import lazy_names as _lazy_names\n"
            "_WHERE: dict[str, str] = {\n    'a': '._a',\n    'b': 'mlstrat.runs._store',\n}\n"
            "__getattr__, __dir__ = _lazy_names(__name__, _WHERE, globals())\n"),
        "mlstrat/metrics/_a.py": "",
        "mlstrat/_lazy.py": "",
        "mlstrat/runs/__init__.py": "",
        "mlstrat/runs/_store.py": "",
    })
    edges = import_graph(tmp_path)
    assert {e.target for e in edges if e.source == "mlstrat.metrics"} == {
        "mlstrat._lazy", "mlstrat.metrics._a", "mlstrat.runs._store"}
    assert upward_imports(edges) == ["mlstrat/metrics/__init__.py:4 imports mlstrat.runs._store (layer 4 -> 7)"]


def test_checker_accepts_same_layer_and_downward_imports(tmp_path):
    _write(tmp_path, {
        "mlstrat/__init__.py": "",
        "mlstrat/_json.py": "",
        "mlstrat/errors/__init__.py": "from ..diagnosis import x\n",
        "mlstrat/diagnosis/__init__.py": "from mlstrat import _json\n",
    })
    edges = import_graph(tmp_path)
    assert upward_imports(edges) == [] and import_cycles(edges) == []


def test_unplaced_package_is_named():
    with pytest.raises(KeyError, match="package 'plugins' has no layer"):
        layer("mlstrat.plugins._x")
