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
from mlstrat.mismatch._pool import PoolUsage, cap_by_pool
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


def synth_images(
    *,
    kind: str,
    name: str,
    data: Any,
    sel: Selection,
    id_col: str,
    jobs: np.ndarray,
    copy_no: np.ndarray,
    rng: np.random.Generator,
    names: tuple[str, ...],
    features: Any,
    feature_prefix: Any,
    image_col: str | None,
    image_shape: Any,
    value_range: Any,
    pool: Any,
    max_reuse: float | None,
    user_params: dict[str, dict[str, float]],
    like: str | None,
    domain: str,
    seed: int,
    folds: int,
    notes: list[str],
    out_path: Path | None,
    files_dir: Path | None,
    bases: list[Path],
    force: bool = False,
) -> tuple[Any, dict, PoolUsage | None, int, Calibration | None, Auc | None, Auc | None]:
    """The synthesized table (``None`` when the transforms change nothing and ``force`` is not
    given), parameters used, pool usage, rows made, calibration and domain AUCs."""
    import pyarrow as pa

    images, cols = load_images(
        data,
        name=name,
        kind=kind,
        sel=sel,
        features=features,
        feature_prefix=feature_prefix,
        image_col=image_col,
        image_shape=image_shape,
        value_range=value_range,
        bases=bases,
    )
    overlay = (
        load_overlays(pool, images.value_range) if "fog" in names and pool is not None else None
    )
    pool_usage = None
    if overlay is not None:
        jobs, copy_no, pool_usage = cap_by_pool(
            jobs,
            copy_no,
            np.ones(len(jobs)),
            float(len(overlay)),
            "fog overlay",
            "images",
            max_reuse,
            rng,
            notes,
        )
    full_params = {t: {**TRANSFORMS[t].defaults, **user_params.get(t, {})} for t in names}
    calibration = auc_before = auc_after = None
    target_idx = np.flatnonzero(sel.is_target)
    if like is not None:
        if len(target_idx) < 2:
            raise InputError(
                f"{name}: only {len(target_idx)} {domain} = {like!r} row(s) outside test; "
                "need at least 2 to calibrate against"
            )
        full_params, calibration = maybe_calibrate(
            images,
            sel.base_idx,
            target_idx,
            names,
            full_params,
            user_params,
            overlay,
            seed,
            str(like),
            notes,
        )
    new = images.transform(jobs, names, full_params, rng, overlay)
    if like is not None:
        auc_before, auc_after = domain_aucs(
            images, new, target_idx, sel.base_idx, jobs, data, sel.group, folds, seed
        )
    if _unchanged(images, new, jobs):
        notes.append(_noop_note(names, plain_params(full_params), calibration, auc_before, auc_after, force))
        if not force:
            return None, plain_params(full_params), pool_usage, 0, calibration, auc_before, auc_after

    new_ids = make_ids(data.column(id_col), jobs, copy_no, name, id_col)
    taken = data.take(pa.array(jobs))
    if kind == "pixels":
        flat = np.asarray(new).reshape(len(jobs), -1)
        for j, c in enumerate(cols):
            typ = data.schema.field(c).type
            vals = np.rint(flat[:, j]) if pa.types.is_integer(typ) else flat[:, j]
            taken = taken.set_column(taken.schema.get_field_index(c), c, pa.array(vals).cast(typ))
    else:
        from mlstrat.mismatch._files import write_image

        files_dir = need_folder(files_dir)
        files_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for img, new_id in zip(new, new_ids.to_pylist()):
            path = files_dir / f"{safe_name(new_id)}.png"
            write_image(path, to_byte_range(img[0], images.value_range))
            written.append(stored_path(path, out_path))
        col = cols[0]
        taken = taken.set_column(
            taken.schema.get_field_index(col),
            col,
            pa.array(written).cast(data.schema.field(col).type),
        )
    table = append_rows(data, taken, new_ids, data.column(id_col).type, id_col, jobs)
    return (
        table,
        plain_params(full_params),
        pool_usage,
        len(jobs),
        calibration,
        auc_before,
        auc_after,
    )


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
