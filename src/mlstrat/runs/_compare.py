"""Side-by-side comparison of runs: errors, components, what changed and what it did."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlstrat._constants import COMPONENT_DISPLAY, COMPONENTS, SPLIT_DISPLAY, SPLITS
from mlstrat._exceptions import ConfigError
from mlstrat.display._documents import bayes_proxy
from mlstrat.display._numbers import format_figure
from mlstrat.display._repr import NotebookRepr
from mlstrat.runs._run import Run

__all__ = ["Comparison", "Step", "ConfigChange", "compare_runs", "flatten_config", "DEFAULT_IGNORE"]

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
            "errors": {k: {"before": a, "after": b, "change": _delta(a, b)} for k, (a, b) in self.errors.items()},
            "components": {k: {"before": a, "after": b, "change": _delta(a, b)}
                           for k, (a, b) in self.components.items()},
            "principal_problem": {"before": self.principal_problem[0], "after": self.principal_problem[1]},
            "summary": self.summary,
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": [{"id": r.id, "created_at": r.created_at, "kind": r.kind, "note": r.note,
                      "principal_problem": (r.diagnosis or {}).get("principal_problem")} for r in self.runs],
            "errors": self.errors,
            "components": self.components,
            "config": self.config,
            "steps": [s.to_dict() for s in self.steps],
            "warnings": list(self.warnings),
        }


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
        parts = [f"{COMPONENT_DISPLAY[n]} {format_figure(x, b.diagnosis)} -> {format_figure(y, b.diagnosis)}"
                 for n, x, y in moved[:_SUMMARY_TOP]]
    else:
        moved_err = [(s, x, y) for s, (x, y) in errors.items()
                     if x is not None and y is not None and abs(y - x) >= _EPS]
        moved_err.sort(key=lambda t: -abs(t[2] - t[1]))
        parts = [f"{SPLIT_DISPLAY[s]} error {format_figure(x, b.diagnosis)} -> {format_figure(y, b.diagnosis)}"
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


def compare_runs(runs: Sequence[Run], *, ignore: Iterable[str] = DEFAULT_IGNORE) -> Comparison:
    """Compare recorded runs in the order given (oldest first reads as a history).

    Parameters
    ----------
    runs : sequence of Run
        At least two distinct runs.
    ignore : iterable of str, default=DEFAULT_IGNORE
        Config keys (dotted, or a last component) that are not knobs, e.g. output paths.

    Raises
    ------
    ConfigError
        With fewer than two runs or a run given twice.
    """
    runs = tuple(runs)
    if len(runs) < 2:
        raise ConfigError(f"compare needs at least two runs (got {len(runs)}); "
                          "give two or more run ids (`mlstrat runs list` shows them)")
    seen: set[str] = set()
    for run in runs:
        if run.id in seen:
            raise ConfigError(f"run {run.short_id} is given twice; give each run once")
        seen.add(run.id)
    ignore = frozenset(ignore)

    per_run_errors = [r.errors() for r in runs]
    per_run_comps = [r.components() for r in runs]
    errors = {s: [e.get(s, {}).get("value") for e in per_run_errors]
              for s in SPLITS if any(s in e for e in per_run_errors)}
    components = {c: [p.get(c, {}).get("value") for p in per_run_comps]
                  for c in COMPONENTS if any(p.get(c, {}).get("value") is not None for p in per_run_comps)}
    flat = [flatten_config(r.config) for r in runs]
    keys = sorted({k for f in flat for k in f if not _ignored(k, ignore)})
    config = {k: [f.get(k) for f in flat] for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1}

    warnings: list[dict[str, str]] = []
    steps = []
    for i in range(len(runs) - 1):
        a, b = runs[i], runs[i + 1]
        config_known = a.config is not None and b.config is not None
        changes = _config_changes(a, b, ignore) if config_known else ()
        step_errors = {s: (v[i], v[i + 1]) for s, v in errors.items()}
        step_comps = {c: (v[i], v[i + 1]) for c, v in components.items()}
        principal = ((a.diagnosis or {}).get("principal_problem"), (b.diagnosis or {}).get("principal_problem"))
        steps.append(Step(a.id, b.id, changes, config_known, step_errors, step_comps, principal,
                          _summary(a, b, step_comps, step_errors, changes, config_known)))
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
    return Comparison(runs, errors, components, config, tuple(steps), tuple(warnings))


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
