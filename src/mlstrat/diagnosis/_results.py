"""The diagnosis result: frozen dataclasses whose ``to_dict()`` is the stable JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlstrat._constants import COMPONENTS
from mlstrat.display._repr import NotebookRepr

__all__ = [
    "COMPONENTS",
    "ErrorEstimate",
    "HumanReference",
    "HumanLevel",
    "Component",
    "Action",
    "DiagnosisWarning",
    "Diagnosis",
]


@dataclass(frozen=True)
class ErrorEstimate:
    """An error rate with its 95% interval (None when the sample size is unknown)."""

    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None

    @property
    def interval(self) -> tuple[float, float]:
        """The interval, or the point itself when unknown (an exact figure has no width)."""
        if self.ci_low is None or self.ci_high is None:
            return self.value, self.value
        return self.ci_low, self.ci_high

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n}


@dataclass(frozen=True)
class HumanReference(ErrorEstimate):
    """A human-level error figure: given (``"expert team=0.5%"``) or measured from human labels."""

    name: str = "human"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **super().to_dict()}


@dataclass(frozen=True)
class HumanLevel:
    """The references and the Bayes-error proxy among them (``None``: no human level given)."""

    references: tuple[HumanReference, ...]
    bayes_proxy: HumanReference | None

    def to_dict(self) -> dict[str, Any]:
        proxy = self.bayes_proxy
        return {
            "references": [r.to_dict() for r in self.references],
            "bayes_proxy": None if proxy is None else {"name": proxy.name, "value": proxy.value},
        }


@dataclass(frozen=True)
class Component:
    """One term of the decomposition: ``error[to] - error[from]`` with its interval.

    ``status`` says whether the term could be computed: ``"computed"``; ``"missing"`` (a
    split it needs is absent: ``value`` None, ``significant`` False); ``"undetermined"``
    (``significant`` None, never a problem: avoidable bias without a human level, since a
    training error alone cannot tell Bayes error from avoidable bias; variance and data
    mismatch when train and dev come from different distributions and no train-dev split
    separates them, the dev - train gap then kept in ``value`` as information). ``reason``
    says why a term is undetermined. ``significant`` is the decision rule of
    :func:`mlstrat.diagnosis.is_significant`.
    """

    name: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    significant: bool | None
    from_: str
    to: str
    status: str = "computed"
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "significant": self.significant,
            "status": self.status,
            "reason": self.reason,
            "from": self.from_,
            "to": self.to,
        }


@dataclass(frozen=True)
class Action:
    """One step of the recipe; ``id`` is stable (scripts and the run store key on it)."""

    id: str
    title: str
    why: str
    addresses: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "why": self.why,
            "addresses": list(self.addresses),
        }


@dataclass(frozen=True)
class DiagnosisWarning:
    """Something that limits what the diagnosis can say; ``code`` is stable."""

    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Diagnosis(NotebookRepr):
    """The outcome of :func:`mlstrat.diagnose`; ``to_dict()`` is ``mlstrat diagnose --json``."""

    metric: Any  # a mlstrat.metrics.MetricSpec: name, direction, unit
    errors: dict[str, ErrorEstimate]
    human_level: HumanLevel
    components: dict[str, Component]
    problems: tuple[str, ...]
    principal_problem: str | None
    verdict: str
    actions: tuple[Action, ...]
    warnings: tuple[DiagnosisWarning, ...] = field(default=())
    tolerance: float = 0.01
    model_family: str = "neural_network"  # how the actions are worded; their ids never change
    dev_test_check: Any = None  # a DevTestCheck: whether dev and test share one distribution

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric.to_dict(),
            "errors": {name: e.to_dict() for name, e in self.errors.items()},
            "human_level": self.human_level.to_dict(),
            "components": {name: c.to_dict() for name, c in self.components.items()},
            "problems": list(self.problems),
            "principal_problem": self.principal_problem,
            "verdict": self.verdict,
            "actions": [a.to_dict() for a in self.actions],
            "warnings": [w.to_dict() for w in self.warnings],
            "tolerance": self.tolerance,
            "model_family": self.model_family,
            "dev_test_check": None if self.dev_test_check is None else self.dev_test_check.to_dict(),
        }
