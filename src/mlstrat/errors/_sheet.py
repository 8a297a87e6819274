"""The error-analysis sheet: a seeded sample of misclassified rows, and reading it back.

The sheet is a plain CSV (it must open in any spreadsheet program); what the summary needs
besides the tags (the split's error, the predictions' fingerprint, ...) lives in
``<sheet>.meta.json`` beside it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstrat._clock import utc_now
from mlstrat._constants import SPLITS
from mlstrat._exceptions import ConfigError, InputError
from mlstrat._numbers import did_you_mean
from mlstrat._labels import label_text
from mlstrat.errors._common import TAGGED_MARKS, UNTAGGED_MARKS, parse_categories
from mlstrat.errors._csvsafe import allow_large_fields, neutralize, restore

__all__ = [
    "SampleResult",
    "Sheet",
    "sample_errors",
    "read_sheet",
    "meta_path",
    "write_sheet_csv",
    "split_error_stats",
    "SHEET_FORMAT",
    "REVIEWED",
]

SHEET_FORMAT = "mlstrat-error-sheet/1"
_COMMENT = "comment"
#: optional column: whether a row has been examined (the UI fills it; absent = all were)
REVIEWED = "reviewed"
_SAMPLED_AS = "sampled_as"
_DROP = ("split", "y_true", "y_pred", "id")
_MAX_STAT_COLUMNS = 500  # z-scores for the UI's feature table; wider tables are pixels or embeddings


def meta_path(sheet: str | os.PathLike) -> Path:
    """``sheet.csv`` -> ``sheet.csv.meta.json``."""
    sheet = Path(sheet)
    return sheet.with_name(sheet.name + ".meta.json")


@dataclass(frozen=True)
class SampleResult:
    """What :func:`sample_errors` wrote.

    Attributes
    ----------
    sheet, meta : Path
        The CSV sheet and its ``.meta.json``.
    split : str
    split_error : float
        Error rate of the split (misclassified / rows), unweighted.
    split_size, n_errors : int
        Rows and misclassified rows in the split.
    sample_size : int
        Misclassified rows in the sheet (``min(n, n_errors)``).
    n_correct : int
        Correctly classified rows added with ``include_correct``.
    seed : int
    categories : tuple of str
    fingerprint : str or None
        ``sha256:...`` of the predictions file; ``None`` for in-memory tables.
    """

    sheet: Path
    meta: Path
    split: str
    split_error: float
    split_size: int
    n_errors: int
    sample_size: int
    n_correct: int
    seed: int
    categories: tuple[str, ...]
    fingerprint: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sheet": str(self.sheet),
            "meta": str(self.meta),
            "split": self.split,
            "split_error": self.split_error,
            "split_size": self.split_size,
            "n_errors": self.n_errors,
            "sample_size": self.sample_size,
            "n_correct": self.n_correct,
            "seed": self.seed,
            "categories": list(self.categories),
            "fingerprint": self.fingerprint,
        }


def split_error_stats(table: Any, split: str) -> tuple[int, int]:
    """(rows, misclassified rows) of ``split`` in one engine query."""
    import ibis

    part = table.filter(table.split.cast("string") == split)
    row = (
        part.aggregate(n=ibis._.count(), errors=(part.y_true != part.y_pred).cast("int64").sum())
        .to_pyarrow()
        .to_pylist()[0]
    )
    return int(row["n"] or 0), int(row["errors"] or 0)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ConfigError(
            f"split: unknown split {split!r}{did_you_mean(split, SPLITS)}; "
            f"allowed: {', '.join(SPLITS)}"
        )


def sample_errors(
    predictions: Any,
    *,
    split: str = "dev",
    n: int = 100,
    categories: Any = (),
    include_correct: int = 0,
    seed: int = 0,
    output: str | os.PathLike,
    force: bool = False,
    metric: Any = None,
    con: Any = None,
    manifest: Any = None,
    image_shape: Any = None,
) -> SampleResult:
    """Write a tagging sheet: a seeded random sample of the split's misclassified rows.

    The sample is the ``n`` misclassified rows with the smallest ``md5("<id>:<seed>")``, so it
    is reproducible in any engine, and adding rows to the predictions never reshuffles the
    rows already sampled. All misclassified rows are taken when there are fewer than ``n``.

    Parameters
    ----------
    predictions : path-like or table
        The predictions table (``id``, ``split``, ``y_true``, ``y_pred``, optional
        ``proba_<class>``, pass-through columns such as ``path`` or ``text``).
    split : str, default="dev"
        Which split's errors to sample.
    n : int, default=100
        Number of misclassified rows to sample.
    categories : str or sequence of str, default=()
        Category columns to create (``"dog,great cat,blurry,mislabeled"``); more can be added
        as new columns while tagging.
    include_correct : int, default=0
        Also add this many correctly classified rows (``sampled_as = correct``), e.g. to look
        for label errors the model agrees with.
    seed : int, default=0
        Seed of the sample.
    output : path-like
        The CSV sheet to write; ``<output>.meta.json`` is written beside it.
    force : bool, default=False
        Overwrite an existing sheet.
    metric : str, default=None
        ``mae``, ``rmse``, ``mean:COL`` or ``ratio:NUM/DEN``: sample the ``n`` rows with the
        largest per-example loss instead of misclassified rows; the sheet gets a ``loss``
        column and the meta file the split's figure and total loss (see
        :mod:`mlstrat.errors._losses`).
    con : ibis DuckDB backend, default=None
    manifest : path-like or table, default=None
        A table with an ``id`` column (the split file): its columns that the predictions lack
        (path, text, features) are joined back by id so the sheet shows each example. By
        default, the manifest named in the run's config (``config.resolved.toml``) beside the predictions.
    image_shape : str or sequence of int, default=None
        ``HxW`` or ``CxHxW`` of pixel feature columns (``px_0 ..``), so the tagging UI draws
        them as an image; by default the run config's ``[data] image_shape``.

    Returns
    -------
    SampleResult

    Raises
    ------
    InputError
        When the split has no rows or no misclassified rows, or a column clashes with a sheet column.
    ConfigError
        For a bad ``n``, ``include_correct`` or split name, or duplicate category names.
    """
    from mlstrat.tables import atomic_write_text, check_output_path, fingerprint, is_uri, read_predictions

    _check_split(split)
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ConfigError(f"n: {n!r} must be a whole number >= 1 (the number of errors to sample)")
    if (
        isinstance(include_correct, bool)
        or int(include_correct) != include_correct
        or include_correct < 0
    ):
        raise ConfigError(f"include_correct: {include_correct!r} must be a whole number >= 0")
    out = check_output_path(output, inputs=[predictions], force=force)
    meta_out = meta_path(out)
    check_output_path(meta_out, inputs=[predictions], force=force, replaces=("meta",))

    from mlstrat.errors._context import (
        default_manifest,
        example_context,
        join_manifest,
        run_data_config,
        train_feature_stats,
    )

    from mlstrat.errors._losses import parse_value_metric

    spec = parse_value_metric(metric)
    if spec is not None and include_correct:
        raise ConfigError("include_correct: with a loss metric every row has a loss; "
                          "there are no 'correct' rows to add")
    preds = read_predictions(predictions, con=con, require_id=True,
                             labels=spec is None or spec.kind in ("mae", "rmse"))
    table = preds.table
    labels = [c for c in ("y_true", "y_pred") if c in table.columns]
    run_data = run_data_config(predictions)
    manifest = manifest if manifest is not None else default_manifest(run_data)
    if manifest is not None:
        table = join_manifest(table, manifest, id_column=run_data.get("id", "id"),
                              label=run_data.get("label", "label"), con=con, predictions=preds.source)
    context = example_context(run_data, list(table.columns), manifest=manifest, image_shape=image_shape)
    extra = [c for c in table.columns if c not in _DROP and not c.startswith("proba_")]
    if spec is not None:
        return _sample_losses(preds, spec, table=table, split=split, n=int(n), seed=int(seed), out=out,
                              meta_out=meta_out, categories=categories, predictions=predictions,
                              fixed=["id", *labels, "loss"], extra=extra)
    fixed = ["id", "y_true", "y_pred"] + (["confidence"] if preds.proba_columns else [])
    fixed += [_SAMPLED_AS] if include_correct else []
    for col in extra:
        if col in fixed or col in (_COMMENT, REVIEWED):
            raise InputError(
                f"{preds.source}: column {col!r} clashes with the sheet's own {col!r} "
                "column; rename it in the predictions table"
            )
    fixed += extra
    cats = parse_categories(categories, reserved=tuple(fixed) + (_COMMENT, REVIEWED))

    size, n_errors = split_error_stats(table, split)
    if size == 0:
        present = ", ".join(preds.sizes) or "none"
        raise InputError(f"{preds.source}: split {split!r} has no rows (splits present: {present})")
    if n_errors == 0:
        raise InputError(
            f"{preds.source}: split {split!r} has no misclassified rows "
            f"(0 errors in {size} rows); there is nothing to sample"
        )

    part = table.filter(table.split.cast("string") == split)
    part = part.mutate(_key=(part.id.cast("string") + f":{int(seed)}").hexdigest("md5"))
    wrong = part.y_true != part.y_pred
    sampled = _fetch(part.filter(wrong), int(n))
    correct = _fetch(part.filter(~wrong), int(include_correct)) if include_correct else []

    rows = []
    for kind, records in (("error", sampled), ("correct", correct)):
        for rec in records:
            row = {
                "id": label_text(rec["id"]),
                "y_true": label_text(rec["y_true"]),
                "y_pred": label_text(rec["y_pred"]),
            }
            if preds.proba_columns:
                col = preds.proba_columns.get(row["y_pred"])
                value = rec.get(col) if col else None
                row["confidence"] = "" if value is None else f"{float(value):.6g}"
            if include_correct:
                row[_SAMPLED_AS] = kind
            for c in extra:
                row[c] = "" if rec[c] is None else _cell(rec[c])
            row.update({c: "" for c in cats})
            row[_COMMENT] = ""
            rows.append(row)

    header = fixed + list(cats) + [_COMMENT]
    atomic_write_text(out, write_sheet_csv(header, rows))
    local = isinstance(predictions, (str, os.PathLike)) and not is_uri(predictions)
    source_path = Path(predictions).resolve() if local else None  # a URI is kept as given
    fp = fingerprint(source_path) if source_path is not None else None
    stats_columns = [c for c in extra if c not in set(context.image_features)][:_MAX_STAT_COLUMNS]
    meta = {
        "format": SHEET_FORMAT,
        "predictions": str(source_path) if source_path else preds.source,
        "fingerprint": fp,
        "split": split,
        "split_error": n_errors / size,
        "split_size": size,
        "n_errors": n_errors,
        "sample_size": len(sampled),
        "n_correct": len(correct),
        "seed": int(seed),
        "categories": list(cats),
        "columns": fixed,
        "manifest": context.manifest,
        "image_shape": list(context.image_shape) if context.image_shape else None,
        "image_features": list(context.image_features),
        "feature_stats": train_feature_stats(table, stats_columns),
        "created_at": utc_now().isoformat(timespec="seconds"),
    }
    atomic_write_text(meta_out, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return SampleResult(
        sheet=out,
        meta=meta_out,
        split=split,
        split_error=n_errors / size,
        split_size=size,
        n_errors=n_errors,
        sample_size=len(sampled),
        n_correct=len(correct),
        seed=int(seed),
        categories=cats,
        fingerprint=fp,
    )


def _sample_losses(preds: Any, spec: Any, *, table: Any, split: str, n: int, seed: int, out: Path,
                   meta_out: Path, categories: Any, predictions: Any, fixed: list[str],
                   extra: list[str]) -> SampleResult:
    """``sample_errors`` for a metric in its unit: the rows with the largest losses."""
    from mlstrat.errors._losses import sample_losses
    from mlstrat.tables import atomic_write_text, fingerprint

    for col in extra:
        if col in fixed or col == _COMMENT:
            raise InputError(f"{preds.source}: column {col!r} clashes with the sheet's own {col!r} "
                             "column; rename it in the predictions table")
    fixed = fixed + extra
    cats = parse_categories(categories, reserved=tuple(fixed) + (_COMMENT,))
    records, stats = sample_losses(preds, split, spec, n, seed, table=table)
    rows = []
    for rec in records:
        row = {c: "" if rec.get(c) is None else _cell(rec[c]) for c in fixed if c != "id"}
        row["id"] = label_text(rec["id"])
        row["loss"] = f"{float(rec['loss']):.6g}"
        row.update({c: "" for c in cats})
        row[_COMMENT] = ""
        rows.append(row)
    header = fixed + list(cats) + [_COMMENT]
    atomic_write_text(out, write_sheet_csv(header, rows))
    source_path = Path(predictions).resolve() if isinstance(predictions, (str, os.PathLike)) else None
    fp = fingerprint(source_path) if source_path is not None else None
    sampled_loss = sum(float(r["loss"]) for r in records)
    meta = {
        "format": SHEET_FORMAT,
        "predictions": str(source_path) if source_path else preds.source,
        "fingerprint": fp, "split": split,
        "metric": spec.to_dict(), "split_value": stats["value"], "total_loss": stats["total"],
        "sample_loss_share": sampled_loss / stats["total"],
        "split_error": stats["value"], "split_size": stats["n"], "n_errors": stats["n"],
        "sample_size": len(records), "n_correct": 0, "seed": seed,
        "categories": list(cats), "columns": fixed,
        "created_at": utc_now().isoformat(timespec="seconds"),
    }
    atomic_write_text(meta_out, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return SampleResult(sheet=out, meta=meta_out, split=split, split_error=stats["value"],
                        split_size=stats["n"], n_errors=stats["n"], sample_size=len(records),
                        n_correct=0, seed=seed, categories=cats, fingerprint=fp)


def _fetch(expr: Any, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` rows by hash key: only the sample leaves the engine."""
    return expr.order_by(["_key", "id"]).limit(limit).drop("_key").to_pyarrow().to_pylist()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return label_text(value) if value.is_integer() else repr(value)
    return str(value)


def write_sheet_csv(header: list[str], rows: list[dict[str, str]]) -> str:
    """The sheet as CSV text (RFC 4180 quoting, ``\\n`` line ends)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writerow({k: neutralize(k) for k in header})
    for row in rows:
        writer.writerow({k: neutralize(str(row.get(k, ""))) for k in header})
    return buf.getvalue()


@dataclass(frozen=True)
class Sheet:
    """A sheet as a person left it.

    Attributes
    ----------
    path : Path
    meta : dict
        The ``.meta.json`` content.
    header : list of str
        Columns in file order.
    fixed : list of str
        Non-category columns (from the meta file) present in the header.
    categories : list of str
        Category columns: every column that is neither fixed nor ``comment`` nor
        ``reviewed`` (new columns added while tagging are categories).
    rows : list of dict
        Raw cell text per row.
    marks : list of frozenset of str
        Tagged categories per row.
    is_error : list of bool
        Whether each row was sampled as a misclassified row.
    reviewed : list of bool or None
        The ``reviewed`` column's marks; ``None`` when the sheet has no such column (then
        every row counts as reviewed).
    """

    path: Path
    meta: dict[str, Any]
    header: list[str]
    fixed: list[str]
    categories: list[str]
    rows: list[dict[str, str]] = field(repr=False)
    marks: list[frozenset[str]] = field(repr=False)
    is_error: list[bool] = field(repr=False)
    reviewed: list[bool] | None = field(default=None, repr=False)


def parse_mark(value: str | None, *, where: str) -> bool:
    """``True`` for a tagged mark, ``False`` for an empty one; :class:`InputError` otherwise."""
    text = (value or "").strip()
    key = text.lower()
    if key in TAGGED_MARKS:
        return True
    if key in UNTAGGED_MARKS:
        return False
    raise InputError(
        f"{where}: unknown mark {text!r}; use 1, x, yes, true or ✓ for tagged "
        "and leave it empty (or 0, no) for not tagged"
    )


def read_meta(sheet: Path) -> dict[str, Any]:
    mpath = meta_path(sheet)
    if not mpath.exists():
        raise InputError(
            f"{sheet}: its meta file {mpath.name} is missing (it records the split's error that the "
            "ceilings need); re-create the sheet with 'mlstrat errors sample PREDICTIONS --split dev "
            f"-o {sheet.name}' and copy your tags into it"
        )
    try:
        meta = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{mpath}: is not valid JSON ({exc}); re-create it with 'mlstrat errors sample'"
        ) from None
    required = ("split", "split_error", "columns")
    missing = [k for k in required if k not in meta] if isinstance(meta, dict) else list(required)
    if missing:
        raise InputError(
            f"{mpath}: not an error-sheet meta file (missing {', '.join(missing) or 'keys'}); "
            "re-create it with 'mlstrat errors sample'"
        )
    _check_meta_values(mpath, meta)
    return meta


def _check_meta_values(mpath: Path, meta: dict[str, Any]) -> None:
    """The values the summary computes with: a hand-edited meta file fails here, in one line."""
    error = meta["split_error"]
    number = not isinstance(error, bool) and isinstance(error, (int, float)) and math.isfinite(error)
    if "total_loss" in meta:  # a loss sheet (errors sample --metric): the figure is in the metric's unit
        if not number:
            raise InputError(f"{mpath}: split_error is {error!r}; it must be a finite number (the split's "
                             "metric). Re-create the meta file with 'mlstrat errors sample'")
    elif not number or not 0 <= error <= 1:
        raise InputError(f"{mpath}: split_error is {error!r}; it must be a number from 0 to 1 (the "
                         "split's error rate). Re-create the meta file with 'mlstrat errors sample'")
    if not isinstance(meta["split"], str):
        raise InputError(f"{mpath}: split is {meta['split']!r}; it must be a split name such as 'dev'")
    columns = meta["columns"]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InputError(f"{mpath}: columns must be a list of column names")


def read_sheet(sheet: str | os.PathLike) -> Sheet:
    """Read and validate a sheet and its meta file.

    Raises
    ------
    InputError
        Missing sheet or meta file, no ``id`` column, duplicate column names, or a mark that
        is neither tagged nor empty (the message names row, column and value).
    """
    path = Path(sheet)
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if not path.is_file():
        raise InputError(f"{path}: is not a file; give the sheet's CSV file")
    meta = read_meta(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheet programs add a BOM
    except UnicodeDecodeError:
        raise InputError(f"{path}: is not UTF-8 text; save the sheet as CSV UTF-8") from None
    allow_large_fields()
    reader = (list(map(restore, cells)) for cells in csv.reader(io.StringIO(text)))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InputError(f"{path}: the file is empty; expected the sheet's header") from None
    seen: dict[str, int] = {}
    for h in header:
        key = h.lower()
        if key in seen and h:
            raise InputError(
                f"{path}: column {h!r} appears twice in the header (duplicate category "
                "name); rename or merge one of them"
            )
        seen[key] = 1
    if "id" not in header:
        raise InputError(
            f"{path}: missing column 'id'; the sheet's columns are {', '.join(header)}"
        )
    known_fixed = set(meta.get("columns") or [])
    fixed = [h for h in header if h in known_fixed]
    categories = [
        h for h in header if h and h not in known_fixed and h not in (_COMMENT, REVIEWED)
    ]
    has_reviewed = REVIEWED in header
    rows: list[dict[str, str]] = []
    marks: list[frozenset[str]] = []
    is_error: list[bool] = []
    reviewed: list[bool] = []
    for number, cells in enumerate(reader, start=1):
        if not any(c.strip() for c in cells):
            continue  # blank line
        cells = cells + [""] * (len(header) - len(cells))
        row = {h: cells[i] for i, h in enumerate(header) if h}
        rows.append(row)
        tagged = set()
        for cat in categories:
            where = f"{path}: row {number} (id {row['id']!r}), column {cat!r}"
            if parse_mark(row.get(cat), where=where):
                tagged.add(cat)
        marks.append(frozenset(tagged))
        if has_reviewed:
            where = f"{path}: row {number} (id {row['id']!r}), column {REVIEWED!r}"
            reviewed.append(parse_mark(row.get(REVIEWED), where=where))
        kind = row.get(_SAMPLED_AS, "error").strip().lower() or "error"
        is_error.append(kind != "correct")
    return Sheet(
        path=path,
        meta=meta,
        header=header,
        fixed=fixed,
        categories=categories,
        rows=rows,
        marks=marks,
        is_error=is_error,
        reviewed=reviewed if has_reviewed else None,
    )
