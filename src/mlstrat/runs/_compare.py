"""Side-by-side comparison of runs: errors, components, what changed and what it did."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlstrat._constants import COMPONENT_DISPLAY, COMPONENTS, SPLIT_DISPLAY, SPLITS
from mlstrat._exceptions import ConfigError
from mlstrat.display._documents import bayes_proxy
from mlstrat.display._numbers import format_figure, is_rate_metric
from mlstrat.display._repr import NotebookRepr
from mlstrat.metrics._paired import Difference, paired_difference, unpaired_difference
from mlstrat.runs._changes import Change, attributed, component_changes, error_changes, figure_pair, noise_note
from mlstrat.runs._rows import DevRows
from mlstrat.runs._run import Run

__all__ = ["Comparison", "Step", "ConfigChange", "compare_runs", "flatten_config", "DEFAULT_IGNORE",
           "error_change"]

#: Config keys that name where things go rather than how the model is built or trained;
#: they differ between runs without being a knob.
DEFAULT_IGNORE: frozenset[str] = frozenset({"output", "out_dir", "output_dir", "run_dir", "note"})

# changes smaller than this (a twentieth of a percentage point) are rounding, not a change
_EPS = 5e-4
# how many component changes the one-line summary names
_SUMMARY_TOP = 2


@dataclass(frozen=True)
class ConfigChange:
    """One config key whose value differs between two runs (``None`` side = key absent)."""

    key: str
    before: Any
    after: Any

    def describe(self, key: str | None = None) -> str:
        """``"keep_prob 0.5"`` (the new value), ``"l1 removed"`` when the key went away."""
        key = key or self.key
        if self.after is None:
            return f"{key} removed"
        return f"{key} {_value_text(self.after)}"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class Step:
    """What changed from one run to the next one in a comparison."""

    before: str
    after: str
    config_changes: tuple[ConfigChange, ...]
    config_known: bool
    errors: dict[str, tuple[float | None, float | None]]
    components: dict[str, tuple[float | None, float | None]]
    principal_problem: tuple[str | None, str | None]
    summary: str
    #: the change of the dev figure with its 95% interval and verdict (``None`` without dev)
    dev: Difference | None = None
    #: ``paired`` (same dev rows), ``different dev rows`` or ``per-row results not recorded``
    dev_pairing: str | None = None
    #: the dev figure's name in sentences (``error``, ``RMSE``) and whether it is a rate
    dev_label: str = "error"
    dev_is_rate: bool = True
    #: ``{"errors": {split: Change}, "components": {name: Change}}``: each change's interval
    changes: dict[str, dict[str, Change]] = field(default_factory=dict)

    @property
    def dev_line(self) -> str:
        """``"dev error 20.9% -> 14.8%: better (-6.1 pts, 95% interval [-9.0, -3.2] pts; paired)"``.

        The change is the difference of the two figures as shown (one precision for all).
        """
        from mlstrat.display._numbers import column_digits, format_change, format_interval

        if self.dev is None:
            return ""
        d, rate = self.dev, self.dev_is_rate
        digits = column_digits([d.before, d.after, d.ci_low, d.ci_high], rate=rate)
        before, after, change = format_change(d.before, d.after, rate=rate, digits=digits)
        if not rate:
            before, after = _num(d.before), _num(d.after)
            change = f"{d.value:+.3g}"
        how = "paired" if self.dev.paired else f"compared unpaired: {self.dev_pairing}"
        if d.p_value is not None:
            how += f", McNemar p = {d.p_value:.2g}"
        interval = format_interval(d.ci_low, d.ci_high, rate=rate, signed=True, digits=digits)
        return f"dev {self.dev_label} {before} -> {after}: {d.verdict} ({change}, 95% interval {interval}; {how})"

    @property
    def several_knobs(self) -> bool:
        """True when more than one config key changed (the effect cannot be attributed)."""
        return len(self.config_changes) > 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before, "after": self.after,
            "config_known": self.config_known,
            "config_changes": [c.to_dict() for c in self.config_changes],
            "several_knobs": self.several_knobs,
            **{kind: {k: {"before": a, "after": b, "change": _delta(a, b), **_interval_of(self.changes, kind, k)}
                      for k, (a, b) in values.items()}
               for kind, values in (("errors", self.errors), ("components", self.components))},
            "principal_problem": {"before": self.principal_problem[0], "after": self.principal_problem[1]},
            "summary": self.summary,
            "dev": None if self.dev is None else {**self.dev.to_dict(), "pairing": self.dev_pairing,
                                                   "line": self.dev_line},
        }


@dataclass(frozen=True)
class Comparison(NotebookRepr):
    """Runs side by side (see :meth:`mlstrat.RunStore.compare`).

    Attributes
    ----------
    runs : tuple of Run
        In the order given.
    errors : dict of str to list
        Split -> the error of each run (``None`` where a run lacks the split).
    components : dict of str to list
        Component -> its value in each run.
    config : dict of str to list
        Every (dotted) config key that differs between any two runs -> its value in each run.
    steps : tuple of Step
        One per consecutive pair: config changes, error and component changes, a summary line.
    warnings : tuple of dict
        ``{"code", "message"}``: several knobs changed at once, different data or test set,
        config not recorded, a different metric or human-level anchor.
    """

    runs: tuple[Run, ...]
    errors: dict[str, list[float | None]]
    components: dict[str, list[float | None]]
    config: dict[str, list[Any]]
    steps: tuple[Step, ...]
    warnings: tuple[dict[str, str], ...] = field(default_factory=tuple)
    #: first run -> last run: ``{"errors": {split: Change}, "components": {name: Change}}``
    changes: dict[str, dict[str, Change]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": [{"id": r.id, "created_at": r.created_at, "kind": r.kind, "note": r.note,
                      "principal_problem": (r.diagnosis or {}).get("principal_problem")} for r in self.runs],
            "errors": self.errors,
            "components": self.components,
            "config": self.config,
            "steps": [s.to_dict() for s in self.steps],
            "warnings": list(self.warnings),
            "changes": {kind: {k: {"before": c.before, "after": c.after, "change": _delta(c.before, c.after),
                                   **c.to_dict()} for k, c in per.items()} for kind, per in self.changes.items()},
        }


def _interval_of(changes: dict[str, dict[str, Change]], kind: str, key: str) -> dict[str, Any]:
    change = changes.get(kind, {}).get(key)
    return {} if change is None else change.to_dict()


def flatten_config(config: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """Nested sections become dotted keys: ``{"regularization": {"l2": 0.1}} -> {"regularization.l2": 0.1}``."""
    out: dict[str, Any] = {}
    for key, value in (config or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_config(value, prefix=f"{name}."))
        else:
            out[name] = value
    return out


def _short_keys(keys: Iterable[str]) -> dict[str, str]:
    """Dotted key -> its last part when no other key ends the same way (``optim.lr -> lr``)."""
    keys = set(keys)
    leaves: dict[str, int] = {}
    for key in keys:
        leaf = key.rsplit(".", 1)[-1]
        leaves[leaf] = leaves.get(leaf, 0) + 1
    return {k: (k.rsplit(".", 1)[-1] if leaves[k.rsplit(".", 1)[-1]] == 1 else k) for k in keys}


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(", ", ": "))


def _num(value: float) -> str:
    return f"{value:.4g}"


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def _metric_of(run: Run) -> str | None:
    """The diagnosed metric's name (the JSON holds an object; runs recorded earlier a bare name)."""
    from mlstrat.metrics._spec import metric_name

    metric = (run.diagnosis or {}).get("metric")
    return None if metric is None else metric_name(metric)


def _ignored(key: str, ignore: frozenset[str]) -> bool:
    return key in ignore or key.rsplit(".", 1)[-1] in ignore


def _config_changes(a: Run, b: Run, ignore: frozenset[str]) -> tuple[ConfigChange, ...]:
    fa, fb = flatten_config(a.config), flatten_config(b.config)
    keys = sorted(k for k in set(fa) | set(fb) if not _ignored(k, ignore))
    return tuple(ConfigChange(k, fa.get(k), fb.get(k)) for k in keys if fa.get(k) != fb.get(k))


def _summary(a: Run, b: Run, components: dict[str, tuple[float | None, float | None]],
             errors: dict[str, tuple[float | None, float | None]],
             changes: tuple[ConfigChange, ...], config_known: bool) -> str:
    moved = [(name, x, y) for name, (x, y) in components.items()
             if x is not None and y is not None and abs(y - x) >= _EPS]
    if moved:
        moved.sort(key=lambda t: -abs(t[2] - t[1]))
        # the headline names the big movers, not the noise riding along with them
        largest = abs(moved[0][2] - moved[0][1])
        moved = [m for m in moved if abs(m[2] - m[1]) >= largest / 4]
        # a component is a gap: signed, in pts (the metric's unit when it is not a rate)
        parts = [f"{COMPONENT_DISPLAY[n]} " + " -> ".join(figure_pair(x, y, b.diagnosis, signed=True))
                 + noise_note(a, b, n) for n, x, y in moved[:_SUMMARY_TOP]]
    else:
        moved_err = [(s, x, y) for s, (x, y) in errors.items()
                     if x is not None and y is not None and abs(y - x) >= _EPS]
        moved_err.sort(key=lambda t: -abs(t[2] - t[1]))
        parts = [f"{SPLIT_DISPLAY[s]} error " + " -> ".join(figure_pair(x, y, b.diagnosis))
                 for s, x, y in moved_err[:_SUMMARY_TOP]]
    what = ", ".join(parts) if parts else "no measurable change"
    if not config_known:
        return f"{what} (config not recorded for {a.short_id if a.config is None else b.short_id})"
    if not changes:
        return f"{what} with the same config"
    if len(changes) <= 3:
        names = _short_keys([*flatten_config(a.config), *flatten_config(b.config)])
        knobs = ", ".join(c.describe(names.get(c.key)) for c in changes)
    else:
        knobs = f"{len(changes)} config changes ({', '.join(c.key for c in changes[:3])}, ...)"
    return f"{what} after {knobs}"


def compare_runs(runs: Sequence[Run], *, ignore: Iterable[str] = DEFAULT_IGNORE,
                 rows: Callable[[Run], DevRows | None] | None = None, strict: bool = True) -> Comparison:
    """Compare recorded runs in the order given (oldest first reads as a history).

    Each step's dev change comes with its 95% interval and a verdict ("better", "worse",
    "tied within noise"): paired when both runs kept their per-row dev results on the same
    rows (same dev fingerprint), else from the runs' own intervals as independent samples.

    Parameters
    ----------
    runs : sequence of Run
        At least two distinct runs.
    ignore : iterable of str, default=DEFAULT_IGNORE
        Config keys (dotted, or a last component) that are not knobs, e.g. output paths.
    rows : callable, default=None
        ``rows(run)`` -> the run's per-row dev results (:class:`~mlstrat.runs._rows.DevRows`)
        or None; without it every step is compared unpaired.
    strict : bool, default=True
        Refuse runs of different metrics or label sets (different tasks are not ranked
        together); ``False`` only warns (a history that shows every run of a store).

    Raises
    ------
    ConfigError
        With fewer than two runs, a run given twice, or (``strict``) runs of different tasks.
    """
    runs = tuple(runs)
    _check_distinct(runs)
    ignore = frozenset(ignore)
    dev_rows = [rows(r) if rows is not None else None for r in runs]
    if strict:
        _check_one_task(runs, dev_rows)

    errors, components = _error_and_component_series(runs)
    config = _differing_config(runs, ignore)
    warnings: list[dict[str, str]] = []
    kept = {r.id: x for r, x in zip(runs, dev_rows)}  # read once, paired again per split
    steps = [_step(runs, i, errors=errors, components=components, dev_rows=dev_rows,
                   ignore=ignore, warnings=warnings, kept=kept)
             for i in range(len(runs) - 1)]
    _warn_about_data(warnings, runs)
    return Comparison(runs, errors, components, config, tuple(steps), tuple(warnings),
                      _changes(runs[0], runs[-1], kept))


def _changes(a: Run, b: Run, kept: dict[str, DevRows | None]) -> dict[str, dict[str, Change]]:
    return {"errors": error_changes(a, b, error_change, rows=lambda r: kept.get(r.id)), "components": component_changes(a, b)}


def _check_distinct(runs: tuple[Run, ...]) -> None:
    """Refuse fewer than two runs, or a run given twice."""
    if len(runs) < 2:
        raise ConfigError(f"compare needs at least two runs (got {len(runs)}); "
                          "give two or more run ids (`mlstrat runs list` shows them)")
    seen: set[str] = set()
    for run in runs:
        if run.id in seen:
            raise ConfigError(f"run {run.short_id} is given twice; give each run once")
        seen.add(run.id)


def _error_and_component_series(
        runs: tuple[Run, ...]) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Per split and per component, its value in each run (None where a run lacks it)."""
    per_run_errors = [r.errors() for r in runs]
    per_run_comps = [r.components() for r in runs]
    errors = {s: [e.get(s, {}).get("value") for e in per_run_errors]
              for s in SPLITS if any(s in e for e in per_run_errors)}
    components = {c: [p.get(c, {}).get("value") for p in per_run_comps]
                  for c in COMPONENTS if any(p.get(c, {}).get("value") is not None for p in per_run_comps)}
    return errors, components


def _differing_config(runs: tuple[Run, ...], ignore: frozenset[str]) -> dict[str, list[Any]]:
    """The config keys whose value is not the same in every run, with each run's value."""
    flat = [flatten_config(r.config) for r in runs]
    keys = sorted({k for f in flat for k in f if not _ignored(k, ignore)})
    return {k: [f.get(k) for f in flat] for k in keys
            if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1}


def _step(runs: tuple[Run, ...], i: int, *, errors: dict[str, list[Any]],
          components: dict[str, list[Any]], dev_rows: list[DevRows | None],
          ignore: frozenset[str], warnings: list[dict[str, str]],
          kept: dict[str, DevRows | None]) -> Step:
    """What changed from run ``i`` to run ``i + 1``; appends that step's warnings."""
    a, b = runs[i], runs[i + 1]
    config_known = a.config is not None and b.config is not None
    changes = _config_changes(a, b, ignore) if config_known else ()
    step_errors = {s: (v[i], v[i + 1]) for s, v in errors.items()}
    step_comps = {c: (v[i], v[i + 1]) for c, v in components.items()}
    principal = ((a.diagnosis or {}).get("principal_problem"), (b.diagnosis or {}).get("principal_problem"))
    dev, pairing = _dev_difference(a, b, dev_rows[i], dev_rows[i + 1])
    step = Step(a.id, b.id, changes, config_known, step_errors, step_comps, principal,
                _summary(a, b, attributed(a, b, step_comps), step_errors, changes, config_known), dev=dev,
                dev_pairing=pairing, dev_label=_dev_label(b),
                dev_is_rate=is_rate_metric(b.diagnosis), changes=_changes(a, b, kept))
    if pairing == _DIFFERENT_ROWS:
        warnings.append({"code": "unpaired", "message": (
            f"{a.short_id} -> {b.short_id} compared unpaired: different dev rows "
            f"({a.short_id}: {dev_rows[i].fingerprint}, {b.short_id}: {dev_rows[i + 1].fingerprint}); "
            "the interval treats the two dev figures as independent samples")})
    if len(changes) > 1:
        warnings.append({"code": "several_knobs", "message": (
            f"{a.short_id} -> {b.short_id} changed {len(changes)} config keys at once "
            f"({', '.join(c.key for c in changes)}): the change in errors cannot be attributed "
            "to any one of them; change one knob at a time (orthogonalization)")})
    if not config_known:
        missing = a.short_id if a.config is None else b.short_id
        warnings.append({"code": "config_not_recorded", "message": (
            f"run {missing} has no recorded config: what changed between {a.short_id} and "
            f"{b.short_id} is unknown")})
    return step


def _warn_about_data(warnings: list[dict[str, str]], runs: tuple[Run, ...]) -> None:
    """Warn where the runs differ in data, test set, metric or human-level anchor."""
    tests = [r.test_fingerprint for r in runs]
    if None not in tests and len(set(tests)) == 1:
        # Same test set: different data is the training data, a knob like any other.
        _warn_if_differs(warnings, runs, lambda r: r.data_fingerprint, "different_training_data",
                         "the runs trained on different data ({}); they were evaluated on the same "
                         "test set")
    else:
        _warn_if_differs(warnings, runs, lambda r: r.data_fingerprint, "different_data",
                         "the runs used different data ({}): their errors are not measured on the "
                         "same examples")
    _warn_if_differs(warnings, runs, lambda r: r.test_fingerprint, "different_test_set",
                     "the runs were evaluated on different test sets ({}): test errors are not comparable")
    _warn_if_differs(warnings, runs, _metric_of, "different_metric",
                     "the runs were diagnosed on different metrics ({}): compare like with like")
    _warn_if_differs(warnings, runs, lambda r: bayes_proxy(r.diagnosis)[1], "different_human_level",
                     "the runs use different human-level anchors ({}): avoidable bias moved with "
                     "the anchor, not only with the model",
                     show=lambda v: format_figure(v, runs[-1].diagnosis))


def _warn_if_differs(warnings: list[dict[str, str]], runs: Sequence[Run], get: Any, code: str,
                     message: str, show: Any = None) -> None:
    values = [get(r) for r in runs]
    known = [v for v in values if v is not None]
    if len(set(known)) > 1:
        shown = ", ".join(f"{r.short_id}: {show(v) if show else _short(v)}" for r, v in zip(runs, values) if v is not None)
        warnings.append({"code": code, "message": message.format(shown)})


def _short(value: Any) -> str:
    text = str(value)
    if text.startswith("sha256:"):
        return text[7:19]
    return text


_PAIRED = "paired"
_DIFFERENT_ROWS = "different dev rows"
_NOT_RECORDED = "per-row results not recorded"
_DIFFERENT_METRICS = "different metrics"


def _same_metric(a: Run, b: Run) -> bool:
    """Whether two runs' figures are one quantity (a run that names no metric could be either)."""
    ma, mb = _metric_of(a), _metric_of(b)
    return ma is None or mb is None or ma == mb


def _higher_is_better(run: Run) -> bool:
    metric = (run.diagnosis or {}).get("metric")
    return isinstance(metric, Mapping) and metric.get("direction") == "higher_is_better"


def _dev_label(run: Run) -> str:
    """The dev figure's name in sentences: ``error``, ``1 - F1``, ``RMSE``, ``mean(logloss)``."""
    from mlstrat.metrics._spec import parse_metric

    name = _metric_of(run)
    try:
        return parse_metric(name or "error").label
    except ConfigError:  # a metric this version does not know: its name as recorded
        return str(name)


def _dev_difference(a: Run, b: Run, rows_a: DevRows | None,
                    rows_b: DevRows | None) -> tuple[Difference | None, str | None]:
    """B - A on dev: paired on the same rows when both kept them, else from the two intervals."""
    higher = _higher_is_better(b)
    if not _same_metric(a, b) or (rows_a is not None and rows_b is not None and rows_a.metric != rows_b.metric):
        return None, _DIFFERENT_METRICS  # an error rate minus an RMSE means nothing
    if rows_a is None or rows_b is None:
        reason = _NOT_RECORDED
    elif rows_a.fingerprint != rows_b.fingerprint:
        reason = _DIFFERENT_ROWS
    else:
        order = rows_a.ids.tolist()
        return paired_difference(rows_a.kind, rows_a.aligned(order), rows_b.aligned(order),
                                 higher_is_better=higher), _PAIRED
    return _unpaired(a, b, "dev", reason)


def _unpaired(a: Run, b: Run, split: str, reason: str) -> tuple[Difference | None, str | None]:
    higher = _higher_is_better(b)
    ea, eb = a.errors().get(split), b.errors().get(split)
    if not ea or not eb or None in (ea["ci_low"], ea["ci_high"], eb["ci_low"], eb["ci_high"]):
        return None, None
    n = min(int(ea.get("n") or 0), int(eb.get("n") or 0))
    return unpaired_difference((ea["value"], ea["ci_low"], ea["ci_high"]),
                               (eb["value"], eb["ci_low"], eb["ci_high"]), n=n,
                               higher_is_better=higher), reason


def _check_one_task(runs: Sequence[Run], rows: Sequence[DevRows | None], *, metrics: bool = True) -> None:
    """Runs of different metrics or label sets are not ranked together: one line naming them
    (``metrics=False``: only the label sets, when each run's figure is in its own column)."""
    named = [(r, m) for r in runs if (m := _metric_of(r)) is not None] if metrics else []
    for (ra, ma), (rb, mb) in zip(named, named[1:]):
        if ma != mb:
            raise ConfigError(f"runs {ra.short_id} ({ma}) and {rb.short_id} ({mb}) measure different "
                              "metrics: they are not compared or ranked together; compare runs of "
                              "one task and metric")
    labelled = [(r, x.labels) for r, x in zip(runs, rows) if x is not None and x.labels is not None]
    for (ra, la), (rb, lb) in zip(labelled, labelled[1:]):
        if la != lb:
            raise ConfigError(f"runs {ra.short_id} and {rb.short_id} have different label sets "
                              f"({_labels_text(la)} vs {_labels_text(lb)}): different tasks are not "
                              "compared or ranked together")


def _labels_text(labels: Sequence[str], most: int = 5) -> str:
    """``"a, b, c"``; a long label set shows its first ``most`` labels and how many there are."""
    shown = ", ".join(labels[:most])
    return shown if len(labels) <= most else f"{shown}, ... ({len(labels)} labels)"


def error_change(a: Run, b: Run, split: str = "dev", *,
                 rows: Callable[[Run], DevRows | None] | None = None) -> tuple[Difference | None, str | None]:
    """B minus A on one split's figure, with its 95% interval and verdict, and how it was paired.

    On dev, paired on the same rows when both runs kept them (``rows``); other splits, whose
    rows are not kept, are compared from the runs' own intervals (``"compared unpaired"``).
    Returns ``(None, None)`` when a run lacks the figure or its interval, ``(None, "different
    metrics")`` when the runs measure different metrics.
    """
    if split == "dev":
        return _dev_difference(a, b, rows(a) if rows else None, rows(b) if rows else None)
    if not _same_metric(a, b):
        return None, _DIFFERENT_METRICS
    return _unpaired(a, b, split, "only dev rows are kept per row")
