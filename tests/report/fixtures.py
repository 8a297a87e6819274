"""Fixture documents in exactly the shapes the other capabilities produce."""

from __future__ import annotations

import copy

DIAGNOSIS = {
    "metric": "error",
    "errors": {
        "train": {"value": 0.021, "ci_low": 0.016, "ci_high": 0.027, "n": 2400},
        "train_dev": {"value": 0.034, "ci_low": 0.022, "ci_high": 0.051, "n": 600},
        "dev": {"value": 0.112, "ci_low": 0.089, "ci_high": 0.139, "n": 600},
        "test": {"value": 0.118, "ci_low": 0.095, "ci_high": 0.146, "n": 600},
    },
    "human_level": {
        "references": [
            {"name": "typical person", "value": 0.03, "ci_low": None, "ci_high": None, "n": None},
            {"name": "expert team", "value": 0.005, "ci_low": None, "ci_high": None, "n": None},
        ],
        "bayes_proxy": {"name": "expert team", "value": 0.005},
        "assumed": False,
    },
    "components": {
        "avoidable_bias": {"value": 0.016, "ci_low": 0.011, "ci_high": 0.022, "significant": True,
                           "from": "human_level", "to": "train"},
        "variance": {"value": 0.013, "ci_low": 0.0, "ci_high": 0.031, "significant": False,
                     "from": "train", "to": "train_dev"},
        "data_mismatch": {"value": 0.078, "ci_low": 0.048, "ci_high": 0.108, "significant": True,
                          "from": "train_dev", "to": "dev"},
        "dev_overfitting": {"value": 0.006, "ci_low": -0.03, "ci_high": 0.042, "significant": False,
                            "from": "dev", "to": "test"},
    },
    "problems": ["data_mismatch", "avoidable_bias"],
    "principal_problem": "data_mismatch",
    "verdict": "Data mismatch is the principal problem: the model does well on the training "
               "distribution (train-dev 3.4%) but not on the app photos of dev (11.2%).",
    "actions": [
        {"id": "error_analysis", "title": "Carry out manual error analysis",
         "why": "Look at ~100 dev mistakes to learn how app images differ from web images.",
         "addresses": ["data_mismatch"]},
        {"id": "data_synthesis", "title": "Synthesize app-like training data",
         "why": "Blur and add noise to web images so that training looks like dev.",
         "addresses": ["data_mismatch"]},
        {"id": "bigger_network", "title": "Train a bigger network",
         "why": "Train error is 1.6 points above expert level.", "addresses": ["avoidable_bias"]},
    ],
    "warnings": [{"code": "test_split_used",
                  "message": "The test split was evaluated: do not tune on it."}],
    "tolerance": 0.01,
}

LABELS = [str(i) for i in range(10)]


def _confusion(n_per_class: int = 60) -> list[list[int]]:
    matrix = []
    for i in range(10):
        row = [0] * 10
        wrong = (i * 3) % 7 + 1
        row[i] = n_per_class - wrong
        row[(i + 1) % 10] = wrong - wrong // 2
        row[(i + 7) % 10] += wrong // 2
        matrix.append(row)
    return matrix


def _split(n: int, error: float) -> dict:
    return {
        "n": n, "error": error, "error_ci": [error * 0.8, error * 1.25], "accuracy": 1 - error,
        "weighted_error": error, "precision": 1 - error, "recall": 1 - error, "f1": 1 - error,
        "per_class": {lab: {"precision": 0.9, "recall": 0.88, "f1": 0.89, "support": n // 10} for lab in LABELS},
        "confusion": {"labels": LABELS, "matrix": _confusion(n // 10)},
    }


METRICS = {"splits": {"train": _split(2400, 0.021), "train_dev": _split(600, 0.034),
                      "dev": _split(600, 0.112), "test": _split(600, 0.118)}}

HISTORY = {
    "epochs": [{"epoch": e, "train_cost": 2.3 * 0.72 ** e + 0.05, "dev_cost": 2.3 * 0.75 ** e + 0.32 + 0.004 * e,
                "train_error": 0.8 * 0.66 ** e + 0.02, "dev_error": 0.8 * 0.7 ** e + 0.105}
               for e in range(1, 21)],
    "best_epoch": 14, "stopped_early": True, "restored_best": True,
}

ERROR_SUMMARY = {
    "split": "dev", "split_error": 0.112, "sample_size": 67, "tagged": 67,
    "categories": [
        {"name": "blurry", "count": 38, "share": 0.567, "share_ci": [0.448, 0.679], "ceiling": 0.0635,
         "error_if_fixed": 0.0485},
        {"name": "noisy", "count": 21, "share": 0.313, "share_ci": [0.215, 0.432], "ceiling": 0.0351,
         "error_if_fixed": 0.0769},
        {"name": "ambiguous digit", "count": 9, "share": 0.134, "share_ci": [0.072, 0.236], "ceiling": 0.015,
         "error_if_fixed": 0.097},
        {"name": "mislabeled", "count": 4, "share": 0.06, "share_ci": [0.023, 0.144], "ceiling": 0.0067,
         "error_if_fixed": 0.1053},
    ],
    "mislabeled": {"category": "mislabeled", "error_due": 0.0067, "error_other": 0.1053},
    "warnings": [],
}


def diagnosis(**changes) -> dict:
    """A deep copy of DIAGNOSIS with top-level keys replaced."""
    out = copy.deepcopy(DIAGNOSIS)
    out.update(changes)
    return out


def improved_diagnosis() -> dict:
    """The second iteration: data synthesis shrank data mismatch."""
    d = copy.deepcopy(DIAGNOSIS)
    for split, value, low, high in (("train", 0.024, 0.019, 0.031), ("train_dev", 0.036, 0.024, 0.053),
                                    ("dev", 0.052, 0.037, 0.072), ("test", 0.055, 0.039, 0.076)):
        d["errors"][split].update(value=value, ci_low=low, ci_high=high)
    d["components"]["avoidable_bias"]["value"] = 0.019
    d["components"]["variance"]["value"] = 0.012
    d["components"]["data_mismatch"].update(value=0.016, ci_low=0.001, ci_high=0.031)
    d["components"]["dev_overfitting"]["value"] = 0.003
    d["problems"] = ["avoidable_bias", "data_mismatch"]
    d["principal_problem"] = "avoidable_bias"
    d["verdict"] = "Avoidable bias is now the largest component."
    return d
