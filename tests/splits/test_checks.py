"""The dev/test label check against scipy.stats (computed independently of the check's own sum)."""

from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency

from mlstrat.splits._checks import label_check


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 400)), min_size=2, max_size=8))
def test_label_check_equals_scipy_chi2_contingency(cells):
    by_label = {f"c{i}": {"dev": d, "test": t} for i, (d, t) in enumerate(cells)}
    got = label_check(by_label, [])
    keep = [(d, t) for d, t in cells if d + t]
    if len(keep) < 2 or not sum(d for d, _ in keep) or not sum(t for _, t in keep):
        assert got == {"chi2": None, "p_value": None, "dof": 0, "ok": True}
        return
    stat, p, dof, _ = chi2_contingency([[d for d, _ in keep], [t for _, t in keep]], correction=False)
    assert abs(got["chi2"] - stat) <= 1e-9 * max(1.0, stat)
    assert abs(got["p_value"] - p) <= 1e-12
    assert got["dof"] == dof
    assert got["ok"] == (p >= 0.01)
