"""The pool of overlays / noise clips: reuse factor, the small-pool warning, the ``max_reuse`` cap."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlstrat._exceptions import ConfigError

__all__ = ["REUSE_WARN", "PoolUsage", "cap_by_pool", "pool_note"]

#: warn when the pool is reused more than this many times over the synthesized set
REUSE_WARN = 10.0


@dataclass(frozen=True)
class PoolUsage:
    """How often the overlay/noise pool is reused over the synthesized set."""

    kind: str  # "fog overlay" or "noise"
    size: float  # number of overlay images, or seconds of noise
    unit: str  # "images" or "seconds"
    synthesized: float  # images synthesized, or seconds of audio synthesized
    reuse_factor: float  # synthesized / size
    max_reuse: float | None
    dropped_rows: int  # synthetic rows not made because of max_reuse

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "size": self.size,
            "unit": self.unit,
            "synthesized": self.synthesized,
            "reuse_factor": self.reuse_factor,
            "max_reuse": self.max_reuse,
            "dropped_rows": self.dropped_rows,
        }


def cap_by_pool(
    jobs: np.ndarray,
    copy_no: np.ndarray,
    amount: np.ndarray,
    size: float,
    kind: str,
    unit: str,
    max_reuse: float | None,
    rng: np.random.Generator,
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray, PoolUsage]:
    """Drop synthetic rows (chosen at random) until the pool's reuse factor is within ``max_reuse``."""
    dropped = 0
    if max_reuse is not None and amount.sum() > max_reuse * size:
        order = rng.permutation(len(jobs))
        keep_sorted = np.sort(order[np.cumsum(amount[order]) <= max_reuse * size])
        dropped = len(jobs) - len(keep_sorted)
        jobs, copy_no, amount = jobs[keep_sorted], copy_no[keep_sorted], amount[keep_sorted]
        notes.append(
            f"max_reuse={max_reuse:g}: {dropped} synthetic row(s) were not made so that the pool of "
            f"{size:g} {unit} is reused at most {max_reuse:g}x"
        )
        if not len(jobs):
            raise ConfigError(
                f"max_reuse={max_reuse:g} leaves no row to synthesize (pool of {size:g} {unit}); "
                "raise it or enlarge the pool"
            )
    used = float(amount.sum())
    return (
        jobs,
        copy_no,
        PoolUsage(
            kind=kind,
            size=size,
            unit=unit,
            synthesized=used,
            reuse_factor=used / size if size else math.inf,
            max_reuse=max_reuse,
            dropped_rows=dropped,
        ),
    )


def pool_note(usage: PoolUsage | None, notes: list[str]) -> None:
    """Add the small-pool warning when the reuse factor exceeds :data:`REUSE_WARN`."""
    if usage is None or usage.reuse_factor <= REUSE_WARN:
        return
    notes.append(
        f"small pool: the {usage.kind} pool ({usage.size:g} {usage.unit}) is reused {usage.reuse_factor:.1f}x "
        f"over the synthesized set ({usage.synthesized:g} {usage.unit}); a model can overfit the pool "
        "(it sounds or looks like a small part of the real target). Enlarge the pool or cap it "
        "with max_reuse (--max-reuse)"
    )
