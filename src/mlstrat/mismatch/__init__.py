"""Data mismatch: how train differs from dev (domain classifier) and data synthesis."""

from mlstrat.mismatch.transforms import TRANSFORMS, apply_transforms

__all__ = ["TRANSFORMS", "apply_transforms"]
