"""Multi-task predictions: a diagnosis per task and one of the task-averaged error."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.diagnosis import diagnose, diagnose_tasks

#: split -> task -> error rate planted: task "b" overfits (variance), task "a" is fine.
PLAN = {"train": {"a": 0.02, "b": 0.05}, "dev": {"a": 0.03, "b": 0.20}}


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    rows = []
    for split, n in (("train", 3000), ("dev", 1000)):
        for i in range(n):
            for task in ("a", "b"):
                if rng.random() < 0.1:  # a missing label: no row
                    continue
                y = int(rng.random() < 0.5)
                wrong = rng.random() < PLAN[split][task]
                rows.append((f"{split}-{i}", split, task, y, 1 - y if wrong else y))
    return pd.DataFrame(rows, columns=["id", "split", "task", "y_true", "y_pred"])


def test_each_task_is_its_own_diagnosis(table):
    result = diagnose_tasks(table, human=["1%"])
    assert sorted(result.tasks) == ["a", "b"]
    for task, d in result.tasks.items():
        own = diagnose(table[table.task == task], human=["1%"])
        assert d.to_dict() == own.to_dict()
    assert result.tasks["b"].principal_problem == "variance"
    assert "variance" not in result.tasks["a"].problems


def test_average_is_the_error_over_labeled_entries_with_example_level_intervals(table):
    avg = diagnose_tasks(table, human=["1%"]).average
    for split in ("train", "dev"):
        part = table[table.split == split]
        assert avg.errors[split].value == pytest.approx((part.y_true != part.y_pred).mean())
        assert avg.errors[split].n == part.id.nunique()  # examples, not entries
        assert avg.errors[split].ci_low < avg.errors[split].value < avg.errors[split].ci_high
    assert avg.metric.name == "error"  # an error rate, measured as wrong/labeled over examples
    assert avg.tolerance == 0.01  # 1 point, as for each task (not 1% of the dev figure)


def test_cli_detects_tasks_and_keeps_the_top_level_keys(table, tmp_path):
    path = tmp_path / "mt.parquet"
    table.to_parquet(path)
    out = CliRunner().invoke(app, ["diagnose", str(path), "--human", "1%", "--json", "--no-record"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    for key in ("errors", "human_level", "components", "problems", "principal_problem", "actions",
                "warnings", "metric", "verdict", "tolerance"):
        assert key in doc
    assert doc["tasks"]["b"]["principal_problem"] == "variance"
    text = CliRunner().invoke(app, ["diagnose", str(path), "--human", "1%", "--no-record"])
    assert "Averaged over tasks" in text.output and "Per task" in text.output
    fail = CliRunner().invoke(app, ["diagnose", str(path), "--human", "1%", "--no-record",
                                    "--fail-on", "variance", "--json"])
    assert fail.exit_code == 1


def test_average_is_shown_and_judged_as_an_error_rate(table, tmp_path):
    avg = diagnose_tasks(table, human=["1%"]).average
    dev = table[table.split == "dev"]
    dev_error = (dev.y_true != dev.y_pred).mean()
    assert avg.to_dict()["metric"]["unit"] == "rate"
    assert "pts, train to dev" in avg.verdict  # percentage points, not a bare 0.0767
    path = tmp_path / "mt.parquet"
    table.to_parquet(path)
    text = CliRunner().invoke(app, ["diagnose", str(path), "--human", "1%", "--no-record"]).output
    average_part = text.split("Per task")[0]
    assert f"{100 * dev_error:.1f}%" in average_part  # a rate, at the table's one precision
    assert f"{dev_error:.4f}" not in average_part


def test_a_look_at_the_test_set_is_counted_once_for_all_tasks(table, tmp_path):
    from mlstrat.sealing import LookLedger, fingerprint_test_set

    test_rows = table[table.split == "dev"].assign(split="test", id=lambda d: "test-" + d.id)
    with_test = pd.concat([table, test_rows], ignore_index=True)
    store = tmp_path / "runs.db"
    result = diagnose_tasks(with_test, human=["1%"], test=True, store=store)
    assert "test" in result.tasks["a"].errors
    ledger = LookLedger(store)
    assert ledger.test_evaluation_count(fingerprint_test_set(with_test)) == 1
