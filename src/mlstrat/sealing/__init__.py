"""The sealed test split: the test-set fingerprint and the ledger of looks at it.

Whatever computes a test figure counts one look (:func:`count_test_look`) in the run
store's file; past a threshold the test set is reported as reused. This package sits below
the metrics that count looks; the run store (:mod:`mlstrat.runs`) builds on its ledger.
"""

from __future__ import annotations

from mlstrat._lazy import lazy_names as _lazy_names

__all__ = [
    "DEFAULT_STORE",
    "DEFAULT_TEST_REUSE_THRESHOLD",
    "LookLedger",
    "ReusedTestSetWarning",
    "SCHEMA_VERSION",
    "STORE_ENV",
    "THRESHOLD_ENV",
    "TestLook",
    "count_test_look",
    "fingerprint_test_set",
    "resolve_store",
    "sealed_warning",
    "look_notes",
]

# public name -> the module of this package that defines it
_WHERE: dict[str, str] = {
    "fingerprint_test_set": "._fingerprint",
    "DEFAULT_STORE": "._ledger",
    "DEFAULT_TEST_REUSE_THRESHOLD": "._ledger",
    "LookLedger": "._ledger",
    "ReusedTestSetWarning": "._ledger",
    "STORE_ENV": "._ledger",
    "THRESHOLD_ENV": "._ledger",
    "TestLook": "._looks",
    "count_test_look": "._looks",
    "resolve_store": "._looks",
    "sealed_warning": "._looks",
    "look_notes": "._looks",
    "SCHEMA_VERSION": "._schema",
}

__getattr__, __dir__ = _lazy_names(__name__, _WHERE, globals())
