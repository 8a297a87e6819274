"""The one clock: SOURCE_DATE_EPOCH fixes every time written into an output."""

from datetime import datetime, timezone

import pytest

from mlstrat._clock import utc_now
from mlstrat._exceptions import ConfigError


def test_source_date_epoch_fixes_the_clock(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert utc_now() == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)


def test_without_source_date_epoch_the_clock_is_the_wall_clock_in_utc(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    before = datetime.now(timezone.utc)
    now = utc_now()
    assert now.tzinfo == timezone.utc and before <= now <= datetime.now(timezone.utc)


@pytest.mark.parametrize("value", ["soon", "1.5", "9" * 40])
def test_a_malformed_source_date_epoch_is_one_clear_error(monkeypatch, value):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    with pytest.raises(ConfigError, match=r"SOURCE_DATE_EPOCH=.* is not a whole number of seconds"):
        utc_now()


def test_the_reports_generated_line_reads_the_fixed_clock(monkeypatch):
    """Two pages of the same inputs differ only if the clock does (the cause of a flaky
    comparison of pages rendered a minute apart)."""
    from mlstrat.diagnosis import diagnose
    from mlstrat.report import render_report

    errors = {"train": 0.05, "train_dev": 0.06, "dev": 0.10, "test": 0.11}
    diagnosis = diagnose(errors=errors, sizes={s: 2000 for s in errors}, human=0.01)
    pages = {}
    for epoch in ("1700000000", "1800000000"):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
        pages[epoch] = render_report(diagnosis=diagnosis)
    assert "generated 2023-11-14 22:13 UTC" in pages["1700000000"]
    assert "generated 2027-01-15 08:00 UTC" in pages["1800000000"]
    same = pages["1800000000"].replace("2027-01-15 08:00", "2023-11-14 22:13")
    assert same == pages["1700000000"]
