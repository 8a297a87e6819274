"""The DuckDB backend mlstrat connects: Ibis's own, with a pandas-free path to Arrow, loaded
without the SQL compilers of the other twenty Ibis backends.

Ibis's DuckDB backend converts results to Arrow through ``ibis.backends.duckdb.converter``, a
module that imports pandas when it loads (about a third of a second of every table command's
start-up), although the Arrow conversion never uses pandas. The subclass here does the same
conversion with a mapper defined without that import; everything else is Ibis's.

Importing the backend also runs ``ibis.backends.sql.compilers/__init__.py``, which imports the
compiler of every Ibis backend (Athena, Trino, BigQuery, ...) and with them about fifty
sqlglot dialect modules, none of which DuckDB uses. :func:`_lazy_sql_compilers` registers
that package with the same names loaded on first use instead, and only when its
``__init__`` is exactly such a list of re-exports (checked on its source); otherwise Ibis
imports it as it always does.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

_COMPILERS = "ibis.backends.sql.compilers"


def _reexports(source: str, package: str) -> tuple[dict[str, str], list[str]] | None:
    """``{name: submodule}`` and ``__all__`` of a package ``__init__`` that only re-exports
    names of its submodules; None when it does anything else."""
    where: dict[str, str] = {}
    exported: list[str] = []
    for i, node in enumerate(ast.parse(source).body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                and node.module.startswith(package + ".") and "." not in node.module[len(package) + 1:]
                and all(alias.asname is None and alias.name != "*" for alias in node.names)):
            where.update({alias.name: node.module for alias in node.names})
            continue
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "__all__"):
            exported = list(ast.literal_eval(node.value))
            continue
        return None
    return where, exported


def _lazy_sql_compilers() -> None:
    """Register Ibis's SQL-compilers package so that each compiler loads on first use."""
    if _COMPILERS in sys.modules:
        return
    importlib.import_module(_COMPILERS.rsplit(".", 1)[0])
    spec = importlib.util.find_spec(_COMPILERS)
    try:
        found = _reexports(Path(spec.origin).read_text(encoding="utf-8"), _COMPILERS)  # type: ignore[union-attr,arg-type]
    except (AttributeError, OSError, SyntaxError, TypeError, ValueError):
        found = None
    if found is None or _COMPILERS in sys.modules:
        return  # not the plain list of re-exports this was written for: Ibis's own import
    where, exported = found
    submodules = {module.rsplit(".", 1)[1]: module for module in where.values()}
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]

    def __getattr__(name: str) -> Any:
        if name in where:
            value = getattr(importlib.import_module(where[name]), name)
        elif name in submodules:
            value = importlib.import_module(submodules[name])
        else:
            raise AttributeError(f"module {_COMPILERS!r} has no attribute {name!r}")
        setattr(module, name, value)
        return value

    module.__getattr__ = __getattr__  # type: ignore[attr-defined]
    module.__all__ = exported  # type: ignore[attr-defined]
    module.__dir__ = lambda: sorted({*vars(module), *where, *submodules})  # type: ignore[attr-defined]
    sys.modules[_COMPILERS] = module
    setattr(sys.modules[_COMPILERS.rsplit(".", 1)[0]], "compilers", module)

__all__ = ["duckdb_backend_class"]


@lru_cache(maxsize=1)
def duckdb_backend_class() -> type:
    """Ibis's DuckDB ``Backend`` whose ``to_pyarrow`` does not import pandas."""
    import pyarrow as pa

    _lazy_sql_compilers()
    from ibis.backends.duckdb import Backend
    from ibis.formats.pyarrow import PyArrowData

    class ArrowData(PyArrowData):
        """``ibis.backends.duckdb.converter.DuckDBPyArrowData``: null-typed columns stay null."""

        @classmethod
        def convert_scalar(cls, scalar: Any, dtype: Any) -> Any:
            return pa.scalar(None) if dtype.is_null() else super().convert_scalar(scalar, dtype)

        @classmethod
        def convert_column(cls, column: Any, dtype: Any) -> Any:
            return pa.nulls(len(column)) if dtype.is_null() else super().convert_column(column, dtype)

    class DuckDBBackend(Backend):
        def to_pyarrow(self, expr: Any, /, *, params: Any = None, limit: Any = None,
                       **kwargs: Any) -> Any:
            relation = self._to_duckdb_relation(expr, params=params, limit=limit, **kwargs)
            return expr.__pyarrow_result__(relation.to_arrow_table(), data_mapper=ArrowData)

    return DuckDBBackend
