"""Shares are over the mistakes examined (docs/method.md §4), in the sheet, the UI and the report.

The issue's case: 100 sampled mistakes, 40 blurry, 45 with no category. The share of blurry is
40 / 100 (not 40 / 55 = 72.7%), its ceiling the error x 0.40. Expected values are computed by
hand and with scipy / statsmodels, not by the code under test.
"""

from __future__ import annotations

import csv
import re
import warnings

import pandas as pd
import pytest
from scipy.stats import binomtest
from statsmodels.stats.proportion import confint_proportions_2indep

from mlstrat import InputError
from mlstrat._exceptions import ConfigError
from mlstrat.errors import compare_sheets, sample_errors, summarize_sheet
from mlstrat.errors.ui import TagStore, create_app
from tests.errors._data import simple_predictions, write

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TOKEN = "t0ken"
H = {"X-Mlstrat-Token": TOKEN}


def _sheet(tmp_path, columns: dict[str, list[str]], *, name="sheet.csv", split="dev", n_errors=100):
    """All ``n_errors`` errors of a 1000-row split (error 10%), extra columns filled in."""
    src = write(
        simple_predictions(n_dev=1000, n_errors=n_errors, n_train=0).assign(split=split),
        tmp_path / f"{name}.preds.csv",
    )
    out = tmp_path / name
    sample_errors(src, split=split, n=n_errors, output=out)
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    for col, values in columns.items():
        df[col] = values + [""] * (len(df) - len(values))
    df.to_csv(out, index=False)
    return out


def _wilson(k: int, n: int) -> tuple[float, float]:
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


# 40 blurry, 10 mislabeled, 5 dog, 45 with no category
ISSUE = {
    "blurry": ["1"] * 40 + [""] * 60,
    "mislabeled": [""] * 40 + ["1"] * 10 + [""] * 50,
    "dog": [""] * 50 + ["1"] * 5 + [""] * 45,
}


def test_issue_case_share_ceiling_and_other_causes(tmp_path):
    s = summarize_sheet(_sheet(tmp_path, ISSUE))
    assert s.split_error == 0.1
    assert (s.sample_size, s.reviewed, s.tagged) == (100, 100, 55)
    blurry = s.category("blurry")
    assert blurry.share == 0.40  # 40 / 100, not 40 / 55 = 0.727
    assert blurry.share_ci == pytest.approx(_wilson(40, 100), abs=1e-9)
    assert blurry.ceiling == pytest.approx(0.1 * 0.40, abs=1e-15)
    assert blurry.error_if_fixed == pytest.approx(0.1 * 0.60, abs=1e-15)
    other = s.other_causes
    assert (other.name, other.count, other.share) == ("no category: other causes", 45, 0.45)
    assert other.share_ci == pytest.approx(_wilson(45, 100), abs=1e-9)
    assert other.ceiling == pytest.approx(0.045, abs=1e-15)
    assert s.to_dict()["other_causes"]["count"] == 45
    # the mislabeled split: 10 of 100 examined -> 1 point of the 10% error, 9 points other
    assert s.mislabeled.error_due == pytest.approx(0.01, abs=1e-15)
    assert s.mislabeled.error_other == pytest.approx(0.09, abs=1e-15)
    assert s.advice.startswith(
        "Incorrect labels explain 1.00% of the dev error (10.0% of the errors examined); other "
        "causes explain 9.00%. Fixing labels is probably not worth it yet: 'blurry' (40.0% of the "
        "errors examined, ceiling 4.00%) offers more."
    )


def test_reviewed_column_sets_the_denominator(tmp_path):
    # 60 reviewed: 20 blurry among them, plus 2 blurry rows left unmarked in 'reviewed' (a
    # category means someone looked): examined = 62, blurry = 22, other causes = 40
    reviewed = ["1"] * 60 + [""] * 40
    blurry = ["1"] * 20 + [""] * 40 + ["1"] * 2 + [""] * 38
    s = summarize_sheet(_sheet(tmp_path, {"blurry": blurry, "reviewed": reviewed}))
    assert (s.sample_size, s.reviewed, s.tagged) == (100, 62, 22)
    assert s.category("blurry").share == pytest.approx(22 / 62, abs=1e-15)
    assert s.category("blurry").share_ci == pytest.approx(_wilson(22, 62), abs=1e-9)
    assert s.category("blurry").ceiling == pytest.approx(0.1 * 22 / 62, abs=1e-15)
    assert s.other_causes.count == 40
    assert [w["code"] for w in s.warnings] == ["not_all_reviewed"]
    assert s.warnings[0]["message"] == (
        "62 of 100 sampled errors are reviewed; shares are over those, the others are not "
        "counted yet"
    )


def test_bad_reviewed_mark_names_row_and_column(tmp_path):
    out = _sheet(tmp_path, {"blurry": ["1"], "reviewed": ["1", "perhaps"]})
    row_id = pd.read_csv(out).id[1]
    with pytest.raises(InputError, match=re.escape(
        f"{out}: row 2 (id '{row_id}'), column 'reviewed': unknown mark 'perhaps'"
    )):
        summarize_sheet(out)


def test_reviewed_is_reserved(tmp_path):
    src = write(simple_predictions(), tmp_path / "p.csv")
    with pytest.raises(ConfigError, match="'reviewed' is the name of a sheet column"):
        sample_errors(src, n=5, categories="blurry,reviewed", output=tmp_path / "s.csv")
    clash = write(simple_predictions().assign(reviewed="x"), tmp_path / "q.csv")
    with pytest.raises(InputError, match="column 'reviewed' clashes with the sheet's own"):
        sample_errors(clash, n=5, output=tmp_path / "t.csv")


def test_dev_vs_test_comparison_uses_the_examined_errors(tmp_path):
    dev = _sheet(tmp_path, ISSUE, name="dev.csv")
    test_marks = {"blurry": ["1"] * 20 + [""] * 80, "mislabeled": [""] * 20 + ["1"] * 30}
    test = _sheet(tmp_path, test_marks, name="test.csv", split="test")
    c = compare_sheets(dev, test)
    blurry = next(d for d in c.categories if d.name == "blurry")
    assert blurry.shares == (0.40, 0.20)
    low, high = confint_proportions_2indep(20, 100, 40, 100, method="newcomb", compare="diff")
    assert blurry.difference_ci == pytest.approx((low, high), abs=1e-9)
    assert blurry.significant  # 40% vs 20% of 100 each excludes 0


# -- the UI: reviewed when shown and left; the live summary uses the same rule -------------------


@pytest.fixture
def ui(tmp_path):
    src = write(simple_predictions(), tmp_path / "preds.csv")
    out = tmp_path / "sheet.csv"
    sample_errors(src, n=5, categories="blurry,mislabeled", output=out)
    store = TagStore(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = TestClient(create_app(store, token=TOKEN))
    yield out, client
    store.close()


def _rows(sheet):
    return list(csv.DictReader(open(sheet, newline="", encoding="utf-8")))


def test_ui_one_tag_is_one_of_one_reviewed(ui):
    sheet, client = ui
    ids = [r["id"] for r in _rows(sheet)]
    state = client.get("/api/state", headers=H).json()
    assert (state["summary"]["reviewed"], state["summary"]["sample_size"]) == (0, 5)
    data = client.post("/api/tag", json={"id": ids[0], "category": "blurry", "on": True},
                       headers=H).json()
    summary = data["summary"]
    assert (summary["reviewed"], summary["sample_size"]) == (1, 5)
    blurry = next(c for c in summary["categories"] if c["name"] == "blurry")
    assert blurry["share"] == 1.0
    assert blurry["share_ci"] == pytest.approx(list(_wilson(1, 1)), abs=1e-9)
    # moving on and back (j, k) reviews nothing: row 1 was only looked at
    client.post("/api/position", json={"position": 1}, headers=H)
    data = client.post("/api/position", json={"position": 0}, headers=H).json()
    assert data["progress"] == {"tagged": 1, "reviewed": 1, "total": 5}
    # row 1 marked "no category" explicitly: 2 reviewed, blurry 1 of 2
    data = client.post("/api/tag", json={"id": ids[1], "category": "no category: other causes", "on": True},
                       headers=H).json()
    assert data["progress"] == {"tagged": 1, "reviewed": 2, "total": 5}
    summary = data["summary"]
    assert summary["reviewed"] == 2
    assert next(c for c in summary["categories"] if c["name"] == "blurry")["share"] == 0.5
    assert summary["other_causes"]["count"] == 1 and summary["other_causes"]["share"] == 0.5
    # the exported CSV says the same to summarize_sheet
    assert [r["reviewed"] for r in _rows(sheet)] == ["1", "1", "", "", ""]
    s = summarize_sheet(sheet)
    assert (s.reviewed, s.category("blurry").share, s.other_causes.count) == (2, 0.5, 1)


def test_ui_page_shows_n_of_m_reviewed_and_intervals(ui):
    sheet, client = ui
    ids = [r["id"] for r in _rows(sheet)]
    client.post("/api/tag", json={"id": ids[0], "category": "blurry", "on": True}, headers=H)
    html = client.get("/?token=" + TOKEN).text
    assert '<span class="muted small" id="summary-note">1 of 5 reviewed</span>' in html
    assert "<th>95% CI</th>" in html
    # the figures as `errors summarize` prints them, each cell naming its column (for phones)
    assert ('<td data-label="category">blurry</td><td data-label="count">1</td><td data-label="share">100.0%</td>'
            '<td data-label="95% CI">[20.7%, 100.0%]</td>') in html
    assert ('<td data-label="category">no category: other causes</td><td data-label="count">0</td>'
            '<td data-label="share">0.0%</td><td data-label="95% CI">[0.0%, 79.3%]</td>') in html
    js = client.get("/static/app.js", headers=H).text
    assert 's.reviewed + " of " + s.sample_size + " reviewed"' in js


def test_ui_opening_a_spreadsheet_tagged_sheet_keeps_its_work(tmp_path):
    # tagged in a spreadsheet (no reviewed column): tagged or commented rows were looked at
    src = write(simple_predictions(), tmp_path / "preds.csv")
    out = tmp_path / "sheet.csv"
    sample_errors(src, n=5, categories="blurry", output=out)
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    df["blurry"] = ["1", "", "", "", ""]
    df["comment"] = ["", "odd", "", "", ""]
    df.to_csv(out, index=False)
    store = TagStore(out)
    try:
        s = store.summary()
        assert (s.reviewed, s.tagged, s.category("blurry").share) == (2, 1, 0.5)
        assert [r["reviewed"] for r in _rows(out)] == ["1", "1", "", "", ""]
    finally:
        store.close()


def test_report_uses_the_same_rule(tmp_path):
    from mlstrat.report import render_report

    s = summarize_sheet(_sheet(tmp_path, ISSUE))
    html = render_report(error_summary=s.to_dict(), output=tmp_path / "r.html")
    assert "reviewed <b>100</b>" in html and "with a category <b>55</b>" in html
    row = re.search(r'<tr><td data-label="category">blurry</td>(.*?)</tr>', html).group(1)
    # one precision for the ceiling column (0.50% below)
    assert '<td data-label="share of mistakes reviewed" class="num">40.0%</td>' in row and "<b>4.00%</b>" in row
    other = re.search(r'<tr><td data-label="category">no category: other causes</td>(.*?)</tr>', html).group(1)
    assert ('<td data-label="count" class="num">45</td>' in other
            and '<td data-label="share of mistakes reviewed" class="num">45.0%</td>' in other)
