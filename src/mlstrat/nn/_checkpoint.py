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


# -- the epoch checkpoint that `train --resume` continues from ------------------------------------

RESUME_FORMAT = "mlstrat-resume/1"


def resume_path(run_dir: str | os.PathLike) -> Path:
    """The epoch checkpoint of the run writing ``run_dir``: a hidden file beside it (the run
    directory itself appears whole, at the end), removed once the run directory is written."""
    run_dir = Path(run_dir)
    return run_dir.with_name(f".{run_dir.name}.resume.pt")


class EpochCheckpoint:
    """Where the trainer saves its state at the end of each epoch, and the state it resumes from.

    The saved state is everything the next epoch depends on: weights, optimizer and schedule,
    the random streams (the shuffling generator, every rank's global generator for dropout and
    its augmentation stream), the early-stopping bookkeeping and the history so far; with the
    run's config, so that a resume can refuse another one.

    Parameters
    ----------
    run_dir : Path
        The run directory being trained.
    run : dict
        What the resumed process needs before training: the resolved config, ``force``, the
        thread count, the learning-rate range test's summary, the manifest's identity.
    resumed : dict, default=None
        The state read back by :func:`read_resume_state`; ``None`` for a fresh run.
    writer : bool, default=True
        Whether this process writes (rank 0 under DDP).
    """

    def __init__(self, run_dir: Path, run: dict[str, Any], *, resumed: dict[str, Any] | None = None,
                 writer: bool = True) -> None:
        self.run_dir = run_dir
        self.path = resume_path(run_dir)
        self.run = run
        self.resumed = resumed
        self.writer = writer

    def save(self, state: dict[str, Any]) -> None:
        """Write the epoch's state atomically (readers see the previous epoch's or this one's)."""
        if not self.writer:
            return
        from mlstrat.tables import atomic_write_bytes
        from mlstrat.tables._outputs import reporting_full_disk

        buffer = io.BytesIO()
        torch.save({"format": RESUME_FORMAT, **self.run, "state": state}, buffer)
        # a full disk is the run folder's problem to the user: the checkpoint is its hidden neighbour
        with reporting_full_disk(self.run_dir, fix="choose another -o folder"):
            self.path.parent.mkdir(parents=True, exist_ok=True)  # runs/ of the default run directory
            atomic_write_bytes(self.path, buffer.getvalue())

    def remove(self) -> None:
        """The run directory is written: nothing is left to resume."""
        if self.writer:
            self.path.unlink(missing_ok=True)


def read_resume_state(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The epoch checkpoint of ``run_dir``; one line when the run finished or never saved one."""
    run_dir = Path(run_dir)
    path = resume_path(run_dir)
    if not path.exists():
        if (run_dir / "model.pt").exists():
            raise InputError(f"{run_dir}: the run finished (model.pt is written); there is nothing to resume: "
                             "train a new run with another -o")
        raise InputError(f"{run_dir}: no epoch checkpoint to resume from ({path.name} beside it, written at the "
                         "end of each epoch); the run did not finish an epoch: train it again without --resume")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated classes for a bad file
        raise InputError(f"{path}: cannot be read as an epoch checkpoint ({type(exc).__name__}); "
                         "train the run again without --resume") from None
    if not isinstance(payload, dict) or payload.get("format") != RESUME_FORMAT:
        raise InputError(f"{path}: not an mlstrat epoch checkpoint (expected format {RESUME_FORMAT}); "
                         "train the run again without --resume")
    return payload


def manifest_identity(manifest: str) -> list[int] | None:
    """(size, modification time in ns) of a manifest file: a resume refuses a changed file."""
    try:
        stat = os.stat(manifest)
    except OSError:  # a folder of files, a glob or a catalog name: not checked
        return None
    return [int(stat.st_size), int(stat.st_mtime_ns)] if Path(manifest).is_file() else None


def config_difference(saved: dict[str, dict[str, Any]], given: dict[str, dict[str, Any]]) -> str | None:
    """The first ``[section] key`` whose value differs between two configs (``to_dict()`` form),
    worded as "[optim] lr is 0.01 here but 0.001 in the run"; None when they agree."""
    for section in sorted(set(saved) | set(given)):
        a, b = saved.get(section, {}), given.get(section, {})
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return (f"[{section}] {key} is {_shown(b.get(key))} here but {_shown(a.get(key))} in the "
                        "interrupted run")
    return None


def _shown(value: Any) -> str:
    return "unset" if value is None else repr(value)
