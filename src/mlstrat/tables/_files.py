"""What the engine and the readers both need to know about files on disk: the formats by
suffix, the live files of a Delta or Iceberg table, the part files of a directory, whether a
writer's process still lives, and the full header behind a view that holds a selection of a
file's columns."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlstrat._exceptions import InputError

__all__ = ["READERS", "COMPRESSIONS", "HEADERS", "LiveFiles", "format_of", "part_files", "pid_alive"]

# file suffix -> format name; ".csv.gz" style compressions are handled by DuckDB itself
READERS: dict[str, str] = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "json", ".ndjson": "json", ".json": "json",
    ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow",
}
COMPRESSIONS = (".gz", ".zst")

#: view name -> every column of the file behind it, when the view holds a selection of them
HEADERS: dict[str, tuple[str, ...]] = {}


@dataclass(frozen=True)
class LiveFiles:
    """The live Parquet data files of a table format's current version (Delta, Iceberg), which
    the engine reads (:meth:`Engine.read_files`); the folder holds superseded files too."""

    root: str  # the table's folder or URI (partition folders are below it)
    files: tuple[str, ...]  # absolute paths or URIs
    version: int  # Delta's version, Iceberg's snapshot id
    partition_columns: tuple[str, ...] = ()  # columns read from col=value/ folders, not the files


def format_of(path: Path, *, default: str | None = None) -> str:
    """The format name of a file by its suffix (compression suffixes skipped)."""
    name = path.name.lower()
    for comp in COMPRESSIONS:
        if name.endswith(comp):
            name = name[: -len(comp)]
    suffix = os.path.splitext(name)[1]
    if suffix not in READERS and default is not None:
        return default
    if suffix not in READERS:
        known = ", ".join(sorted(READERS))
        raise InputError(f"{path}: unknown file type {suffix or '(none)'!r}; use one of {known}")
    return READERS[suffix]


def part_files(path: Path, fmt: str) -> list[Path]:
    """The data files of a directory in ``fmt`` (Spark's ``_SUCCESS`` and hidden files skipped)."""
    found = []
    for p in sorted(path.rglob("*")):
        if not p.is_file() or p.name.startswith((".", "_")):
            continue
        try:
            if format_of(p) == fmt:
                found.append(p)
        except InputError:
            continue
    return found


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (the owner of a temp file or spill folder)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def refuse_utf16(path: Path, fmt: str) -> None:
    """Refuse a text table saved as UTF-16 (Excel's "Unicode Text", Windows tools) in one line:
    the engines read UTF-8 only and would fail on line 1, or read NUL bytes into every name."""
    if fmt not in ("csv", "json") or path.name.lower().endswith(COMPRESSIONS):
        return
    with open(path, "rb") as f:
        head = f.read(16)
    odd_zero, even_zero = all(b == 0 for b in head[1::2]), all(b == 0 for b in head[0::2])
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) >= 4 and odd_zero != even_zero):
        excel = " (in Excel: CSV UTF-8)" if fmt == "csv" else ""
        raise InputError(f"{path}: is UTF-16 text, not UTF-8; save the table as UTF-8{excel}")
