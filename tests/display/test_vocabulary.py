"""The number vocabulary: intervals in brackets, even columns, changes that add up."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from mlstrat.display import (column_digits, format_change, format_interval, format_pct, format_pts,
                             format_figure)

rates = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
signed = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False)


def _number(text: str) -> float:
    return float(re.sub(r"[^0-9.+-]", "", text))


@settings(max_examples=300, deadline=None)
@given(st.lists(rates, min_size=3, max_size=3).map(sorted))
def test_interval_text_holds_the_point_between_its_ends(trio: list[float]) -> None:
    low, point, high = trio
    digits = column_digits([low, point, high])
    text = format_interval(low, high, digits=digits)
    match = re.fullmatch(r"\[(\d+\.\d+)%, (\d+\.\d+)%\]", text)
    assert match, text
    shown = _number(format_pct(point, digits=digits))
    assert float(match.group(1)) <= shown <= float(match.group(2))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(rates, st.none()), min_size=1, max_size=8))
def test_a_column_has_one_precision(values: list[float | None]) -> None:
    digits = column_digits(values)
    texts = [format_pct(v, digits=digits) for v in values if v is not None]
    decimals = {len(t.rstrip("%").split(".")[1]) for t in texts}
    assert decimals <= {digits}
    # a non-zero value never reads as zero next to values with more digits
    for v, t in zip([v for v in values if v is not None], texts):
        if v >= 0.0001:
            assert _number(t) > 0 or digits == 2 and v < 0.00005


@settings(max_examples=300, deadline=None)
@given(rates, rates)
def test_a_change_is_the_difference_of_the_values_shown(before: float, after: float) -> None:
    b, a, change = format_change(before, after)
    assert change.endswith(" pts")
    assert round(_number(a) - _number(b), 4) == round(_number(change), 4)


@settings(max_examples=200, deadline=None)
@given(signed, signed)
def test_a_signed_interval_is_in_points(x: float, y: float) -> None:
    low, high = sorted((x, y))
    text = format_interval(low, high, signed=True)
    assert re.fullmatch(r"\[[+-]\d+\.\d+, [+-]\d+\.\d+\] pts", text), text
    assert "±" not in text


def test_examples_read_as_documented() -> None:
    assert format_interval(0.123, 0.263) == "[12.3%, 26.3%]"
    assert format_change(0.0344, 0.0496) == ("3.4%", "5.0%", "+1.6 pts")
    assert format_pts(0.021) == "+2.1 pts"
    assert format_pts(-0.0) == "+0.0 pts"
    assert [format_pct(v, digits=column_digits([0.0, 0.0086, 0.2])) for v in (0.0, 0.0086, 0.2)] == [
        "0.00%", "0.86%", "20.00%"]
    assert format_interval(0.12, 0.34, rate=False) == "[0.12, 0.34]"
    regression = {"metric": {"name": "rmse", "unit": "value"}}
    assert format_figure(0.5, regression, signed=True) == "+0.5"
    assert format_figure(0.02, None, signed=True) == "+2.0 pts"
