"""Synthesis of image rows: pixel columns (``image_shape``) or image files (``image_col``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlstrat._exceptions import InputError
from mlstrat.mismatch._auc import Auc
from mlstrat.mismatch._calibrate import (
    Calibration,
    Images,
    load_overlays,
    maybe_calibrate,
    plain_params,
    to_byte_range,
)
from mlstrat.mismatch._features import as_images
from mlstrat.mismatch._pool import cap_by_pool
from mlstrat.mismatch._rows import (
    Selection,
    append_rows,
    as_text,
    make_ids,
    need_folder,
    require,
    safe_name,
    stored_path,
)
from mlstrat.mismatch._stats import IMAGE_STATS
from mlstrat.mismatch._synth_spec import SynthBatch, Synthesized, SynthSpec
from mlstrat.mismatch.transforms import TRANSFORMS

__all__ = ["load_images", "synth_images", "domain_aucs"]


def load_images(
    data: Any,
    *,
    name: str,
    kind: str,
    sel: Selection,
    features: Any,
    feature_prefix: Any,
    image_col: str | None,
    image_shape: Any,
    value_range: Any,
    bases: list[Path],
) -> tuple[Images, list[str]]:
    """The images to synthesize from and to calibrate against, and the columns that hold them."""
    if kind == "pixels":
        from mlstrat.mismatch._features import FeatureSpec, feature_columns

        spec = FeatureSpec(
            features=tuple(features) if features else None,
            feature_prefix=feature_prefix,
            image_shape=tuple(image_shape),
        )
        cols = feature_columns(data.column_names, spec, source=name)
        X = np.stack(
            [data.column(c).to_numpy(zero_copy_only=False).astype(np.float32) for c in cols], axis=1
        )
        if np.isnan(X).any():
            raise InputError(
                f"{name}: feature columns hold empty/NaN values; images need every pixel"
            )
        if value_range is None:
            train = X[sel.base_idx]
            value_range = (float(train.min()), float(train.max()))
        return Images(as_images(X, tuple(image_shape)), tuple(value_range)), cols

    from mlstrat.mismatch._files import read_image, resolve_paths

    require(data, [image_col], name=name, role="image column")
    wanted = np.union1d(sel.base_idx, np.flatnonzero(sel.is_target))
    column = data.column(image_col).to_pylist()
    paths = resolve_paths(
        [column[i] for i in wanted], column=image_col or "", source=name, bases=bases
    )
    loaded: list[np.ndarray] = [
        np.zeros((1, 1, 3, 3), np.float32)
    ] * data.num_rows  # rows not needed stay blank
    for i, path in zip(wanted, paths):
        img = read_image(path)
        if min(img.shape[1:]) < 3:
            raise InputError(
                f"{path}: image of {img.shape[2]}x{img.shape[1]} pixels; needs at least 3x3"
            )
        loaded[i] = img[None]
    return Images(loaded, tuple(value_range) if value_range else (0.0, 255.0)), [image_col or ""]


def synth_images(spec: SynthSpec, batch: SynthBatch) -> Synthesized:
    """The synthesized table (``None`` when the transforms change nothing and ``force`` is not
    given), parameters used, pool usage, rows made, calibration and domain AUCs."""
    name, data, names, rng, notes = batch.name, batch.data, batch.names, batch.rng, batch.notes
    sel, like = batch.sel, spec.like
    images, cols = load_images(
        data,
        name=name,
        kind=batch.kind,
        sel=sel,
        features=spec.features,
        feature_prefix=spec.feature_prefix,
        image_col=spec.image_col,
        image_shape=spec.image_shape,
        value_range=spec.value_range,
        bases=batch.bases,
    )
    overlay = (
        load_overlays(spec.pool, images.value_range) if "fog" in names and spec.pool is not None else None
    )
    jobs, copy_no, pool_usage = batch.jobs, batch.copy_no, None
    if overlay is not None:
        jobs, copy_no, pool_usage = cap_by_pool(
            jobs,
            copy_no,
            np.ones(len(jobs)),
            float(len(overlay)),
            "fog overlay",
            "images",
            spec.max_reuse,
            rng,
            notes,
        )
    full_params, calibration = _full_params(spec, batch, images, overlay)
    new = images.transform(jobs, names, full_params, rng, overlay)
    auc_before = auc_after = None
    if like is not None:
        auc_before, auc_after = domain_aucs(
            images, new, np.flatnonzero(sel.is_target), sel.base_idx, jobs, data, sel.group, spec.folds,
            spec.seed
        )
    if _unchanged(images, new, jobs):
        notes.append(_noop_note(names, plain_params(full_params), calibration, auc_before, auc_after,
                                batch.force))
        if not batch.force:
            return Synthesized(None, plain_params(full_params), 0, pool_usage, calibration, auc_before,
                               auc_after)
    table = _image_rows(batch, spec.id_col, images, new, cols, jobs, copy_no)
    return Synthesized(table, plain_params(full_params), len(jobs), pool_usage, calibration, auc_before,
                       auc_after)


def _full_params(spec: SynthSpec, batch: SynthBatch, images: Images,
                 overlay: Any) -> tuple[dict[str, dict[str, float]], Calibration | None]:
    """Every transform's parameters: the defaults under the overrides, then with ``like`` the
    free strengths calibrated to the target rows."""
    names, user_params = batch.names, batch.user_params
    full_params = {t: {**TRANSFORMS[t].defaults, **user_params.get(t, {})} for t in names}
    if spec.like is None:
        return full_params, None
    target_idx = np.flatnonzero(batch.sel.is_target)
    if len(target_idx) < 2:
        raise InputError(
            f"{batch.name}: only {len(target_idx)} {spec.domain} = {spec.like!r} row(s) outside test; "
            "need at least 2 to calibrate against"
        )
    return maybe_calibrate(
        images,
        batch.sel.base_idx,
        target_idx,
        names,
        full_params,
        user_params,
        overlay,
        spec.seed,
        str(spec.like),
        batch.notes,
    )


def _image_rows(batch: SynthBatch, id_col: str, images: Images, new: Any, cols: list[str],
                jobs: np.ndarray, copy_no: np.ndarray) -> Any:
    """The manifest with the synthetic rows appended: new pixel values, or new image files
    written to ``files_dir``."""
    import pyarrow as pa

    name, data = batch.name, batch.data
    new_ids = make_ids(data.column(id_col), jobs, copy_no, name, id_col)
    taken = data.take(pa.array(jobs))
    if batch.kind == "pixels":
        flat = np.asarray(new).reshape(len(jobs), -1)
        for j, c in enumerate(cols):
            typ = data.schema.field(c).type
            vals = np.rint(flat[:, j]) if pa.types.is_integer(typ) else flat[:, j]
            taken = taken.set_column(taken.schema.get_field_index(c), c, pa.array(vals).cast(typ))
    else:
        from mlstrat.mismatch._files import write_image

        files_dir = need_folder(batch.files_dir)
        files_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for img, new_id in zip(new, new_ids.to_pylist()):
            path = files_dir / f"{safe_name(new_id)}.png"
            write_image(path, to_byte_range(img[0], images.value_range))
            written.append(stored_path(path, batch.out_path))
        col = cols[0]
        taken = taken.set_column(
            taken.schema.get_field_index(col),
            col,
            pa.array(written).cast(data.schema.field(col).type),
        )
    return append_rows(data, taken, new_ids, data.column(id_col).type, id_col, jobs)


def _unchanged(images: Any, new: Any, jobs: np.ndarray) -> bool:
    """True when every synthesized image equals its original (the transforms were the identity)."""
    if isinstance(images.arrays, np.ndarray):
        return bool(np.array_equal(np.asarray(new), images.arrays[jobs]))
    return all(np.array_equal(a, images.arrays[j]) for a, j in zip(new, jobs))


def _noop_note(names: tuple[str, ...], params: dict, calibration: Any, before: Any, after: Any,
               force: bool) -> str:
    shown = "; ".join(f"{t}(" + ", ".join(f"{k}={v:g}" for k, v in ps.items()) + ")" for t, ps in params.items())
    why = "calibrated to" if calibration is not None else "with"
    auc = (f"; the domain classifier AUC stays {before.value:.3f} -> {after.value:.3f}"
           if before is not None and after is not None else "")
    tail = ("written anyway (force)" if force else
            "nothing was written (pass force=True / --force to write the copies anyway)")
    verb = "leaves" if len(names) == 1 else "leave"
    return (f"no-op: {', '.join(names)} {why} {shown} {verb} every image unchanged, so the synthetic rows "
            f"would only duplicate their originals{auc}; {tail}")


def domain_aucs(
    images: Images,
    new: np.ndarray | list[np.ndarray],
    target_idx: np.ndarray,
    base_idx: np.ndarray,
    jobs: np.ndarray,
    data: Any,
    group: str | None,
    folds: int,
    seed: int,
) -> tuple[Auc, Auc]:
    """Domain-classifier AUC of the target rows vs the source rows, then vs the synthesized rows.

    Features: image statistics, plus the pixels for feature-vector images."""
    from mlstrat.mismatch._adversarial import domain_auc

    def feats(imgs: Images, idx: np.ndarray | None) -> np.ndarray:
        stats = imgs.stats(idx)
        S = np.stack([stats[k] for k in IMAGE_STATS], axis=1)
        if isinstance(imgs.arrays, np.ndarray):
            arr = imgs.arrays if idx is None else imgs.arrays[idx]
            S = np.concatenate([S, arr.reshape(len(arr), -1)], axis=1)
        return S

    groups = as_text(data.column(group).to_pylist()) if group else None
    g = (lambda idx: groups[idx]) if groups is not None else (lambda idx: None)
    X_t = feats(images, target_idx)
    grp_b = None if groups is None else np.concatenate([g(target_idx), g(base_idx)])
    before = domain_auc(X_t, feats(images, base_idx), folds=folds, seed=seed, groups=grp_b)
    synth = Images(new if isinstance(new, np.ndarray) else list(new), images.value_range)
    grp_a = None if groups is None else np.concatenate([g(target_idx), g(jobs)])
    after = domain_auc(X_t, feats(synth, None), folds=folds, seed=seed, groups=grp_a)
    return before, after
