"""The error per split, with its 95% interval: from bare figures (Wilson intervals when the
sizes are given) or from a predictions table (rates from confusion counts, other metrics from one
engine aggregation); whether train and dev come from different domains.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mlstrat._exceptions import ConfigError
from mlstrat.diagnosis._parse import parse_errors, parse_sizes
from mlstrat.diagnosis._results import (
    ErrorEstimate,
    HumanReference,
)
from mlstrat.metrics._intervals import wilson_interval
from mlstrat.metrics._spec import MetricSpec

__all__ = ["DOMAIN_SHIFT"]


#: Total-variation distance between train and dev domain shares above which they are "mismatched".
DOMAIN_SHIFT = 0.05


def _estimates_from_figures(
    errors: str | Mapping[str, Any], sizes: str | Mapping[str, Any] | None, spec: MetricSpec
) -> dict[str, ErrorEstimate]:
    rates = parse_errors(errors, metric=spec)
    if sizes is not None and not spec.is_rate:
        raise ConfigError(
            f"--sizes gives intervals of error rates only; the interval of {spec.label} needs the "
            "spread of the per-example values: give the predictions table instead of --errors"
        )
    counts = parse_sizes(sizes) if sizes is not None else {}
    extra = [s for s in counts if s not in rates]
    if extra:
        raise ConfigError(
            f"--sizes: {', '.join(extra)} has a size but no error in --errors; "
            f"errors given for: {', '.join(rates)}"
        )
    out: dict[str, ErrorEstimate] = {}
    for split, value in rates.items():
        n = counts.get(split)
        if n is None:
            out[split] = ErrorEstimate(value=value)
        else:
            low, high = wilson_interval(value * n, n)
            out[split] = ErrorEstimate(value=value, ci_low=low, ci_high=high, n=n)
    return out


def _estimates_from_values(pred: Any, spec: MetricSpec, test: bool) -> dict[str, ErrorEstimate]:
    """Regression and per-example metrics: one engine aggregation of sums (metrics._regression).

    The sealed test split is left out unless ``test``.
    """
    from mlstrat.metrics._regression import compute_metric

    return {split: ErrorEstimate(e.value, e.ci_low, e.ci_high, e.n)
            for split, e in compute_metric(pred, spec).items() if test or split != "test"}


def _estimates_from_predictions(pred: Any, metric: str, test: bool) -> dict[str, ErrorEstimate]:
    from mlstrat.metrics._classification import compute_metrics

    weight = "weight" if "weight" in pred.table.columns else None
    if metric == "weighted_error" and weight is None:
        raise ConfigError(
            f"{pred.source}: --metric weighted_error needs a 'weight' column; "
            f"columns: {', '.join(pred.source_columns)}"
        )
    # zero_division=0: a class never predicted counts as F1 0 (the conservative reading), silently;
    # store=False: diagnose counts the look at the test set itself, once
    report = compute_metrics(pred, weight=weight, zero_division=0.0, test=test, store=False)
    out: dict[str, ErrorEstimate] = {}
    for split, m in report.splits.items():
        if metric == "error":
            out[split] = ErrorEstimate(m.error, m.error_ci[0], m.error_ci[1], m.n)
        elif metric == "weighted_error":
            out[split] = ErrorEstimate(
                m.weighted_error, m.weighted_error_ci[0], m.weighted_error_ci[1], m.n
            )
        else:
            low, high = m.f1_ci
            out[split] = ErrorEstimate(
                1.0 - m.f1,
                None if math.isnan(high) else 1.0 - high,
                None if math.isnan(low) else 1.0 - low,
                m.n,
            )
    return out


def _domain_shares(pred: Any) -> dict[str, dict[str | None, float]] | None:
    """Share of each domain in train and in dev; None without a ``domain`` column or a split."""
    table = pred.table
    if "domain" not in table.columns or "train" not in pred.sizes or "dev" not in pred.sizes:
        return None
    import ibis

    t = table.mutate(_split=table.split.cast("string"), _domain=table.domain.cast("string"))
    rows = (
        t.filter(t._split.isin(["train", "dev"]))
        .group_by(["_split", "_domain"])
        .aggregate(n=ibis._.count())
        .to_pyarrow()
        .to_pylist()
    )
    share: dict[str, dict[str | None, float]] = {"train": {}, "dev": {}}
    for r in rows:
        share[r["_split"]][r["_domain"]] = r["n"]
    for s in share.values():
        total = sum(s.values())
        for k in s:
            s[k] /= total
    return share


def _domains_differ(pred: Any) -> bool | None:
    """Compare train and dev domain shares (total-variation distance > DOMAIN_SHIFT)."""
    share = _domain_shares(pred)
    if share is None:
        return None
    keys = set(share["train"]) | set(share["dev"])
    tvd = 0.5 * sum(abs(share["train"].get(k, 0.0) - share["dev"].get(k, 0.0)) for k in keys)
    return tvd > DOMAIN_SHIFT


def _dev_domain(pred: Any) -> str | None:
    """The most common domain of dev (the target domain a new split should draw dev from)."""
    share = _domain_shares(pred) if pred is not None else None
    if not share or not share["dev"]:
        return None
    top = max(share["dev"].items(), key=lambda kv: kv[1])[0]
    return None if top is None else str(top)


def _open_predictions(predictions: Any, spec: MetricSpec, con: Any) -> Any:
    from mlstrat.metrics._spec import metric_columns
    from mlstrat.tables import Predictions, read_predictions, read_table

    if isinstance(predictions, Predictions):
        pred = predictions
        if spec.kind == "weighted_error" and "weight" in pred.table.columns:
            pred = read_predictions(pred.table, con=con, weight="weight", counts=True, counts_weight="weight")
        return pred
    columns = metric_columns(spec)  # a wide file is read for these only
    has_weight = "weight" in read_table(predictions, con=con, columns=columns,
                                        text_columns=("id",)).columns
    # one pass: the checks, and for a rate the confusion counts it is computed from (with the
    # weight sums when a weight column exists: weighted error is among the figures); the
    # weights are validated (no nulls, none negative) only when the metric uses them
    return read_predictions(predictions, con=con, labels=spec.kind not in ("mean", "ratio"),
                            weight="weight" if spec.kind == "weighted_error" and has_weight else None,
                            counts=spec.is_rate, counts_weight="weight" if has_weight else None,
                            columns=columns)


def _default_tolerance(spec: MetricSpec, estimates: Mapping[str, ErrorEstimate]) -> float:
    if spec.is_rate or not estimates:
        return 0.01
    ref = estimates.get("dev") or list(estimates.values())[-1]
    return 0.01 * abs(ref.value)


def _as_loss(e: ErrorEstimate) -> ErrorEstimate:
    """A higher-is-better figure as a loss (negated, interval flipped), so gaps keep their sign."""
    if isinstance(e, HumanReference):
        return HumanReference(-e.value, None if e.ci_high is None else -e.ci_high,
                              None if e.ci_low is None else -e.ci_low, e.n, name=e.name)
    return ErrorEstimate(-e.value, None if e.ci_high is None else -e.ci_high,
                         None if e.ci_low is None else -e.ci_low, e.n)
