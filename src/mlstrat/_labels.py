"""How a class label is spelled as text: JSON keys, ``proba_<class>`` columns, sheet cells."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["label_text"]


def label_text(value: Any) -> str:
    """A label as text, the way ``proba_<class>`` columns spell it: ``3.0`` -> ``"3"`` (labels
    are cast to float by type unification); numpy scalars as their Python value."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalar
        return label_text(value.item())
    return str(value)
