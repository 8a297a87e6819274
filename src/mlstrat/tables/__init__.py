"""Reading and writing tables through one engine (Ibis over DuckDB by default, or Spark).

Every capability takes its data through here: files (CSV, Parquet, JSONL, Arrow IPC, part-file
directories, URIs) or in-memory objects (pandas, polars, pyarrow, dicts of numpy arrays) become
an Ibis table on the engine (embedded DuckDB, or a SparkSession), so large files stream instead
of loading into pandas. The engine layer (:mod:`mlstrat.tables._engine` and the modules it
names) is the only place that knows which engine runs.
"""

from mlstrat.tables._columns import ColumnSelection, select_columns
from mlstrat.tables._connect import ENGINES, connect, default_connection, engine_of, spark_settings, use_engine
from mlstrat.tables._engine import Engine, hash64_halves, is_uri, unit_hash
from mlstrat.tables._io import (
    READERS,
    atomic_write_bytes,
    atomic_write_text,
    check_file_output,
    check_output_path,
    check_table_output,
    describe_output,
    describe_source,
    fingerprint,
    read_table,
    require_columns,
    source_columns,
    write_table,
)
from mlstrat.tables._mapping import SPLIT_ALIASES, MappedTable, map_predictions, map_split_aliases
from mlstrat.tables._predictions import (
    PREDICTION_COLUMNS,
    Predictions,
    expand_proba_lists,
    read_predictions,
    with_numeric_proba,
)
from mlstrat.tables._spark_session import parse_conf as parse_spark_conf

__all__ = [
    "ColumnSelection",
    "MappedTable",
    "PREDICTION_COLUMNS",
    "ENGINES",
    "Engine",
    "READERS",
    "SPLIT_ALIASES",
    "Predictions",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_file_output",
    "check_output_path",
    "check_table_output",
    "connect",
    "default_connection",
    "describe_output",
    "describe_source",
    "engine_of",
    "fingerprint",
    "map_predictions",
    "map_split_aliases",
    "parse_spark_conf",
    "hash64_halves",
    "is_uri",
    "read_predictions",
    "expand_proba_lists",
    "read_table",
    "require_columns",
    "select_columns",
    "source_columns",
    "spark_settings",
    "unit_hash",
    "use_engine",
    "with_numeric_proba",
    "write_table",
]
