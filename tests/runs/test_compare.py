import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlstrat import ConfigError
from mlstrat.runs import Run, RunStore, compare_runs, error_change, flatten_config
from tests.report.fixtures import DIAGNOSIS, improved_diagnosis


def _diag(variance: float, dev: float = 0.10, half_width: float = 0.01, **components: float) -> dict:
    """DIAGNOSIS with the given component values, each with a 95% interval of +-``half_width``."""
    d = copy.deepcopy(DIAGNOSIS)
    d["errors"]["dev"]["value"] = dev
    for key, value in {"variance": variance, **components}.items():
        d["components"][key].update(value=value, ci_low=value - half_width, ci_high=value + half_width)
    return d


def _run(run_id: str, seq: int, config=None, diagnosis=None, **kw) -> Run:
    return Run(id=run_id, seq=seq, created_at="2026-01-01T00:00:00", kind="train", config=config,
               diagnosis=diagnosis, **kw)


BASE = {"model": {"hidden": [64]}, "regularization": {"keep_prob": 1.0, "l2": 0.0}, "output": "runs/a"}


def test_one_knob_sentence():
    a = _run("a" * 12, 1, BASE, _diag(0.051))
    b_config = copy.deepcopy(BASE)
    b_config["regularization"]["keep_prob"] = 0.5
    b_config["output"] = "runs/b"  # an output path is not a knob
    b = _run("b" * 12, 2, b_config, _diag(0.020))
    cmp = compare_runs([a, b])
    (step,) = cmp.steps
    assert step.summary == "variance +5.1 pts -> +2.0 pts after keep_prob 0.5"
    assert [c.to_dict() for c in step.config_changes] == [
        {"key": "regularization.keep_prob", "before": 1.0, "after": 0.5}]
    assert not step.several_knobs
    assert cmp.config == {"regularization.keep_prob": [1.0, 0.5]}
    assert cmp.components["variance"] == [0.051, 0.020]
    assert cmp.errors["dev"] == [0.10, 0.10]
    assert cmp.warnings == ()


def test_several_knobs_are_flagged():
    a = _run("a" * 12, 1, BASE, _diag(0.051))
    config = copy.deepcopy(BASE)
    config["regularization"].update(keep_prob=0.5, l2=0.01)
    config["model"]["hidden"] = [128]
    b = _run("b" * 12, 2, config, _diag(0.020))
    cmp = compare_runs([a, b])
    assert cmp.steps[0].several_knobs
    assert cmp.steps[0].summary == "variance +5.1 pts -> +2.0 pts after hidden [128], keep_prob 0.5, l2 0.01"
    (warning,) = cmp.warnings
    assert warning["code"] == "several_knobs"
    assert warning["message"] == (
        "aaaaaaaa -> bbbbbbbb changed 3 config keys at once (model.hidden, regularization.keep_prob, "
        "regularization.l2): the change in errors cannot be attributed to any one of them; change "
        "one knob at a time (orthogonalization)")


def test_a_move_within_its_interval_is_said_to_be_noise():
    # variance 5.1 -> 4.0 pts, each +-3 pts: the change's interval holds 0, so the step's one
    # line must not read it as a move
    a = _run("a" * 12, 1, BASE, _diag(0.051, half_width=0.03))
    b = _run("b" * 12, 2, BASE, _diag(0.040, half_width=0.03))
    (step,) = compare_runs([a, b]).steps
    assert step.summary == "variance +5.1 pts -> +4.0 pts (within noise) with the same config"
    assert step.changes["components"]["variance"].difference.verdict == "tied within noise"


def test_headline_names_big_movers_only():
    a = _run("a" * 12, 1, BASE, DIAGNOSIS)
    b = _run("b" * 12, 2, BASE, improved_diagnosis())
    assert compare_runs([a, b]).steps[0].summary == "data mismatch +7.8 pts -> +1.6 pts with the same config"


def test_many_changes_and_missing_config():
    a = _run("a" * 12, 1, {"x": 1, "y": 1, "z": 1, "w": 1}, _diag(0.05))
    b = _run("b" * 12, 2, {"x": 2, "y": 2, "z": 2, "w": 2}, _diag(0.05))
    c = _run("c" * 12, 3, None, _diag(0.05, dev=0.08))
    cmp = compare_runs([a, b, c])
    assert cmp.steps[0].summary == "no measurable change after 4 config changes (w, x, y, ...)"
    assert cmp.steps[1].summary == "dev error 10.0% -> 8.0% (config not recorded for cccccccc)"
    assert [w["code"] for w in cmp.warnings] == ["several_knobs", "config_not_recorded"]


def test_different_data_test_set_metric_and_anchor_are_warned():
    d2 = copy.deepcopy(DIAGNOSIS)
    d2["metric"] = "f1"
    d2["human_level"]["bayes_proxy"]["value"] = 0.03
    a = _run("a" * 12, 1, BASE, DIAGNOSIS, data_fingerprint="sha256:" + "1" * 64, test_fingerprint="t1")
    b = _run("b" * 12, 2, BASE, d2, data_fingerprint="sha256:" + "2" * 64, test_fingerprint="t2")
    with pytest.raises(ConfigError, match=r"^runs aaaaaaaa \(error\) and bbbbbbbb \(f1\) measure different "
                       "metrics: they are not compared or ranked together; compare runs of one task and metric$"):
        compare_runs([a, b])
    messages = {w["code"]: w["message"] for w in compare_runs([a, b], strict=False).warnings}
    assert set(messages) == {"different_data", "different_test_set", "different_metric", "different_human_level"}
    assert "aaaaaaaa: 111111111111, bbbbbbbb: 222222222222" in messages["different_data"]
    assert "aaaaaaaa: 0.50%, bbbbbbbb: 3.0%" in messages["different_human_level"]


def test_new_training_data_on_the_same_test_set_is_a_knob_not_a_mismatch():
    a = _run("a" * 12, 1, BASE, DIAGNOSIS, data_fingerprint="sha256:" + "1" * 64, test_fingerprint="t1")
    b = _run("b" * 12, 2, BASE, DIAGNOSIS, data_fingerprint="sha256:" + "2" * 64, test_fingerprint="t1")
    messages = {w["code"]: w["message"] for w in compare_runs([a, b]).warnings}
    assert set(messages) == {"different_training_data"}
    assert messages["different_training_data"] == (
        "the runs trained on different data (aaaaaaaa: 111111111111, bbbbbbbb: 222222222222); "
        "they were evaluated on the same test set")


def test_needs_two_distinct_runs():
    a = _run("a" * 12, 1)
    with pytest.raises(ConfigError, match=r"compare needs at least two runs \(got 1\)"):
        compare_runs([a])
    with pytest.raises(ConfigError, match="run aaaaaaaa is given twice"):
        compare_runs([a, a])


def test_store_compare_uses_prefixes_and_is_json(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    a = store.record("train", config=BASE, diagnosis=_diag(0.051))
    b = store.record("train", config={**BASE, "regularization": {"keep_prob": 0.5, "l2": 0.0}},
                     diagnosis=_diag(0.02))
    cmp = store.compare([a.id[:8], b.id[:8]])
    doc = json.loads(json.dumps(cmp.to_dict()))
    assert [r["id"] for r in doc["runs"]] == [a.id, b.id]
    step = doc["steps"][0]
    variance = step["components"]["variance"]
    assert {k: variance[k] for k in ("before", "after", "change")} == {
        "before": 0.051, "after": 0.02, "change": pytest.approx(-0.031)}
    # the change carries its interval (the runs' component intervals combined, unpaired)
    assert variance["ci_low"] < -0.031 < variance["ci_high"] and variance["paired"] is False
    assert step["summary"] == "variance +5.1 pts -> +2.0 pts after keep_prob 0.5"
    assert step["principal_problem"] == {"before": "data_mismatch", "after": "data_mismatch"}


def test_flatten_config():
    assert flatten_config({"a": {"b": {"c": 1}}, "d": [1, 2]}) == {"a.b.c": 1, "d": [1, 2]}
    assert flatten_config(None) == {}


configs = st.dictionaries(st.sampled_from(["lr", "l2", "keep_prob", "seed"]),
                          st.one_of(st.integers(0, 3), st.sampled_from([0.1, 0.5, "adam"])), max_size=4)


@settings(max_examples=60, deadline=None)
@given(configs, configs)
def test_changed_keys_are_exactly_the_differing_ones(ca, cb):
    a, b = _run("a" * 12, 1, {"optim": ca}), _run("b" * 12, 2, {"optim": cb})
    step = compare_runs([a, b]).steps[0]
    changed = {c.key for c in step.config_changes}
    assert changed == {f"optim.{k}" for k in set(ca) | set(cb) if ca.get(k) != cb.get(k)}
    assert step.several_knobs == (len(changed) > 1)
    back = compare_runs([b, a]).steps[0]
    assert {(c.key, c.before, c.after) for c in back.config_changes} == {
        (c.key, c.after, c.before) for c in step.config_changes}


def test_runs_of_different_metrics_get_no_dev_change_in_a_history():
    # an error rate and an RMSE are not one quantity: a history that shows both (strict=False)
    # names no difference, interval or verdict between them
    d2 = copy.deepcopy(DIAGNOSIS)
    d2["metric"] = {"name": "rmse", "unit": "value"}
    d2["errors"]["dev"] = {"value": 3.2, "ci_low": 3.0, "ci_high": 3.4, "n": 500}
    a = _run("a" * 12, 1, BASE, DIAGNOSIS)
    b = _run("b" * 12, 2, BASE, d2)
    step = compare_runs([a, b], strict=False).steps[0]
    assert (step.dev, step.dev_pairing, step.dev_line) == (None, "different metrics", "")
    assert step.to_dict()["dev"] is None
    assert error_change(a, b, "train") == (None, "different metrics")
