"""Splits: stable, target-aware, size-aware train / train-dev / dev / test assignment.

``split`` assigns each manifest row from the md5 hash of its group (or id) and a salt,
stratified by label and domain, with dev/test drawn from the target domain and sized by the
data (docs/method.md §1).
"""

from mlstrat.splits._allocate import apportion
from mlstrat.splits._data_checks import DataChecks, check_table
from mlstrat.splits._near_duplicates import NearDuplicates, find_near_duplicates
from mlstrat.splits._hashing import DEFAULT_SALT, assign_hash
from mlstrat.splits._policy import AUTO_CAP, AUTO_FRACTION, auto_size, resolvable_difference, resolve_size
from mlstrat.splits._request import SplitSpec
from mlstrat.splits._result import SplitResult
from mlstrat.splits._split import split

__all__ = [
    "AUTO_CAP",
    "AUTO_FRACTION",
    "DEFAULT_SALT",
    "DataChecks",
    "NearDuplicates",
    "SplitResult",
    "SplitSpec",
    "apportion",
    "assign_hash",
    "auto_size",
    "check_table",
    "find_near_duplicates",
    "resolvable_difference",
    "resolve_size",
    "split",
]
