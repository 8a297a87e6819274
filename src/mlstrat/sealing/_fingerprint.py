"""The test-set fingerprint: which test rows, with which true labels, a figure was computed on."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["fingerprint_test_set", "file_fingerprint"]


def fingerprint_test_set(predictions: Any, *, con: Any = None, store: Any = None) -> str | None:
    """Fingerprint of a predictions table's test split: which ids, with which true labels.

    Order-independent and streaming: ``count`` and ``bit_xor`` over the rows of a 64-bit md5
    of ``"<id>:<y_true>"`` (bytes 8..15 of the digest, little endian, as DuckDB's
    ``md5_number_lower``; the same on every engine and version, unlike a generic ``hash()``;
    each engine computes it its fastest exact way, see ``Engine.md5_low64_parts``). The
    prediction is left out on purpose: two models evaluated
    on the same test set share it while every model's predictions file differs. ``None``
    when there is no test split or no ``id`` column.

    ``store`` (a :class:`~mlstrat.sealing.LookLedger` or run store): a local file whose bytes
    (sha256, :func:`file_fingerprint`) a recorded diagnosis already fingerprinted gets the
    fingerprint stored with that run instead of reading its test ids again (at 100M rows the
    ids cost ~2 s of CPU, the sha256 ~0.35 s, and recording needs the sha256 anyway).
    """
    key = _file_key(predictions, con)
    if key is not None and key in _FINGERPRINTS:
        return _FINGERPRINTS[key]
    found = _stored_fingerprint(predictions, store) if key is not None else None
    if found is None:
        found = _fingerprint_test_set(predictions, con=con)
    if key is not None:
        while len(_FINGERPRINTS) >= 8:
            _FINGERPRINTS.pop(next(iter(_FINGERPRINTS)))
        _FINGERPRINTS[key] = found
    return found


# one command may need a file's test-set fingerprint twice (counting the look at the test set,
# then recording the run): an md5 per test row is worth computing once per file version
_FINGERPRINTS: dict[tuple[Any, ...], str | None] = {}


def file_fingerprint(path: str | os.PathLike) -> str | None:
    """``"sha256:<hex>"`` of a file's bytes (:func:`mlstrat.tables.fingerprint`), computed once
    per file version (path, size, modification time) in a process: a recorded diagnosis needs it
    to find its earlier run, to record the run and to look up the test-set fingerprint."""
    from mlstrat.tables import fingerprint

    key = _file_key(path, None)
    if key is None:
        return fingerprint(path)
    if key not in _SHA256:
        while len(_SHA256) >= 8:
            _SHA256.pop(next(iter(_SHA256)))
        _SHA256[key] = fingerprint(path)
    return _SHA256[key]


_SHA256: dict[tuple[Any, ...], str | None] = {}


def _stored_fingerprint(predictions: str | os.PathLike, store: Any) -> str | None:
    """The test-set fingerprint a recorded diagnosis of the same bytes stored; ``None`` when
    there is no store or no such run (then it is computed)."""
    known = getattr(store, "known_test_fingerprint", None)
    if known is None:
        return None
    sha = file_fingerprint(predictions)
    return known(sha) if sha is not None else None


def _file_key(predictions: Any, con: Any) -> tuple[Any, ...] | None:
    """(path, size, mtime, engine) of a local file; ``None`` for tables and remote paths."""
    if not isinstance(predictions, (str, os.PathLike)):
        return None
    try:
        stat = os.stat(predictions)
    except (OSError, ValueError):
        return None
    if not os.path.isfile(predictions):
        return None
    return (os.path.realpath(predictions), stat.st_size, stat.st_mtime_ns, id(con))


def _fingerprint_test_set(predictions: Any, *, con: Any = None) -> str | None:
    from mlstrat.tables import engine_of, read_table, select_columns

    engine = engine_of(con)
    # ids as the engine types them (no text_columns): the fingerprint of a file stays what it was
    table = read_table(predictions, con=engine, columns=select_columns("id", "split", "y_true"))
    if not {"id", "split", "y_true"} <= set(table.columns):
        return None
    test = table.filter(table.split.cast("string") == "test")
    parts = engine.md5_low64_parts(test.id.cast("string").concat(":", test.y_true.cast("string")))
    hashed = test.select(**{f"h{i}": part for i, (part, _) in enumerate(parts)})
    n, *xors = engine.rows(hashed.aggregate(
        n=hashed.count(), **{f"h{i}": engine.bit_xor(hashed[f"h{i}"]) for i in range(len(parts))}))[0]
    if not n:
        return None
    h = 0
    for value, (_, shift) in zip(xors, parts):
        h |= int(value) << shift
    return _fingerprint_text(int(n), h)


def _fingerprint_text(n: int, h: int) -> str:
    """The stored form: ``test-<rows>-<16 hex digits of the xor>``."""
    # no ":word:" in the text: Rich would render ":100:" as an emoji
    return f"test-{n}-{h:016x}"
