"""``mlstrat curve CONFIG``: mlstrat's own network trained on nested subsets of train."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from mlstrat._exceptions import ConfigError, InputError
from mlstrat.curves._curve import CurvePoint, LearningCurve, _assemble, parse_curve_sizes, resolve_sizes

__all__ = ["curve_from_config"]


def _subset_manifests(config: Any, counts: list[int], out: Path, seed: int, con: Any) -> list[Path]:
    """One manifest per size: every non-train row, plus the first k train rows of one seeded
    permutation (so the subsets are nested). Image paths are made absolute, since the
    subsets live in ``out`` and not beside the original manifest."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from mlstrat.tables import read_table, write_table

    table = read_table(config.data.manifest, con=con).to_pyarrow()
    if "split" not in table.column_names:
        raise InputError(f"{config.data.manifest}: no 'split' column; run `mlstrat split` first")
    image_col = config.data.image_col
    if image_col:
        base = Path(config.data.manifest).resolve().parent
        paths = [p if p is None or os.path.isabs(p) else str(base / p)
                 for p in table.column(image_col).to_pylist()]
        table = table.set_column(table.column_names.index(image_col), image_col, pa.array(paths))
    is_train = pc.equal(table.column("split").cast(pa.string()), "train").to_numpy(zero_copy_only=False)
    train_rows = np.flatnonzero(is_train)
    other_rows = np.flatnonzero(~is_train)
    order = train_rows[np.random.default_rng(seed).permutation(len(train_rows))]
    manifests = []
    for k in counts:
        keep = np.sort(np.concatenate([other_rows, order[:k]]))
        path = out / f"manifest-train-{k}.parquet"
        # --force (checked by the caller) lets a run into the same folder replace its subsets
        write_table(table.take(pa.array(keep)), path, force=True, inputs=[config.data.manifest])
        manifests.append(path)
    return manifests


def _n_train(config: Any, con: Any) -> int:
    from mlstrat.tables import read_table

    t = read_table(config.data.manifest, con=con)
    if "split" not in t.columns:
        raise InputError(f"{config.data.manifest}: no 'split' column; run `mlstrat split` first")
    return int(t.filter(t.split.cast("string") == "train").count().execute())


def _point(k: int, metrics: dict[str, Any]) -> CurvePoint:
    from mlstrat.metrics._intervals import wilson_interval

    def est(split: str) -> tuple[float, float, float]:
        m = metrics.get(split)
        if not m:
            raise InputError(f"the manifest has no {split} rows; a learning curve needs train and dev")
        low, high = wilson_interval(m["error"] * m["n"], m["n"])
        return m["error"], low, high

    return CurvePoint(k, est("train"), est("dev"), est("train_dev") if metrics.get("train_dev") else None)


def curve_from_config(config: Any, *, sizes: str = "10%,25%,50%,100%", output: str | os.PathLike,
                      human: float | None = None, seed: int = 0, force: bool = False,
                      con: Any = None) -> LearningCurve:
    """Train the configured network on nested subsets of train; measure train and dev error.

    Each size is a full training run (``output/size-<k>/``) from the same config and seed;
    the subset manifests are written to ``output`` too. See :func:`learning_curve`.
    """
    from mlstrat.nn import TrainConfig, train

    if not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig (TrainConfig.from_toml); got {type(config).__name__}")
    if config.multitask.tasks:
        raise ConfigError("a learning curve of a multi-task config is not supported; curve one task at a time")
    out = Path(output)
    if out.exists() and any(out.iterdir()) and not force:
        raise ConfigError(f"{out}: the folder is not empty; give another --output or --force")
    out.mkdir(parents=True, exist_ok=True)
    counts = resolve_sizes(parse_curve_sizes(sizes), _n_train(config, con))
    points = []
    for k, manifest in zip(counts, _subset_manifests(config, counts, out, seed, con), strict=True):
        sub = dataclasses.replace(config, data=dataclasses.replace(config.data, manifest=str(manifest)))
        result = train(sub, run_dir=out / f"size-{k}", progress=False, force=True, con=con, record=False)
        points.append(_point(k, result.metrics))
    return _assemble("error", tuple(points), human, "neural_network", mismatched=_domains_differ(config, con))


def _domains_differ(config: Any, con: Any) -> bool | None:
    """Whether train and dev come from different distributions, by the manifest's ``domain``
    column, with the rule ``diagnose`` uses (total-variation distance of the domain shares
    above DOMAIN_SHIFT); ``None`` without a domain column."""
    from collections import Counter

    from mlstrat.diagnosis._estimates import DOMAIN_SHIFT
    from mlstrat.tables import read_table

    t = read_table(config.data.manifest, con=con)
    if "domain" not in t.columns:
        return None
    rows = t.select(split=t.split.cast("string"), domain=t.domain.cast("string")).to_pyarrow().to_pylist()
    share = {s: Counter(r["domain"] for r in rows if r["split"] == s) for s in ("train", "dev")}
    totals = {s: sum(c.values()) for s, c in share.items()}
    if not all(totals.values()):
        return None
    keys = set(share["train"]) | set(share["dev"])
    tvd = 0.5 * sum(abs(share["train"][k] / totals["train"] - share["dev"][k] / totals["dev"]) for k in keys)
    return tvd > DOMAIN_SHIFT
