"""The history of runs: a SQLite store of experiments, their diagnoses, and comparisons.

Each ``train`` and each ``diagnose`` records a run (config, data fingerprint, per-split
metrics, diagnosis, artifacts, note). :meth:`RunStore.compare` puts runs side by side and
says what changed ("variance 5.1% -> 2.0% after keep_prob 0.5"); the store also counts the
evaluations of each test set and warns when the test set is being overfit by reuse.
"""

from mlstrat.runs._candidates import runs_as_candidates
from mlstrat.runs._mlflow import MlflowExport, autolog_run, export_to_mlflow
from mlstrat.runs._compare import DEFAULT_IGNORE, Comparison, ConfigChange, Step, compare_runs, flatten_config
from mlstrat.runs._record import record_predictions_run, fingerprint_test_set
from mlstrat.runs._run import COMPONENT_DISPLAY, COMPONENTS, Run, format_pct
from mlstrat.runs._schema import SCHEMA_VERSION
from mlstrat.runs._store import (
    DEFAULT_STORE,
    DEFAULT_TEST_REUSE_THRESHOLD,
    STORE_ENV,
    THRESHOLD_ENV,
    ReusedTestSetWarning,
    RunStore,
)

__all__ = [
    "COMPONENTS",
    "COMPONENT_DISPLAY",
    "Comparison",
    "ConfigChange",
    "DEFAULT_IGNORE",
    "DEFAULT_STORE",
    "DEFAULT_TEST_REUSE_THRESHOLD",
    "ReusedTestSetWarning",
    "Run",
    "RunStore",
    "SCHEMA_VERSION",
    "STORE_ENV",
    "MlflowExport",
    "Step",
    "THRESHOLD_ENV",
    "autolog_run",
    "compare_runs",
    "export_to_mlflow",
    "flatten_config",
    "format_pct",
    "record_predictions_run",
    "runs_as_candidates",
    "fingerprint_test_set",
]
