"""Bias / variance / data-mismatch diagnosis against human level and the recipe
(docs/method.md §3).

Light on purpose: importing it loads neither numpy, the engine nor torch, so
``mlstrat diagnose --errors ...`` starts in a blink; the engine is imported only when a
predictions table is given.
"""

from mlstrat.diagnosis._decompose import COMPARABLE, decompose, is_significant, rank_problems
from mlstrat.diagnosis._diagnose import diagnose
from mlstrat.diagnosis._human import choose_bayes_proxy, human_from_labels, parse_human
from mlstrat.diagnosis._parse import METRICS, parse_errors, parse_problems, parse_sizes
from mlstrat.diagnosis._results import (
    COMPONENTS,
    Action,
    Component,
    Diagnosis,
    DiagnosisWarning,
    ErrorEstimate,
    HumanLevel,
    HumanReference,
)
from mlstrat.diagnosis._sentences import PROBLEM_LABELS
from mlstrat.diagnosis._tasks import TaskDiagnoses, diagnose_tasks
from mlstrat.diagnosis._recipe import (
    ACTIONS,
    FAMILY_ACTIONS,
    MODEL_FAMILIES,
    RECIPE,
    actions_for,
    parse_model_family,
)

__all__ = [
    "ACTIONS",
    "COMPARABLE",
    "COMPONENTS",
    "FAMILY_ACTIONS",
    "METRICS",
    "MODEL_FAMILIES",
    "PROBLEM_LABELS",
    "RECIPE",
    "TaskDiagnoses",
    "Action",
    "Component",
    "Diagnosis",
    "DiagnosisWarning",
    "ErrorEstimate",
    "HumanLevel",
    "HumanReference",
    "actions_for",
    "choose_bayes_proxy",
    "decompose",
    "diagnose",
    "diagnose_tasks",
    "human_from_labels",
    "is_significant",
    "parse_errors",
    "parse_human",
    "parse_model_family",
    "parse_problems",
    "parse_sizes",
    "rank_problems",
]
