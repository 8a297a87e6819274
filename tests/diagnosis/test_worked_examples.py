"""Worked examples from docs/method.md §3 (the classic tables) against the decision rule."""

import pytest

from mlstrat import ConfigError, InputError
from mlstrat.diagnosis import COMPONENTS, RECIPE, diagnose

BIAS_ONLY = {"bigger_network", "train_longer", "better_optimizer", "architecture_search"}
VARIANCE_ONLY = {"more_data", "regularization", "data_augmentation", "architecture_search"}
MISMATCH = {"error_analysis", "collect_target_data", "add_target_data_to_train", "data_synthesis"}


@pytest.mark.parametrize(
    ("errors", "human", "problems"),
    [
        # human 1%, train 8%, dev 10%: bias (7 pts) dominates variance (2 pts)
        ("train=8%,dev=10%", "1%", ("avoidable_bias",)),
        # human ~0 (here 0.5%), train 1%, dev 11%: variance
        ("train=1%,dev=11%", "0.5%", ("variance",)),
        # train 15%, dev 16%, human 0.5%: bias; the 1-point variance is not comparable
        ("train=15%,dev=16%", "0.5%", ("avoidable_bias",)),
        # train 15%, dev 30%: both, variance the larger
        ("train=15%,dev=30%", "0.5%", ("variance", "avoidable_bias")),
        # human 7.5%, train 8%, dev 10%: variance, bias is within tolerance
        ("train=8%,dev=10%", "7.5%", ("variance",)),
        # train-dev separates mismatch from variance: train 1%, train-dev 9%, dev 10% -> variance
        ("train=1%,train_dev=9%,dev=10%", "0%", ("variance",)),
        # train 1%, train-dev 1.5%, dev 10% -> data mismatch
        ("train=1%,train_dev=1.5%,dev=10%", "0%", ("data_mismatch",)),
        # train 10%, train-dev 11%, dev 20%, human 0%: bias (10) and mismatch (9), both listed
        ("train=10%,train_dev=11%,dev=20%", "0%", ("avoidable_bias", "data_mismatch")),
        # human 4%, train 7%, train-dev 10%, dev 6%: bias and variance; dev easier than train
        ("train=7%,train_dev=10%,dev=6%", "4%", ("avoidable_bias", "variance")),
        # dev 5%, test 9%: overfit to dev
        ("train=4.5%,dev=5%,test=9%", "4%", ("dev_overfitting",)),
        # every gap under a point: no problem
        ("train=1%,train_dev=1.5%,dev=2%,test=2.4%", "0.5%", ()),
    ],
)
def test_classic_tables(errors, human, problems):
    d = diagnose(errors=errors, human=[human])
    assert d.problems == problems
    assert d.principal_problem == (problems[0] if problems else None)
    recommended = {a.id for a in d.actions}
    for action in d.actions:
        assert set(action.addresses) <= set(problems)
    if problems == ("avoidable_bias",):
        assert recommended == BIAS_ONLY  # no more_data / regularization for pure bias
    if problems == ("variance",):
        assert recommended == VARIANCE_ONLY  # no bigger_network for pure variance
    if problems == ("data_mismatch",):
        assert recommended == MISMATCH
    if not problems:
        assert [a.id for a in d.actions] == ["error_analysis"] and d.actions[0].addresses == ()
        assert "look at the remaining mistakes" in d.verdict


def test_components_follow_method_formulas():
    d = diagnose(errors="train=1%,train_dev=1.5%,dev=10%,test=10.2%", human=["0.5%"])
    got = {k: d.components[k].value for k in COMPONENTS}
    assert got == pytest.approx(
        {
            "avoidable_bias": 0.005,
            "variance": 0.005,
            "data_mismatch": 0.085,
            "dev_overfitting": 0.002,
        }
    )
    assert (d.components["variance"].from_, d.components["variance"].to) == ("train", "train_dev")
    assert (d.components["avoidable_bias"].from_, d.components["avoidable_bias"].to) == (
        "human_level",
        "train",
    )


def test_without_train_dev_variance_is_dev_minus_train_and_mismatch_is_null():
    d = diagnose(errors="train=1%,dev=11%", human=["0%"])
    assert (d.components["variance"].from_, d.components["variance"].to) == ("train", "dev")
    assert d.components["variance"].value == pytest.approx(0.10)
    mismatch = d.components["data_mismatch"]
    assert mismatch.value is None and mismatch.significant is False


def test_noise_decides_with_sizes():
    # 8% vs 10% on 200 examples each: the 2-point gap is within noise
    small = diagnose(errors="train=8%,dev=10%", sizes="train=200,dev=200", human=["7.5%"])
    assert small.problems == ()
    assert [w.code for w in small.warnings if w.code == "split_too_small"] == ["split_too_small"]
    msg = next(w.message for w in small.warnings if w.code == "split_too_small")
    assert msg.startswith("Variance of 2.0 pts is within noise (95% CI")
    assert msg.endswith(
        # the smallest n at which the Newcombe interval excludes 0 (see test_settling_size)
        "the train and dev samples are too small to decide; about 1,578 examples each would."
    )
    assert small.verdict == (
        "No problem can be established: variance exceeds the 1.0 pts tolerance but is within "
        "the noise of these split sizes; collect bigger splits to decide."
    )
    # the same gap on 20 000 examples each is a real problem
    big = diagnose(errors="train=8%,dev=10%", sizes="train=20000,dev=20000", human=["7.5%"])
    assert big.problems == ("variance",)
    assert big.components["variance"].ci_low > 0


def test_tolerance_is_respected():
    d = diagnose(errors="train=8%,dev=10%", human=["7.5%"], tolerance="3%")
    assert d.problems == ()
    assert d.tolerance == 0.03


def test_comparable_rule():
    # bias 4 pts, variance 1.5 pts: less than half and clearly apart -> only bias
    d = diagnose(errors="train=4.5%,dev=6%", sizes="train=100000,dev=100000", human=["0.5%"])
    assert d.components["variance"].significant
    assert d.problems == ("avoidable_bias",)
    # bias 3.5, variance 2.0, mismatch 2.0: both at least half of 3.5 -> all listed, largest first
    d = diagnose(
        errors="train=10%,train_dev=12%,dev=14%",
        sizes="train=1000000,train_dev=8000,dev=8000",
        human=["6.5%"],
    )
    assert d.problems[0] == "avoidable_bias" and set(d.problems) == {
        "avoidable_bias",
        "variance",
        "data_mismatch",
    }


def test_comparable_rule_lists_overlapping_intervals():
    # bias 3.0 pts (CI 2.34..3.84), variance 1.3 pts (CI 0.13..2.48): less than half of the bias,
    # but the intervals overlap, so the data cannot say bias is the larger -> both listed
    small = diagnose(errors="train=3%,dev=4.3%", sizes="train=2000,dev=2000", human=["0%"])
    assert small.problems == ("avoidable_bias", "variance")
    # with 3000 examples each the intervals separate (2.45.. vs ..2.26) -> only bias
    big = diagnose(errors="train=3%,dev=4.3%", sizes="train=3000,dev=3000", human=["0%"])
    assert big.components["variance"].significant
    assert big.problems == ("avoidable_bias",)


def test_recipe_is_deduplicated_and_shared_action_lists_both():
    d = diagnose(errors="train=15%,dev=30%", human=["0.5%"])
    ids = [a.id for a in d.actions]
    assert len(ids) == len(set(ids))
    arch = next(a for a in d.actions if a.id == "architecture_search")
    assert set(arch.addresses) == {"avoidable_bias", "variance"}
    assert ids[:3] == list(RECIPE["variance"][:3])  # the principal problem's actions first


def test_stable_action_ids():
    assert RECIPE == {
        "avoidable_bias": (
            "bigger_network",
            "train_longer",
            "better_optimizer",
            "architecture_search",
        ),
        "variance": ("more_data", "regularization", "data_augmentation", "architecture_search"),
        "data_mismatch": (
            "error_analysis",
            "collect_target_data",
            "add_target_data_to_train",
            "data_synthesis",
        ),
        "dev_overfitting": ("bigger_dev_set",),
    }


def test_surpassed_human_level_warns():
    d = diagnose(errors="train=0.3%,dev=0.6%", human=["expert=0.5%"])
    codes = [w.code for w in d.warnings]
    assert "surpassed_human_level" in codes
    msg = next(w.message for w in d.warnings if w.code == "surpassed_human_level")
    assert "lost its anchor" in msg and "stronger human reference" in msg
    assert d.components["avoidable_bias"].value == pytest.approx(-0.002)
    assert not d.components["avoidable_bias"].significant


def test_no_human_level_leaves_bias_undetermined_and_warns():
    d = diagnose(errors="train=3%,dev=3.5%")
    assert d.human_level.bayes_proxy is None
    assert d.components["avoidable_bias"].status == "undetermined"
    assert d.problems == ()
    assert d.warnings[0].code == "no_human_level"
    explicit = diagnose(errors="train=3%,dev=3.5%", human=["0%"])
    assert explicit.human_level.bayes_proxy.value == 0.0
    assert explicit.problems == ("avoidable_bias",)


def test_best_human_reference_is_bayes_proxy_unless_chosen():
    refs = ["typical person=3%", "expert team=0.5%", "expert=0.7%"]
    d = diagnose(errors="train=3.5%,dev=4%", human=refs)
    assert d.human_level.bayes_proxy.name == "expert team"
    assert d.components["avoidable_bias"].value == pytest.approx(0.03)
    assert d.problems == ("avoidable_bias",)
    d = diagnose(errors="train=3.5%,dev=4%", human=refs, bayes="typical person")
    assert d.human_level.bayes_proxy.value == 0.03
    assert d.problems == ()


def test_mismatched_without_train_dev_warns():
    d = diagnose(errors="train=1%,dev=11%", human=["0%"], mismatched=True)
    assert "mismatched_without_train_dev" in [w.code for w in d.warnings]
    assert "undetermined between variance and data mismatch" in d.verdict
    d = diagnose(errors="train=1%,train_dev=2%,dev=11%", human=["0%"], mismatched=True)
    assert "mismatched_without_train_dev" not in [w.code for w in d.warnings]


def test_test_split_used_warns():
    d = diagnose(errors="train=1%,dev=2%,test=2%", human=["0.5%"])
    assert "test_split_used" in [w.code for w in d.warnings]
    assert "test_split_used" not in [w.code for w in diagnose(errors="train=1%,dev=2%").warnings]


def test_to_dict_shape():
    d = diagnose(
        errors="train=1%,train_dev=1.5%,dev=10%,test=10.2%",
        sizes="train=50000,train_dev=2000,dev=2000,test=2000",
        human=["expert team=0.5%"],
    )
    out = d.to_dict()
    assert list(out) == [
        "metric",
        "errors",
        "human_level",
        "components",
        "problems",
        "principal_problem",
        "verdict",
        "actions",
        "warnings",
        "tolerance",
        "model_family",
        "dev_test_check",
    ]
    assert list(out["errors"]) == ["train", "train_dev", "dev", "test"]
    assert set(out["errors"]["train"]) == {"value", "ci_low", "ci_high", "n"}
    assert out["errors"]["train"]["n"] == 50000
    assert out["human_level"] == {
        "references": [
            {"name": "expert team", "value": 0.005, "ci_low": None, "ci_high": None, "n": None}
        ],
        "bayes_proxy": {"name": "expert team", "value": 0.005},
    }
    assert list(out["components"]) == list(COMPONENTS)
    assert set(out["components"]["variance"]) == {
        "value",
        "ci_low",
        "ci_high",
        "significant",
        "status",
        "reason",
        "from",
        "to",
    }
    assert out["components"]["data_mismatch"]["from"] == "train_dev"
    assert out["problems"] == ["data_mismatch"] and out["principal_problem"] == "data_mismatch"
    assert set(out["actions"][0]) == {"id", "title", "why", "addresses"}
    assert set(out["warnings"][0]) == {"code", "message"}
    no_sizes = diagnose(errors="train=1%,dev=2%").to_dict()
    assert no_sizes["errors"]["train"] == {
        "value": 0.01,
        "ci_low": None,
        "ci_high": None,
        "n": None,
    }
    assert no_sizes["components"]["data_mismatch"] == {
        "value": None,
        "ci_low": None,
        "ci_high": None,
        "significant": False,
        "status": "missing",
        "reason": None,
        "from": "train_dev",
        "to": "dev",
    }


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"errors": "train=1%,trian=2%"},
            ConfigError,
            r"--errors: unknown key 'trian' \(did you mean 'train'\?\); allowed: train, train_dev, "
            r"dev, test",
        ),
        (
            {"errors": "train=5,dev=10%"},
            ConfigError,
            r"--errors train: 5 is above 1; rates are fractions in \[0, 1\]. Did you mean 5% \(= "
            r"0.05\)\?",
        ),
        ({"errors": "train:1%"}, ConfigError, r"--errors: 'train:1%' is not of the form key=value"),
        ({"errors": "train=abc"}, ConfigError, r"--errors train: 'abc' is not a number"),
        (
            {"errors": "train=1%", "human": ["120%"]},
            ConfigError,
            r"--human human: 120% is outside \[0, 1\]",
        ),
        (
            {"errors": "train=1%", "human": ["expert=-1%"]},
            ConfigError,
            r"--human expert: -1% is outside \[0, 1\]",
        ),
        (
            {"errors": "train=1%", "human": ["a=1%", "a=2%"]},
            ConfigError,
            r"--human: the name 'a' is given twice",
        ),
        (
            {"errors": "train=1%", "human": ["expert=1%"], "bayes": "exprt"},
            ConfigError,
            r"--bayes: no human reference named 'exprt' \(did you mean 'expert'\?\); references: "
            r"expert",
        ),
        (
            {"errors": "train=1%", "metric": "eror"},
            ConfigError,
            r"unknown metric 'eror' \(did you mean 'error'\?\); choose from error, weighted_error, "
            r"f1",
        ),
        (
            {"errors": "train=1%,dev=2%", "sizes": "train=0,dev=10"},
            InputError,
            r"--sizes train: the split has 0 rows",
        ),
        (
            {"errors": "train=1%", "sizes": "train=10,dev=10"},
            ConfigError,
            r"--sizes: dev has a size but no error in --errors",
        ),
        (
            {"errors": "train=1%", "sizes": "train=1.5"},
            ConfigError,
            r"--sizes train: '1.5' is not a whole count",
        ),
        ({}, ConfigError, r"nothing to diagnose: give a predictions table \(mlstrat diagnose predictions.parquet\) or the errors"),
        ({"errors": "train=1%", "tolerance": "2"}, ConfigError, r"--tolerance: 2 is above 1"),
        (
            {"errors": "train=1%", "human_labels": "x.csv"},
            ConfigError,
            r"--human-labels needs a predictions table",
        ),
    ],
)
def test_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        diagnose(**kwargs)


def test_dict_errors_and_alias():
    d = diagnose(
        errors={"train": 0.01, "train-dev": "1.5%", "dev": 0.1},
        sizes={"train": 1000, "train_dev": 1000, "dev": 1000},
        human=[0.005],
    )
    assert list(d.errors) == ["train", "train_dev", "dev"]
    assert d.errors["train_dev"].n == 1000
    assert d.principal_problem == "data_mismatch"


def test_too_small_with_an_exact_human_level_names_only_the_train_split():
    d = diagnose(errors="train=2.5%,dev=5%", sizes="train=100,dev=100", human=["1%"])
    bias = next(w.message for w in d.warnings if w.message.startswith("Avoidable bias"))
    # one sampled proportion: the smallest n whose Wilson interval of 2.5% lies above 1%
    # (statsmodels' proportion_confint at 170 and 169, checked in test_settling_size)
    assert bias.endswith("the train split is too small to decide; about 170 examples would.")
    assert d.problems == ()
