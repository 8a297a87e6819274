"""Invariants of ``split`` (property tests) and its summary."""

import random
from fractions import Fraction

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import mlstrat
from mlstrat import InputError, MlstratWarning
from mlstrat.splits import SplitResult, split

from .conftest import assignment, run_split

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def manifests(draw, groups=False):
    n = draw(st.integers(12, 80))
    labels = draw(st.lists(st.sampled_from(["cat", "dog", "eel"]), min_size=n, max_size=n))
    if groups:
        n_groups = draw(st.integers(4, 20))
        grp = [f"g{draw(st.integers(0, n_groups - 1))}" for _ in range(n)]
        app_groups = {g for g in set(grp) if draw(st.booleans())} or {grp[0]}
        domain = ["app" if g in app_groups else "web" for g in grp]
    else:
        grp = None
        domain = draw(st.lists(st.sampled_from(["app", "web", "web"]), min_size=n, max_size=n))
        assume(domain.count("app") >= 8)
    cols = {"id": [f"ex{i}" for i in range(n)], "label": labels, "domain": domain}
    if grp is not None:
        cols["grp"] = grp
    return pa.table(cols)


def _rows(res):
    return res.table.to_pyarrow().to_pylist()


def _shuffled(table, seed):
    order = list(range(table.num_rows))
    random.Random(seed).shuffle(order)
    return table.take(order)


@SETTINGS
@given(m=manifests(), seed=st.integers(0, 1000))
def test_disjoint_covering_target_pure_stratified_order_independent(m, seed):
    res = run_split(m, label="label", domain="domain", target="app")
    rows = _rows(res)
    # covering and disjoint: every input row exactly once, one split each
    assert sorted(r["id"] for r in rows) == sorted(m.column("id").to_pylist())
    assert all(r["split"] in mlstrat.SPLITS for r in rows)
    sizes = res.sizes
    assert sum(sizes.values()) == m.num_rows
    # target-pure dev/test
    assert all(r["domain"] == "app" for r in rows if r["split"] in ("dev", "test"))
    # exact totals
    req = res.summary["policy"]["requested"]
    assert sizes["dev"] == req["dev"] and sizes["test"] == req["test"] and sizes["train_dev"] == req["train_dev"]
    # stratified: each class within one row of exact proportional allocation
    app = [r for r in rows if r["domain"] == "app"]
    for lab in {r["label"] for r in app}:
        n_s = sum(r["label"] == lab for r in app)
        for sp in ("dev", "test"):
            got = sum(r["label"] == lab and r["split"] == sp for r in app)
            assert abs(got - Fraction(sizes[sp] * n_s, len(app))) < 1
    pool = [r for r in rows if r["split"] in ("train", "train_dev")]
    for key in {(r["domain"], r["label"]) for r in pool}:
        n_s = sum((r["domain"], r["label"]) == key for r in pool)
        got = sum((r["domain"], r["label"]) == key and r["split"] == "train_dev" for r in pool)
        assert abs(got - Fraction(sizes["train_dev"] * n_s, len(pool))) < 1
    # order independence
    again = run_split(_shuffled(m, seed), label="label", domain="domain", target="app")
    assert assignment(again) == assignment(res)


@SETTINGS
@given(m=manifests(groups=True), seed=st.integers(0, 1000))
def test_groups_never_straddle_and_dev_test_stay_target(m, seed):
    try:
        res = run_split(m, label="label", domain="domain", target="app", group="grp",
                        dev_size=2, test_size=2, train_dev=2)
    except InputError as exc:  # too few whole app groups for the sizes asked
        assume("eligible" not in str(exc) and "no group" not in str(exc))
        raise
    rows = _rows(res)
    by_group = {}
    for r in rows:
        by_group.setdefault(r["grp"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_group.values())
    assert all(r["domain"] == "app" for r in rows if r["split"] in ("dev", "test"))
    assert sorted(r["id"] for r in rows) == sorted(m.column("id").to_pylist())
    assert assignment(run_split(_shuffled(m, seed), label="label", domain="domain", target="app", group="grp",
                                dev_size=2, test_size=2, train_dev=2)) == assignment(res)
    checks = res.summary["checks"]["sizes"]
    assert set(checks) == {"test", "dev", "train_dev"}


@SETTINGS
@given(m=manifests(), extra=st.integers(1, 40), salt=st.sampled_from(["mlstrat", "x"]))
def test_lock_keeps_previous_assignment(tmp_path_factory, m, extra, salt):
    folder = tmp_path_factory.mktemp("lock")
    first = run_split(m, label="label", domain="domain", target="app", salt=salt)
    lock = first.write_lock(folder / "lock.parquet")
    n = m.num_rows
    more = pa.table({"id": [f"new{i}" for i in range(extra)],
                     "label": ["cat", "dog"] * (extra // 2) + ["eel"] * (extra % 2),
                     "domain": ["app", "web"] * (extra // 2) + ["app"] * (extra % 2)})
    grown = _shuffled(pa.concat_tables([m, more]), extra)
    second = run_split(grown, label="label", domain="domain", target="app", salt=salt, lock=lock)
    before, after = assignment(first), assignment(second)
    assert all(after[i] == s for i, s in before.items())
    assert len(after) == n + extra
    assert all(r["domain"] == "app" for r in _rows(second) if r["split"] in ("dev", "test"))


def test_lock_with_groups_new_rows_follow_their_group(tmp_path):
    m = pa.table({"id": [f"r{i}" for i in range(60)], "g": [f"g{i % 15}" for i in range(60)]})
    first = run_split(m, group="g", dev_size=8, test_size=8, train_dev="none")
    lock = first.write_lock(tmp_path / "lock.csv")
    more = pa.table({"id": [f"n{i}" for i in range(30)], "g": [f"g{i % 20}" for i in range(30)]})
    second = run_split(pa.concat_tables([m, more]), group="g", dev_size=8, test_size=8, train_dev="none",
                       lock=lock)
    rows = _rows(second)
    groups = {}
    for r in rows:
        groups.setdefault(r["g"], set()).add(r["split"])
    assert all(len(s) == 1 for s in groups.values())
    assert all(assignment(second)[i] == s for i, s in assignment(first).items())
    assert second.summary["policy"]["lock"]["rows"] == 60
    assert not second.leakage


def test_without_lock_adding_rows_can_move_rows():
    # Why the lock exists: rank-based exact allocation shifts boundaries when data is added.
    m = pa.table({"id": [f"r{i}" for i in range(100)]})
    grown = pa.table({"id": [f"r{i}" for i in range(300)]})
    a, b = assignment(run_split(m, dev_size=10, test_size=10)), assignment(run_split(grown, dev_size=10, test_size=10))
    assert any(b[i] != s for i, s in a.items())


def test_lock_removed_rows_warn(tmp_path):
    m = pa.table({"id": [f"r{i}" for i in range(50)]})
    lock = run_split(m, dev_size=5, test_size=5).write_lock(tmp_path / "l.parquet")
    with pytest.warns(MlstratWarning, match="2 locked id"):
        res = split(m.slice(0, 48), dev_size=5, test_size=5, lock=lock)
    assert res.summary["policy"]["lock"]["missing_from_manifest"] == 2


def test_summary_keys_and_json(tmp_path):
    m = pa.table({"id": [f"r{i}" for i in range(200)], "label": ["a", "b"] * 100,
                  "domain": ["app"] * 100 + ["web"] * 100})
    res = run_split(m, label="label", domain="domain", target="app")
    assert isinstance(res, SplitResult)
    d = res.to_dict()
    assert list(d) == ["sizes", "by_domain", "by_label", "policy", "salt", "checks", "warnings"]
    assert d["sizes"] == {"train": 140, "train_dev": 20, "dev": 20, "test": 20}
    assert d["by_domain"]["web"]["dev"] == 0 and d["by_domain"]["app"]["dev"] == 20
    assert d["by_label"]["a"]["test"] == 10
    assert d["policy"]["eligible_rows"] == 100 and d["policy"]["unit"] == "row"
    assert d["checks"]["domain_purity"] == {"target": "app", "dev": 1.0, "test": 1.0, "ok": True}
    assert d["checks"]["label_distribution"]["p_value"] == pytest.approx(1.0)
    assert d["checks"]["dev_size"]["adequate"] is False
    from mlstrat._json import dumps

    assert '"train_dev": 20' in dumps(d)


def test_train_dev_auto_only_with_target_and_none_disables():
    m = pa.table({"id": [f"r{i}" for i in range(100)], "domain": ["app", "web"] * 50})
    assert run_split(m).sizes["train_dev"] == 0
    assert run_split(m, target="app").sizes["train_dev"] == 10
    assert run_split(m, target="app", train_dev="none").sizes["train_dev"] == 0
    assert run_split(m, train_dev=7).sizes["train_dev"] == 7
    assert run_split(m, train_dev="10%").sizes["train_dev"] == 6  # 10% of the 60-row pool


def test_leftover_target_rows_go_to_train():
    m = pa.table({"id": [f"r{i}" for i in range(100)], "domain": ["app", "web"] * 50})
    res = run_split(m, target="app", train_dev="none")
    assert res.summary["by_domain"]["app"] == {"train": 30, "train_dev": 0, "dev": 10, "test": 10}


def test_mix_warns_and_draws_from_all_domains():
    m = pa.table({"id": [f"r{i}" for i in range(200)], "domain": ["app"] * 20 + ["web"] * 180})
    with pytest.warns(MlstratWarning, match="dilute|blend"):
        res = split(m, target="app", mix=True)
    assert res.summary["policy"]["eligible_rows"] == 200
    assert res.summary["checks"]["domain_purity"]["ok"] is False


def test_resolve_sizes_dev_and_reports_resolvable_difference():
    m = pa.table({"id": [f"r{i}" for i in range(5000)]})
    res = run_split(m, resolve="2%", expected_error="10%")
    assert res.sizes["dev"] == res.sizes["test"] == 865  # 1.96^2 * 0.1 * 0.9 / 0.02^2
    check = res.summary["checks"]["dev_size"]
    assert check["adequate"] is True and check["resolvable_difference"] <= 0.02
    assert "resolve a 0.02" in res.summary["policy"]["rule"]


def test_chi_square_warns_on_different_label_distributions():
    # dev/test stratified -> same shares; an explicit lock making them differ triggers the warning
    m = pa.table({"id": [f"r{i}" for i in range(400)], "label": ["a"] * 200 + ["b"] * 200})
    lock = pa.table({"id": [f"r{i}" for i in range(400)],
                     "split": ["dev"] * 60 + ["train"] * 140 + ["test"] * 60 + ["train"] * 140})
    with pytest.warns(MlstratWarning, match="chi-square"):
        res = split(m, label="label", lock=lock, dev_size=60, test_size=60)
    assert res.summary["checks"]["label_distribution"]["p_value"] < 0.01


def test_content_leakage_is_found():
    m = pa.table({"id": [f"r{i}" for i in range(100)], "sha": [f"h{i % 50}" for i in range(100)]})
    res = run_split(m, content="sha", dev_size=20, test_size=20)
    leak = res.summary["checks"]["leakage"]
    assert leak["found"] and leak["content_across_splits"] > 0 and res.leakage
    assert leak["examples"][0].startswith("content sha=")
    clean = run_split(m, content=["sha"], group="sha", dev_size=20, test_size=20)
    assert clean.summary["checks"]["leakage"]["content_across_splits"] == 0 and not clean.leakage


def test_write_never_overwrites_input(tmp_path):
    src = tmp_path / "m.csv"
    src.write_text("id\n" + "\n".join(f"r{i}" for i in range(30)) + "\n")
    res = run_split(src, dev_size=3, test_size=3)
    with pytest.raises(InputError, match="never overwrites its input"):
        res.write(src, force=True)
    out = res.write(tmp_path / "out.parquet")
    with pytest.raises(InputError, match="already exists; pass --force"):
        res.write(out)
    res.write(out, force=True)


def test_public_api():
    import mlstrat.splits as pkg

    assert mlstrat.split is split
    public = {n for n in dir(pkg) if not n.startswith("_")} - {"annotations"}
    modules = {n for n in public if type(getattr(pkg, n)).__name__ == "module"}
    assert set(pkg.__all__) == public - modules


def test_leakage_counts_are_exact_and_only_the_first_examples_reach_the_driver(monkeypatch):
    from mlstrat.splits import _queries

    monkeypatch.setattr(_queries, "LEAK_EXAMPLES", 3)  # what the engine hands over per kind
    m = pa.table({"id": [f"r{i}" for i in range(200)], "sha": [f"h{i % 100}" for i in range(200)]})
    brute = split(m, dev_size=40, test_size=40).table.to_pyarrow().to_pylist()
    splits_of: dict[str, set[str]] = {}
    for row, original in zip(brute, m.to_pylist()):
        splits_of.setdefault(original["sha"], set()).add(row["split"])
    expected = sum(len(s) > 1 for s in splits_of.values())
    seen = []
    real = _queries.content_across_splits

    def spy(*args, **kwargs):
        total, found = real(*args, **kwargs)
        seen.append(found)
        return total, found

    monkeypatch.setattr(_queries, "content_across_splits", spy)
    leak = split(m, content="sha", dev_size=40, test_size=40).summary["checks"]["leakage"]
    assert expected > 3 and leak["content_across_splits"] == expected
    assert len(seen[0]) == 3 and len(leak["examples"]) == 3


def test_groups_across_splits_are_counted_by_the_engine():
    from mlstrat.splits._queries import groups_across_splits
    from mlstrat.tables import connect, engine_of

    engine = engine_of(connect())
    out = engine.register(pa.table({"g": [f"g{i:02d}" for i in range(30)] * 2,
                                    "split": ["train"] * 30 + ["dev"] * 25 + ["train"] * 5}))
    n, first = groups_across_splits(engine, out, group="g")
    assert n == 25 and first == [f"g{i:02d}" for i in range(20)]
