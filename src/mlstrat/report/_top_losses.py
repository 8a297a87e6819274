"""The worst dev mistakes, each with its example: the report's "top losses" grid.

The predictions table says which rows the model got most wrong (the highest loss: minus the
log of the probability it gave the true label); the run's manifest, joined back by id, says
what those rows were. Pixel rows become small PNG images and image files are embedded, both
as ``data:`` URIs, so the page stays self-contained; text and tabular rows show their fields.
"""

from __future__ import annotations

import base64
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Any

from mlstrat._constants import SPLIT_DISPLAY

__all__ = ["top_losses"]

_SHOWN = 12  # examples in the grid
_FIELDS = 8  # fields shown per text or tabular example
_FIELD_CHARS = 160  # a longer value is cut (the page is a summary, the sheet has the rest)
_IMAGE_BYTES = 256 * 1024  # an image file larger than this is not embedded
_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                ".webp": "image/webp", ".bmp": "image/bmp"}
_OWN = {"id", "split", "label", "y_true", "y_pred", "confidence", "weight", "group", "domain"}


def top_losses(predictions: str | os.PathLike, *, split: str = "dev", n: int = _SHOWN,
               manifest: str | os.PathLike | None = None,
               data: dict[str, Any] | None = None, opened: tuple[Any, str] | None = None) -> dict[str, Any] | None:
    """The ``n`` rows of ``split`` the model got most wrong, with what each example was.

    The engine ranks the rows (the loss computed per row, then ORDER BY ... LIMIT ``n``), so
    only the ``n`` rows shown and one row of counts reach Python.

    Parameters
    ----------
    predictions : path-like
        A predictions table (``id``, ``split``, ``y_true``, ``y_pred``, optional
        ``proba_<class>`` columns).
    split : str, default="dev"
        The split whose mistakes are shown.
    n : int, default=12
        How many mistakes.
    manifest : path-like, default=None
        The table holding each example (pixels, an image path, text, features), joined by id.
        Default: the manifest named by the run's config beside ``predictions``.
    data : mapping, default=None
        The run's ``[data]`` configuration (``manifest``, ``id``, ``feature_prefix``,
        ``image_shape``, ``value_range``). Default: read from the config beside ``predictions``.
    opened : (table, name), default=None
        ``predictions`` already opened on the engine (:func:`mlstrat.report._proba.open_predictions`).

    Returns
    -------
    dict or None
        ``{"split", "n_mistakes", "ranked_by", "regression", "rows": [...], "images", "run"}``
        (``regression``: the predictions are values, ranked by absolute error, and
        ``n_mistakes`` counts every row of the split) (``run``:
        the short id of the run shown, for the caller to fill in); ``None`` when the split has
        no mistake or the table no ``y_true``/``y_pred``.
    """
    from mlstrat.report._proba import open_predictions

    opened = opened or open_predictions(predictions)
    if opened is None or not {"id", "y_pred"} <= set(opened[0].columns):
        return None
    worst, ranked_by, n_mistakes = _rank(opened[0].filter(opened[0].split.cast("string") == split), n)
    if worst is None:
        return None
    if data is None:
        from mlstrat.errors._context import run_data_config

        data = run_data_config(predictions)
    examples, shape, value_range = _examples(data, [str(i) for i in worst["id"]], manifest)
    rows = [_row(record, examples.get(str(record["id"])), shape, value_range)
            for record in worst.to_dict("records")]
    return {"split": SPLIT_DISPLAY.get(split, split), "n_mistakes": n_mistakes, "ranked_by": ranked_by,
            "regression": ranked_by.startswith("absolute error"),  # a regression: every row errs by some amount
            "rows": rows, "images": any(r["image"] for r in rows), "run": None}


def _number(column: Any) -> Any:
    return column.cast("float64") if column.type().is_numeric() else column.cast("string").try_cast("float64")


def _counts(part: Any, proba: list[str]) -> dict[str, Any]:
    """One query: the split's rows, its mistakes (labels compared as text), and whether the
    predictions are values (numbers that are not all whole: a regression)."""
    from mlstrat.report._proba import label_as_text

    aggs = {"rows": part.count(),
            "wrong": (label_as_text(part.y_true) != label_as_text(part.y_pred)).ifelse(1, 0).sum()}
    numeric = part.y_true.type().is_numeric() and part.y_pred.type().is_numeric()
    if numeric and not proba:
        value = part.y_pred.cast("float64")
        fractional = value.notnull() & ~value.isnan() & ~value.isinf() & (value != value.round())
        aggs["fractional"] = fractional.ifelse(1, 0).sum()
    return part.aggregate(**aggs).to_pyarrow().to_pylist()[0]


def _rank(part: Any, n: int) -> tuple[Any, str, int]:
    """The worst rows first (a DataFrame of at most ``n`` rows), what ranks them, and how many
    mistakes the split has."""
    import ibis

    from mlstrat.report._proba import label_as_text

    proba = [c for c in part.columns if c.startswith("proba_")]
    counts = _counts(part, proba)
    if not counts["rows"]:
        return None, "", 0
    if counts.get("fractional"):
        loss = (part.y_true.cast("float64") - part.y_pred.cast("float64")).abs()
        ranked = part.mutate(loss=loss).order_by([ibis.desc("loss"), "id"]).limit(n)
        return ranked.select("id", "y_true", "y_pred", "loss").to_pandas(), \
            "absolute error |y_true - y_pred|", int(counts["rows"])
    if not counts["wrong"]:
        return None, "", 0
    wrong = part.filter(label_as_text(part.y_true) != label_as_text(part.y_pred))
    if not proba:
        ranked = wrong.order_by("id").limit(n).select("id", "y_true", "y_pred")
        return ranked.to_pandas(), "id (the table has no probabilities to rank the mistakes by)", int(counts["wrong"])

    def of(label: Any) -> Any:  # the probability of the class ``label`` names (NULL: not a class)
        text = label_as_text(label)
        return ibis.cases(*[(text == c[len("proba_"):], _number(wrong[c])) for c in proba],
                          else_=ibis.null("float64"))

    p_true = of(wrong.y_true)
    loss = -(p_true.clip(lower=1e-12, upper=1.0).ln())
    ranked = wrong.mutate(p_true=p_true, p_pred=of(wrong.y_pred), loss=loss)
    ranked = ranked.order_by([ranked.loss.desc(nulls_first=False), ranked.id]).limit(n)
    return (ranked.select("id", "y_true", "y_pred", "p_true", "p_pred", "loss").to_pandas(),
            "loss: minus the log of the probability given to the true label", int(counts["wrong"]))


def _examples(data: dict[str, Any], ids: list[str],
              manifest: str | os.PathLike | None) -> tuple[dict[str, dict[str, Any]], tuple[int, ...] | None, Any]:
    """``{id: manifest row}`` of the shown rows, the pixel shape and the pixels' value range."""
    from mlstrat.errors._context import default_manifest, example_context
    from mlstrat.tables import read_table

    source = manifest if manifest is not None else default_manifest(data)
    if source is None or not ids:
        return {}, None, None
    table = read_table(source)
    id_col = str(data.get("id") or "id")
    if id_col not in table.columns:
        return {}, None, None
    context = example_context(data, list(table.columns))
    rows = table.filter(table[id_col].cast("string").isin(ids)).to_pandas()
    folder = Path(source).resolve().parent
    examples = {}
    for record in rows.to_dict("records"):
        record["_folder"] = folder
        record["_pixels"] = [record.get(c) for c in context.image_features] if context.image_features else None
        examples[str(record[id_col])] = {k: v for k, v in record.items() if k not in context.image_features}
    return examples, context.image_shape, data.get("value_range")


def _row(record: dict[str, Any], example: dict[str, Any] | None, shape: tuple[int, ...] | None,
         value_range: Any) -> dict[str, Any]:
    image, fields = None, []
    if example is not None:
        pixels = example.get("_pixels")
        if pixels and shape:
            image = _pixels_png(pixels, shape, value_range)
        for name, value in example.items():
            if name.startswith("_") or name in _OWN or name.startswith("proba_"):
                continue
            if image is None and isinstance(value, str) and Path(value).suffix.lower() in _IMAGE_TYPES:
                image = _image_file(example["_folder"], value)
                continue
            if _missing(value) or value == "":
                continue  # an empty cell says nothing about the example
            if len(fields) < _FIELDS:
                fields.append({"name": str(name), "value": _field_text(value)})
    return {"id": str(record["id"]), "y_true": _field_text(record["y_true"]), "y_pred": _field_text(record["y_pred"]),
            "p_true": _prob(record.get("p_true")), "p_pred": _prob(record.get("p_pred")),
            "loss": None if _missing(record.get("loss")) else f"{record['loss']:.2f}",
            "image": image, "fields": fields}


def _missing(value: Any) -> bool:
    """None, NaN, infinity or pandas' NA/NaT (a scalar that holds no value)."""
    import pandas as pd

    if isinstance(value, float):
        return not math.isfinite(value)
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _prob(value: Any) -> str | None:
    if _missing(value):
        return None
    return "<0.01" if 0 < float(value) < 0.005 else f"{float(value):.2f}"  # never a false "0.00"


def _field_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    text = str(value)
    return text if len(text) <= _FIELD_CHARS else text[:_FIELD_CHARS - 1] + "…"


def _image_file(folder: Path, value: str) -> str | None:
    """An image file as a data URI (relative paths read from the manifest's folder)."""
    path = Path(value) if Path(value).is_absolute() else folder / value
    try:
        if not path.is_file() or path.stat().st_size > _IMAGE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None  # an unreadable file: the row shows its fields, the report goes on
    return f"data:{_IMAGE_TYPES[path.suffix.lower()]};base64,{base64.b64encode(data).decode('ascii')}"


def _pixels_png(pixels: list[Any], shape: tuple[int, ...], value_range: Any) -> str | None:
    """Pixel values (C x H x W, channels first) as a grayscale or RGB PNG data URI."""
    import numpy as np

    try:
        values = np.asarray(pixels, dtype=float)
    except (TypeError, ValueError):
        return None
    channels, height, width = (1, *shape) if len(shape) == 2 else shape
    if values.size != channels * height * width or not np.isfinite(values).all():
        return None
    low, high = (float(value_range[0]), float(value_range[1])) if value_range else (values.min(), values.max())
    scaled = np.clip((values - low) / ((high - low) or 1.0), 0.0, 1.0)
    image = np.round(scaled * 255).astype(np.uint8).reshape(channels, height, width).transpose(1, 2, 0)
    return "data:image/png;base64," + base64.b64encode(_png(image)).decode("ascii")


def _png(image: Any) -> bytes:
    """An 8-bit PNG of an (H, W, 1) or (H, W, 3) uint8 array (no imaging library needed)."""
    height, width, channels = image.shape
    color_type = 0 if channels == 1 else 2
    raw = b"".join(b"\x00" + image[y].tobytes() for y in range(height))  # filter 0 per scanline

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
