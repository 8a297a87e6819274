"""Near-duplicate leakage: the same example, slightly changed, in two splits or twice in train.

Exact content checks miss a caption with a trailing ``.``, a re-encoded JPEG or a row of
features rounded differently. Each kind of content gets a similarity, a threshold and a way to
find candidate pairs without comparing all pairs:

- **text** columns: Jaccard similarity of the sets of 5-character shingles of the normalised
  text (case folded, punctuation dropped, spaces collapsed), near-duplicates at Jaccard >= 0.8.
  Candidates come from MinHash signatures in LSH buckets (``datasketch``), indexed at a lower
  Jaccard (0.5) so that pairs at 0.8 are found with near certainty; every candidate is then
  verified on its exact Jaccard, so nothing below the threshold is reported.
- **image** files and **pixel** columns: the 64-bit perceptual hash (``imagehash.phash``),
  near-duplicates within 8 differing bits. The hash is cut into 9 bands: two hashes within
  8 bits agree exactly on at least one band (pigeonhole), so bucketing by band finds every
  such pair, and only pairs sharing a bucket are compared.
- **numeric** rows: every value rounded to 6 significant digits, then exact match. On DuckDB
  the rounding and the grouping run in the engine (grouped sums per split, as the other split
  checks), so tens of millions of rows never reach the process; DuckDB's printf rounds as
  Python's formatting does (the exact binary value, ties to even), so the groups are the same.
  Other engines round in the process.

Rows with equal normalised content (the same text, hash or rounded row) are collapsed first, so
a thousand copies cost one comparison. Counts are given per pair of splits (train-dev,
train-test, dev-test, ... and inside train): the rows of the second split that have a
near-duplicate in the first (inside a split: the rows with a near-duplicate in the same split),
the number of near-duplicate pairs, and a few example pairs with their similarity.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from mlstrat._constants import SPLITS
from mlstrat._exceptions import ConfigError, InputError
from mlstrat.splits._near_pairs import (
    _EXAMPLES, _HASH_BITS, HAMMING_BITS, NUMERIC_DIGITS, SHINGLE_CHARS, TEXT_JACCARD, NearDuplicateFinding,
    NearDuplicates, PairCount, _Groups, _hash_edges, _tally, _text_edges,
)

__all__ = ["HAMMING_BITS", "IMAGE_EXTENSIONS", "NUMERIC_DIGITS", "SHINGLE_CHARS", "TEXT_JACCARD", "NearDuplicates",
           "PairCount", "NearDuplicateFinding", "find_near_duplicates", "near_duplicate_leakage", "shingles",
           "normalise_text", "round_row", "phash_of_pixels", "phash_of_file"]

#: file suffixes read as images when a split's near-duplicate column holds paths
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


# -- normalised content -----------------------------------------------------------------------

def normalise_text(text: str) -> str:
    """Case folded, every run of non-alphanumeric characters one space, trimmed."""
    return " ".join(re.sub(r"[\W_]+", " ", text.casefold()).split())


def shingles(text: str, *, k: int = SHINGLE_CHARS) -> frozenset[str]:
    """The set of ``k``-character substrings of the normalised text (the whole text when shorter)."""
    norm = normalise_text(text)
    if len(norm) <= k:
        return frozenset([norm]) if norm else frozenset()
    return frozenset(norm[i:i + k] for i in range(len(norm) - k + 1))


def round_row(values: Sequence[Any], *, digits: int = NUMERIC_DIGITS) -> tuple[Any, ...] | None:
    """Each number rounded to ``digits`` significant digits (``None`` when every value is missing)."""
    out = []
    for v in values:
        if v is None:
            out.append(None)
        elif isinstance(v, float) and math.isnan(v):
            out.append("nan")
        else:
            out.append(float(f"{float(v):.{digits}g}") + 0.0)  # + 0.0: -0.0 and 0.0 match
    return None if all(v is None for v in out) else tuple(out)


def phash_of_pixels(values: Sequence[Any]) -> int:
    """The 64-bit pHash of a square grey image given as a flat row of pixel values."""
    import numpy as np
    from PIL import Image

    x = np.asarray([0.0 if v is None else float(v) for v in values], dtype=np.float64)
    side = math.isqrt(len(x))
    low, high = float(np.nanmin(x)), float(np.nanmax(x))
    scaled = np.zeros_like(x) if high <= low else (np.nan_to_num(x, nan=low) - low) / (high - low) * 255.0
    image = Image.fromarray(scaled.reshape(side, side).round().astype(np.uint8), mode="L")
    return _phash(image)


def phash_of_file(path: str | os.PathLike) -> int:
    """The 64-bit pHash of an image file (OSError when it cannot be read)."""
    from PIL import Image

    with Image.open(path) as image:
        return _phash(image.convert("L"))


def _phash(image: Any) -> int:
    import imagehash

    return int(str(imagehash.phash(image)), 16)


# -- reading the content of each kind --------------------------------------------------------

_Keys = Callable[[dict[str, list[Any]], list[str]], list[Any]]


def _text_keys(column: str) -> _Keys:
    def keys(data: dict[str, list[Any]], ids: list[str]) -> list[Any]:
        # an empty or missing text has no shingles: it is not compared
        return [(shingles(str(v)) or None) if v is not None else None for v in data[column]]
    return keys


def _numeric_keys(columns: Sequence[str], digits: int, source: str) -> _Keys:
    def keys(data: dict[str, list[Any]], ids: list[str]) -> list[Any]:
        out = []
        for i, row in enumerate(zip(*(data[c] for c in columns))):
            try:
                out.append(round_row(row, digits=digits))
            except (TypeError, ValueError):
                raise InputError(f"{source}: row id {ids[i]!r}: numeric columns {', '.join(columns)} hold a value "
                                 f"that is not a number ({row!r}); pass only numeric columns to --numeric") from None
        return out
    return keys


def _pixel_keys(columns: Sequence[str], source: str) -> _Keys:
    side = math.isqrt(len(columns))
    if side < 2 or side * side != len(columns):
        raise InputError(f"{source}: {len(columns)} pixel column(s) ({columns[0]} ...) do not make a square image; "
                         "--pixels takes the columns of a square grey image, e.g. px_0 ... px_63 (8 x 8)")

    def keys(data: dict[str, list[Any]], ids: list[str]) -> list[Any]:
        out = []
        for i, row in enumerate(zip(*(data[c] for c in columns))):
            try:
                out.append(phash_of_pixels(row))
            except (TypeError, ValueError):
                raise InputError(f"{source}: row id {ids[i]!r}: pixel columns {columns[0]} ... hold a value that is "
                                 "not a number; pass only pixel columns to --pixels") from None
        return out
    return keys


def _image_keys(column: str, root: Path | None, source: str) -> _Keys:
    def keys(data: dict[str, list[Any]], ids: list[str]) -> list[Any]:
        out = []
        for i, value in enumerate(data[column]):
            if value is None or value == "":
                out.append(None)
                continue
            path = Path(str(value))
            if not path.is_absolute() and root is not None:
                path = root / path
            try:
                out.append(phash_of_file(path))
            except (OSError, ValueError) as exc:
                reason = "no such file" if isinstance(exc, FileNotFoundError) else str(exc).splitlines()[0]
                raise InputError(f"{source}: row id {ids[i]!r}: cannot read image {str(path)!r} of column "
                                 f"{column!r} ({reason}); fix the path, or pass --image-root DIR when paths are "
                                 "relative to another directory") from None
        return out
    return keys


@dataclass(frozen=True)
class _Kind:
    name: str
    argument: str                  # the keyword argument that names the columns
    columns: tuple[str, ...]
    threshold: str
    keys: _Keys
    edges: Callable[[_Groups], list[tuple[int, int, float]]]
    digits: int | None = None      # numeric rows: significant digits (rounded in the engine where it can)


def _kinds(*, source: str, available: Sequence[str], text: Sequence[str], images: Sequence[str],
           pixels: Sequence[str], numeric: Sequence[str], image_root: Path | None, jaccard: float,
           hamming: int, digits: int) -> list[_Kind]:
    def text_edges(g: _Groups) -> list[tuple[int, int, float]]:
        return _text_edges(g, jaccard=jaccard)

    def hash_edges(g: _Groups) -> list[tuple[int, int, float]]:
        return _hash_edges(g, hamming=hamming)

    def no_edges(g: _Groups) -> list[tuple[int, int, float]]:
        return []

    pixel_columns = _expand(pixels, available)
    kinds = [_Kind("text", "text", (c,), f"Jaccard >= {jaccard:g} of {SHINGLE_CHARS}-character shingles "
                   "(case, punctuation and spacing ignored)", _text_keys(c), text_edges) for c in text]
    kinds += [_Kind("image", "images", (c,), f"pHash within {hamming} of {_HASH_BITS} bits", _image_keys(c, image_root, source),
                    hash_edges) for c in images]
    if pixel_columns:
        kinds.append(_Kind("pixels", "pixels", tuple(pixel_columns), f"pHash within {hamming} of {_HASH_BITS} bits",
                           _pixel_keys(pixel_columns, source), hash_edges))
    if numeric:
        kinds.append(_Kind("numeric", "numeric", tuple(numeric), f"equal at {digits} significant digits",
                           _numeric_keys(numeric, digits, source), no_edges, digits))
    return kinds


def _expand(columns: Sequence[str], available: Sequence[str]) -> list[str]:
    """Column names, where ``prefix*`` stands for every column starting with ``prefix``."""
    out: list[str] = []
    for c in columns:
        if not c.endswith("*"):
            out.append(c)
            continue
        matched = [a for a in available if a.startswith(c[:-1])]
        if not matched:
            raise InputError(f"pixels: no column starts with {c[:-1]!r}; available columns: "
                             f"{', '.join(available[:20])}", arguments=("pixels",))
        out += matched
    return out


def _columns(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    parts = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return tuple(p.strip() for p in parts if p.strip())


# -- the public entry points --------------------------------------------------------------------

def find_near_duplicates(
    manifest: Any,
    *,
    id: str = "id",
    split_col: str = "split",
    text: str | Sequence[str] | None = None,
    images: str | Sequence[str] | None = None,
    pixels: str | Sequence[str] | None = None,
    numeric: str | Sequence[str] | None = None,
    image_root: str | os.PathLike | None = None,
    jaccard: float = TEXT_JACCARD,
    hamming: int = HAMMING_BITS,
    digits: int = NUMERIC_DIGITS,
    con: Any = None,
) -> NearDuplicates:
    """Find near-duplicate content across the splits of a split manifest, and inside train.

    Parameters
    ----------
    manifest : path-like, URI or in-memory table
        A manifest with a split column (the output of :func:`split`, or any table whose split
        values are ``train``, ``train_dev``, ``dev``, ``test`` or their aliases).
    id : str, default="id"
        The id column named in the example pairs.
    split_col : str, default="split"
        The column holding the split.
    text : str or sequence of str, default=None
        Text columns, each compared on its own (Jaccard of 5-character shingles, MinHash LSH).
    images : str or sequence of str, default=None
        Columns of image file paths, each compared on its own (64-bit pHash).
    pixels : str or sequence of str, default=None
        The columns of a square grey image, one pixel each (``"px_*"`` for every column starting
        with ``px_``), compared as one image (pHash).
    numeric : str or sequence of str, default=None
        Numeric columns compared together as one row, rounded to ``digits`` significant digits.
    image_root : path-like, default=None
        Directory relative image paths start from (default: the manifest's directory).
    jaccard : float, default=0.8
        Text near-duplicates reach this Jaccard similarity.
    hamming : int, default=8
        Image near-duplicates differ in at most this many of the 64 hash bits.
    digits : int, default=6
        Significant digits numbers are rounded to.
    con : engine, default=None
        The engine (see :func:`mlstrat.connect`); the process-wide one by default.

    Returns
    -------
    NearDuplicates

    Raises
    ------
    ConfigError
        When no content is named, or a threshold is out of range.
    InputError
        When the manifest cannot be read, a named column is missing, a split value is unknown,
        or an image cannot be read.
    """
    from mlstrat.tables import describe_source, engine_of, map_split_aliases, read_table, require_columns

    _check_thresholds(jaccard=jaccard, hamming=hamming, digits=digits)
    named = {k: _columns(v) for k, v in (("text", text), ("images", images), ("pixels", pixels),
                                          ("numeric", numeric))}
    if not any(named.values()):
        raise ConfigError("no content to compare: name its columns with text, images, pixels or numeric",
                          arguments=tuple(named))
    engine = engine_of(con)
    source = describe_source(manifest)
    table = read_table(manifest, con=engine, text_columns=(id,))
    require_columns(table, [id], source=source, role="id column", arguments={id: "id"})
    require_columns(table, [split_col], source=source, role="split column", arguments={split_col: "split_col"})
    available = list(table.columns)
    if split_col != "split":
        table = table.drop(*(["split"] if "split" in available else [])).rename(split=split_col)
    root = Path(image_root) if image_root is not None else (
        Path(source).parent if isinstance(manifest, (str, os.PathLike)) and not _is_uri(source) else None)
    kinds = _kinds(source=source, available=available, image_root=root, jaccard=jaccard, hamming=hamming,
                   digits=digits, **named)
    for kind in kinds:
        require_columns(table, kind.columns, source=source, role=f"{kind.name} column",
                        arguments=dict.fromkeys(kind.columns, kind.argument))
    table = map_split_aliases(table, source=source).table
    return _search(engine, table, kinds, id=id, source=source)


def near_duplicate_leakage(engine: Any, table: Any, columns: Sequence[str], *, id: str,
                           source: str) -> NearDuplicates:
    """The near-duplicates of a split's output in its ``columns``: text columns as text, columns of
    image paths as images, numeric columns together as one numeric row."""
    schema = table.schema()
    numeric = [c for c in columns if schema[c].is_numeric() and not schema[c].is_boolean()]
    strings = [c for c in columns if schema[c].is_string()]
    images = [c for c in strings if _holds_image_paths(engine, table, c)]
    text = [c for c in strings if c not in images]
    root = Path(source).parent if Path(source).exists() else None
    kinds = _kinds(source=source, available=list(table.columns), text=text, images=images, pixels=(),
                   numeric=numeric, image_root=root, jaccard=TEXT_JACCARD, hamming=HAMMING_BITS,
                   digits=NUMERIC_DIGITS)
    return _search(engine, table, kinds, id=id, source=source)


def _holds_image_paths(engine: Any, table: Any, column: str) -> bool:
    """True when every non-empty value of a text column ends in an image file suffix."""
    value = table[column].lower()
    is_image = value.endswith(IMAGE_EXTENSIONS[0])
    for ext in IMAGE_EXTENSIONS[1:]:
        is_image |= value.endswith(ext)
    filled = table.filter(table[column].notnull() & (table[column] != ""))
    return bool(engine.scalar(filled.count())) and not engine.scalar(filled.filter(~is_image).count())


def _search(engine: Any, table: Any, kinds: list[_Kind], *, id: str, source: str) -> NearDuplicates:
    from mlstrat.splits._rounded import split_row_counts

    split_rows = split_row_counts(engine, table)
    unknown = sorted(set(split_rows) - set(SPLITS))
    if unknown:
        raise InputError(f"{source}: split column holds {', '.join(map(repr, unknown[:5]))}; expected "
                         f"{', '.join(SPLITS)} (or aliases such as val); pass the right column with --split-col")
    present = [s for s in SPLITS if s in split_rows]
    in_engine = [k for k in kinds if _rounds_in_engine(engine, table, k)]
    in_process = _in_process(engine, table, [k for k in kinds if k not in in_engine], id=id)
    findings = []
    for kind in kinds:
        if kind in in_engine:
            findings.append(_numeric_in_engine(engine, table, kind, id=id, present=present))
        else:
            findings.append(in_process[kind.name, kind.columns])
    return NearDuplicates(source=source, rows=sum(split_rows.values()), findings=tuple(findings))


def _in_process(engine: Any, table: Any, kinds: list[_Kind], *, id: str) -> dict[tuple[str, tuple[str, ...]],
                                                                                   NearDuplicateFinding]:
    """Findings of the kinds whose content is hashed (or rounded) in this process."""
    if not kinds:
        return {}
    wanted = list(dict.fromkeys([id, "split", *(c for k in kinds for c in k.columns)]))
    arrow = engine.to_arrow(table.select(*wanted))
    data = {name: arrow.column(name).to_pylist() for name in wanted}
    ids = [str(v) for v in data[id]]
    splits = [str(s) for s in data["split"]]
    out = {}
    for kind in kinds:
        groups = _Groups.of(kind.keys(data, ids))
        edges = kind.edges(groups)
        out[kind.name, kind.columns] = NearDuplicateFinding(
            kind=kind.name, columns=kind.columns, threshold=kind.threshold,
            compared=sum(map(len, groups.members)), counts=_tally(groups, edges, ids, splits))
    return out


def _rounds_in_engine(engine: Any, table: Any, kind: _Kind) -> bool:
    """Numeric rows are rounded and grouped in DuckDB, whose printf rounds as Python does; other
    engines, and columns that are not all numbers (reported row by row), round in the process."""
    if kind.name != "numeric" or kind.digits is None or getattr(engine, "kind", "") != "duckdb":
        return False
    schema = table.schema()
    return all(schema[c].is_numeric() and not schema[c].is_boolean() for c in kind.columns)


def _numeric_in_engine(engine: Any, table: Any, kind: _Kind, *, id: str,
                       present: list[str]) -> NearDuplicateFinding:
    """The numeric finding from the rows rounded and grouped in the engine."""
    from mlstrat.splits._rounded import rounded_groups

    wanted = [(a, b) for a, b in combinations(present, 2)] + ([("train", "train")] if "train" in present else [])
    groups = rounded_groups(engine, table, id=id, columns=kind.columns, digits=kind.digits or NUMERIC_DIGITS,
                            pairs=wanted, examples=_EXAMPLES)
    counts = []
    for pair in wanted:
        rows, pairs = groups.counts[pair]
        examples = tuple((str(a), str(b), 1.0) for a, b in groups.examples[pair]) if pairs else ()
        counts.append(PairCount(pair[0], pair[1], rows, pairs, examples))
    return NearDuplicateFinding(kind=kind.name, columns=kind.columns, threshold=kind.threshold,
                                compared=groups.compared, counts=tuple(counts))


def _check_thresholds(*, jaccard: float, hamming: int, digits: int) -> None:
    if not 0.0 < jaccard <= 1.0:
        raise ConfigError(f"jaccard: {jaccard!r} must lie in (0, 1], e.g. 0.8", arguments=("jaccard",))
    if isinstance(hamming, bool) or not isinstance(hamming, int) or not 0 <= hamming < _HASH_BITS // 2:
        raise ConfigError(f"hamming: {hamming!r} must be a whole number of bits from 0 to {_HASH_BITS // 2 - 1}, "
                          "e.g. 8", arguments=("hamming",))
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 15:
        raise ConfigError(f"digits: {digits!r} must be a whole number from 1 to 15, e.g. 6", arguments=("digits",))


def _is_uri(text: str) -> bool:
    return "://" in text
