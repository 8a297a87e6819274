"""Every command that can show a figure of the test split needs --test and counts one look:
``errors sample --split test``, ``labels --split test``, ``errors summarize`` of a test-split
sheet, ``report --sheet`` of one. Counts are checked in the run store's ledger."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.runs import RunStore, fingerprint_test_set

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "runs.db"
    monkeypatch.setenv("MLSTRAT_STORE", str(path))
    return path


@pytest.fixture(scope="module")
def preds(tmp_path_factory):
    """Three-class predictions with probabilities on train, dev and test (about 20% wrong)."""
    rng = np.random.default_rng(0)
    n = 240
    y = rng.integers(0, 3, n)
    proba = rng.dirichlet(np.ones(3), n) * 0.5
    proba[np.arange(n), y] += 0.5  # mostly right, confidently
    y_pred = proba.argmax(axis=1)
    flipped = rng.random(n) < 0.2  # these rows' labels disagree with the model
    y = np.where(flipped, (y + 1) % 3, y)
    frame = pd.DataFrame({"id": [f"r{i:03d}" for i in range(n)],
                          "split": np.array(["train", "dev", "test"])[np.arange(n) % 3],
                          "y_true": y, "y_pred": y_pred,
                          **{f"proba_{k}": proba[:, k] for k in range(3)}})
    path = tmp_path_factory.mktemp("sealed") / "preds.csv"
    frame.to_csv(path, index=False)
    return path


def looks(store, preds) -> int:
    return RunStore(store).test_evaluation_count(fingerprint_test_set(str(preds)))


@pytest.mark.parametrize("command", [["errors", "sample", "{preds}", "-o", "{tmp}/s.csv", "--split", "test"],
                                     ["labels", "{preds}", "--split", "test"]])
def test_a_test_split_command_needs_the_flag_and_counts_one_look(command, preds, store, tmp_path):
    args = [a.format(preds=preds, tmp=tmp_path) for a in command]
    name = " ".join(args[:1] if args[0] == "labels" else args[:2])
    refused = invoke(*args)
    assert refused.exit_code == 2, refused.output
    assert (f"{name} --split test shows figures of the test split, which is sealed; pass --test"
            in " ".join(refused.output.split()))
    assert "Traceback" not in refused.output
    assert looks(store, preds) == 0
    assert not (tmp_path / "s.csv").exists()  # refused before any work
    for look in (1, 2):
        allowed = invoke(*args, "--test", "--force")
        assert allowed.exit_code == 0, allowed.output
        assert looks(store, preds) == look
        assert f"This is look {look} at test set" in " ".join(allowed.output.split())


def test_other_splits_need_no_flag_and_count_nothing(preds, store, tmp_path):
    assert invoke("errors", "sample", preds, "-o", tmp_path / "s.csv").exit_code == 0
    assert invoke("labels", preds, "--split", "dev").exit_code == 0
    assert invoke("errors", "summarize", tmp_path / "s.csv").exit_code == 0
    assert looks(store, preds) == 0


def _test_sheet(preds, tmp_path):
    sheet = tmp_path / "test_sheet.csv"
    made = invoke("errors", "sample", preds, "-o", sheet, "--split", "test", "-n", "3",
                  "--categories", "blurry", "--test")
    assert made.exit_code == 0, made.output
    df = pd.read_csv(sheet, dtype=str, keep_default_na=False)
    df["blurry"] = "1"
    df.to_csv(sheet, index=False)
    return sheet


def test_summarizing_a_test_sheet_needs_the_flag_and_counts_one_look(preds, store, tmp_path):
    sheet = _test_sheet(preds, tmp_path)
    assert looks(store, preds) == 1  # sampling it
    refused = invoke("errors", "summarize", sheet)
    assert refused.exit_code == 2
    assert ("errors summarize of a test-split sheet shows figures of the test split, which is sealed; "
            "pass --test") in " ".join(refused.output.split())
    assert looks(store, preds) == 1
    allowed = invoke("errors", "summarize", sheet, "--test", "--json")
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.stdout)["split"] == "test"
    assert looks(store, preds) == 2


def test_a_report_with_a_test_sheet_needs_the_flag(preds, store, tmp_path):
    sheet = _test_sheet(preds, tmp_path)
    refused = invoke("report", preds, "--sheet", sheet, "-o", tmp_path / "r.html")
    assert refused.exit_code == 2
    assert ("report --sheet of a test-split sheet shows figures of the test split, which is sealed; "
            "pass --test") in " ".join(refused.output.split())
    assert not (tmp_path / "r.html").exists()
    allowed = invoke("report", preds, "--sheet", sheet, "-o", tmp_path / "r.html", "--test")
    assert allowed.exit_code == 0, allowed.output
    assert looks(store, preds) == 2  # the sample, then the report's one look
