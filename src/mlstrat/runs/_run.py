"""A recorded run and the shared readers of its documents (errors, components, human level)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlstrat._constants import SPLITS
from mlstrat._numbers import finite_or_none

__all__ = ["Run", "COMPONENTS", "COMPONENT_DISPLAY", "split_errors", "components_of",
           "bayes_proxy", "format_pct", "format_figure", "is_rate_metric"]

#: The four components of the decomposition, in the order of the staircase (docs/method.md §3).
COMPONENTS: tuple[str, ...] = ("avoidable_bias", "variance", "data_mismatch", "dev_overfitting")

COMPONENT_DISPLAY: dict[str, str] = {
    "avoidable_bias": "avoidable bias",
    "variance": "variance",
    "data_mismatch": "data mismatch",
    "dev_overfitting": "dev overfitting",
}


@dataclass(frozen=True)
class Run:
    """One recorded experiment.

    Attributes
    ----------
    id : str
        12 hexadecimal characters; any unique prefix names the run.
    created_at : str
        ISO 8601 time in UTC.
    kind : str
        What produced it: ``"train"``, ``"diagnose"``, ``"demo"``, ...
    config : dict or None
        The configuration as given (nested TOML sections stay nested).
    config_hash : str or None
        ``"sha256:<hex>"`` of the canonical JSON of ``config``.
    data_fingerprint : str or None
        Fingerprint of the data the run used (e.g. :func:`mlstrat.tables.fingerprint`).
    metrics : dict or None
        The metrics JSON (``{"splits": {...}}``).
    diagnosis : dict or None
        The diagnosis JSON.
    artifacts : str or None
        Absolute path of the run's artifacts (run directory).
    note : str or None
        Free text from the user.
    test_fingerprint : str or None
        Fingerprint of the test set the run evaluated.
    test_evaluations : int or None
        How many evaluations that test set had counted when this run was recorded
        (``None`` when the run did not evaluate a test split).
    seq : int
        Insertion order in the store (1, 2, ...).
    """

    id: str
    created_at: str
    kind: str
    config: dict[str, Any] | None = None
    config_hash: str | None = None
    data_fingerprint: str | None = None
    metrics: dict[str, Any] | None = None
    diagnosis: dict[str, Any] | None = None
    artifacts: str | None = None
    note: str | None = None
    test_fingerprint: str | None = None
    test_evaluations: int | None = None
    seq: int = 0

    @property
    def short_id(self) -> str:
        """The first 8 characters of the id (what tables show)."""
        return self.id[:8]

    def errors(self) -> dict[str, dict[str, Any]]:
        """Per split ``{"value", "ci_low", "ci_high", "n"}`` from the diagnosis, else the metrics."""
        return split_errors(self.diagnosis, self.metrics)

    def components(self) -> dict[str, dict[str, Any]]:
        """The decomposition's components (empty without a diagnosis)."""
        return components_of(self.diagnosis)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "seq": self.seq, "created_at": self.created_at, "kind": self.kind,
            "note": self.note, "config": self.config, "config_hash": self.config_hash,
            "data_fingerprint": self.data_fingerprint, "test_fingerprint": self.test_fingerprint,
            "test_evaluations": self.test_evaluations, "artifacts": self.artifacts,
            "metrics": self.metrics, "diagnosis": self.diagnosis,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Run":
        """Inverse of :meth:`to_dict` (unknown keys are ignored)."""
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})


def split_errors(diagnosis: Mapping[str, Any] | None,
                 metrics: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Per-split errors in the order of :data:`mlstrat.SPLITS`.

    Taken from ``diagnosis["errors"]`` when present (it carries the diagnosed metric), else
    from ``metrics["splits"][split]["error"]`` with ``error_ci``.
    """
    out: dict[str, dict[str, Any]] = {}
    diag_errors = (diagnosis or {}).get("errors") or {}
    metric_splits = (metrics or {}).get("splits") or {}
    for split in SPLITS:
        entry = diag_errors.get(split)
        if isinstance(entry, Mapping) and finite_or_none(entry.get("value")) is not None:
            out[split] = {"value": finite_or_none(entry.get("value")), "ci_low": finite_or_none(entry.get("ci_low")),
                          "ci_high": finite_or_none(entry.get("ci_high")), "n": entry.get("n")}
            continue
        entry = metric_splits.get(split)
        if isinstance(entry, Mapping) and finite_or_none(entry.get("error")) is not None:
            ci = entry.get("error_ci") or [None, None]
            out[split] = {"value": finite_or_none(entry.get("error")), "ci_low": finite_or_none(ci[0]),
                          "ci_high": finite_or_none(ci[1]), "n": entry.get("n")}
    return out


def components_of(diagnosis: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``name -> {"value", "ci_low", "ci_high", "significant", "status", "from", "to"}`` in staircase
    order (``status`` ``"computed"`` for runs recorded before it existed)."""
    comps = (diagnosis or {}).get("components") or {}
    out: dict[str, dict[str, Any]] = {}
    for name in COMPONENTS:
        entry = comps.get(name)
        if isinstance(entry, Mapping):
            out[name] = {"value": finite_or_none(entry.get("value")), "ci_low": finite_or_none(entry.get("ci_low")),
                         "ci_high": finite_or_none(entry.get("ci_high")),
                         "significant": bool(entry.get("significant")),
                         "status": entry.get("status") or "computed",
                         "from": entry.get("from"), "to": entry.get("to")}
    return out


def bayes_proxy(diagnosis: Mapping[str, Any] | None) -> tuple[str | None, float | None]:
    """``(name, value)`` of the human-level figure used as the Bayes proxy."""
    human = (diagnosis or {}).get("human_level") or {}
    proxy = human.get("bayes_proxy") or {}
    return proxy.get("name"), finite_or_none(proxy.get("value"))


def format_pct(value: float | None) -> str:
    """A rate for humans: one decimal from 1% up, two below (``0.051 -> '5.1%'``, ``0.005 -> '0.50%'``)."""
    if value is None:
        return "-"
    digits = 1 if abs(value) >= 0.01 or value == 0 else 2
    return f"{100 * value:.{digits}f}%"


def is_rate_metric(diagnosis: Mapping[str, Any] | None) -> bool:
    """Whether a diagnosis JSON's figures are rates (percentages) or values in a metric's unit.

    Older runs store ``metric`` as a bare name; every one of those was a classification rate.
    """
    metric = (diagnosis or {}).get("metric")
    return not (isinstance(metric, Mapping) and metric.get("unit") == "value")


def format_figure(value: float | None, diagnosis: Mapping[str, Any] | None, *,
                  signed: bool = False) -> str:
    """A diagnosis figure for humans: :func:`format_pct` for rates, 4 significant digits otherwise."""
    if is_rate_metric(diagnosis):
        text = format_pct(value)
        return "+" + text if signed and value is not None and value > 0 else text
    if value is None:
        return "-"
    return f"{value:+.4g}" if signed else f"{value:.4g}"
