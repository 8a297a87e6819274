from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlstrat.splits import apportion


@st.composite
def problems(draw):
    counts = draw(st.lists(st.integers(0, 200), min_size=1, max_size=15))
    n = sum(counts)
    totals = []
    left = n
    for _ in range(draw(st.integers(1, 3))):
        t = draw(st.integers(0, left))
        totals.append(t)
        left -= t
    return counts, totals


@settings(max_examples=300, deadline=None)
@given(problems())
def test_within_one_row_and_exact_totals(problem):
    counts, totals = problem
    x = apportion(counts, totals)
    n = sum(counts)
    for k, total in enumerate(totals):
        assert sum(row[k] for row in x) == total
        for s, c in enumerate(counts):
            exact = Fraction(total * c, n) if n else 0
            assert abs(x[s][k] - exact) < 1
    rest_total = n - sum(totals)
    for s, c in enumerate(counts):
        rest = c - sum(x[s])
        assert rest >= 0
        assert abs(rest - (Fraction(rest_total * c, n) if n else 0)) < 1


def test_example_where_both_cannot_round_up():
    # one row, two splits each owed half a row: exactly one of them gets it
    assert sorted(apportion([1, 1], [1, 1])[0]) == [0, 1]


def test_rejects_overdraw():
    with pytest.raises(ValueError, match="exceed"):
        apportion([2, 2], [3, 2])
