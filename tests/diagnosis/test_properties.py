"""Invariants of the decomposition and the decision rule (Hypothesis)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlstrat.diagnosis as diagnosis_pkg
import mlstrat.metrics as metrics_pkg
from mlstrat.diagnosis import COMPARABLE, COMPONENTS, RECIPE, diagnose

rates = st.floats(0.0, 0.5, allow_nan=False).map(lambda x: round(x, 4))


@settings(max_examples=150, deadline=None)
@given(
    train=rates,
    train_dev=st.one_of(st.none(), rates),
    dev=rates,
    test=st.one_of(st.none(), rates),
    human=st.floats(0.0, 0.1).map(lambda x: round(x, 4)),
    sized=st.booleans(),
    tolerance=st.sampled_from([0.0, 0.005, 0.01, 0.02]),
)
def test_decision_rule_invariants(train, train_dev, dev, test, human, sized, tolerance):
    errors = {"train": train, "dev": dev}
    if train_dev is not None:
        errors["train_dev"] = train_dev
    if test is not None:
        errors["test"] = test
    sizes = {s: 5000 for s in errors} if sized else None
    d = diagnose(errors=errors, sizes=sizes, human=[human], tolerance=tolerance)
    comps = d.components
    # the components telescope: they add up to the last error minus human level
    last = test if test is not None else dev
    total = sum(c.value for c in comps.values() if c.value is not None)
    assert total == pytest.approx(last - human, abs=1e-12)
    for c in comps.values():
        if c.value is not None and c.ci_low is not None:
            assert c.ci_low <= c.value <= c.ci_high
        if c.significant:
            assert c.value >= tolerance - 1e-12 and (c.ci_low is None or c.ci_low > 0)
    significant = [n for n in COMPONENTS if comps[n].significant]
    assert set(d.problems) <= set(significant)
    if significant:
        principal = max(significant, key=lambda n: comps[n].value)
        assert comps[d.principal_problem].value == comps[principal].value
        assert d.problems[0] == d.principal_problem
        for name in significant:
            if comps[name].value >= COMPARABLE * comps[principal].value:
                assert name in d.problems
    else:
        assert d.principal_problem is None and d.problems == ()
    # never an action for a problem that was not found
    for action in d.actions:
        assert set(action.addresses) <= set(d.problems)
        if d.problems:
            assert any(action.id in RECIPE[p] for p in d.problems)
    json_shape = d.to_dict()
    assert json_shape["problems"] == list(d.problems)


@pytest.mark.parametrize("module", [metrics_pkg, diagnosis_pkg])
def test_all_lists_real_public_names(module):
    for name in module.__all__:
        assert getattr(module, name) is not None
    assert len(set(module.__all__)) == len(module.__all__)


def test_top_level_names():
    import mlstrat

    assert mlstrat.compute_metrics is metrics_pkg.compute_metrics
    assert mlstrat.select is metrics_pkg.select
    assert mlstrat.diagnose is diagnosis_pkg.diagnose
