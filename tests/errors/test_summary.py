import json
import math
import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlstrat import InputError, MlstratWarning
from mlstrat.errors import compare_sheets, sample_errors, summarize_sheet
from mlstrat.errors._categories import wilson_interval
from mlstrat.errors._sheet import meta_path
from mlstrat.errors._summary import summarize_marks
from tests.errors._data import simple_predictions, write


def make_sheet(
    tmp_path,
    marks: dict[str, list[str]],
    *,
    n_dev=1000,
    n_errors=100,
    name="sheet.csv",
    include_correct=0,
    split="dev",
):
    """A sampled sheet of all ``n_errors`` errors, with category columns filled from ``marks``."""
    src = write(
        simple_predictions(n_dev=n_dev, n_errors=n_errors, n_train=0).assign(split=split),
        tmp_path / f"{name}.preds.csv",
    )
    out = tmp_path / name
    sample_errors(src, split=split, n=n_errors, include_correct=include_correct, output=out)
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    for cat, values in marks.items():
        df.insert(len(df.columns) - 1, cat, values + [""] * (len(df) - len(values)))
    df.to_csv(out, index=False)
    return out


def test_worked_example_exact(tmp_path):
    # docs/method.md §4: dev error 10%, 100 sampled errors: 43 great cat, 61 blurry, 8 dog, 6 mislabeled
    marks = {
        "dog": ["1"] * 8,
        "great cat": [""] * 57 + ["x"] * 43,
        "blurry": ["X"] * 61,
        "mislabeled": [""] * 94 + ["yes"] * 6,
    }
    out = make_sheet(tmp_path, marks)
    s = summarize_sheet(out)
    assert (s.split, s.split_error, s.sample_size, s.reviewed) == ("dev", 0.1, 100, 100)
    assert s.tagged == 100 and s.other_causes.count == 0
    assert [c.name for c in s.categories] == ["blurry", "great cat", "dog", "mislabeled"]
    expected = {
        "blurry": (61, 0.61),
        "great cat": (43, 0.43),
        "dog": (8, 0.08),
        "mislabeled": (6, 0.06),
    }
    for c in s.categories:
        count, share = expected[c.name]
        assert c.count == count and c.share == share
        assert c.ceiling == pytest.approx(0.1 * share, abs=1e-15)
        assert c.error_if_fixed == pytest.approx(0.1 * (1 - share), abs=1e-15)
    assert s.category("great cat").ceiling == pytest.approx(0.043, abs=1e-15)
    assert s.category("great cat").error_if_fixed == pytest.approx(0.057, abs=1e-15)
    assert s.mislabeled.category == "mislabeled"
    assert s.mislabeled.error_due == pytest.approx(0.006, abs=1e-15)
    assert s.mislabeled.error_other == pytest.approx(0.094, abs=1e-15)
    assert "probably not worth it" in s.advice and "'blurry'" in s.advice
    assert s.warnings == ()


def test_to_dict_has_exactly_the_issue_keys(tmp_path):
    out = make_sheet(tmp_path, {"blurry": ["1"] * 100, "mislabeled": ["1"] * 30})
    d = summarize_sheet(out).to_dict()
    assert list(d) == [
        "split",
        "split_error",
        "sample_size",
        "reviewed",
        "tagged",
        "categories",
        "other_causes",
        "mislabeled",
        "warnings",
    ]
    assert d["other_causes"]["name"] == "no category: other causes"
    assert list(d["categories"][0]) == [
        "name",
        "count",
        "share",
        "share_ci",
        "ceiling",
        "error_if_fixed",
    ]
    assert list(d["mislabeled"]) == ["category", "error_due", "error_other"]
    assert d["mislabeled"]["error_due"] == pytest.approx(0.03)
    json.dumps(d)  # plain JSON


def test_mislabeled_worth_fixing_when_large(tmp_path):
    # dev error 2%: mislabeled is 30% of errors -> worth fixing (docs/method.md §4)
    out = make_sheet(
        tmp_path,
        {"blurry": ["1"] * 70, "mislabeled": [""] * 70 + ["1"] * 30},
        n_dev=5000,
        n_errors=100,
    )
    s = summarize_sheet(out)
    assert s.split_error == 0.02
    assert s.mislabeled.error_due == pytest.approx(
        0.006
    ) and s.mislabeled.error_other == pytest.approx(0.014)
    assert "Fixing labels is worth it" in s.advice


def test_no_mislabeled_category_gives_null(tmp_path):
    s = summarize_sheet(make_sheet(tmp_path, {"blurry": ["1"] * 100}))
    assert s.mislabeled is None and s.to_dict()["mislabeled"] is None and s.advice is None


def test_custom_mislabeled_name(tmp_path):
    out = make_sheet(tmp_path, {"blurry": ["1"] * 90, "bad label": [""] * 90 + ["1"] * 10})
    s = summarize_sheet(out, mislabeled="bad label")
    assert s.mislabeled.category == "bad label" and s.mislabeled.error_due == pytest.approx(0.01)
    with pytest.raises(
        InputError,
        match=re.escape(
            f"{out}: no category column 'bad labl' (did you mean "
            "'bad label'?); categories: blurry, bad label"
        ),
    ):
        summarize_sheet(out, mislabeled="bad labl")


def test_untagged_rows_are_other_causes_in_the_denominator(tmp_path):
    out = make_sheet(tmp_path, {"blurry": ["1"] * 30 + [""] * 10 + ["1"] * 10})
    s = summarize_sheet(out)
    assert (s.sample_size, s.reviewed, s.tagged) == (100, 100, 40)
    assert s.category("blurry").share == 0.4  # 40 / 100 examined, not 40 / 40
    assert (s.other_causes.count, s.other_causes.share) == (60, 0.6)
    assert s.warnings == ()
    assert len(s.untagged) == 60


def test_small_sample_and_nothing_tagged_warnings(tmp_path):
    s = summarize_sheet(make_sheet(tmp_path, {"blurry": ["1"] * 5}, n_errors=5, n_dev=50))
    assert [w["code"] for w in s.warnings] == ["small_sample"]
    s = summarize_sheet(make_sheet(tmp_path, {"blurry": []}, n_errors=5, n_dev=50, name="e.csv"))
    # without a reviewed column every row was examined: 0 blurry of 5, 5 other causes
    assert s.tagged == 0 and s.reviewed == 5 and s.category("blurry").share == 0.0
    assert s.other_causes.share == 1.0
    s = summarize_marks(split="dev", split_error=0.1, categories=["blurry"], marks=[frozenset()] * 5,
                        is_error=[True] * 5, ids=list("abcde"), reviewed=[False] * 5)
    assert s.reviewed == 0 and [w["code"] for w in s.warnings] == ["nothing_reviewed"]
    assert math.isnan(s.categories[0].share)
    assert (
        s.to_dict()["categories"][0]["share"] != s.to_dict()["categories"][0]["share"]
    )  # nan until JSON


@pytest.mark.parametrize("mark", ["1", "x", "X", "yes", "YES", "true", "True", "✓", " x "])
def test_tagged_marks(tmp_path, mark):
    s = summarize_sheet(make_sheet(tmp_path, {"blurry": [mark] + ["1"] * 9}, n_errors=10, n_dev=20))
    assert s.category("blurry").count == 10


@pytest.mark.parametrize("mark", ["", "0", "no", "No", "false"])
def test_untagged_marks(tmp_path, mark):
    s = summarize_sheet(
        make_sheet(tmp_path, {"blurry": [mark] + ["1"] * 9, "dog": ["1"]}, n_errors=10, n_dev=20)
    )
    assert s.category("blurry").count == 9


def test_unknown_mark_names_row_column_value(tmp_path):
    out = make_sheet(tmp_path, {"blurry": ["1", "1", "maybe"]}, n_errors=10, n_dev=20)
    row_id = pd.read_csv(out).id[2]
    with pytest.raises(
        InputError,
        match=re.escape(
            f"{out}: row 3 (id '{row_id}'), column 'blurry': unknown mark 'maybe'; use 1, x, yes, true "
            "or ✓ for tagged and leave it empty (or 0, no) for not tagged"
        ),
    ):
        summarize_sheet(out)


def test_missing_meta_file(tmp_path):
    out = make_sheet(tmp_path, {"blurry": ["1"]}, n_errors=10, n_dev=20)
    meta_path(out).unlink()
    with pytest.raises(
        InputError,
        match=re.escape(
            f"{out}: its meta file sheet.csv.meta.json is missing (it records the split's error that the "
            "ceilings need); re-create the sheet with 'mlstrat errors sample PREDICTIONS --split dev "
            "-o sheet.csv' and copy your tags into it"
        ),
    ):
        summarize_sheet(out)


def test_changed_predictions_warn_with_fingerprints(tmp_path):
    out = make_sheet(tmp_path, {"blurry": ["1"] * 10}, n_errors=10, n_dev=20)
    meta = json.loads(meta_path(out).read_text())
    src = tmp_path / "sheet.csv.preds.csv"
    src.write_text(src.read_text() + "dev-999,dev,cat,dog,a.png,x,0.1,0.8,0.1\n")
    from mlstrat.tables import fingerprint

    with pytest.warns(MlstratWarning) as record:
        s = summarize_sheet(out)
    expected = (
        f"{src}: the predictions file changed since the sheet was sampled (fingerprint "
        f"{meta['fingerprint']} then, {fingerprint(src)} now); the sampled errors and the split "
        "error describe the old predictions: re-sample with 'mlstrat errors sample'"
    )
    assert str(record[0].message) == expected
    assert s.warnings[0] == {"code": "predictions_changed", "message": expected}


def test_include_correct_rows_are_not_in_shares(tmp_path):
    out = make_sheet(
        tmp_path,
        {"mislabeled": ["1"] * 10 + [""] * 10 + ["1"] * 2},
        n_errors=20,
        n_dev=100,
        include_correct=5,
    )
    s = summarize_sheet(out)
    assert s.sample_size == 20 and s.tagged == 10 and s.category("mislabeled").count == 10
    assert s.category("mislabeled").share == 0.5  # 10 of the 20 errors examined
    assert any(
        w["code"] == "mislabeled_correct" and w["message"].startswith("2 correctly classified")
        for w in s.warnings
    )


def test_wilson_matches_scipy():
    from scipy.stats import binomtest

    for k, n in [(0, 10), (3, 10), (43, 100), (100, 100), (1, 1), (17, 250)]:
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9)
    assert wilson_interval(0, 3)[0] == 0.0 and wilson_interval(3, 3)[1] == 1.0  # exact ends


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.frozensets(st.sampled_from(["a", "b", "c"])), min_size=1, max_size=60),
    st.floats(0.0, 1.0),
)
def test_summary_invariants(marks, err):
    s = summarize_marks(
        split="dev",
        split_error=err,
        categories=["a", "b", "c"],
        marks=marks,
        is_error=[True] * len(marks),
        ids=[str(i) for i in range(len(marks))],
    )
    assert s.tagged == sum(1 for m in marks if m)
    assert s.reviewed == len(marks)
    assert s.other_causes.count == len(marks) - s.tagged
    for c in (*s.categories, s.other_causes):
        assert c.share == c.count / len(marks)
        if s.tagged:
            assert 0.0 <= c.share <= 1.0
            assert c.share_ci[0] <= c.share <= c.share_ci[1]
            assert c.ceiling + c.error_if_fixed == pytest.approx(err, abs=1e-12)
            assert c.ceiling <= err + 1e-15
    ceilings = [c.ceiling for c in s.categories]
    if s.tagged:
        assert ceilings == sorted(ceilings, reverse=True)


def test_compare_dev_and_test(tmp_path):
    dev = make_sheet(
        tmp_path,
        {"blurry": ["1"] * 80 + [""] * 20, "mislabeled": [""] * 80 + ["1"] * 20},
        name="dev.csv",
    )
    test = make_sheet(
        tmp_path,
        {"blurry": ["1"] * 40 + [""] * 60, "mislabeled": [""] * 40 + ["1"] * 60},
        name="test.csv",
        split="test",
    )
    c = compare_sheets(dev, test)
    d = c.to_dict()
    assert [s["split"] for s in d["sheets"]] == ["dev", "test"]
    blurry = next(x for x in c.categories if x.name == "blurry")
    assert blurry.shares == (0.8, 0.4) and blurry.difference == pytest.approx(-0.4)
    assert blurry.significant and blurry.difference_ci[1] < 0
    assert [w["code"] for w in c.warnings] == ["share_differs", "share_differs"]


def test_compare_newcombe_reference():
    # Newcombe (1998) table II, example (a): 56/70 vs 48/80 -> difference 0.2, CI 0.0524 to 0.3339
    from mlstrat.errors._compare_sheets import _newcombe

    low, high = _newcombe(48, 80, 56, 70)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def test_label_advice_waits_for_a_narrow_interval(tmp_path):
    # 3 of 5 reviewed errors mislabeled: the share's interval is far too wide to act on
    out = make_sheet(tmp_path, {"blurry": ["1", "1", "", "", ""], "mislabeled": ["", "", "1", "1", "1"]},
                     n_dev=1000, n_errors=5)
    s = summarize_sheet(out)
    low, high = s.category("mislabeled").share_ci
    # independent: n for a 10-point half width at p = 0.6 is 1.96^2 * 0.24 / 0.01 = 92.2 -> 93
    assert s.advice == (f"Too few errors reviewed to decide on fixing labels: incorrect labels are "
                        f"[{100 * low:.1f}%, {100 * high:.1f}%] of the errors (95% interval); tag ~88 more "
                        "to know it within 10 points.")
    assert "worth it" not in s.advice
