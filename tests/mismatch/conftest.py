import hashlib

import numpy as np
import pyarrow as pa
import pytest

from mlstrat.scenarios import build_digits_manifest


def assign_split(table: pa.Table, *, salt: str = "s") -> pa.Table:
    """dev/test from app writers (hashed by group), every web row and the rest of app in train."""
    dom = np.array(table["domain"].to_pylist())
    u = np.array(
        [
            int(hashlib.md5(f"{g}:{salt}".encode()).hexdigest()[:8], 16) / 2**32
            for g in table["group"].to_pylist()
        ]
    )
    split = np.where(
        dom == "app", np.where(u < 0.3, "dev", np.where(u < 0.6, "test", "train")), "train"
    )
    return table.append_column("split", pa.array(split))


@pytest.fixture(scope="session")
def digits() -> pa.Table:
    """The bundled scenario with a split column (all 1 797 rows)."""
    return assign_split(build_digits_manifest())


@pytest.fixture(scope="session")
def small_digits(digits: pa.Table) -> pa.Table:
    """Every third row: enough for the domain classifier, fast in tests."""
    return digits.take(pa.array(np.arange(0, digits.num_rows, 3)))
