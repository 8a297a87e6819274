"""Multi-task runs: one diagnosis per task and one of the error averaged over tasks.

A multi-task predictions table is long (one row per labeled example and task, with a
``task`` column). The average is the error over every labeled entry, ``sum(wrong) /
sum(labeled)``; entries of one example are not independent, so its interval is the
delta-method interval of that ratio over examples (:func:`mlstrat.metrics.compute_metric`
with ``ratio:wrong/labeled`` on one row per example), not a Wilson interval over entries.
It is still an error rate: read, parsed and decided as one (percentages, a tolerance of 1
point, ``--human 1%``), like each task's own diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlstrat._exceptions import InputError

__all__ = ["TaskDiagnoses", "diagnose_tasks"]


@dataclass(frozen=True)
class TaskDiagnoses:
    """The diagnosis of the task-averaged error, and one per task."""

    average: Any  # Diagnosis of the error averaged over labeled entries
    tasks: dict[str, Any]  # task -> Diagnosis

    def to_dict(self) -> dict[str, Any]:
        """The average's diagnosis JSON (same top-level keys) plus ``tasks``."""
        return {**self.average.to_dict(), "tasks": {t: d.to_dict() for t, d in self.tasks.items()}}


def diagnose_tasks(predictions: Any, *, task_col: str = "task", con: Any = None, **options: Any
                   ) -> TaskDiagnoses:
    """Diagnose a multi-task predictions table per task and on the task-averaged error.

    ``options`` go to :func:`mlstrat.diagnose` (``human``, ``tolerance``, ``model_family``...);
    each task's diagnosis decomposes its error rate; the average is decomposed as
    ``ratio:wrong/labeled`` over examples. With ``test=True``, one look at the test set is
    counted in ``store`` for the whole call (``store=False``: not counted), not one per task.
    """
    import ibis

    from mlstrat.diagnosis._diagnose import _diagnose, diagnose
    from mlstrat.diagnosis._recipe import parse_model_family
    from mlstrat.metrics._spec import parse_metric
    from mlstrat.tables import PREDICTION_COLUMNS, read_predictions

    store = options.pop("store", None)
    options["store"] = False  # the parts do not count looks: the call counts one below
    pred = read_predictions(predictions, con=con, require_id=True, columns=PREDICTION_COLUMNS.plus(task_col))
    table = pred.table
    if task_col not in table.columns:
        raise InputError(f"{pred.source}: no {task_col!r} column; a multi-task predictions table has one "
                         "row per example and task")
    names = sorted(str(t) for t in table.select(t=table[task_col].cast("string")).distinct()
                   .to_pyarrow().column("t").to_pylist() if t is not None)
    per_task = {}
    for name in names:
        part = table.filter(table[task_col].cast("string") == name)
        per_task[name] = diagnose(part, con=con, **options)
    wrong = (table.y_true != table.y_pred).cast("int64")
    examples = (table.mutate(_wrong=wrong)
                .group_by([table.id.cast("string").name("id"), table.split.cast("string").name("split")])
                .aggregate(wrong=ibis._._wrong.sum(), labeled=ibis._.count()))
    extra = {k: v for k, v in options.items() if k not in ("metric", "higher_is_better")}
    family = parse_model_family(extra.pop("model_family", None))
    settings = {"errors": None, "sizes": None, "human": (), "bayes": None, "human_labels": None,
                "tolerance": None, "mismatched": None, "test": False, "store": None, **extra}
    average = _diagnose(examples, spec=parse_metric("error"), family=family, con=con,
                        measured_as=parse_metric("ratio:wrong/labeled"), **settings)
    if options.get("test"):
        from mlstrat.sealing import count_test_look

        count_test_look(predictions, store=store, con=con)
    return TaskDiagnoses(average=average, tasks=per_task)
