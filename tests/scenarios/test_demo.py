"""Every bundled scenario is diagnosed as planted: computed from predictions, not hard-coded."""

import json

import pytest
from typer.testing import CliRunner

from mlstrat._exceptions import ConfigError
from mlstrat.cli import app
from mlstrat.metrics._paired import paired_difference
from mlstrat.runs import RunStore
from mlstrat.scenarios import SCENARIOS, run_demo


@pytest.mark.parametrize("scenario", ["bias", "variance", "label-noise", "clean"])
def test_scenario_is_diagnosed_as_planted(scenario, tmp_path):
    result = run_demo(scenario, out=tmp_path, quick=True, progress=False)
    first = result.iterations[0].diagnosis
    assert first["principal_problem"] == SCENARIOS[scenario].planted
    if result.planted is None:
        assert first["problems"] == []
    # every iteration is a recorded run, and the report was written
    store = RunStore(tmp_path / ".mlstrat" / "runs.db")
    assert sorted(r.id for r in store.list()) == sorted(it.run_id for it in result.iterations)
    assert (tmp_path / "report.html").stat().st_size > 10_000


def test_acting_on_the_recipe_shrinks_the_planted_component(tmp_path):
    result = run_demo("bias", out=tmp_path, quick=True, progress=False)
    change = {row["component"]: row for row in result.changes}
    assert change["avoidable_bias"]["after"] < change["avoidable_bias"]["before"] / 4
    # the dev change is paired on the rows both runs scored, computed here from the predictions
    first, last = (_dev_mistakes(it.run_dir) for it in (result.iterations[0], result.iterations[-1]))
    expected = paired_difference("rate", first.to_numpy(), last.loc[first.index].to_numpy())
    dev = change["dev_error"]
    assert dev["paired"] is True and dev["pairing"] == "paired"
    assert (dev["ci_low"], dev["ci_high"]) == (pytest.approx(expected.ci_low), pytest.approx(expected.ci_high))
    assert dev["verdict"] == expected.verdict == "better"
    assert dev["p_value"] == pytest.approx(expected.p_value)
    # the train error, whose rows are not kept, is compared from the two runs' own intervals
    assert change["train_error"]["paired"] is False
    assert change["train_error"]["pairing"] == "only dev rows are kept per row"


def _dev_mistakes(run_dir):
    import pandas as pd

    frame = pd.read_parquet(f"{run_dir}/predictions.parquet")
    dev = frame[frame["split"] == "dev"].set_index("id")
    return (dev["y_true"] != dev["y_pred"]).astype(float)


def test_label_noise_scenario_finds_the_flipped_labels(tmp_path):
    result = run_demo("label-noise", out=tmp_path, quick=True, progress=False)
    found = result.steps["labels"]
    assert found["precision"] > 0.7 and found["recall"] > 0.7, found


def test_default_demo_loop_through_the_cli(tmp_path):
    """The main job: mismatch found, synthesized data applied, mismatch shrinks, report written."""
    out = CliRunner().invoke(app, ["demo", "-o", str(tmp_path), "--quick", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["planted"] == doc["found"] == "data_mismatch"
    first, last = doc["iterations"][0]["diagnosis"], doc["iterations"][-1]["diagnosis"]
    assert last["components"]["data_mismatch"]["value"] < first["components"]["data_mismatch"]["value"]
    assert doc["steps"]["mismatch"]["auc"]["value"] > 0.9
    assert doc["steps"]["synth"]["auc_after"]["value"] < doc["steps"]["synth"]["auc_before"]["value"]
    assert (tmp_path / "report.html").exists() and (tmp_path / "dev_errors.csv").exists()


def test_unknown_scenario_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown scenario 'bais' \(did you mean 'bias'\?\); choose one of"):
        run_demo("bais", out=tmp_path)
    out = CliRunner().invoke(app, ["demo", "--scenario", "bais", "-o", str(tmp_path)])
    assert out.exit_code == 2
    assert "unknown scenario 'bais'" in out.output


@pytest.mark.slow
def test_tabular_shift_scenario_diagnosed_on_rmse_and_importance_weighting(tmp_path):
    """The non-image scenario: regression, RMSE in its unit, mismatch found, weighting applied."""
    out = CliRunner().invoke(app, ["demo", "--scenario", "tabular-shift", "-o", str(tmp_path), "--quick",
                                   "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["planted"] == doc["found"] == "data_mismatch"
    first, last = doc["iterations"][0]["diagnosis"], doc["iterations"][-1]["diagnosis"]
    assert first["metric"]["name"] == "rmse" and first["model_family"] == "gradient_boosting"
    assert first["actions"][0]["id"] == "error_analysis"
    assert first["human_level"]["bayes_proxy"] == {"name": "noise floor", "value": 25.0}
    # the weighted model does better on the clinic (dev) and the mismatch gap closes
    assert last["errors"]["dev"]["value"] < first["errors"]["dev"]["value"]
    assert last["components"]["data_mismatch"]["ci_high"] < first["components"]["data_mismatch"]["ci_low"]
    assert doc["steps"]["mismatch"]["auc"]["value"] > 0.8
    assert (tmp_path / "report.html").exists()
    text = CliRunner().invoke(app, ["demo", "--scenario", "tabular-shift", "-o", str(tmp_path), "--quick"])
    assert "%" not in text.output.split("Verdict")[0]  # RMSE figures, not percentages
