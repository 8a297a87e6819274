"""model.pt: weights, normalization statistics, config and class labels in one file."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlstrat._exceptions import InputError
from mlstrat.nn._data import Normalizer
from mlstrat.nn._model import Architecture, Network

__all__ = ["save_checkpoint", "load_checkpoint", "model_path", "network_from_checkpoint", "FORMAT"]

FORMAT = "mlstrat-model/1"


def model_path(source: str | os.PathLike) -> Path:
    """``RUN_DIR`` or ``RUN_DIR/model.pt`` -> the model file."""
    path = Path(source)
    if path.is_dir():
        path = path / "model.pt"
    if not path.exists():
        raise InputError(f"{source}: no model found; give a run directory written by `mlstrat train` "
                         "or its model.pt")
    return path


def save_checkpoint(path: Path, *, model: Network, normalizer: Normalizer, feature_names: list[str],
                    classes: list[Any], tasks: list[str], config: dict[str, Any], label: str,
                    id_column: str) -> None:
    from mlstrat.tables import atomic_write_bytes

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "arch": model.arch.to_dict(),
        "keep_probs": [d.keep_prob for d in model.dropouts],
        "state_dict": state,
        "mean": torch.from_numpy(np.asarray(normalizer.mean, np.float32)),
        "std": torch.from_numpy(np.asarray(normalizer.std, np.float32)),
        "feature_names": list(feature_names),
        "classes": list(classes),
        "tasks": list(tasks),
        "label": label,
        "id": id_column,
        "config": config,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(source: str | os.PathLike) -> dict[str, Any]:
    path = model_path(source)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated classes for a bad file
        raise InputError(f"{path}: cannot be read as an mlstrat model ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(f"{path}: not an mlstrat model file (expected format {FORMAT})")
    payload["path"] = str(path)
    return payload


def network_from_checkpoint(payload: dict[str, Any]) -> tuple[Network, Normalizer]:
    arch = Architecture.from_dict(payload["arch"])
    model = Network(arch, tuple(payload["keep_probs"]))
    model.load_state_dict(payload["state_dict"])
    model.eval()
    normalizer = Normalizer(payload["mean"].numpy(), payload["std"].numpy())
    return model, normalizer
