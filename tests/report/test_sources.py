import json
import importlib
import sys
import types

import pytest

from mlstrat import InputError
from mlstrat.report import report_inputs
from mlstrat.runs import RunStore
from tests.report.fixtures import DIAGNOSIS, ERROR_SUMMARY, HISTORY, METRICS, improved_diagnosis


class _Result:
    def __init__(self, doc):
        self.doc = doc

    def to_dict(self):
        return self.doc


@pytest.fixture
def stand_ins(monkeypatch):
    """Stand-ins for mlstrat.diagnosis / mlstrat.metrics / mlstrat.errors (built on other branches)."""
    calls = []

    def diagnose(source, **kwargs):
        calls.append(("diagnose", source, kwargs))
        return _Result(DIAGNOSIS)

    def compute_metrics(source, **kwargs):
        calls.append(("compute_metrics", source, kwargs))
        return _Result(METRICS)

    def summarize_sheet(sheet, **kwargs):
        calls.append(("summarize_sheet", sheet, kwargs))
        return _Result(ERROR_SUMMARY)

    def find_slices(source, **kwargs):  # the stand-in predictions have no metadata column
        raise InputError(f"{source}: no metadata or feature column to slice by")

    # the report reads a sheet's meta file with the real mlstrat.errors._sheet: import it before the
    # stand-in replaces its package, whatever this process imported before (test order)
    importlib.import_module("mlstrat.errors._sheet")
    for name, attrs in {"mlstrat.diagnosis": {"diagnose": diagnose},
                        "mlstrat.metrics": {"compute_metrics": compute_metrics},
                        "mlstrat.errors": {"summarize_sheet": summarize_sheet,
                                           "find_slices": find_slices}}.items():
        module = types.ModuleType(name)
        for key, value in attrs.items():
            setattr(module, key, value)
        monkeypatch.setitem(sys.modules, name, module)
    return calls


def _run_dir(tmp_path, name="run1", *, predictions=False, diagnosis=False):
    path = tmp_path / name
    path.mkdir()
    (path / "config.resolved.toml").write_text("[optim]\nlr = 0.1\n")
    (path / "history.json").write_text(json.dumps(HISTORY))
    (path / "metrics.json").write_text(json.dumps(METRICS))
    if diagnosis:
        (path / "diagnosis.json").write_text(json.dumps(DIAGNOSIS))
    if predictions:
        (path / "predictions.parquet").write_bytes(b"PAR1 stand-in")
    return path


def test_predictions_file_is_diagnosed(tmp_path, stand_ins):
    preds = tmp_path / "preds.parquet"
    preds.write_bytes(b"PAR1 stand-in")
    store = RunStore(tmp_path / "runs.db")
    inputs = report_inputs(preds, store=store, human=["expert team=0.5%"], test=True)
    assert inputs.diagnosis == DIAGNOSIS and inputs.metrics == METRICS
    # the diagnosis counts the look at the test set; the metrics do not count it again
    assert stand_ins == [("diagnose", str(preds), {"human": ["expert team=0.5%"], "test": True,
                                                   "store": store}),
                         ("compute_metrics", str(preds), {"test": True, "store": False})]
    assert inputs.sources == (str(preds),)
    assert inputs.sections() == ["diagnosis", "actions", "metrics", "confusion matrix"]


def test_run_directory(tmp_path, stand_ins):
    path = _run_dir(tmp_path, predictions=True)
    inputs = report_inputs(path, store=RunStore(tmp_path / "runs.db"), test=True)
    assert inputs.history == HISTORY and inputs.metrics == METRICS and inputs.diagnosis == DIAGNOSIS
    assert [c[0] for c in stand_ins] == ["diagnose", "compute_metrics"]
    assert "learning curves" in inputs.sections()
    assert str(path / "history.json") in inputs.sources


def test_run_directory_with_its_diagnosis_is_not_rediagnosed(tmp_path, stand_ins):
    path = _run_dir(tmp_path, predictions=True, diagnosis=True)
    report_inputs(path, store=RunStore(tmp_path / "runs.db"))
    assert stand_ins == []
    report_inputs(path, store=RunStore(tmp_path / "runs.db"), human=["1%"])
    assert [c[0] for c in stand_ins] == ["diagnose", "compute_metrics"]


def test_run_directory_known_to_the_store_brings_its_history(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    first = _run_dir(tmp_path, "run1", diagnosis=True)
    second = _run_dir(tmp_path, "run2", diagnosis=True)
    store.record("train", diagnosis=DIAGNOSIS, artifacts=first)
    store.record("diagnose", diagnosis=DIAGNOSIS)  # another kind: not an iteration of training
    store.record("train", diagnosis=improved_diagnosis(), artifacts=second)
    store.record("train", diagnosis=DIAGNOSIS)  # later: not part of run2's history
    inputs = report_inputs(second, store=store)
    assert [r.artifacts for r in inputs.runs] == [str(first), str(second)]
    assert "run history" in inputs.sections()


def test_run_id(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    path = _run_dir(tmp_path, diagnosis=True)
    a = store.record("train", diagnosis=DIAGNOSIS, metrics=METRICS)
    b = store.record("train", diagnosis=improved_diagnosis(), metrics=METRICS, artifacts=path)
    inputs = report_inputs(b.id[:6], store=store, test=True)
    assert [r.id for r in inputs.runs] == [a.id, b.id]
    assert inputs.history == HISTORY and inputs.diagnosis == improved_diagnosis()
    assert report_inputs("latest~1", store=store, test=True).runs == (store.get(a.id),)
    with pytest.raises(InputError, match="--human needs the run's predictions.parquet"):
        report_inputs(b.id, store=store, human=["1%"])


def test_stored_test_figures_are_sealed_unless_asked(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    run = store.record("train", diagnosis=DIAGNOSIS, metrics=METRICS, test_fingerprint="test-600-ab")
    assert store.test_evaluation_count("test-600-ab") == 1
    inputs = report_inputs(run.id, store=store)
    assert "test" not in inputs.diagnosis["errors"] and "test" not in inputs.metrics["splits"]
    assert inputs.diagnosis["components"]["dev_overfitting"]["value"] is None
    assert all("test" not in (r.diagnosis["errors"]) for r in inputs.runs)
    assert [w["code"] for w in inputs.warnings] == ["test_sealed"]
    assert store.test_evaluation_count("test-600-ab") == 1  # not a look
    shown = report_inputs(run.id, store=store, test=True)
    assert shown.diagnosis == DIAGNOSIS
    assert store.test_evaluation_count("test-600-ab") == 2  # one counted look
    assert [w["code"] for w in shown.warnings] == ["test_split_used"]
    assert "look 2 at test set test-600-ab" in shown.warnings[0]["message"]


def test_diagnosis_json_and_sheets(tmp_path, stand_ins):
    diag = tmp_path / "diagnosis.json"
    diag.write_text(json.dumps(DIAGNOSIS))
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps(ERROR_SUMMARY))
    inputs = report_inputs(diag, store=RunStore(tmp_path / "runs.db"), sheet=summary, test=True)
    assert inputs.diagnosis == DIAGNOSIS and inputs.error_summary == ERROR_SUMMARY
    assert inputs.sources == (str(diag), str(summary))
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("id,y_true,y_pred,blurry,comment\n")
    assert report_inputs(diag, store=RunStore(tmp_path / "runs.db"), sheet=sheet).error_summary == ERROR_SUMMARY
    assert stand_ins == [("summarize_sheet", str(sheet), {})]
    assert stand_ins  # no diagnose call: the file is a diagnosis already


@pytest.mark.parametrize("target, message", [
    ("missing.parquet", "missing.parquet: no such file or directory; give a run directory"),
    ("abc123", r"abc123: not a file or directory, and not a run id: .*runs.db: no run store here yet"),
])
def test_unknown_target(tmp_path, monkeypatch, target, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=message):
        report_inputs(target, store=RunStore(tmp_path / "runs.db"))


def test_bad_inputs(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="empty: not a run directory"):
        report_inputs(empty, store=store)
    diag = tmp_path / "d.json"
    diag.write_text(json.dumps(DIAGNOSIS))
    with pytest.raises(InputError, match="is a diagnosis already; --human applies to predictions"):
        report_inputs(diag, store=store, human=["1%"])
    bad_summary = tmp_path / "s.json"
    bad_summary.write_text("{}")
    with pytest.raises(InputError, match="has no 'categories'"):
        report_inputs(diag, store=store, sheet=bad_summary)
    with pytest.raises(InputError, match="nope.csv: no such file; --sheet takes"):
        report_inputs(diag, store=store, sheet=tmp_path / "nope.csv")
    config = tmp_path / "config.toml"
    config.write_text("[optim]\n")
    with pytest.raises(InputError, match="is a config file"):
        report_inputs(config, store=store)
