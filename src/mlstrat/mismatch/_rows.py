"""Building the synthetic rows: ids, ``synthetic_of``, file paths, appending to the manifest."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlstrat._exceptions import ConfigError, InputError

__all__ = [
    "SYNTH_COLUMN",
    "as_text",
    "require",
    "safe_name",
    "stored_path",
    "make_ids",
    "append_rows",
    "need_folder",
    "Selection",
]

SYNTH_COLUMN = "synthetic_of"


def as_text(values: list[Any]) -> np.ndarray:
    return np.array([None if v is None else str(v) for v in values], dtype=object)


def require(data: Any, columns: Sequence[str | None], *, name: str, role: str) -> None:
    """:func:`mlstrat.tables.require_columns` (same message) on a pyarrow table."""
    from types import SimpleNamespace

    from mlstrat.tables import require_columns

    require_columns(SimpleNamespace(columns=data.column_names), columns, source=name, role=role)


def safe_name(value: Any) -> str:
    """A file name for an id: its readable part plus a short hash of the exact id text.

    Sanitizing alone maps ``x/1``, ``x_1``, ``x 1`` and every non-Latin id of the same length
    to one name; the hash (48 bits of SHA-256) gives every distinct id its own file, and the
    readable part is cut so the name stays within file-system limits.
    """
    text = str(value)
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:80] or "id"
    return f"{readable}-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def stored_path(path: Path, out_path: Path | None) -> str:
    """Paths in the output table: relative to the output's folder when the file is under it."""
    if out_path is not None:
        try:
            return str(path.absolute().relative_to(out_path.absolute().parent))
        except ValueError:
            pass
    return str(path.absolute())


def make_ids(ids: Any, jobs: np.ndarray, copy_no: np.ndarray, name: str, id_col: str) -> Any:
    """Integer ids continue after the largest id; text ids get a ``~syn<k>`` suffix."""
    import pyarrow as pa

    if pa.types.is_integer(ids.type):
        start = int(np.max(ids.to_numpy(zero_copy_only=False))) + 1 if len(ids) else 0
        return pa.array(np.arange(start, start + len(jobs)), type=ids.type)
    originals = ids.to_pylist()
    new = [f"{originals[j]}~syn{k}" for j, k in zip(jobs, copy_no)]
    clash = set(new) & {str(v) for v in originals}
    if clash:
        raise InputError(
            f"{name}: synthetic id(s) {', '.join(sorted(clash)[:3])} already exist in {id_col!r}"
        )
    return (
        pa.array(new).cast(ids.type)
        if not pa.types.is_string(ids.type)
        else pa.array(new, type=ids.type)
    )


def append_rows(
    data: Any, taken: Any, new_ids: Any, id_type: Any, id_col: str, jobs: np.ndarray
) -> Any:
    import pyarrow as pa

    originals = data.column(id_col).take(pa.array(jobs))
    taken = taken.set_column(taken.schema.get_field_index(id_col), id_col, new_ids)
    taken = taken.append_column(SYNTH_COLUMN, originals)
    data = data.append_column(SYNTH_COLUMN, pa.nulls(data.num_rows, type=id_type))
    return pa.concat_tables([data, taken.cast(data.schema)])


def need_folder(files_dir: Path | None) -> Path:
    if files_dir is None:
        raise ConfigError(
            "synthesized files need a folder: give output (files go next to it) or files_dir"
        )
    return files_dir


@dataclass(frozen=True)
class Selection:
    base_idx: np.ndarray  # rows synthesized from: train, not the target domain, group not leaking
    is_target: np.ndarray  # (N,) bool: target rows outside test (calibration and AUC)
    group: str | None
    excluded: int  # train rows skipped because their group also sits outside train
    notes: list[str]
