"""Artificial data synthesis: make training rows look like the target (docs/method.md §3).

Three kinds of rows: feature-vector images (pixel columns + ``image_shape``), image files
(``image_col``) and audio clips (``audio_col``, mixed with noise clips from a pool). New rows
are appended to the train split only, carry ``synthetic_of`` (the original id) and inherit
every other column, the group included, so that a synthetic copy can never sit in another
split than its original.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlstrat._exceptions import ConfigError, InputError, MlstratWarning
from mlstrat._numbers import did_you_mean
from mlstrat.mismatch._auc import Auc
from mlstrat.mismatch._calibrate import (
    CALIBRATED,
    Calibration,
)
from mlstrat.mismatch._features import manifest_bases
from mlstrat.mismatch._pool import REUSE_WARN, PoolUsage, pool_note
from mlstrat.mismatch._rows import (
    SYNTH_COLUMN,
    Selection,
    as_text,
    require,
)
from mlstrat.mismatch._synth_audio import AUDIO_TRANSFORMS, synth_audio
from mlstrat.mismatch._synth_images import synth_images
from mlstrat.mismatch._synth_spec import SynthBatch, Synthesized, SynthSpec
from mlstrat.mismatch._synth_tabular import TABULAR_TRANSFORMS, synth_tabular
from mlstrat.mismatch.transforms import TRANSFORMS

__all__ = [
    "AUDIO_TRANSFORMS",
    "CALIBRATED",
    "REUSE_WARN",
    "Calibration",
    "PoolUsage",
    "SynthResult",
    "synthesize",
]


@dataclass(frozen=True)
class SynthResult:
    """What :func:`synthesize` made. ``table`` (pyarrow: the input rows then the new ones) is not
    part of :meth:`to_dict`; :meth:`write` writes it."""

    kind: str  # "pixels", "image_files", "audio_files" or "tabular"
    split: str
    transforms: tuple[str, ...]
    params: dict[str, dict[str, float]]  # every transform's parameters as used
    n_input_rows: int
    n_source_rows: int  # rows synthesized from
    n_synthesized: int
    copies: int
    seed: int
    like: str | None = None
    calibration: Calibration | None = None
    auc_before: Auc | None = None  # domain classifier: target rows vs the source rows
    auc_after: Auc | None = None  # target rows vs the synthesized rows
    pool: PoolUsage | None = None
    files_dir: str | None = None
    output: str | None = None
    excluded_leaking: int = 0  # source rows skipped: their group also sits outside train
    warnings: tuple[str, ...] = ()
    table: Any = field(default=None, repr=False, compare=False)  # None: a no-op, nothing made

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "split": self.split,
            "transforms": list(self.transforms),
            "params": self.params,
            "n_input_rows": self.n_input_rows,
            "n_source_rows": self.n_source_rows,
            "n_synthesized": self.n_synthesized,
            "n_output_rows": self.n_input_rows + self.n_synthesized,
            "copies": self.copies,
            "seed": self.seed,
            "like": self.like,
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "auc_before": self.auc_before.to_dict() if self.auc_before else None,
            "auc_after": self.auc_after.to_dict() if self.auc_after else None,
            "pool": self.pool.to_dict() if self.pool else None,
            "excluded_leaking": self.excluded_leaking,
            "files_dir": self.files_dir,
            "output": self.output,
            "warnings": list(self.warnings),
        }

    def write(
        self, path: str | os.PathLike, *, force: bool = False, inputs: Sequence[Any] = (), con: Any = None
    ) -> Path:
        """Write the table (Parquet, CSV or JSONL by suffix), atomically; never over an input.

        ``con`` picks the engine that writes (the process-wide one by default): on Spark, a
        directory of part files."""
        from mlstrat.tables import write_table

        if self.table is None:
            raise ConfigError("the transforms changed nothing (a no-op), so there is no table to write; "
                              "pass force=True to synthesize to make the copies anyway")

        return write_table(self.table, path, force=force, inputs=inputs, con=con)


def _check_transforms(names: Sequence[str], allowed: Sequence[str], kind: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in names if n.strip())
    if not names:
        raise ConfigError(f"no transform given; available for {kind}: {', '.join(allowed)}")
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ConfigError(
            f"unknown transform(s) {', '.join(repr(u) for u in unknown)}"
            f"{did_you_mean(unknown[0], allowed)}; available for {kind}: {', '.join(allowed)}"
        )
    return names


def synthesize(
    manifest: Any,
    *,
    split: str = "train",
    transforms: Sequence[str] | str,
    like: str | None = None,
    image_shape: Sequence[int] | None = None,
    value_range: tuple[float, float] | None = None,
    pool: Any = None,
    max_reuse: float | None = None,
    seed: int = 0,
    features: Sequence[str] | None = None,
    feature_prefix: str | None = None,
    image_col: str | None = None,
    audio_col: str | None = None,
    domain: str = "domain",
    params: Mapping[str, Mapping[str, float]] | None = None,
    copies: int = 1,
    snr: tuple[float, float] = (5.0, 20.0),
    output: str | os.PathLike | None = None,
    files_dir: str | os.PathLike | None = None,
    force: bool = False,
    split_col: str = "split",
    id_col: str = "id",
    group_col: str | None = "group",
    folds: int = 5,
    con: Any = None,
) -> SynthResult:
    """Synthesize target-like training rows and append them to the train split.

    Parameters
    ----------
    manifest : path-like or table
        Rows with a ``split`` column (from ``mlstrat split``) and an ``id`` column.
    split : str, default="train"
        The split synthesized from and appended to; only ``"train"`` is accepted: dev and
        test must keep measuring the real target, and train-dev must stay unseen data.
    transforms : sequence of str or comma-separated str
        Image rows: names of :data:`~mlstrat.mismatch.transforms.TRANSFORMS` (blur, noise,
        brightness_contrast, shift, rotate, fog), applied in order. Audio rows: ``mix``.
    like : str, default=None
        A value of ``domain`` (the target, e.g. ``"app"``): rows synthesized from are the train
        rows of the other domains; the blur sigma, noise std and fog alpha are searched to
        match the target rows' image statistics (target rows outside test), and the domain
        classifier AUC (target vs source rows, then vs synthesized rows) is reported.
    image_shape : (C, H, W), default=None
        Feature columns are the pixels of such images (required with features/feature_prefix).
    value_range : (float, float), default=None
        Pixel range; outputs are clipped to it. Defaults to (0, 255) for image files and to the
        min and max of the rows synthesized from for feature columns.
    pool : folder, file, sequence of files, or ndarray (P, C, H, W), default=None
        Overlay images for ``fog`` (without one, fog is a smooth random field), or noise clips
        for ``mix`` (required).
    max_reuse : float, default=None
        Cap on the pool's reuse factor (synthesized images per overlay image, or synthesized
        seconds per second of noise); rows beyond the cap are not synthesized.
    seed : int, default=0
    features, feature_prefix, image_col, audio_col : exactly one
        Where the data is: pixel columns, image file paths or audio file paths.
    domain : str, default="domain"
        The domain column (used with ``like``).
    params : dict, default=None
        Parameter overrides, e.g. ``{"blur": {"sigma": 0.8}}``; ``like`` leaves those as given.
    copies : int, default=1
        Synthetic rows per source row.
    snr : (float, float), default=(5, 20)
        Range of the signal-to-noise ratio in dB for ``mix`` (uniform per clip).
    output : path-like, default=None
        Write the table there (never over the manifest); files go to ``files_dir``, by
        default ``<output stem>_files/`` next to it.
    files_dir : path-like, default=None
        Folder for synthesized image/audio files (needed for files when no ``output``).
    force : bool, default=False
        Overwrite an existing output.
    split_col, id_col, group_col : str
        Column names; the group column is optional.
    folds : int, default=5
        Folds of the domain classifier behind ``auc_before``/``auc_after``.
    con : ibis DuckDB backend, default=None

    Returns
    -------
    SynthResult
    """
    spec = SynthSpec(
        transforms=transforms,
        split=split,
        like=like,
        image_shape=image_shape,
        value_range=value_range,
        pool=pool,
        max_reuse=max_reuse,
        seed=seed,
        features=features,
        feature_prefix=feature_prefix,
        image_col=image_col,
        audio_col=audio_col,
        domain=domain,
        params=params,
        copies=copies,
        snr=snr,
        split_col=split_col,
        id_col=id_col,
        group_col=group_col,
        folds=folds,
    )
    return _synthesize(manifest, spec, output=output, files_dir=files_dir, force=force, con=con)


def _synthesize(
    manifest: Any,
    spec: SynthSpec,
    *,
    output: str | os.PathLike | None,
    files_dir: str | os.PathLike | None,
    force: bool,
    con: Any,
) -> SynthResult:
    """:func:`synthesize` with its options in one spec: check, read, synthesize, warn, write."""
    from mlstrat.tables import describe_source, is_uri, read_table

    kind, names, user_params = _check_options(spec)
    out_path, files_dir = _output_paths(manifest, kind, output=output, files_dir=files_dir, force=force, con=con)

    name = describe_source(manifest)
    data = read_table(manifest, con=con).to_pyarrow()
    sel = _select_rows(
        data,
        name=name,
        split_col=spec.split_col,
        id_col=spec.id_col,
        group_col=spec.group_col,
        like=spec.like,
        domain=spec.domain,
    )
    batch = SynthBatch(
        kind=kind, name=name, data=data, sel=sel, names=names, user_params=user_params,
        jobs=np.repeat(sel.base_idx, spec.copies),  # (J,) manifest row of each synthetic row
        copy_no=np.tile(np.arange(1, spec.copies + 1), len(sel.base_idx)),
        rng=np.random.default_rng(spec.seed), notes=sel.notes, out_path=out_path,
        files_dir=Path(files_dir) if files_dir else None, bases=manifest_bases(manifest), force=force,
    )
    made = _SYNTHESIZERS[kind](spec, batch)
    notes = batch.notes
    pool_note(made.pool, notes)
    for note in notes:
        warnings.warn(note, MlstratWarning, stacklevel=3)  # the caller of synthesize
    result = SynthResult(
        kind=kind,
        split=spec.split,
        transforms=names,
        params=made.params,
        n_input_rows=data.num_rows,
        n_source_rows=len(sel.base_idx),
        n_synthesized=made.n_new,
        copies=spec.copies,
        seed=spec.seed,
        like=None if spec.like is None else str(spec.like),
        calibration=made.calibration,
        auc_before=made.auc_before,
        auc_after=made.auc_after,
        pool=made.pool,
        files_dir=str(files_dir) if kind in ("image_files", "audio_files") else None,
        output=str(out_path) if out_path and made.table is not None else None,
        excluded_leaking=sel.excluded,
        warnings=tuple(notes),
        table=made.table,
    )
    if out_path is not None and made.table is not None:  # a URI stays a URI (Path would fold its "//")
        result.write(output if is_uri(output) else out_path, force=force, inputs=[manifest], con=con)
    return result


def _output_paths(manifest: Any, kind: str, *, output: str | os.PathLike | None,
                  files_dir: str | os.PathLike | None, force: bool, con: Any) -> tuple[Path | None, Any]:
    """(the checked output path or None, the folder for synthesized files or None): files go
    next to the output by default; image and audio files need one of the two."""
    from mlstrat.tables import check_table_output

    out_path = (  # a URI is asked of the engine that will write it, before the work
        check_table_output(output, inputs=[manifest], force=force, con=con) if output is not None else None
    )
    if files_dir is None and out_path is not None:
        files_dir = out_path.parent / f"{out_path.stem}_files"
    if kind in ("image_files", "audio_files") and files_dir is None:
        raise ConfigError(
            "synthesized files need a folder: give output (files go next to it) or files_dir"
        )
    return out_path, files_dir


def _check_options(spec: SynthSpec) -> tuple[str, tuple[str, ...], dict[str, dict[str, float]]]:
    """Validate the options before any data is read: (kind, transform names, parameter overrides)."""
    transforms = spec.transforms
    if isinstance(transforms, str):
        transforms = transforms.split(",")
    sources = [
        n
        for n, v in (
            ("features", spec.features),
            ("feature_prefix", spec.feature_prefix),
            ("image_col", spec.image_col),
            ("audio_col", spec.audio_col),
        )
        if v
    ]
    if len(sources) != 1:
        raise ConfigError(
            "give exactly one data source: features, feature_prefix, image_col or audio_col "
            f"(got {' and '.join(sources) or 'none'})"
        )
    kind = "audio_files" if spec.audio_col else "image_files" if spec.image_col else "pixels"
    if kind == "pixels" and spec.image_shape is None:
        kind = "tabular"  # feature columns without an image shape: numbers, not pixels
    allowed = {"audio_files": AUDIO_TRANSFORMS, "tabular": list(TABULAR_TRANSFORMS)}.get(kind, list(TRANSFORMS))
    what = {"audio_files": "audio", "tabular": "tabular features (without image_shape)"}.get(kind, "images")
    names = _check_transforms(transforms, allowed, what)
    if spec.split != "train":
        raise ConfigError(
            f"split={spec.split!r}: synthetic rows are appended to 'train' only (dev and test keep "
            "measuring the real target; train-dev must stay unseen); use split='train'"
        )
    if spec.copies < 1:
        raise ConfigError(f"copies must be at least 1; got {spec.copies}")
    if spec.max_reuse is not None and spec.max_reuse <= 0:
        raise ConfigError(f"max_reuse must be positive; got {spec.max_reuse}")
    if kind == "audio_files":
        if spec.pool is None:
            raise ConfigError(
                "mix needs a pool of noise clips (a folder or files); give pool=/--pool"
            )
        if not (spec.snr[0] <= spec.snr[1]):
            raise ConfigError(f"snr range must be (low, high) with low <= high; got {spec.snr}")
    user_params = {k: dict(v) for k, v in (spec.params or {}).items()}
    for t in user_params:
        if t not in names:
            raise ConfigError(
                f"parameters given for {t!r}, which is not among the transforms ({', '.join(names)})"
            )
    return kind, names, user_params


def _tabular(spec: SynthSpec, batch: SynthBatch) -> Synthesized:
    """Tabular rows: the table (None for a no-op), parameters used, rows made, calibration, AUCs."""
    import pyarrow as pa

    from mlstrat.mismatch._rows import append_rows, make_ids

    name, data, jobs, names, id_col = batch.name, batch.data, batch.jobs, batch.names, spec.id_col
    features, feature_prefix = spec.features, spec.feature_prefix
    cols = list(features) if features else [c for c in data.column_names if c.startswith(feature_prefix)]
    if not cols:
        raise InputError(f"{name}: no column starts with {feature_prefix!r}")
    require(data, cols, name=name, role="feature column")
    new, params, calibration, before, after = synth_tabular(
        name=name, data=data, sel=batch.sel, cols=cols, jobs=jobs, rng=batch.rng, names=names,
        user_params=batch.user_params, like=spec.like, domain=spec.domain, seed=spec.seed, folds=spec.folds,
        notes=batch.notes)
    original = np.column_stack([np.asarray(data.column(c).to_numpy(zero_copy_only=False), dtype=np.float64)
                                for c in cols])[jobs]
    if np.array_equal(new, original):
        from mlstrat.mismatch._synth_images import _noop_note

        batch.notes.append(_noop_note(names, params, calibration, before, after, batch.force)
                           .replace("image", "row"))
        if not batch.force:
            return Synthesized(None, params, 0, None, calibration, before, after)
    taken = data.take(pa.array(jobs))
    for j, c in enumerate(cols):
        typ = data.schema.field(c).type
        vals = np.rint(new[:, j]) if pa.types.is_integer(typ) else new[:, j]
        taken = taken.set_column(taken.schema.get_field_index(c), c, pa.array(vals).cast(typ))
    new_ids = make_ids(data.column(id_col), jobs, batch.copy_no, name, id_col)
    table = append_rows(data, taken, new_ids, data.column(id_col).type, id_col, jobs)
    return Synthesized(table, params, len(jobs), None, calibration, before, after)


#: the synthesizer of each kind of row
_SYNTHESIZERS = {"pixels": synth_images, "image_files": synth_images, "audio_files": synth_audio,
                 "tabular": _tabular}


def _select_rows(
    data: Any,
    *,
    name: str,
    split_col: str,
    id_col: str,
    group_col: str | None,
    like: str | None,
    domain: str,
) -> Selection:
    """The leakage rule lives here: only train rows whose group stays in train are synthesized from."""
    if split_col not in data.column_names:
        raise InputError(
            f"{name}: no {split_col!r} column; run `mlstrat split` first so that synthetic rows "
            "can be appended to train only"
        )
    require(data, [id_col], name=name, role="id column")
    if SYNTH_COLUMN in data.column_names:
        raise InputError(
            f"{name}: already has a {SYNTH_COLUMN!r} column; synthesize from the original "
            "manifest, not from a synthesized one"
        )
    if like is not None:
        require(data, [domain], name=name, role="domain column")
    n = data.num_rows
    group = group_col if group_col and group_col in data.column_names else None
    splits = as_text(data.column(split_col).to_pylist())
    is_train = splits == "train"
    if not is_train.any():
        raise InputError(
            f"{name}: no row has {split_col} = 'train'; values: "
            f"{', '.join(sorted({str(s) for s in splits if s is not None}))}"
        )
    base = is_train.copy()
    is_target = np.zeros(n, dtype=bool)
    if like is not None:
        dom = as_text(data.column(domain).to_pylist())
        values = sorted({v for v in dom if v is not None})
        if str(like) not in values:
            raise InputError(
                f"{name}: column {domain!r} has no rows with value {str(like)!r}"
                f"{did_you_mean(str(like), values)}; values: {', '.join(values[:20])}"
            )
        is_target = (dom == str(like)) & (splits != "test")  # the test set is never looked at
        base &= dom != str(like)
        if not base.any():
            raise InputError(
                f"{name}: every train row is already {domain} = {like!r}; nothing to synthesize from"
            )
    notes: list[str] = []
    excluded = 0
    if group is not None:
        groups = as_text(data.column(group).to_pylist())
        outside = set(groups[~is_train]) - {None}
        leaking = (
            base & np.isin(groups, np.array(sorted(outside), dtype=object))
            if outside
            else np.zeros(n, bool)
        )
        excluded = int(leaking.sum())
        if excluded:
            base &= ~leaking
            notes.append(
                f"{excluded} train row(s) were not synthesized from: their {group!r} also appears in "
                "train_dev/dev/test (the manifest already leaks; re-run mlstrat split)"
            )
    if not base.any():
        raise InputError(f"{name}: no train row is left to synthesize from")
    return Selection(np.flatnonzero(base), is_target, group, excluded, notes)
