"""How to show one example in the tagging UI: which columns are images, audio, pixels, text or
tabular features, and the numbers written for people.

Pure functions over the sheet's cells and its meta file; the web app only serializes what
they return, and the page's script draws it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstrat.errors.ui._guard import AUDIO_TYPES, IMAGE_TYPES

__all__ = [
    "AUDIO_TYPES",
    "IMAGE_TYPES",
    "ExampleLayout",
    "format_number",
    "format_confidence",
    "layout_columns",
    "render_example",
]

_PIXEL = re.compile(r"^(?:px|pixel)_?(\d+)$", re.IGNORECASE)
_TEXT_NAMES = ("text", "sentence", "utterance", "transcript", "caption", "title", "body", "review")
_LONG_TEXT = 40  # characters: a column whose values are this long on average reads as text
_UNUSUAL_Z = 2.0  # |z| from which a feature value is highlighted
_TOP_UNUSUAL = 3  # at most this many highlighted per example
_OWN = ("id", "y_true", "y_pred", "confidence", "sampled_as")


@dataclass(frozen=True)
class ExampleLayout:
    """The role of each shown column of a sheet."""

    images: tuple[str, ...]
    audio: tuple[str, ...]
    pixels: tuple[str, ...]
    shape: tuple[int, ...]  # (C, H, W) of ``pixels``; () without pixels
    texts: tuple[str, ...]
    features: tuple[str, ...]  # numeric columns shown as a compact table
    fields: tuple[str, ...]  # everything else


def format_number(value: float, digits: int = 4) -> str:
    """``digits`` significant digits, no trailing zeros, no exponent for everyday sizes."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    magnitude = math.floor(math.log10(abs(value)))
    if -4 <= magnitude < 15:
        decimals = max(digits - 1 - magnitude, 0)
        return f"{round(value, decimals):.{decimals}f}".rstrip("0").rstrip(".")
    return f"{value:.{digits - 1}e}"


def format_confidence(text: str) -> str:
    """The sheet's confidence cell (``0.827786``) as two decimals (``0.83``)."""
    number = _number(text)
    return "" if number is None else f"{number:.2f}"


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _all_suffix(rows: list[dict[str, Any]], column: str, types: dict[str, str]) -> bool:
    values = [r["cells"].get(column) for r in rows]
    present = [v for v in values if v]
    return bool(present) and all(Path(v).suffix.lower() in types for v in present)


def _shape(meta: dict[str, Any], n_pixels: int) -> tuple[int, ...]:
    """(C, H, W) from the meta file, or a square single-channel guess."""
    given = meta.get("image_shape")
    if given and math.prod(given) == n_pixels:
        return tuple(given) if len(given) == 3 else (1, *given)
    side = math.isqrt(n_pixels)
    return (1, side, side) if n_pixels and side * side == n_pixels else ()


def _is_text(rows: list[dict[str, Any]], column: str) -> bool:
    if column.lower() in _TEXT_NAMES:
        return True
    values = [r["cells"].get(column) or "" for r in rows]
    present = [v for v in values if v]
    if not present or any(_number(v) is not None for v in present):
        return False
    return sum(len(v) for v in present) / len(present) >= _LONG_TEXT and any(" " in v for v in present)


def _is_numeric(rows: list[dict[str, Any]], column: str) -> bool:
    present = [r["cells"].get(column) for r in rows if r["cells"].get(column)]
    return bool(present) and all(_number(v) is not None for v in present)


def layout_columns(fixed: list[str], rows: list[dict[str, Any]], meta: dict[str, Any]) -> ExampleLayout:
    """Decide once per sheet how each of its columns is shown."""
    shown = [c for c in fixed if c not in _OWN]
    images = tuple(c for c in shown if _all_suffix(rows, c, IMAGE_TYPES))
    audio = tuple(c for c in shown if c not in images and _all_suffix(rows, c, AUDIO_TYPES))
    named = [c for c in meta.get("image_features") or [] if c in shown]
    if named:
        pixels = tuple(named)
    else:
        found = sorted((int(m.group(1)), c) for c in shown if (m := _PIXEL.match(c)))
        pixels = tuple(c for _, c in found)
    shape = _shape(meta, len(pixels)) if pixels else ()
    pixels = pixels if shape else ()
    taken = set(images) | set(audio) | set(pixels)
    texts = tuple(c for c in shown if c not in taken and _is_text(rows, c))
    taken |= set(texts)
    features = tuple(c for c in shown if c not in taken and _is_numeric(rows, c))
    fields = tuple(c for c in shown if c not in taken and c not in features)
    return ExampleLayout(images, audio, pixels, shape, texts, features, fields)


def _pixel_values(cells: dict[str, Any], columns: tuple[str, ...]) -> list[float] | None:
    values = []
    for c in columns:
        number = _number(cells.get(c) or 0.0)
        if number is None:
            return None
        values.append(number)
    return values


def _feature_rows(cells: dict[str, Any], columns: tuple[str, ...],
                  stats: dict[str, list[float]]) -> list[dict[str, Any]]:
    """Each numeric feature with its z-score against train; the most unusual marked."""
    out = []
    for c in columns:
        value = _number(cells.get(c))
        mean_std = stats.get(c)
        z = None
        if value is not None and mean_std and mean_std[1] > 0:
            z = (value - mean_std[0]) / mean_std[1]
        out.append({"column": c, "value": "" if value is None else format_number(value),
                    "z": None if z is None else round(z, 2), "unusual": False})
    ranked = sorted((r for r in out if r["z"] is not None and abs(r["z"]) >= _UNUSUAL_Z),
                    key=lambda r: -abs(r["z"]))
    for r in ranked[:_TOP_UNUSUAL]:
        r["unusual"] = True
    return out


def render_example(layout: ExampleLayout, cells: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The JSON the page draws one example from (everything but the row's tags)."""
    pixels = None
    if layout.pixels:
        values = _pixel_values(cells, layout.pixels)
        if values is not None:
            pixels = {"shape": list(layout.shape), "side": layout.shape[-1], "values": values}
    return {
        "confidence": format_confidence(cells.get("confidence", "")),
        "images": [{"column": c, "path": cells[c]} for c in layout.images if cells.get(c)],
        "audio": [{"column": c, "path": cells[c]} for c in layout.audio if cells.get(c)],
        "pixels": pixels,
        "texts": [{"column": c, "text": cells[c]} for c in layout.texts if cells.get(c)],
        "features": _feature_rows(cells, layout.features, meta.get("feature_stats") or {}),
        "fields": [{"column": c, "value": cells.get(c, "")} for c in layout.fields],
    }
