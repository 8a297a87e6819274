"""A pruned search on the bundled digits scenario: trials stop at the epoch the median rule
says, are recorded in the run store and in tune.json as pruned (never failed, never the best),
and the CLI shows them."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.runs import RunStore
from mlstrat.tune import tune

from ..nn.conftest import split_digits

CONFIG = """
[data]
manifest = "digits.parquet"
feature_prefix = "px_"

[model]
hidden = [16]

[optim]
epochs = 5
batch_size = 256

[tune]
budget = 6
seed = 0
prune_startup = 2
prune_warmup = 1

[tune.space]
lr = [1e-4, 1.0]
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits-tune")
    pq.write_table(split_digits(), folder / "digits.parquet")
    path = folder / "d.toml"
    path.write_text(CONFIG)
    return path


def _median_rule(trials, *, startup, warmup):
    """Each trial's expected stop, recomputed from the dev-cost curves in tune.json with numpy."""
    done, out = [], {}
    for t in trials:
        curve = t["dev_cost_by_epoch"]
        stop = None
        if len(done) >= startup:
            for e in range(warmup, len(curve) + 1):
                at_e = [c[e - 1] for c in done if len(c) >= e]
                if at_e and min(curve[:e]) > np.median(at_e):
                    stop = e
                    break
        if stop is None:
            done.append(curve)
        out[t["number"]] = stop
    return out


def test_a_pruned_search_on_digits_records_its_pruned_trials(config, tmp_path):
    store = RunStore(tmp_path / "runs.db")
    result = tune(config, output=tmp_path / "t", store=store)
    doc = json.loads((tmp_path / "t" / "tune.json").read_text())
    pruned = [t for t in doc["trials"] if t["state"] == "pruned"]
    assert pruned, "the search pruned no trial"
    assert doc["pruned"] == len(pruned)
    assert doc["prune"] == {"startup": 2, "warmup": 1}
    expected = _median_rule(sorted(doc["trials"], key=lambda t: t["number"]), startup=2, warmup=1)
    assert {t["number"]: t.get("pruned_at_epoch") for t in doc["trials"]} == expected
    for t in pruned:
        assert t["value"] is None and t["feasible"] is False and "error" not in t
        assert len(t["dev_cost_by_epoch"]) == t["pruned_at_epoch"] == t["epochs"] < 5
        run = store.get(result.run_ids[t["number"]])
        assert run.metrics["status"] == "pruned"
        assert run.metrics["pruned_at_epoch"] == t["pruned_at_epoch"]
        assert run.note.startswith(f"pruned at epoch {t['pruned_at_epoch']} | tune d.toml trial {t['number']}")
    assert doc["epochs"] == sum(t["epochs"] for t in doc["trials"]) < 5 * 6
    assert result.best.state == "complete" and result.first_failure is None
    assert doc["best"]["number"] not in {t["number"] for t in pruned}
    page = (tmp_path / "t" / "tune.html").read_text()
    assert f"pruned at epoch {pruned[0]['pruned_at_epoch']}" in page and ">failed<" not in page


@pytest.mark.slow
def test_the_cli_shows_pruned_trials_and_no_prune_trains_them_all(config, tmp_path):
    out = CliRunner().invoke(app, ["tune", str(config), "-o", str(tmp_path / "a"), "--no-record"])
    assert out.exit_code == 0, out.output
    assert "pruned at epoch" in out.output and "Pruned " in out.output
    out = CliRunner().invoke(app, ["tune", str(config), "-o", str(tmp_path / "b"), "--no-record", "--no-prune",
                                   "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["prune"] is None and doc["pruned"] == 0 and doc["epochs"] == 5 * 6
    assert all(t["state"] == "complete" for t in doc["trials"])
