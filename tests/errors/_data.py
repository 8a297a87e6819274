"""Small predictions tables for the error-analysis tests (files made in tests, no downloads)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd


def simple_predictions(
    n_dev: int = 40,
    n_errors: int = 10,
    *,
    n_train: int = 20,
    seed: int = 0,
    with_proba: bool = True,
    labels: tuple[str, ...] = ("cat", "dog", "bird"),
) -> pd.DataFrame:
    """``n_dev`` dev rows of which exactly ``n_errors`` are misclassified, plus train rows."""
    rng = np.random.default_rng(seed)
    rows = []
    k = len(labels)
    for split, n, errs in (("dev", n_dev, n_errors), ("train", n_train, 0)):
        for i in range(n):
            t = int(rng.integers(k))
            p = (t + 1) % k if i < errs else t
            rec = {
                "id": f"{split}-{i:03d}",
                "split": split,
                "y_true": labels[t],
                "y_pred": labels[p],
                "path": f"img/{split}-{i:03d}.png",
                "text": f"example {i}",
            }
            if with_proba:
                probs = np.full(k, 0.1 / (k - 1))
                probs[p] = 0.9 - 0.01 * (i % 10)
                probs[t if t != p else (p + 2) % k] += 0.01 * (i % 10)
                for j, lab in enumerate(labels):
                    rec[f"proba_{lab}"] = float(probs[j])
            rows.append(rec)
    return pd.DataFrame(rows)


@lru_cache(maxsize=1)
def _digits_frame() -> pd.DataFrame:
    from sklearn.linear_model import LogisticRegression

    from mlstrat.scenarios import build_digits_manifest

    m = build_digits_manifest().to_pandas()
    px = [f"px_{i}" for i in range(64)]
    rng = np.random.default_rng(0)
    m["split"] = np.where(rng.random(len(m)) < 0.6, "train", "dev")
    train = m.split == "train"
    model = LogisticRegression(max_iter=300, C=0.05).fit(
        m.loc[train, px] / 16, m.loc[train, "label"]
    )
    proba = model.predict_proba(m[px] / 16)
    out = m[["id", "split", "domain", "group", *px]].copy()
    out.insert(2, "y_true", m["label"])
    out.insert(3, "y_pred", model.classes_[proba.argmax(1)])
    for j, c in enumerate(model.classes_):
        out[f"proba_{c}"] = proba[:, j]
    return out


def digits_predictions(path: Path) -> Path:
    """The bundled digits scenario with a quick logistic regression's predictions, as CSV."""
    _digits_frame().to_csv(path, index=False)
    return path


def write(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path
