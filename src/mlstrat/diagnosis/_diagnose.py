"""``diagnose``: errors per split + human level -> components, problems, verdict, recipe."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from mlstrat._exceptions import ConfigError
from mlstrat.diagnosis._decompose import decompose, dev_test_differ, rank_problems
from mlstrat.diagnosis._devtest import DevTestCheck, dev_test_check
from mlstrat.diagnosis._estimates import (
    _as_loss,
    _default_tolerance,
    _dev_domain,
    _domains_differ,
    _estimates_from_figures,
    _estimates_from_predictions,
    _estimates_from_values,
    _open_predictions,
)
from mlstrat.diagnosis._human import choose_bayes_proxy, human_from_labels, parse_human
from mlstrat.diagnosis._parse import _parser
from mlstrat.diagnosis._recipe import (
    MEASURE_HUMAN_LEVEL,
    actions_for,
    carve_train_dev,
    parse_model_family,
    rebuild_dev_test,
)
from mlstrat.diagnosis._results import (
    Diagnosis,
    DiagnosisWarning,
    ErrorEstimate,
    HumanLevel,
    HumanReference,
)
from mlstrat.diagnosis._sentences import _verdict, _warnings
from mlstrat.metrics._spec import MetricSpec, parse_metric

__all__ = ["diagnose"]


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
    dev_test_auc: Any = None,
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
    dev_test_auc : Auc, default=None
        A domain-classifier AUC of test rows against dev rows (``value``, ``ci_low``,
        ``ci_high``; e.g. :func:`mlstrat.mismatch.domain_auc` on their features), computed by
        the caller. With the label distributions of dev and test (compared whenever the test
        split is), it decides whether dev and test differ: then the test - dev gap is not dev
        overfitting (``dev_overfitting`` undetermined, action ``rebuild_dev_test``). The
        result is in ``dev_test_check``.

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
    return _diagnose(predictions, errors=errors, sizes=sizes, human=human, bayes=bayes,
                     human_labels=human_labels, spec=spec, tolerance=tolerance,
                     mismatched=mismatched, family=family, test=test, store=store, con=con,
                     dev_test_auc=dev_test_auc)


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
    measured_as: MetricSpec | None = None,
    dev_test_auc: Any = None,
) -> Diagnosis:
    """``measured_as``: how the figures are computed from the table when that differs from
    ``spec``, the figure reported and decided on (a task-averaged error rate is measured as
    ``ratio:wrong/labeled`` over examples, and read, parsed and decided as an error rate)."""
    _check_sources(predictions, errors, sizes)
    if isinstance(human, (str, float, int)):
        human = [human]
    refs = parse_human(human, parse=_parser(spec))
    notes: list[DiagnosisWarning] = []
    pred, estimates, mismatched = _measure(predictions, errors, sizes, measured_as or spec,
                                           mismatched, test, con)
    test_notes = _test_notes(predictions, pred, estimates, store=store, con=con)
    tolerance = (_default_tolerance(spec, estimates) if tolerance is None
                 else _parser(spec)(tolerance, name="--tolerance"))
    if human_labels is not None:
        refs.extend(_measured_human(human_labels, pred, spec, notes, con))
    check = (dev_test_check(pred, labels=spec.is_rate and measured_as is None, auc=dev_test_auc)
             if "test" in estimates
             else DevTestCheck(None, None, None, None))
    return _decide(spec, estimates, refs, bayes=bayes, tolerance=tolerance, mismatched=mismatched,
                   family=family, notes=notes, test_notes=test_notes, target=_dev_domain(pred),
                   check=check)


def _check_sources(predictions: Any, errors: Any, sizes: Any) -> None:
    """A predictions table or bare errors, exactly one; sizes only with bare errors."""
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


def _measure(
    predictions: Any,
    errors: str | Mapping[str, Any] | None,
    sizes: str | Mapping[str, Any] | None,
    spec: MetricSpec,
    mismatched: bool | None,
    test: bool,
    con: Any,
) -> tuple[Any, dict[str, ErrorEstimate], bool | None]:
    """(the opened predictions or None, the error per split, whether the domains differ)."""
    if predictions is None:
        return None, _estimates_from_figures(errors, sizes, spec), mismatched  # type: ignore[arg-type]
    pred = _open_predictions(predictions, spec, con)
    estimates = (_estimates_from_predictions(pred, spec.kind, test) if spec.is_rate
                 else _estimates_from_values(pred, spec, test))
    if mismatched is None:
        mismatched = _domains_differ(pred)
    return pred, estimates, mismatched


def _measured_human(
    human_labels: Any, pred: Any, spec: MetricSpec, notes: list[DiagnosisWarning], con: Any
) -> list[HumanReference]:
    """Human references measured from ``id, label[, annotator]`` rows against ``y_true``."""
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
    if unmatched:
        notes.append(
            DiagnosisWarning(
                "human_labels_unmatched",
                f"{unmatched} human label row(s) have an id absent from the predictions and "
                "were ignored.",
            )
        )
    return measured


def _decide(
    spec: MetricSpec,
    estimates: dict[str, ErrorEstimate],
    refs: list[HumanReference],
    *,
    bayes: str | None,
    tolerance: float,
    mismatched: bool | None,
    family: str,
    notes: list[DiagnosisWarning],
    test_notes: list[DiagnosisWarning],
    target: str | None = None,
    check: DevTestCheck | None = None,
) -> Diagnosis:
    """Components against the Bayes proxy, the problems ranked, the verdict and the actions.

    A higher-is-better figure is decomposed as a loss (negated) and reported back as given."""
    reported_refs = list(refs)
    if spec.higher_is_better:
        estimates = {k: _as_loss(v) for k, v in estimates.items()}
        refs = [_as_loss(r) for r in refs]  # type: ignore[misc]
    proxy = _bayes_proxy(refs, bayes, spec, notes)
    components = decompose(estimates, proxy, tolerance=tolerance, mismatched=mismatched)
    if check is not None and check.differ and components["dev_overfitting"].value is not None:
        components["dev_overfitting"] = dev_test_differ(components["dev_overfitting"],
                                                        check.reason or "")
    problems, principal = rank_problems(components)
    notes.extend(_warnings(spec, estimates, proxy, components, mismatched, tolerance))
    notes.extend(test_notes)
    if spec.higher_is_better:
        estimates = {k: _as_loss(v) for k, v in estimates.items()}
        proxy = _as_loss(proxy) if proxy is not None else None  # type: ignore[assignment]
    actions = _actions(components, problems, family=family, target=target)
    return Diagnosis(
        metric=spec,
        errors=estimates,
        human_level=HumanLevel(tuple(reported_refs), proxy),
        components=components,
        problems=problems,
        principal_problem=principal,
        verdict=_verdict(
            spec,
            components,
            problems,
            estimates,
            tolerance,
        ),
        actions=actions,
        model_family=family,
        warnings=tuple(notes),
        tolerance=tolerance,
        dev_test_check=check,
    )


def _actions(components: Mapping[str, Any], problems: Sequence[str], *, family: str,
             target: str | None) -> tuple[Any, ...]:
    """The recipe for the problems; an undetermined variance (mismatched domains without a
    train-dev split) puts "carve a train-dev split" first, since that settles what the gap is."""
    actions = actions_for(problems, model_family=family)
    if components["avoidable_bias"].status == "undetermined" and not problems:
        actions = (MEASURE_HUMAN_LEVEL,)
    leads = []
    if components["variance"].status == "undetermined":
        leads.append(carve_train_dev(target))
    if components["dev_overfitting"].status == "undetermined":
        leads.append(rebuild_dev_test(target))
    if leads:
        kept = actions if problems else tuple(a for a in actions if a.id == MEASURE_HUMAN_LEVEL.id)
        actions = (*leads, *kept)
    return actions


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
    from mlstrat.sealing._looks import look_notes

    notes = look_notes(
        predictions if isinstance(predictions, (str, os.PathLike)) else pred.table,
        used="test" in estimates,
        sealed_rows=pred.sizes.get("test") or 0,
        store=store,
        con=con,
    )
    return [DiagnosisWarning(**w) for w in notes]
