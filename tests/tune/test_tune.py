"""`mlstrat tune` end to end on the digits manifest: dev is the only split it looks at, every
trial is a recorded run with its diagnosis, the constraints hold, the CLI renders."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.runs import RunStore
from mlstrat.tune import tune

from ..nn.conftest import split_digits

CONFIG = """
[data]
manifest = "{manifest}"
feature_prefix = "px_"

[model]
hidden = [16]

[optim]
epochs = 2
batch_size = 128

[tune]
budget = 3
seed = 0
{extra}

[tune.space]
lr = [1e-3, 1e-1]
hidden = [4, 64]
"""


def _write(tmp_path, name, table, extra=""):
    pq.write_table(table, tmp_path / f"{name}.parquet")
    path = tmp_path / f"{name}.toml"
    path.write_text(CONFIG.format(manifest=f"{name}.parquet", extra=extra))
    return path


def _scramble(table, splits):
    """Labels of the given splits replaced by other classes: a search that looked at them would
    change its figures."""
    split = np.asarray(table["split"].to_pylist())
    label = np.asarray(table["label"].to_pylist())
    rows = np.isin(split, splits)
    label[rows] = (label[rows] + 3) % 10
    return table.set_column(table.column_names.index("label"), "label", pa.array(label))


@pytest.mark.slow
def test_dev_is_the_only_split_the_search_looks_at(tmp_path):
    table = split_digits()
    store = RunStore(tmp_path / "runs.db")
    a = tune(_write(tmp_path, "a", table), output=tmp_path / "ta", store=store)
    b = tune(_write(tmp_path, "b", _scramble(table, ["test"])), output=tmp_path / "tb", record=False)
    c = tune(_write(tmp_path, "c", _scramble(table, ["dev"])), output=tmp_path / "tc", record=False)
    values = [[t.value for t in r.search.trials] for r in (a, b, c)]
    assert values[0] == values[1]  # the test labels changed nothing
    assert values[0] != values[2]  # the dev labels did
    assert a.best.number == b.best.number
    assert a.best.value == min(values[0]) and a.best.value == a.best.info["dev"]["error"]
    assert "Which component each hyperparameter moved" in (tmp_path / "ta" / "tune.html").read_text()

    # every trial is a recorded run, with its diagnosis and without the test split
    runs = [store.get(a.run_ids[t.number]) for t in a.search.trials]
    assert [r.kind for r in runs] == ["tune"] * 3
    for run, trial in zip(runs, a.search.trials):
        assert "test" not in json.dumps(run.metrics.get("splits", run.metrics)).replace("test_", "")
        assert run.diagnosis["components"]["variance"]["value"] is not None
        assert run.test_evaluations is None  # tuning never counts as an evaluation of the test set
        assert run.note.startswith(f"tune a.toml trial {trial.number} (round {trial.round}): lr=")
        assert run.config["optim"]["lr"] == pytest.approx(trial.params["lr"])
        assert run.config["model"]["hidden"] == [trial.params["hidden"]]
    assert set(a.effects) == {"lr", "hidden"}

    doc = json.loads((tmp_path / "ta" / "tune.json").read_text())
    assert doc["best"]["number"] == a.best.number and doc["best"]["run_id"] == a.run_ids[a.best.number]
    assert [t["round"] for t in doc["trials"]] == [1, 1, 2]
    # each trial's convergence verdict, read from its run's history.json
    for t in doc["trials"]:
        history = json.loads((Path(t["run_dir"]) / "history.json").read_text())
        assert t["convergence"] == history["convergence"]["code"]
    assert isinstance(doc["convergence_notes"], list)
    # the tied set is named (paired on the same dev rows) and each trial kept its dev rows
    assert {t["number"] for t in doc["tied"]} == {t.number for t in a.tied}
    assert a.best.number not in {t.number for t in a.tied}
    kept = [store.dev_rows(r.id) for r in runs]
    assert len({k.fingerprint for k in kept}) == 1 and all(k.kind == "rate" for k in kept)


@pytest.mark.slow
def test_parameter_constraint_and_cli(tmp_path):
    config = _write(tmp_path, "d", split_digits(), extra="max_parameters = 3000")
    out = CliRunner().invoke(app, ["tune", str(config), "-o", str(tmp_path / "t"), "--no-record"])
    assert out.exit_code == 0, out.output
    assert "3 trials, chosen on dev_error (dev)" in out.output and "Best: trial" in out.output
    doc = json.loads((tmp_path / "t" / "tune.json").read_text())
    assert doc["constraints"]["max_parameters"] == 3000
    assert doc["best"]["n_parameters"] <= 3000
    infeasible = [t for t in doc["trials"] if not t["feasible"]]
    assert all(t["n_parameters"] > 3000 for t in infeasible) and infeasible
    again = CliRunner().invoke(app, ["tune", str(config), "-o", str(tmp_path / "t"), "--no-record"])
    assert again.exit_code == 2
    assert "already holds a search (tune.db); go on with it (--resume), start a new one (--force)" in again.output


def test_bad_tune_config_is_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[data]\nmanifest = "x.parquet"\n[tune.space]\nlr = [0, 1]\n')
    out = CliRunner().invoke(app, ["tune", str(path)])
    assert out.exit_code == 2
    assert "lr: the low end 0.0 must be positive" in out.output
    assert "Traceback" not in out.output
