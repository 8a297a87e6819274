"""Names shared by every capability."""

from __future__ import annotations

__all__ = ["SPLITS", "SPLIT_DISPLAY"]

#: The four splits, in the order of the method (docs/method.md §1).
SPLITS: tuple[str, ...] = ("train", "train_dev", "dev", "test")

#: How each split is written for humans.
SPLIT_DISPLAY: dict[str, str] = {"train": "train", "train_dev": "train-dev", "dev": "dev", "test": "test"}
