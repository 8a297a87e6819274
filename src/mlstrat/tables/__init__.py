"""Reading and writing tables through one engine (Ibis over DuckDB by default).

Every capability takes its data through here: files (CSV, Parquet, JSONL, Arrow IPC) or
in-memory objects (pandas, polars, pyarrow, dicts of numpy arrays) become an Ibis table on an
embedded DuckDB connection, so large files stream instead of loading into pandas.
"""

from mlstrat.tables._engine import connect, default_connection
from mlstrat.tables._io import (
    READERS,
    atomic_write_bytes,
    atomic_write_text,
    check_output_path,
    describe_source,
    fingerprint,
    read_table,
    require_columns,
    write_table,
)
from mlstrat.tables._mapping import SPLIT_ALIASES, MappedTable, map_predictions, map_split_aliases
from mlstrat.tables._predictions import Predictions, read_predictions

__all__ = [
    "MappedTable",
    "READERS",
    "SPLIT_ALIASES",
    "Predictions",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output_path",
    "connect",
    "default_connection",
    "describe_source",
    "fingerprint",
    "map_predictions",
    "map_split_aliases",
    "read_predictions",
    "read_table",
    "require_columns",
    "write_table",
]
