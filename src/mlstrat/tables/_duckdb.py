"""The DuckDB backend mlstrat connects: Ibis's own, with a pandas-free path to Arrow.

Ibis's DuckDB backend converts results to Arrow through ``ibis.backends.duckdb.converter``, a
module that imports pandas when it loads (about a third of a second of every table command's
start-up), although the Arrow conversion never uses pandas. The subclass here does the same
conversion with a mapper defined without that import; everything else is Ibis's.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["duckdb_backend_class"]


@lru_cache(maxsize=1)
def duckdb_backend_class() -> type:
    """Ibis's DuckDB ``Backend`` whose ``to_pyarrow`` does not import pandas."""
    import pyarrow as pa
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
