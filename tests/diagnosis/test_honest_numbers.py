"""Diagnosis wording and arithmetic: no human level, several problems, exact ties, settling sizes.

Expected values come from hand calculation and statsmodels (Wilson, Newcombe), not from the
code under test.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from mlstrat._exceptions import ConfigError
from mlstrat.diagnosis import diagnose


# -- no human level -----------------------------------------------------------------------------


def test_course_question_without_human_level_is_insufficient_information():
    # "train 4.0%, dev 4.5%, no human level: is bias the problem?" -> insufficient information
    d = diagnose(errors="train=4%,dev=4.5%")
    bias = d.components["avoidable_bias"]
    assert (bias.status, bias.value, bias.significant) == ("undetermined", None, None)
    assert d.errors["train"].value == 0.04  # the training error is still reported
    assert d.problems == () and d.principal_problem is None
    assert [a.id for a in d.actions] == ["measure_human_level"]
    assert not any("avoidable_bias" in a.addresses for a in d.actions)
    assert "Avoidable bias is undetermined" in d.verdict
    assert "--human" in d.verdict  # says which figure settles it
    out = d.to_dict()
    assert out["components"]["avoidable_bias"] == {
        "value": None, "ci_low": None, "ci_high": None, "significant": None,
        "status": "undetermined", "from": "human_level", "to": "train",
        "reason": "no human level: the training error alone cannot tell Bayes error from "
                  "avoidable bias",
    }
    assert out["human_level"] == {"references": [], "bayes_proxy": None}


def test_other_components_are_still_diagnosed_without_human_level():
    d = diagnose(
        errors="train=4%,train_dev=10%,dev=20%,test=30%",
        sizes="train=2000,train_dev=2000,dev=2000,test=2000",
    )
    assert d.components["avoidable_bias"].status == "undetermined"
    # hand: variance 6 pts, mismatch 10 pts, dev overfitting 10 pts (tie: the earlier step leads)
    assert d.principal_problem == "data_mismatch"
    assert d.problems == ("data_mismatch", "dev_overfitting", "variance")
    assert all("avoidable_bias" not in a.addresses for a in d.actions)
    assert d.verdict.startswith("Data mismatch is the principal problem (10.0 pts")
    assert d.verdict.endswith("to settle whether bias is a problem.")


def test_explicit_zero_human_level_keeps_the_whole_train_error_as_bias():
    d = diagnose(errors="train=4%,dev=4.5%", human=["0%"])
    bias = d.components["avoidable_bias"]
    assert (bias.status, bias.value, bias.significant) == ("computed", 0.04, True)
    assert d.principal_problem == "avoidable_bias"
    assert "no_human_level" not in [w.code for w in d.warnings]


# -- verdict wording with several problems ------------------------------------------------------


def test_verdict_with_three_problems():
    d = diagnose(errors="train=10%,train_dev=18%,dev=26%", human=["1%"])
    # hand: bias 9, variance 8, mismatch 8 pts: all at least half of 9
    assert d.problems == ("avoidable_bias", "variance", "data_mismatch")
    assert d.verdict == (
        "Avoidable bias is the principal problem (9.0 pts, human level to train), and variance "
        "(8.0 pts) and data mismatch (8.0 pts) are comparable: work on all three."
    )


def test_verdict_with_four_problems():
    d = diagnose(errors="train=10%,train_dev=18%,dev=26%,test=33%", human=["1%"])
    assert d.problems == ("avoidable_bias", "variance", "data_mismatch", "dev_overfitting")
    assert d.verdict == (
        "Avoidable bias is the principal problem (9.0 pts, human level to train), and variance "
        "(8.0 pts), data mismatch (8.0 pts) and dev overfitting (7.0 pts) are comparable: work "
        "on all four."
    )


def test_verdict_with_two_problems():
    d = diagnose(errors="train=10%,dev=18%", human=["1%"])
    assert d.verdict == (
        "Avoidable bias is the principal problem (9.0 pts, human level to train), and variance "
        "(8.0 pts) is comparable: work on both."
    )


# -- exact ties ----------------------------------------------------------------------------------


def test_ties_go_to_the_earliest_step_in_exact_decimals():
    # in binary floats 0.4 - 0.3 = 0.10000000000000003 beats 0.3 - 0.2 = 0.09999999999999998
    assert 0.4 - 0.3 > 0.3 - 0.2
    assert Decimal("0.4") - Decimal("0.3") == Decimal("0.3") - Decimal("0.2")
    d = diagnose(errors="train=30%,dev=40%", human=["20%"])
    assert d.principal_problem == "avoidable_bias"
    assert d.components["avoidable_bias"].value == d.components["variance"].value == 0.1
    assert d.problems == ("avoidable_bias", "variance")


def test_exact_tolerance_boundary_counts():
    # 16% - 15% is exactly the 1-point tolerance: a problem (value >= tolerance)
    d = diagnose(errors="train=15%,dev=16%", human=["15%"])
    assert d.components["variance"].value == 0.01
    assert d.problems == ("variance",)


# -- split_too_small: the size really settles it ----------------------------------------------


def _quoted_size(message: str) -> int:
    return int(re.search(r"about ([\d,]+) examples", message).group(1).replace(",", ""))


def _newcombe_low(later: float, earlier: float, n: int) -> float:
    low, _ = confint_proportions_2indep(
        later * n, n, earlier * n, n, method="newcomb", compare="diff"
    )
    return float(low)


def _wilson_low(rate: float, n: int) -> float:
    return float(proportion_confint(rate * n, n, method="wilson")[0])


@pytest.mark.parametrize(
    ("errors", "human", "sizes"),
    [
        ("train=10%,dev=18%", "1%", "train=20,dev=20"),  # the 8-point gap of the report
        ("train=8%,dev=10%", "7.5%", "train=200,dev=200"),
        ("train=30%,dev=33%", "29%", "train=300,dev=300"),
    ],
)
def test_settling_size_for_two_sampled_splits(errors, human, sizes):
    d = diagnose(errors=errors, sizes=sizes, human=[human])
    msg = next(w.message for w in d.warnings if w.message.startswith("Variance"))
    n = _quoted_size(msg)
    train, dev = d.errors["train"].value, d.errors["dev"].value
    # statsmodels' Newcombe interval (the diagnosis's method) excludes 0 at n, not at n - 1
    assert _newcombe_low(dev, train, n) > 0
    assert _newcombe_low(dev, train, n - 1) <= 0


@pytest.mark.parametrize(
    ("train", "human", "n_train"),
    [("2.5%", "1%", 100), ("12%", "4%", 10), ("9%", "4%", 8)],
)
def test_settling_size_against_an_exact_human_level(train, human, n_train):
    d = diagnose(errors=f"train={train},dev=50%", sizes=f"train={n_train},dev=10", human=[human])
    msg = next(w.message for w in d.warnings if w.message.startswith("Avoidable bias"))
    assert "the train split is too small" in msg
    n = _quoted_size(msg)
    rate, level = d.errors["train"].value, d.human_level.bayes_proxy.value
    assert _wilson_low(rate, n) > level
    assert _wilson_low(rate, n - 1) <= level


# -- a bare 1 as a rate ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"errors": "train=1%,dev=2%", "human": ["1"]},
         r"^--human human: 1 is ambiguous \(100% or 1%\?\); rates are fractions in \[0, 1\]. "
         r"Did you mean 1% \(= 0.01\)\? Write 100% for all of them.$"),
        ({"errors": "train=1,dev=2%"},
         r"^--errors train: 1 is ambiguous \(100% or 1%\?\); .*Did you mean 1% \(= 0.01\)\?"),
        ({"errors": "train=15,dev=2%"},
         r"^--errors train: 15 is above 1; rates are fractions in \[0, 1\]. "
         r"Did you mean 15% \(= 0.15\)\?$"),
    ],
)
def test_bare_one_is_refused_like_fifteen(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        diagnose(**kwargs)
