"""What a synthesis is asked to do (:class:`SynthSpec`), the working state of one call
(:class:`SynthBatch`) and what each kind of row hands back (:class:`Synthesized`).

The options of :func:`~mlstrat.mismatch.synthesize` travel as one frozen spec instead of two
dozen parameters passed through every layer; the synthesizers of image, audio and tabular rows
read what they need from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlstrat.mismatch._auc import Auc
from mlstrat.mismatch._calibrate import Calibration
from mlstrat.mismatch._pool import PoolUsage
from mlstrat.mismatch._rows import Selection

__all__ = ["SynthSpec", "SynthBatch", "Synthesized"]


@dataclass(frozen=True)
class SynthSpec:
    """The options of :func:`~mlstrat.mismatch.synthesize` (see its parameters), as given:
    :func:`~mlstrat.mismatch._synth._check_options` validates them before any data is read."""

    transforms: Sequence[str] | str  # transform names, applied in order (or comma-separated)
    split: str = "train"  # the split synthesized from and appended to (train only)
    like: str | None = None  # the target value of `domain`: calibrate against its rows
    image_shape: Sequence[int] | None = None  # (C, H, W) of pixel columns
    value_range: tuple[float, float] | None = None  # pixel range; outputs are clipped to it
    pool: Any = None  # fog overlays or noise clips (folder, files or an array)
    max_reuse: float | None = None  # cap on the pool's reuse factor
    seed: int = 0  # seeds the transforms, the calibration and the domain classifier
    features: Sequence[str] | None = None  # pixel or feature columns by name
    feature_prefix: str | None = None  # ... or every column starting with this
    image_col: str | None = None  # ... or a column of image file paths
    audio_col: str | None = None  # ... or a column of audio file paths
    domain: str = "domain"  # the domain column (used with `like`)
    params: Mapping[str, Mapping[str, float]] | None = None  # parameter overrides per transform
    copies: int = 1  # synthetic rows per source row
    snr: tuple[float, float] = (5.0, 20.0)  # signal-to-noise range in dB for `mix`
    split_col: str = "split"  # the split column
    id_col: str = "id"  # the id column
    group_col: str | None = "group"  # the group column (optional in the data)
    folds: int = 5  # folds of the domain classifier behind the AUCs
    sample: int | None = 200_000  # rows synthesized from (and target rows calibrated on) at most


@dataclass(frozen=True)
class SynthBatch:
    """One call's working state, shared by every kind of row."""

    kind: str  # "pixels", "image_files", "audio_files" or "tabular"
    name: str  # the manifest, as named in messages
    data: Any  # the manifest as a pyarrow table
    sel: Selection  # the rows synthesized from and the target rows
    names: tuple[str, ...]  # the transforms, validated
    user_params: dict[str, dict[str, float]]  # parameter overrides, validated
    jobs: np.ndarray  # (J,) manifest row of each synthetic row
    copy_no: np.ndarray  # (J,) which copy of its source row each synthetic row is, from 1
    rng: np.random.Generator  # draws the transforms' randomness
    notes: list[str]  # warnings collected on the way
    out_path: Path | None  # the output table, when written
    files_dir: Path | None  # the folder for synthesized files
    bases: list[Path]  # folders relative file paths are looked up in
    force: bool  # write a no-op's copies anyway


@dataclass(frozen=True)
class Synthesized:
    """What a synthesizer made: the table (``None`` for a no-op that is not forced), the
    parameters used, the rows made, and where they apply, the pool usage, the calibration and
    the domain-classifier AUCs before and after."""

    table: Any
    params: dict[str, dict[str, float]]
    n_new: int
    pool: PoolUsage | None = None
    calibration: Calibration | None = None
    auc_before: Auc | None = None
    auc_after: Auc | None = None
