"""Names shared by every capability."""

from __future__ import annotations

__all__ = ["SPLITS", "SPLIT_DISPLAY", "COMPONENTS", "COMPONENT_DISPLAY", "VERSION"]

#: The version of the package (``mlstrat.__version__``; pyproject.toml holds the same).
VERSION = "0.1.0"

#: The four splits, in the order of the method (docs/method.md §1).
SPLITS: tuple[str, ...] = ("train", "train_dev", "dev", "test")

#: How each split is written for humans.
SPLIT_DISPLAY: dict[str, str] = {"train": "train", "train_dev": "train-dev", "dev": "dev", "test": "test"}

#: The four components of the decomposition (docs/method.md §3), in the order of the ladder
#: human -> train -> train-dev -> dev -> test.
COMPONENTS: tuple[str, ...] = ("avoidable_bias", "variance", "data_mismatch", "dev_overfitting")

#: How each component is written for humans.
COMPONENT_DISPLAY: dict[str, str] = {
    "avoidable_bias": "avoidable bias",
    "variance": "variance",
    "data_mismatch": "data mismatch",
    "dev_overfitting": "dev overfitting",
}
