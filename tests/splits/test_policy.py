import math

import pytest

from mlstrat import ConfigError
from mlstrat.splits import auto_size, resolvable_difference, resolve_size
from mlstrat.splits._policy import parse_request


@pytest.mark.parametrize("eligible, expected, ratio", [
    (10_000, 2_000, (60, 20, 20)),
    (1_000_000, 10_000, (98, 1, 1)),
    (4_000_000, 10_000, (99.5, 0.25, 0.25)),
])
def test_auto_reproduces_classic_ratios(eligible, expected, ratio):
    n = auto_size(eligible)
    assert n == expected
    assert 100 * (eligible - 2 * n) / eligible == pytest.approx(ratio[0])
    assert 100 * n / eligible == pytest.approx(ratio[1])


@pytest.mark.parametrize("eligible, expected", [(0, 0), (2, 0), (3, 1), (5, 1), (8, 2), (49_999, 10_000)])
def test_auto_small(eligible, expected):
    assert auto_size(eligible) == expected


def test_resolve_formula():
    # n = z^2 p (1-p) / delta^2 with z = 1.96 (95%): p = 5%, delta = 1% -> 1825 rows.
    assert resolve_size(0.01, 0.05) == math.ceil(1.959963984540054**2 * 0.05 * 0.95 / 0.01**2) == 1825
    assert resolve_size(0.02, 0.5) == 2401


def test_resolvable_difference_inverts_resolve():
    n = resolve_size(0.01, 0.1)
    assert resolvable_difference(n, 0.1) <= 0.01
    assert resolvable_difference(n - 1, 0.1) > 0.01
    assert resolvable_difference(0, 0.1) is None


@pytest.mark.parametrize("text, kind, rows", [
    ("auto", "auto", 7), ("500", "count", 500), ("0.1", "fraction", 100), ("10%", "fraction", 100),
    (250, "count", 250), (0.25, "fraction", 250), (300.0, "count", 300),
])
def test_parse_request(text, kind, rows):
    req = parse_request(text, name="dev_size")
    assert req.size.kind == kind
    assert req.rows(1000, auto=7) == rows


@pytest.mark.parametrize("text, message", [
    ("0", "must be positive"), ("-3", "must be positive"), ("abc", "is not a number"),
    ("1.5", "is not a whole count"), ("150%", "strictly between 0% and 100%"), (True, "is not a size"),
    ("none", "'none' is not allowed"),
])
def test_parse_request_rejects(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_request(text, name="dev_size")


def test_none_allowed_for_train_dev():
    assert parse_request("none", name="train_dev", allow_none=True).rows(100, auto=5) == 0
