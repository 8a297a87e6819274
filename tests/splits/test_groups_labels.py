"""Groups holding several labels or several domains (compared with scikit-learn and hand counts)."""

import warnings

import numpy as np
import pyarrow as pa
import pytest
from sklearn.model_selection import StratifiedGroupKFold

from mlstrat import MlstratWarning
from mlstrat.splits import split

from .conftest import assignment, run_split


def _grouped_manifest(seed: int, n_groups: int = 150) -> pa.Table:
    """Groups of 1-30 rows whose labels follow a group-specific (mostly skewed) mix."""
    rng = np.random.default_rng(seed)
    ids, grp, lab = [], [], []
    for g in range(n_groups):
        p = rng.dirichlet([0.5, 0.5, 0.5])
        for _ in range(int(rng.integers(1, 31))):
            ids.append(f"r{len(ids)}")
            grp.append(f"g{g}")
            lab.append("abc"[rng.choice(3, p=p)])
    return pa.table({"id": ids, "grp": grp, "label": lab})


def _worst_share_gap(y: np.ndarray, mask: np.ndarray) -> float:
    return max(abs((y[mask] == c).mean() - (y == c).mean()) for c in np.unique(y))


@pytest.mark.parametrize("seed", range(6))
def test_label_shares_with_mixed_groups_match_stratified_group_kfold(seed):
    m = _grouped_manifest(seed)
    y, groups = np.array(m.column("label").to_pylist()), np.array(m.column("grp").to_pylist())
    # Reference: scikit-learn's 5-fold StratifiedGroupKFold; fold 0 as test, fold 1 as dev (20% each).
    folds = list(StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed).split(y, y, groups))
    ref = max(_worst_share_gap(y, np.isin(np.arange(len(y)), folds[i][1])) for i in (0, 1))

    res = run_split(m, label="label", group="grp", dev_size=0.2, test_size=0.2, train_dev="none")
    got = assignment(res)
    sp = np.array([got[i] for i in m.column("id").to_pylist()])
    ours = max(_worst_share_gap(y, sp == s) for s in ("test", "dev"))
    assert ours <= ref
    assert all(len({sp[i] for i in np.flatnonzero(groups == g)}) == 1 for g in np.unique(groups))
    # sizes stay near the request although groups are whole
    assert abs((sp == "test").sum() - 0.2 * len(y)) <= 15


def test_mixed_label_groups_are_deterministic_and_locked(tmp_path):
    m = _grouped_manifest(7, n_groups=60)
    first = run_split(m, label="label", group="grp", dev_size=0.2, test_size=0.2, train_dev=0.1)
    assert assignment(run_split(m.take(np.arange(m.num_rows)[::-1]), label="label", group="grp", dev_size=0.2,
                                test_size=0.2, train_dev=0.1)) == assignment(first)
    lock = first.write_lock(tmp_path / "lock.parquet")
    more = _grouped_manifest(8, n_groups=20)
    more = pa.table({"id": [f"n{i}" for i in range(more.num_rows)],
                     "grp": [f"new{g}" for g in more.column("grp").to_pylist()],
                     "label": more.column("label")})
    second = run_split(pa.concat_tables([m, more]), label="label", group="grp", dev_size=0.2, test_size=0.2,
                       train_dev=0.1, lock=lock)
    after = assignment(second)
    assert all(after[i] == s for i, s in assignment(first).items())


def test_target_rows_in_mixed_domain_groups_warn_with_counts():
    # g1: 2 app + 1 web (mixed), g2: 1 app + 2 web (mixed), g3..: app only. Hand count: 3 rows, 2 groups.
    grp = ["g1", "g1", "g1", "g2", "g2", "g2"] + [f"a{i}" for i in range(20)]
    dom = ["app", "app", "web", "app", "web", "web"] + ["app"] * 20
    m = pa.table({"id": [f"r{i}" for i in range(len(grp))], "grp": grp, "domain": dom})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = split(m, group="grp", target="app", dev_size=4, test_size=4)
    message = ("3 'app' row(s) in 2 group(s) that also hold other domains stay in train/train-dev so that "
               "dev/test remain pure target rows")
    assert message in res.summary["warnings"]
    assert any(str(w.message) == message and w.category is MlstratWarning for w in caught)
    got = assignment(res)
    assert {got[f"r{i}"] for i in range(6)} <= {"train", "train_dev"}


def test_no_mixed_domain_warning_when_groups_are_pure():
    m = pa.table({"id": [f"r{i}" for i in range(20)], "grp": [f"g{i // 2}" for i in range(20)],
                  "domain": ["app"] * 10 + ["web"] * 10})
    res = run_split(m, group="grp", target="app", dev_size=2, test_size=2)
    assert not any("other domains" in w for w in res.summary["warnings"])


def _many_groups(seed: int, n_groups: int) -> pa.Table:
    """Like _grouped_manifest, vectorized: thousands of groups of 1-30 rows, skewed label mixes."""
    rng = np.random.default_rng(seed)
    grp = np.repeat(np.arange(n_groups), rng.integers(1, 31, n_groups))
    mix = np.cumsum(rng.dirichlet([0.5, 0.5, 0.5], n_groups)[grp], axis=1)
    lab = np.minimum((rng.random(len(grp))[:, None] > mix).sum(axis=1), 2)
    return pa.table({"id": [f"r{i}" for i in range(len(grp))], "grp": [f"g{g}" for g in grp],
                     "label": np.array(list("abc"))[lab]})


def test_pool_of_groups_keeps_the_label_shares_of_placing_every_group(monkeypatch):
    """With 2 000 groups and 1% splits, only a hash-chosen pool (about 4x the rows drawn) is
    placed; the worst label-share gap equals that of placing every group (the old way)."""
    import mlstrat.splits._draw as split_module

    m = _many_groups(0, 2000)
    y, groups = np.array(m.column("label").to_pylist()), np.array(m.column("grp").to_pylist())
    options = dict(label="label", group="grp", dev_size=300, test_size=300, train_dev=300)

    def assigned(res):
        got = assignment(res)
        return np.array([got[i] for i in m.column("id").to_pylist()])

    pooled = assigned(run_split(m, **options))
    monkeypatch.setattr(split_module, "POOL", 10**9)  # a pool larger than any stratum: every group
    every = assigned(run_split(m, **options))
    assert (pooled != every).any()  # the pool was in effect
    for s in ("test", "dev", "train_dev"):
        assert _worst_share_gap(y, pooled == s) <= _worst_share_gap(y, every == s) + 1e-12
        assert abs((pooled == s).sum() - 300) <= 15
    assert all(len(set(pooled[groups == g])) == 1 for g in np.unique(groups))


def _labelled_domains(seed: int, n_groups: int) -> pa.Table:
    """_many_groups with empty labels, and a domain per group (some groups hold both)."""
    m = _many_groups(seed, n_groups)
    rng = np.random.default_rng(seed + 100)
    grp = np.array([int(g[1:]) for g in m.column("grp").to_pylist()])
    app = rng.random(n_groups) < 0.3
    domain = np.where(app[grp], "app", "web")
    mixed = rng.random(len(grp)) < 0.02
    domain[mixed] = np.where(domain[mixed] == "app", "web", "app")
    label = np.array(m.column("label").to_pylist(), dtype=object)
    label[rng.random(len(grp)) < 0.01] = None
    return m.set_column(2, "label", pa.array(label, pa.string())).append_column("domain", pa.array(domain))


@pytest.mark.parametrize("seed", range(2))
def test_rows_per_label_in_the_unit_table_give_the_assignment_of_the_join(monkeypatch, seed, tmp_path):
    """The labelled placement reads each group's rows per label from the unit table; with the
    label columns turned off it joins the rows to the units (the way before): the same splits
    and the same summary, with a target domain, a train-dev set, empty labels, mixed groups
    and a lock."""
    import mlstrat.splits._queries as queries

    m = _labelled_domains(seed, 2000)
    options = dict(label="label", group="grp", target="app", dev_size=300, test_size=300, train_dev=300,
                   salt=f"s{seed}")
    folded = run_split(m, **options)
    lock = folded.write_lock(tmp_path / "lock.parquet")
    more = _labelled_domains(seed + 10, 500)
    more = more.set_column(0, "id", pa.array([f"n{i}" for i in range(more.num_rows)]))
    grown = pa.concat_tables([m, more])
    folded_lock = run_split(grown, lock=lock, **options)
    monkeypatch.setattr(queries, "LABEL_COLUMNS", 0)
    joined = run_split(m, **options)
    joined_lock = run_split(grown, lock=lock, **options)
    assert set(assignment(folded).values()) == {"train", "train_dev", "dev", "test"}
    assert assignment(folded) == assignment(joined)
    assert folded.summary == joined.summary
    assert assignment(folded_lock) == assignment(joined_lock)
    assert folded_lock.summary == joined_lock.summary
