"""The history of runs: a SQLite store of experiments, their diagnoses, and comparisons.

Each ``train`` and each ``diagnose`` records a run (config, data fingerprint, per-split
metrics, diagnosis, artifacts, note). :meth:`RunStore.compare` puts runs side by side and
says what changed ("variance 5.1% -> 2.0% after keep_prob 0.5"); the store also counts the
evaluations of each test set and warns when the test set is being overfit by reuse.

Public names load lazily: a command that only reads one of them (the reuse warning, the
look counter) does not import the whole store and its comparisons. Exporting runs to
MLflow is :mod:`mlstrat.integrations`.
"""

from __future__ import annotations

from mlstrat._lazy import lazy_names as _lazy_names

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
    "Step",
    "THRESHOLD_ENV",
    "TestLook",
    "compare_runs",
    "count_test_look",
    "error_change",
    "flatten_config",
    "format_pct",
    "keep_dev_rows",
    "record_predictions_run",
    "runs_as_candidates",
    "fingerprint_test_set",
]

# public name -> the module of this package that defines it
_WHERE: dict[str, str] = {
    "runs_as_candidates": "._candidates",
    "DEFAULT_IGNORE": "._compare",
    "Comparison": "._compare",
    "ConfigChange": "._compare",
    "Step": "._compare",
    "compare_runs": "._compare",
    "error_change": "._compare",
    "flatten_config": "._compare",
    "TestLook": "mlstrat.sealing._looks",
    "count_test_look": "mlstrat.sealing._looks",
    "record_predictions_run": "._record",
    "keep_dev_rows": "._record",
    "fingerprint_test_set": "mlstrat.sealing._fingerprint",
    "COMPONENT_DISPLAY": "mlstrat._constants",
    "COMPONENTS": "mlstrat._constants",
    "Run": "._run",
    "format_pct": "mlstrat.display._numbers",
    "SCHEMA_VERSION": "mlstrat.sealing._schema",
    "DEFAULT_STORE": "._store",
    "DEFAULT_TEST_REUSE_THRESHOLD": "._store",
    "STORE_ENV": "._store",
    "THRESHOLD_ENV": "._store",
    "ReusedTestSetWarning": "._store",
    "RunStore": "._store",
}


__getattr__, __dir__ = _lazy_names(__name__, _WHERE, globals())
