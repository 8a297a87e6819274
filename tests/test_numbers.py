import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlstrat._exceptions import ConfigError
from mlstrat._numbers import Size, parse_assignments, parse_rate, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.5%", 0.005), ("0.005", 0.005), ("10%", 0.1), ("0", 0.0), ("0.999", 0.999), ("100%", 1.0), (0.25, 0.25)],
)
def test_parse_rate(text, expected):
    assert parse_rate(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5", r"human: 5 is above 1; rates are fractions in \[0, 1\]. Did you mean 5% \(= 0.05\)\?"),
        ("abc", r"human: 'abc' is not a number"),
        ("-1%", r"human: -1% is outside \[0, 1\]"),
        ("nan", r"human: 'nan' is not a finite number"),
        ("150%", r"outside \[0, 1\]"),
        # a bare 1 reads as 100% or as 1%: refused with the hint 15 gets
        ("1", r"human: 1 is ambiguous \(100% or 1%\?\); rates are fractions in \[0, 1\]. "
              r"Did you mean 1% \(= 0.01\)\? Write 100% for all of them.$"),
        ("1.0", r"human: 1.0 is ambiguous .* Did you mean 1.0% \(= 0.01\)\?"),
        (1, r"human: 1 is ambiguous .* Did you mean 1% \(= 0.01\)\?"),
        ("15", r"human: 15 is above 1; rates are fractions in \[0, 1\]. Did you mean 15% \(= 0.15\)\?$"),
    ],
)
def test_parse_rate_errors(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_rate(text, name="human")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("auto", Size("auto")), ("500", Size("count", 500)), ("0.1", Size("fraction", 0.1)),
     ("10%", Size("fraction", 0.1)), ("AUTO", Size("auto"))],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["0", "-3", "1.5", "100%", "x"])
def test_parse_size_errors(text):
    with pytest.raises(ConfigError, match="dev-size"):
        parse_size(text, name="dev-size")


def test_parse_size_none_only_when_allowed():
    assert parse_size("none", allow_none=True) == Size("none")
    with pytest.raises(ConfigError, match="'none' is not allowed"):
        parse_size("none")


@given(st.floats(min_value=0, max_value=1, allow_nan=False))
def test_rate_roundtrip_percent(x):
    assert parse_rate(f"{x * 100!r}%") == pytest.approx(x, abs=1e-12)


def test_parse_assignments():
    assert parse_assignments("train=1%, dev=10%", name="--errors") == {"train": "1%", "dev": "10%"}
    with pytest.raises(ConfigError, match=r"--errors: unknown key 'dve' \(did you mean 'dev'\?\)"):
        parse_assignments("dve=1%", name="--errors", allowed=["train", "dev"])
    with pytest.raises(ConfigError, match="not of the form key=value"):
        parse_assignments("train", name="--errors")
    with pytest.raises(ConfigError, match="'dev' is given twice"):
        parse_assignments("dev=1%,dev=2%", name="--errors")


@pytest.mark.parametrize(("value", "expected"), [(0.5, 0.5), ("0.25", 0.25), (3, 3.0), (None, None),
                                                 (True, None), ("x", None), (float("nan"), None),
                                                 (float("inf"), None)])
def test_finite_or_none(value, expected):
    from mlstrat._numbers import finite_or_none

    assert finite_or_none(value) == expected
