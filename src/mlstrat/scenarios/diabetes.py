"""The tabular scenario: scikit-learn's diabetes table as a registry/clinic regression project.

442 patients from ``sklearn.datasets.load_diabetes`` (shipped inside scikit-learn, no
download); the outcome is disease progression one year after baseline. The scenario needs
thousands of independent rows for honest intervals, so it draws a population around the
real patients: each row is a real patient's measurements with jitter, and its outcome is a
model of the real outcomes (boosted trees fitted on the 442 patients) plus noise of a known
standard deviation (``noise``: the Bayes RMSE of this population, the scenario's reference
level). Planted on top: progression accelerates with obesity (a term in BMI above one
standard deviation), and the clinic that must be served (``domain = "clinic"``, the target)
sees mostly high-BMI patients while the registry that provides most training rows sees
mostly low-BMI ones.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_diabetes_manifest", "DIABETES_FEATURES"]

#: The feature columns, in the order of ``load_diabetes().feature_names``.
DIABETES_FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


def build_diabetes_manifest(*, rows: int = 40_000, seed: int = 0, jitter: float = 0.3,
                            noise: float = 25.0, obesity: float = 30.0, shift: float = 3.0
                            ) -> Any:
    """Build the registry/clinic manifest as a ``pyarrow.Table``.

    Parameters
    ----------
    rows : int, default=40000
    seed : int, default=0
    jitter : float, default=0.3
        Measurement jitter, as a share of each feature's standard deviation (sex is kept).
    noise : float, default=25
        Standard deviation of the outcome noise: the best RMSE any model can reach.
    obesity : float, default=30
        Planted extra progression ``obesity * max(z_bmi - 1, 0)^2``.
    shift : float, default=3
        Logistic slope of a row's chance to be a clinic patient in its standardized BMI.

    Returns
    -------
    pyarrow.Table
        ``id``, ``domain`` (registry | clinic), the feature columns and ``y``.
    """
    import numpy as np
    import pyarrow as pa
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(seed)
    X, y = load_diabetes(return_X_y=True, scaled=False)
    outcome_model = HistGradientBoostingRegressor(max_depth=3, max_iter=100, random_state=seed).fit(X, y)
    patient = rng.integers(0, len(y), rows)
    features = X[patient] + rng.normal(0.0, 1.0, (rows, X.shape[1])) * X.std(axis=0) * jitter
    features[:, 1] = X[patient, 1]  # sex is not measured with noise
    z_bmi = (features[:, 2] - X[:, 2].mean()) / X[:, 2].std()
    outcome = (outcome_model.predict(features) + obesity * np.maximum(z_bmi - 1.0, 0.0) ** 2
               + rng.normal(0.0, noise, rows))
    clinic = rng.random(rows) < 1.0 / (1.0 + np.exp(-(shift * z_bmi - 2.5)))
    columns: dict[str, Any] = {
        "id": pa.array(np.arange(rows)),
        "domain": pa.array(np.where(clinic, "clinic", "registry")),
    }
    columns.update({name: pa.array(features[:, j]) for j, name in enumerate(DIABETES_FEATURES)})
    columns["y"] = pa.array(outcome)
    return pa.table(columns)
