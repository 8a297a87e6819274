"""Which number is optimized: its name, its direction and its unit (pure Python, no engine).

Grammar of ``--metric``:

- ``error``, ``weighted_error``, ``f1``: classification rates from the confusion counts
  (``f1`` is decomposed as ``1 - F1``);
- ``mae``, ``rmse``: regression on numeric ``y_true``/``y_pred``, in the unit of ``y``;
- ``mean:COL``: the mean of a per-example loss or score column (log loss, IoU, edit
  distance), in that column's unit;
- ``ratio:NUM/DEN``: a corpus-level rate ``sum(NUM) / sum(DEN)`` such as word error rate
  ``ratio:word_errors/words``.

Lower is better for every metric unless the spec says otherwise (``mean:iou`` with
``higher_is_better=True``); the diagnosis then decomposes shortfalls, so a component is
still positive when it hurts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlstrat._exceptions import ConfigError
from mlstrat._numbers import did_you_mean

__all__ = ["MetricSpec", "parse_metric", "CLASSIFICATION", "REGRESSION", "metric_name", "metric_columns"]

#: Rates computed from confusion counts.
CLASSIFICATION: tuple[str, ...] = ("error", "weighted_error", "f1")
#: Metrics of numeric predictions, in the unit of ``y``.
REGRESSION: tuple[str, ...] = ("mae", "rmse")
_KINDS = CLASSIFICATION + REGRESSION + ("mean:COL", "ratio:NUM/DEN")


@dataclass(frozen=True)
class MetricSpec:
    """A parsed ``--metric``.

    Attributes
    ----------
    name : str
        As written: ``"rmse"``, ``"mean:logloss"``, ``"ratio:word_errors/words"``.
    kind : str
        ``error`` | ``weighted_error`` | ``f1`` | ``mae`` | ``rmse`` | ``mean`` | ``ratio``.
    column : str or None
        The per-example column of ``mean``, the numerator of ``ratio``.
    denominator : str or None
        The denominator column of ``ratio``.
    higher_is_better : bool
        False for losses and error rates (the default).
    """

    name: str
    kind: str
    column: str | None = None
    denominator: str | None = None
    higher_is_better: bool = False

    @property
    def is_rate(self) -> bool:
        """A fraction in [0, 1] shown as a percentage (classification), else a figure in a unit."""
        return self.kind in CLASSIFICATION

    @property
    def direction(self) -> str:
        return "higher_is_better" if self.higher_is_better else "lower_is_better"

    @property
    def label(self) -> str:
        """What the decomposed figure is called in sentences and table headers."""
        return {
            "error": "error",
            "weighted_error": "weighted error",
            "f1": "1 - F1",
            "mae": "MAE",
            "rmse": "RMSE",
            "mean": f"mean({self.column})",
            "ratio": f"sum({self.column}) / sum({self.denominator})",
        }[self.kind]

    def columns(self) -> tuple[str, ...]:
        """Columns of the predictions table the metric reads besides ``split``."""
        if self.kind == "mean":
            return (self.column or "",)
        if self.kind == "ratio":
            return (self.column or "", self.denominator or "")
        return ("y_true", "y_pred")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "direction": self.direction,
            "unit": "rate" if self.is_rate else "value",
        }


def _column(text: str, raw: str, example: str) -> str:
    if not text.strip():
        raise ConfigError(f"--metric {raw!r}: a column name is missing (example: {example})")
    return text.strip()


def parse_metric(metric: str | MetricSpec, *, higher_is_better: bool | None = None) -> MetricSpec:
    """``"rmse"``, ``"mean:logloss"``, ``"ratio:word_errors/words"`` -> :class:`MetricSpec`.

    ``higher_is_better`` may only be True for ``mean:COL`` (a per-example score such as IoU);
    every other metric is an error, a loss or a rate of mistakes.
    """
    if isinstance(metric, MetricSpec):
        spec = metric
    else:
        raw = str(metric).strip()
        kind, sep, rest = raw.partition(":")
        kind = kind.lower()
        if not sep and kind in CLASSIFICATION + REGRESSION:
            spec = MetricSpec(kind, kind)
        elif sep and kind == "mean":
            spec = MetricSpec(raw, "mean", column=_column(rest, raw, "mean:logloss"))
        elif sep and kind == "ratio":
            num, slash, den = rest.partition("/")
            if not slash:
                raise ConfigError(
                    f"--metric {raw!r}: a ratio needs NUM/DEN (example: ratio:word_errors/words)"
                )
            example = "ratio:word_errors/words"
            spec = MetricSpec(raw, "ratio", column=_column(num, raw, example),
                              denominator=_column(den, raw, example))
        else:
            raise ConfigError(
                f"unknown metric {raw!r}{did_you_mean(raw, CLASSIFICATION + REGRESSION)}; "
                f"choose from {', '.join(_KINDS)}"
            )
    if higher_is_better is None or higher_is_better == spec.higher_is_better:
        return spec
    if spec.kind != "mean":
        raise ConfigError(
            f"--metric {spec.name}: lower is better for this metric; --higher-is-better applies "
            "only to mean:COL (a per-example score such as IoU)"
        )
    return MetricSpec(spec.name, spec.kind, spec.column, spec.denominator, higher_is_better)


def metric_name(value: Any) -> str:
    """The metric's name from a diagnosis JSON ``metric`` (an object, or a bare name in old runs)."""
    if isinstance(value, dict):
        return str(value.get("name") or "error")
    return str(value or "error")


def metric_columns(metric: str | MetricSpec) -> Any:
    """The predictions columns a metric reads (a ``ColumnSelection``): the core ones and its own."""
    from mlstrat.tables._predictions import PREDICTION_COLUMNS  # the engine layer only when reading

    spec = metric if isinstance(metric, MetricSpec) else parse_metric(metric)
    return PREDICTION_COLUMNS.plus(spec.column, spec.denominator)
