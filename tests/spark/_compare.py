"""Comparing results across engines: counts exactly, floats to 1e-12 relative."""

from __future__ import annotations

import math
from typing import Any

REL = 1e-12


def assert_same(a: Any, b: Any, path: str = "$") -> None:
    """Structures equal; ints, strings, bools exactly; floats to 1e-12 relative."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert not isinstance(a, bool) and not isinstance(b, bool), f"{path}: {a!r} != {b!r}"
        if math.isnan(a) and math.isnan(b):
            return
        assert math.isclose(a, b, rel_tol=REL, abs_tol=0.0), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b and type(a) is type(b), f"{path}: {a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})"
