"""``diagnose``: errors per split + human level -> components, problems, verdict, recipe."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from mlstrat._constants import SPLIT_DISPLAY, SPLITS
from mlstrat._exceptions import ConfigError, InputError
from mlstrat._numbers import did_you_mean, parse_assignments, parse_rate
from mlstrat.display._numbers import format_rate
from mlstrat.diagnosis._decompose import at_least, decompose, rank_problems
from mlstrat.diagnosis._human import choose_bayes_proxy, human_from_labels, parse_human
from mlstrat.diagnosis._model import (
    COMPONENTS,
    Component,
    Diagnosis,
    DiagnosisWarning,
    ErrorEstimate,
    HumanLevel,
    HumanReference,
)
from mlstrat.diagnosis._recipe import MEASURE_HUMAN_LEVEL, actions_for, parse_model_family
from mlstrat.metrics._intervals import Z95, needed_size_sd, settling_size, wilson_interval
from mlstrat.metrics._spec import CLASSIFICATION, REGRESSION, MetricSpec, parse_metric

__all__ = ["METRICS", "PROBLEM_LABELS", "diagnose", "parse_errors", "parse_sizes", "parse_problems"]

#: Named metrics the diagnosis can decompose (``f1`` is decomposed as ``1 - F1``); besides
#: these, ``mean:COL`` and ``ratio:NUM/DEN`` (see :func:`mlstrat.metrics.parse_metric`).
METRICS: tuple[str, ...] = CLASSIFICATION + REGRESSION

# The metric being diagnosed, so that every sentence writes figures in its unit: percentage
# points for rates, plain numbers in the metric's unit for RMSE, WER, log loss, ...
_METRIC: ContextVar[MetricSpec] = ContextVar("diagnosed_metric", default=MetricSpec("error", "error"))

#: How each component is named in sentences.
PROBLEM_LABELS: dict[str, str] = {
    "avoidable_bias": "avoidable bias",
    "variance": "variance",
    "data_mismatch": "data mismatch",
    "dev_overfitting": "dev overfitting",
}

#: Total-variation distance between train and dev domain shares above which they are "mismatched".
DOMAIN_SHIFT = 0.05

_ALIASES = {"train-dev": "train_dev", "traindev": "train_dev"}


def _split_keys(mapping: Mapping[str, Any], option: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = _ALIASES.get(str(key).strip(), str(key).strip())
        if name not in SPLITS:
            raise ConfigError(
                f"{option}: unknown split {key!r}{did_you_mean(name, SPLITS)}; "
                f"allowed: {', '.join(SPLITS)}"
            )
        out[name] = value
    return out


def _as_mapping(value: str | Mapping[str, Any], option: str) -> dict[str, Any]:
    if isinstance(value, str):
        normalized = ",".join(
            _ALIASES.get(k.strip(), k.strip()) + sep + v
            for k, sep, v in (p.partition("=") for p in value.split(","))
        )
        return parse_assignments(normalized, name=option, allowed=SPLITS)
    return _split_keys(value, option)


def parse_value(text: str | float, *, name: str = "value") -> float:
    """A figure in a metric's unit: ``"3.2"`` -> 3.2, ``"5%"`` -> 0.05 (a word error rate)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        raw = str(text).strip()
        percent = raw.endswith("%")
        try:
            value = float(raw[:-1] if percent else raw)
        except ValueError:
            raise ConfigError(f"{name}: {text!r} is not a number (examples: 3.2, 5%)") from None
        value = value / 100.0 if percent else value
    if not math.isfinite(value):
        raise ConfigError(f"{name}: {text!r} is not a finite number")
    return value


def _parser(spec: MetricSpec) -> Callable[..., float]:
    return parse_rate if spec.is_rate else parse_value


def parse_errors(errors: str | Mapping[str, Any], *, metric: str | MetricSpec = "error"
                 ) -> dict[str, float]:
    """``"train=1%,dev=10%"`` or ``{"train": 0.01, "dev": "10%"}`` -> figures in SPLITS order.

    Rates for classification metrics; plain numbers in the metric's unit for the others.
    """
    parse = _parser(parse_metric(metric))
    raw = _as_mapping(errors, "--errors")
    return {s: parse(raw[s], name=f"--errors {s}") for s in SPLITS if s in raw}


def parse_sizes(sizes: str | Mapping[str, Any]) -> dict[str, int]:
    """``"train=50000,dev=2000"`` -> counts; a split with 0 rows is an error."""
    raw = _as_mapping(sizes, "--sizes")
    out: dict[str, int] = {}
    for split in SPLITS:
        if split not in raw:
            continue
        text = str(raw[split]).strip().replace("_", "")
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(
                f"--sizes {split}: {raw[split]!r} is not a count (example: dev=2000)"
            ) from None
        if not math.isfinite(value) or value != int(value) or value < 0:
            raise ConfigError(
                f"--sizes {split}: {raw[split]!r} is not a whole count (example: dev=2000)"
            )
        if value == 0:
            raise InputError(
                f"--sizes {split}: the split has 0 rows; an error rate needs at least one example"
            )
        out[split] = int(value)
    return out


def parse_problems(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"variance,data_mismatch"`` -> validated component names (for ``--fail-on``)."""
    items = [p.strip() for p in (text.split(",") if isinstance(text, str) else text)]
    items = [p for p in items if p]
    if not items:
        raise ConfigError(f"--fail-on: nothing given; choose from {', '.join(COMPONENTS)}")
    for item in items:
        if item not in COMPONENTS:
            raise ConfigError(
                f"--fail-on: unknown problem {item!r}{did_you_mean(item, COMPONENTS)}; "
                f"choose from {', '.join(COMPONENTS)}"
            )
    return tuple(dict.fromkeys(items))


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
    """Regression and per-example metrics: one engine aggregation of sums (metrics._values).

    The sealed test split is left out unless ``test``.
    """
    from mlstrat.metrics._values import compute_metric

    return {split: ErrorEstimate(e.value, e.ci_low, e.ci_high, e.n)
            for split, e in compute_metric(pred, spec).items() if test or split != "test"}


def _estimates_from_predictions(pred: Any, metric: str, test: bool) -> dict[str, ErrorEstimate]:
    from mlstrat.metrics._metrics import compute_metrics

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


def _domains_differ(pred: Any) -> bool | None:
    """Compare train and dev domain shares (total-variation distance > DOMAIN_SHIFT)."""
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
    keys = set(share["train"]) | set(share["dev"])
    tvd = 0.5 * sum(abs(share["train"].get(k, 0.0) - share["dev"].get(k, 0.0)) for k in keys)
    return tvd > DOMAIN_SHIFT


def diagnose(
    predictions: Any = None,
    *,
    errors: str | Mapping[str, Any] | None = None,
    sizes: str | Mapping[str, Any] | None = None,
    human: Sequence[Any] | str | float = (),
    bayes: str | None = None,
    human_labels: Any = None,
    metric: str | MetricSpec = "error",
    higher_is_better: bool | None = None,
    tolerance: float | str | None = None,
    mismatched: bool | None = None,
    model_family: str | None = None,
    test: bool = False,
    store: Any = None,
    con: Any = None,
) -> Diagnosis:
    """Decompose the error into avoidable bias, variance, data mismatch and dev overfitting.

    Parameters
    ----------
    predictions : path-like or table, default=None
        A predictions table (``split``, ``y_true``, ``y_pred``, ...); errors and their 95%
        intervals are computed per split. Give this or ``errors``.
    errors : str or dict, default=None
        Bare figures: ``"train=1%,train_dev=1.5%,dev=10%"`` or ``{"train": 0.01, ...}``.
    sizes : str or dict, default=None
        Examples per split for ``errors`` (``"train=50000,dev=2000"``): gives Wilson intervals.
    human : sequence of str or float, default=()
        Human-level errors: ``"expert team=0.5%"``, ``"3%"``, ``0.005``; in the metric's unit
        for regression and per-example metrics (``"appraiser=12.5"`` for an RMSE in k$).
    bayes : str, default=None
        Name of the human reference to use as the Bayes proxy; the lowest by default.
    human_labels : path-like or table, default=None
        ``id, label[, annotator]`` rows: human error measured against the predictions'
        ``y_true`` (per annotator and by majority vote), with intervals.
    metric : str or MetricSpec, default="error"
        What is decomposed: ``error``, ``weighted_error``, ``f1`` (as 1 - F1, macro), ``mae``,
        ``rmse`` (numeric ``y_true``/``y_pred``), ``mean:COL`` (mean of a per-example loss
        column) or ``ratio:NUM/DEN`` (``sum(NUM) / sum(DEN)``, e.g. a word error rate).
    higher_is_better : bool, default=None
        True for a ``mean:COL`` score such as IoU: components are then shortfalls
        (``human - train``, ...), positive when they hurt. Lower is better otherwise.
    tolerance : float or str, default=None
        Practical tolerance: a component smaller than this is not a problem. For rates 1 point
        (0.01); in the metric's unit otherwise, 1% of the dev figure (of the last split's
        figure without dev).
    mismatched : bool, default=None
        Whether train and dev come from different distributions; detected from a ``domain``
        column when None.
    model_family : {"neural_network", "gradient_boosting", "linear", "other"}, default=None
        Words the actions for the model ("more or deeper trees" for boosting, "richer
        features, less regularization" for a linear model); a neural network by default. The
        action ids are the same for every family.
    test : bool, default=False
        The test split of ``predictions`` is sealed: its error (and dev overfitting) is
        computed only with ``test=True``, and each such call counts one look at the test set
        in the run store (warnings ``test_split_used`` with the count, ``test_set_reused``
        past the threshold). A ``test`` figure given in ``errors`` is always used.
    store : RunStore, path-like, None or False, default=None
        Where looks at the test set are counted (``$MLSTRAT_STORE`` or ``.mlstrat/runs.db``
        by default); ``False`` when the caller counts the same look itself.
    con : ibis DuckDB backend, default=None
        Engine connection for ``predictions``.

    Returns
    -------
    Diagnosis
        ``to_dict()`` gives the JSON of ``mlstrat diagnose --json``.

    Examples
    --------
    >>> import mlstrat
    >>> d = mlstrat.diagnose(errors="train=8%,dev=10%", human=["1%"])
    >>> d.principal_problem, [a.id for a in d.actions][:2]
    ('avoidable_bias', ['bigger_network', 'train_longer'])
    """
    spec = parse_metric(metric, higher_is_better=higher_is_better)
    family = parse_model_family(model_family)
    token = _METRIC.set(spec)
    try:
        return _diagnose(predictions, errors=errors, sizes=sizes, human=human, bayes=bayes,
                         human_labels=human_labels, spec=spec, tolerance=tolerance,
                         mismatched=mismatched, family=family, test=test, store=store, con=con)
    finally:
        _METRIC.reset(token)


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


def _diagnose(
    predictions: Any,
    *,
    errors: str | Mapping[str, Any] | None,
    sizes: str | Mapping[str, Any] | None,
    human: Sequence[Any] | str | float,
    bayes: str | None,
    human_labels: Any,
    spec: MetricSpec,
    tolerance: float | str | None,
    mismatched: bool | None,
    family: str,
    test: bool,
    store: Any,
    con: Any,
) -> Diagnosis:
    if predictions is None and errors is None:
        raise ConfigError(
            "nothing to diagnose: give a predictions table (mlstrat diagnose predictions.parquet) "
            "or the errors (mlstrat diagnose --errors train=1%,dev=10%)"
        )
    if predictions is not None and errors is not None:
        raise ConfigError(
            "give either a predictions table or --errors (e.g. --errors train=1%,dev=10%), not both"
        )
    if sizes is not None and errors is None:
        raise ConfigError(
            "--sizes goes with --errors; with a predictions table the sizes are counted"
        )
    if isinstance(human, (str, float, int)):
        human = [human]
    refs = parse_human(human, parse=_parser(spec))
    notes: list[DiagnosisWarning] = []

    pred = None
    if predictions is not None:
        pred = _open_predictions(predictions, spec, con)
        estimates = (_estimates_from_predictions(pred, spec.kind, test) if spec.is_rate
                     else _estimates_from_values(pred, spec, test))
        if mismatched is None:
            mismatched = _domains_differ(pred)
    else:
        estimates = _estimates_from_figures(errors, sizes, spec)  # type: ignore[arg-type]
    test_notes = _test_notes(predictions, pred, estimates, store=store, con=con)
    tolerance = (_default_tolerance(spec, estimates) if tolerance is None
                 else _parser(spec)(tolerance, name="--tolerance"))
    if human_labels is not None:
        if not spec.is_rate:
            raise ConfigError(
                f"--human-labels measures a human error rate from class labels; for "
                f"--metric {spec.name} give the human level as a figure (--human \"expert=...\")"
            )
        if pred is None:
            raise ConfigError(
                "--human-labels needs a predictions table: its y_true is what human labels are "
                "scored against"
            )
        measured, unmatched = human_from_labels(human_labels, pred, con=con)
        refs.extend(measured)
        if unmatched:
            notes.append(
                DiagnosisWarning(
                    "human_labels_unmatched",
                    f"{unmatched} human label row(s) have an id absent from the predictions and "
                    "were ignored.",
                )
            )

    reported_refs = list(refs)
    if spec.higher_is_better:
        estimates = {k: _as_loss(v) for k, v in estimates.items()}
        refs = [_as_loss(r) for r in refs]  # type: ignore[misc]
    proxy = _bayes_proxy(refs, bayes, spec, notes)
    components = decompose(estimates, proxy, tolerance=tolerance)
    problems, principal = rank_problems(components)
    notes.extend(_warnings(estimates, proxy, components, mismatched, tolerance))
    notes.extend(test_notes)
    if spec.higher_is_better:
        estimates = {k: _as_loss(v) for k, v in estimates.items()}
        proxy = _as_loss(proxy) if proxy is not None else None  # type: ignore[assignment]
    actions = actions_for(problems, model_family=family)
    if components["avoidable_bias"].status == "undetermined" and not problems:
        actions = (MEASURE_HUMAN_LEVEL,)
    return Diagnosis(
        metric=spec,
        errors=estimates,
        human_level=HumanLevel(tuple(reported_refs), proxy),
        components=components,
        problems=problems,
        principal_problem=principal,
        verdict=_verdict(
            components,
            problems,
            estimates,
            tolerance,
            confounded=bool(mismatched) and "train_dev" not in estimates,
        ),
        actions=actions,
        model_family=family,
        warnings=tuple(notes),
        tolerance=tolerance,
    )


def _bayes_proxy(
    refs: Sequence[HumanReference], bayes: str | None, spec: MetricSpec,
    notes: list[DiagnosisWarning],
) -> HumanReference | None:
    """The Bayes proxy among ``refs``; ``None`` (and a warning) when no human level is given:
    avoidable bias is then undetermined, never assumed."""
    if refs:
        return choose_bayes_proxy(refs, bayes)
    if bayes is not None:
        raise ConfigError(
            f'--bayes {bayes!r}: no human reference given; add --human "{bayes}=0.5%"'
        )
    if spec.higher_is_better:
        raise ConfigError(
            f"--metric {spec.name} is higher-is-better and has no natural best value: give "
            'the human (or perfect) level, e.g. --human "annotators=0.92" or --human "perfect=1"'
        )
    example, zero = ("0.5%", "0%") if spec.is_rate else ("...", "0")
    notes.append(
        DiagnosisWarning(
            "no_human_level",
            f"No human-level error given: avoidable bias is undetermined (the training "
            f"{spec.label} alone cannot tell Bayes error from avoidable bias). Give --human "
            f'"expert={example}"{" (or --human-labels)" if spec.is_rate else ""}; --human {zero} '
            f"treats the whole training {spec.label} as avoidable bias.",
        )
    )
    return None


def _pts(value: float) -> str:
    """A gap in sentences: percentage points for rates, the metric's unit otherwise."""
    if _METRIC.get().is_rate:
        return f"{100 * value:.1f} pts"
    return f"{value:.4g}"


def _fig(value: float) -> str:
    """A figure in sentences: a percentage for rates, the number itself otherwise."""
    return format_rate(value) if _METRIC.get().is_rate else f"{value:.4g}"


def _warnings(
    estimates: Mapping[str, ErrorEstimate],
    proxy: HumanReference | None,
    components: Mapping[str, Component],
    mismatched: bool | None,
    tolerance: float,
) -> list[DiagnosisWarning]:
    out: list[DiagnosisWarning] = []
    train = estimates.get("train")
    if train is not None and proxy is not None and train.value < proxy.value:
        out.append(
            DiagnosisWarning(
                "surpassed_human_level",
                f"Train {_METRIC.get().label} {_fig(train.value)} is below the human level "
                f"{_fig(proxy.value)} ({proxy.name}): the human figure no longer bounds "
                "Bayes error, so the avoidable-bias estimate has lost its anchor. Give a stronger "
                "human reference (e.g. a team of experts) with --human.",
            )
        )
    if mismatched and "train_dev" not in estimates and {"train", "dev"} <= set(estimates):
        out.append(
            DiagnosisWarning(
                "mismatched_without_train_dev",
                "Train and dev come from different distributions and there is no train-dev "
                "split: the dev-train gap (reported as variance) cannot be told apart from data "
                "mismatch. Hold out a train-dev split (mlstrat split --train-dev auto) and "
                "diagnose again.",
            )
        )
    for name, c in components.items():
        if c.value is None or c.ci_low is None or c.significant or not at_least(c.value, tolerance):
            continue
        out.append(DiagnosisWarning("split_too_small", _too_small(name, c, estimates, proxy)))
    if any(e.ci_low is None for e in estimates.values()):
        out.append(
            DiagnosisWarning(
                "no_intervals",
                "Some errors have no sample size, so their components are judged by the "
                "tolerance alone, not by noise. Give --sizes (e.g. train=50000,dev=2000) or a "
                "predictions table.",
            )
        )
    return out


def _test_notes(
    predictions: Any,
    pred: Any,
    estimates: Mapping[str, ErrorEstimate],
    *,
    store: Any,
    con: Any,
) -> list[DiagnosisWarning]:
    """The test split: sealed (not computed), or used (a counted look when from a table)."""
    if pred is None:
        if "test" not in estimates:
            return []
        return [
            DiagnosisWarning(
                "test_split_used",
                "The test error is reported: look at it rarely and never tune on it, or it "
                "stops being an unbiased estimate. Decide with dev.",
            )
        ]
    if "test" not in estimates:
        if not pred.sizes.get("test"):
            return []
        from mlstrat.sealing._looks import sealed_warning

        return [DiagnosisWarning(**sealed_warning(pred.sizes["test"]))]
    from mlstrat.sealing._looks import count_test_look

    look = count_test_look(
        predictions if isinstance(predictions, (str, os.PathLike)) else pred.table,
        store=store,
        con=con,
    )
    return [DiagnosisWarning(**w) for w in look.warnings()] if look is not None else []


def _too_small(
    name: str, c: Component, estimates: Mapping[str, ErrorEstimate], proxy: HumanReference | None
) -> str:
    """Message for a practically large component whose interval still includes 0.

    For rates the size quoted is one at which the same intervals would exclude 0 if the
    rates held (:func:`mlstrat.metrics._intervals.settling_size`), not a normal-approximation
    guess.
    """
    later = estimates[c.to]
    earlier = proxy if c.from_ == "human_level" else estimates[c.from_]
    if earlier is None:  # unreachable: a computed component has both ends
        raise ValueError(f"{name}: no earlier figure")
    gap = c.value or 0.0
    sampled = earlier.ci_low is not None
    if not _METRIC.get().is_rate:
        n = _needed_size_values(earlier, later, gap)
    else:
        n = settling_size(later.value, earlier.value, earlier_sampled=sampled) or 0
    if not sampled:  # an exact human figure: only the later split is sampled
        where, each = f"the {_place(c.to)} split is", ""
    else:
        where, each = f"the {_place(c.from_)} and {_place(c.to)} samples are", " each"
    return (
        f"{PROBLEM_LABELS[name].capitalize()} of {_pts(gap)} is within noise (95% CI "
        f"{_pts(c.ci_low or 0.0)} to {_pts(c.ci_high or 0.0)}): {where} too small to decide; "
        f"about {n:,} examples{each} would."
    )


def _per_example_sd(e: ErrorEstimate) -> float:
    """The per-example standard deviation behind an interval: half-width * sqrt(n) / z."""
    if e.ci_low is None or e.ci_high is None or not e.n:
        return 0.0
    return (e.ci_high - e.ci_low) / (2 * Z95) * math.sqrt(e.n)


def _needed_size_values(earlier: ErrorEstimate, later: ErrorEstimate, gap: float) -> int:
    sd_later = _per_example_sd(later)
    if earlier.ci_low is None:  # an exact human figure: only the later split is sampled
        return needed_size_sd(sd_later, 0.0, gap)
    return needed_size_sd(_per_example_sd(earlier), sd_later, gap)


def _verdict(
    components: Mapping[str, Component],
    problems: Sequence[str],
    estimates: Mapping[str, ErrorEstimate],
    tolerance: float,
    *,
    confounded: bool,
) -> str:
    if all(c.value is None for c in components.values()) and "train" not in estimates:
        return (
            "Nothing to compare: give at least the train error and a human level, "
            "or train and dev errors."
        )
    bias = components["avoidable_bias"]
    if bias.status == "undetermined":
        settle = (
            f"Avoidable bias is undetermined: the training {_METRIC.get().label} "
            f"({_fig(estimates['train'].value)}) cannot be split into Bayes error and "
            "avoidable bias without a human level; give it (--human \"expert="
            f"{'0.5%' if _METRIC.get().is_rate else '...'}\""
            f"{', or --human-labels' if _METRIC.get().is_rate else ''}) to settle whether bias "
            "is a problem."
        )
        if all(c.value is None for c in components.values()):
            return settle
        return _problems_sentence(components, problems, tolerance, confounded=confounded,
                                  human=False) + " " + settle
    return _problems_sentence(components, problems, tolerance, confounded=confounded, human=True)


def _and(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


_ALL = {2: "both", 3: "all three", 4: "all four"}


def _problems_sentence(
    components: Mapping[str, Component],
    problems: Sequence[str],
    tolerance: float,
    *,
    confounded: bool,
    human: bool,
) -> str:
    if not problems:
        undecided = [
            PROBLEM_LABELS[c.name]
            for c in components.values()
            if c.value is not None and c.ci_low is not None and at_least(c.value, tolerance)
        ]
        if undecided:
            verbs = ("exceeds", "is") if len(undecided) == 1 else ("exceed", "are")
            return (
                f"No problem can be established: {_and(undecided)} {verbs[0]} the "
                f"{_pts(tolerance)} tolerance but {verbs[1]} within the noise of these split "
                "sizes; collect bigger splits to decide."
            )
        if not human:
            return f"No other component is above noise and the {_pts(tolerance)} tolerance."
        return (
            f"No component is above noise and the {_pts(tolerance)} tolerance: the model is as "
            "good as this data and the human reference can tell; look at the remaining mistakes."
        )
    principal = components[problems[0]]
    label = PROBLEM_LABELS[principal.name]
    what = (
        f"{label.capitalize()} is the principal problem ({_pts(principal.value or 0.0)}, "
        f"{_place(principal.from_)} to {_place(principal.to)})"
    )
    if len(problems) > 1:
        others = _and(
            [f"{PROBLEM_LABELS[p]} ({_pts(components[p].value or 0.0)})" for p in problems[1:]]
        )
        verb = "is" if len(problems) == 2 else "are"
        what += f", and {others} {verb} comparable: work on {_ALL[len(problems)]}"
    secondary = [c for c in components.values() if c.significant and c.name not in problems]
    if secondary:
        what += "; " + _and([f"{PROBLEM_LABELS[c.name]} ({_pts(c.value or 0.0)})" for c in secondary])
        what += " is real but secondary" if len(secondary) == 1 else " are real but secondary"
    if confounded and "variance" in problems:
        what += "; without a train-dev split part of the variance may be data mismatch"
    return what + "."


def _place(name: str) -> str:
    return "human level" if name == "human_level" else SPLIT_DISPLAY.get(name, name)
