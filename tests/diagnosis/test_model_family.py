"""Actions worded for the model family; their ids never change."""

import json

import pytest
from typer.testing import CliRunner

from mlstrat import ConfigError
from mlstrat.cli import app
from mlstrat.diagnosis import ACTIONS, FAMILY_ACTIONS, MODEL_FAMILIES, diagnose

FIGURES = {"errors": "train=8%,train_dev=14%,dev=15%", "human": ["1%"]}


@pytest.mark.parametrize("family", MODEL_FAMILIES)
def test_ids_are_the_same_for_every_family(family):
    nn = diagnose(**FIGURES)
    d = diagnose(**FIGURES, model_family=family)
    assert [a.id for a in d.actions] == [a.id for a in nn.actions]
    assert [a.addresses for a in d.actions] == [a.addresses for a in nn.actions]
    assert d.to_dict()["model_family"] == family
    for action in d.actions:
        title, why = FAMILY_ACTIONS.get(family, {}).get(action.id, ACTIONS[action.id])
        assert (action.title, action.why) == (title, why)


def test_wording_per_family():
    titles = {f: {a.id: a.title for a in diagnose(**FIGURES, model_family=f).actions}
              for f in MODEL_FAMILIES}
    assert titles["neural_network"]["bigger_network"] == "Train a bigger network (more layers or units)"
    assert titles["gradient_boosting"]["bigger_network"] == "Grow more or deeper trees, lower min_samples_leaf"
    assert titles["linear"]["bigger_network"] == "Richer features, less regularization"
    assert titles["other"]["bigger_network"] == "Increase the model's capacity"
    assert "network" not in " ".join(titles["gradient_boosting"].values()).lower()


def test_aliases_and_unknown_family():
    assert diagnose(**FIGURES, model_family="GBT").model_family == "gradient_boosting"
    with pytest.raises(ConfigError) as info:
        diagnose(**FIGURES, model_family="linaer")
    assert str(info.value) == ("--model-family: unknown family 'linaer' (did you mean 'linear'?); "
                               "choose from neural_network, gradient_boosting, linear, other")


def test_cli_flag():
    result = CliRunner().invoke(app, ["diagnose", "--errors", "train=8%,dev=9%", "--human", "1%",
                                      "--model-family", "linear", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["actions"][0]["id"] == "bigger_network"
    assert out["actions"][0]["title"] == "Richer features, less regularization"
    bad = CliRunner().invoke(app, ["diagnose", "--errors", "train=8%", "--model-family", "svm"])
    assert bad.exit_code == 2
