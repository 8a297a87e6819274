"""A component's change between two runs: its 95% interval covers the true change (simulation,
independent of the library's interval code: Wilson and Newcombe written out here)."""

import numpy as np

from mlstrat.runs._changes import UNDETERMINED, component_change

Z = 1.959963984540054


def _wilson(k, n):
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * np.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return p, centre - half, centre + half


def _component(rng, p_from, p_to, n):
    """dev - train-dev style gap of one run with Newcombe's hybrid score interval."""
    a, al, ah = _wilson(rng.binomial(n, p_to), n)
    b, bl, bh = _wilson(rng.binomial(n, p_from), n)
    d = a - b
    return {"value": d, "ci_low": d - np.hypot(a - al, bh - b), "ci_high": d + np.hypot(ah - a, b - bl),
            "status": "computed"}


def test_component_change_interval_covers_the_true_change():
    rng = np.random.default_rng(0)
    true_change = (0.12 - 0.05) - (0.10 - 0.06)
    hits = 0
    reps = 2000
    for _ in range(reps):
        before = _component(rng, 0.06, 0.10, 400)
        after = _component(rng, 0.05, 0.12, 400)
        d = component_change(before, after).difference
        assert d.value == after["value"] - before["value"] and not d.paired
        hits += d.ci_low <= true_change <= d.ci_high
    assert 0.93 <= hits / reps <= 0.975


def test_an_undetermined_component_has_no_change_interval():
    before = {"value": 0.05, "ci_low": 0.01, "ci_high": 0.09, "status": UNDETERMINED}
    after = {"value": 0.03, "ci_low": 0.0, "ci_high": 0.06, "status": "computed"}
    change = component_change(before, after)
    assert change.difference is None and change.no_interval == UNDETERMINED
    assert component_change(None, after) is None
