import warnings

import pyarrow as pa
import pytest

from mlstrat.tables import connect


@pytest.fixture
def con():
    return connect()


def assignment(result) -> dict:
    """id -> split of a SplitResult."""
    rows = result.table.select("id", "split").to_pyarrow().to_pylist()
    return {r["id"]: r["split"] for r in rows}


def run_split(manifest, **kwargs):
    from mlstrat.splits import split

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return split(manifest, **kwargs)


def table(**columns) -> pa.Table:
    return pa.table(columns)
