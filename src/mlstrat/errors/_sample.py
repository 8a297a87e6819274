"""Writing an error-analysis sheet: a seeded sample of a split's misclassified rows (or, for a
metric in its unit, the rows with the largest losses) as CSV, with ``<sheet>.meta.json`` beside
it holding what the summary needs besides the tags.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstrat.display._repr import NotebookRepr
from mlstrat._clock import utc_now
from mlstrat._exceptions import ConfigError, InputError
from mlstrat._labels import label_text
from mlstrat.errors._categories import parse_categories
from mlstrat.errors._sheet import (
    _COMMENT,
    _SAMPLED_AS,
    REVIEWED,
    SHEET_FORMAT,
    _check_split,
    meta_path,
    write_sheet_csv,
)

__all__ = ["SampleResult", "sample_errors", "split_error_stats"]

_DROP = ("split", "y_true", "y_pred", "id")
_MAX_STAT_COLUMNS = 500  # z-scores for the UI's feature table; wider tables are pixels or embeddings


@dataclass(frozen=True)
class SampleResult(NotebookRepr):
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
    from mlstrat.tables import check_file_output, check_output_path

    _check_split(split)
    _check_sizes(n, include_correct)
    out = check_file_output(output, what="the error sheet", inputs=[predictions], force=force)
    meta_out = meta_path(out)
    check_output_path(meta_out, inputs=[predictions], force=force, replaces=("meta",))
    preds, spec, table, context = _open_with_context(predictions, metric=metric, include_correct=include_correct,
                                                     manifest=manifest, image_shape=image_shape, con=con)
    extra = [c for c in table.columns if c not in _DROP and not c.startswith("proba_")]
    if spec is not None:
        labels = [c for c in ("y_true", "y_pred") if c in table.columns]
        return _sample_losses(preds, spec, table=table, split=split, n=int(n), seed=int(seed), out=out,
                              meta_out=meta_out, categories=categories, predictions=predictions,
                              fixed=["id", *labels, "loss"], extra=extra)
    fixed, cats = _sheet_columns(preds, extra, categories=categories, include_correct=include_correct)
    size, n_errors = _error_counts(preds, table, split)
    sampled, correct = _draw(table, split, n=int(n), seed=int(seed), include_correct=int(include_correct))
    rows = _sheet_rows(preds, sampled, correct, extra=extra, cats=cats, include_correct=include_correct)
    return _write_sheet(out, meta_out, fixed + list(cats) + [_COMMENT], rows, predictions=predictions,
                        preds=preds, table=table, context=context, extra=extra, fixed=fixed, cats=cats,
                        split=split, size=size, n_errors=n_errors, n_correct=len(correct), seed=int(seed))


def _check_sizes(n: Any, include_correct: Any) -> None:
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ConfigError(f"n: {n!r} must be a whole number >= 1 (the number of errors to sample)")
    if (
        isinstance(include_correct, bool)
        or int(include_correct) != include_correct
        or include_correct < 0
    ):
        raise ConfigError(f"include_correct: {include_correct!r} must be a whole number >= 0")


def _open_with_context(predictions: Any, *, metric: Any, include_correct: int, manifest: Any,
                       image_shape: Any, con: Any) -> tuple[Any, Any, Any, Any]:
    """(the predictions, the loss metric or None, their table joined with the manifest's columns,
    how the tagging UI shows each example)."""
    from mlstrat.errors._context import (
        default_manifest,
        example_context,
        join_manifest,
        run_data_config,
    )
    from mlstrat.errors._losses import parse_value_metric
    from mlstrat.tables import read_predictions, with_numeric_proba

    spec = parse_value_metric(metric)
    if spec is not None and include_correct:
        raise ConfigError("include_correct: with a loss metric every row has a loss; "
                          "there are no 'correct' rows to add")
    preds = with_numeric_proba(read_predictions(predictions, con=con, require_id=True,
                                                labels=spec is None or spec.kind in ("mae", "rmse")))
    table = preds.table
    run_data = run_data_config(predictions)
    manifest = manifest if manifest is not None else default_manifest(run_data)
    if manifest is not None:
        table = join_manifest(table, manifest, id_column=run_data.get("id", "id"),
                              label=run_data.get("label", "label"), con=con, predictions=preds.source)
    context = example_context(run_data, list(table.columns), manifest=manifest, image_shape=image_shape)
    return preds, spec, table, context


def _sheet_columns(preds: Any, extra: list[str], *, categories: Any,
                   include_correct: int) -> tuple[list[str], tuple[str, ...]]:
    """(the fixed columns, the category columns); a pass-through column may not take a sheet
    column's name."""
    fixed = ["id", "y_true", "y_pred"] + (["confidence"] if preds.proba_columns else [])
    fixed += [_SAMPLED_AS] if include_correct else []
    for col in extra:
        if col in fixed or col in (_COMMENT, REVIEWED):
            raise InputError(
                f"{preds.source}: column {col!r} clashes with the sheet's own {col!r} "
                "column; rename it in the predictions table"
            )
    fixed += extra
    return fixed, parse_categories(categories, reserved=tuple(fixed) + (_COMMENT, REVIEWED))


def _error_counts(preds: Any, table: Any, split: str) -> tuple[int, int]:
    """(rows, misclassified rows) of the split; none of either is an error."""
    size, n_errors = split_error_stats(table, split)
    if size == 0:
        present = ", ".join(preds.sizes) or "none"
        raise InputError(f"{preds.source}: split {split!r} has no rows (splits present: {present})")
    if n_errors == 0:
        raise InputError(
            f"{preds.source}: split {split!r} has no misclassified rows "
            f"(0 errors in {size} rows); there is nothing to sample"
        )
    return size, n_errors


def _draw(table: Any, split: str, *, n: int, seed: int,
          include_correct: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The sampled misclassified rows and correct rows: smallest ``md5("<id>:<seed>")`` first."""
    part = table.filter(table.split.cast("string") == split)
    part = part.mutate(_key=(part.id.cast("string") + f":{seed}").hexdigest("md5"))
    wrong = part.y_true != part.y_pred
    sampled = _fetch(part.filter(wrong), n)
    correct = _fetch(part.filter(~wrong), include_correct) if include_correct else []
    return sampled, correct


def _sheet_rows(preds: Any, sampled: list[dict[str, Any]], correct: list[dict[str, Any]], *,
                extra: list[str], cats: tuple[str, ...], include_correct: int) -> list[dict[str, str]]:
    """The sheet's cells: the row's labels, confidence and pass-through columns, empty tags."""
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
    return rows


def _write_sheet(out: Path, meta_out: Path, header: list[str], rows: list[dict[str, str]], *,
                 predictions: Any, preds: Any, table: Any, context: Any, extra: list[str],
                 fixed: list[str], cats: tuple[str, ...], split: str, size: int, n_errors: int,
                 n_correct: int, seed: int) -> SampleResult:
    """Write the sheet, then its meta file."""
    from mlstrat.errors._context import train_feature_stats
    from mlstrat.tables import atomic_write_text

    atomic_write_text(out, write_sheet_csv(header, rows))
    sample_size = len(rows) - n_correct
    source, fp = _source_record(predictions, preds)
    stats_columns = [c for c in extra if c not in set(context.image_features)][:_MAX_STAT_COLUMNS]
    meta = {
        "format": SHEET_FORMAT,
        "predictions": source,
        "fingerprint": fp,
        "split": split,
        "split_error": n_errors / size,
        "split_size": size,
        "n_errors": n_errors,
        "sample_size": sample_size,
        "n_correct": n_correct,
        "seed": seed,
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
        sample_size=sample_size,
        n_correct=n_correct,
        seed=seed,
        categories=cats,
        fingerprint=fp,
    )


def _sample_losses(preds: Any, spec: Any, *, table: Any, split: str, n: int, seed: int, out: Path,
                   meta_out: Path, categories: Any, predictions: Any, fixed: list[str],
                   extra: list[str]) -> SampleResult:
    """``sample_errors`` for a metric in its unit: the rows with the largest losses."""
    from mlstrat.errors._losses import sample_losses
    from mlstrat.tables import atomic_write_text

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
    source, fp = _source_record(predictions, preds)
    sampled_loss = sum(float(r["loss"]) for r in records)
    meta = {
        "format": SHEET_FORMAT,
        "predictions": source,
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


def _source_record(predictions: Any, preds: Any) -> tuple[str, str | None]:
    """``(source, fingerprint)`` for a sheet's meta file: a local file by its absolute path and
    the hash of its bytes (the summary checks it is unchanged); a URI or an in-memory table as
    named, with no fingerprint."""
    from mlstrat.tables import fingerprint, is_uri

    if not isinstance(predictions, (str, os.PathLike)) or is_uri(predictions):
        return preds.source, None
    path = Path(predictions).resolve()
    return str(path), fingerprint(path)


def _fetch(expr: Any, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` rows by hash key: only the sample leaves the engine."""
    return expr.order_by(["_key", "id"]).limit(limit).drop("_key").to_pyarrow().to_pylist()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return label_text(value) if value.is_integer() else repr(value)
    return str(value)
