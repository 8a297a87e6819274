"""Probabilities written as lists read the same on Spark as on DuckDB (tests/tables/test_proba_lists.py)."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mlstrat
from mlstrat import InputError
from mlstrat._json import to_jsonable
from mlstrat.errors import find_label_issues
from tests.spark._compare import assert_same
from tests.tables.test_proba_lists import as_singletons, as_vector, columns

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def test_list_columns_read_alike_and_ambiguous_ones_refused_alike(spark, tmp_path):
    duck = mlstrat.connect("duckdb")
    plain = columns()
    reference = to_jsonable(find_label_issues(_write(tmp_path, "plain", plain), split="dev", con=duck))
    assert reference["issues"]
    for name, data in (("vector", as_vector(plain)), ("singletons", as_singletons(plain))):
        path = _write(tmp_path, name, data)
        assert_same(to_jsonable(find_label_issues(path, split="dev", con=spark)), reference)
    path = _write(tmp_path, "ambiguous", as_vector(columns(labels=("a", "b", "c"))))
    message = re.escape(f"{path}: column 'proba' holds lists of 3 probabilities but the class of each position "
                        "is ambiguous: labels such as 'a', 'b', 'c' are not the integers 0 .. 2")
    for con in (duck, spark):
        with pytest.raises(InputError, match=message):
            find_label_issues(path, split="dev", con=con)


def _write(folder, name, data) -> str:
    path = folder / f"{name}.parquet"
    pq.write_table(pa.table(data), path)
    return str(path)
