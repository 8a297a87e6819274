"""mismatch on a sample: the engine draws the rows of the split's hashed assignment, the output
still covers every source row, and the driver never holds the table."""

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlstrat.mismatch import analyze_mismatch
from tests.memory import MB, peak_rss, write_big_table


def _u(key: str, salt: str) -> float:
    return int(hashlib.md5(f"{key}:{salt}".encode()).hexdigest()[:8], 16) / 2**32


@pytest.fixture(scope="module")
def shifted(tmp_path_factory):
    """1,200 target rows and 800 source rows; the target's first feature is shifted."""
    rng = np.random.default_rng(0)
    n = 2000
    domain = np.where(np.arange(n) < 1200, "app", "web")
    x = rng.normal(size=(n, 3))
    x[domain == "app", 0] += 1.0
    table = pa.table({"id": np.arange(n) * 7, "domain": domain, **{f"f_{j}": x[:, j] for j in range(3)}})
    path = tmp_path_factory.mktemp("sample") / "m.parquet"
    pq.write_table(table, path)
    return path, table


def test_the_sample_is_the_hashed_assignment_of_each_side(shifted):
    path, table = shifted
    report = analyze_mismatch(path, domain="domain", target="app", feature_prefix="f_", sample=300, folds=3,
                              importance_repeats=1)
    assert (report.n_target, report.n_source) == (1200, 800)
    assert report.sample == {"rows_per_side": 300, "target_used": 300, "target_rows": 1200,
                             "source_used": 300, "source_rows": 800}
    assert report.sampled and report.to_dict()["sample"]["source_used"] == 300
    ids = table["id"].to_pylist()
    source = [str(i) for i, d in zip(ids, table["domain"].to_pylist()) if d == "web"]
    expected = sorted(source, key=lambda k: (_u(k, "mlstrat-sample:0"), k))[:300]
    assert sorted(report.weights.out_of_fold) == sorted(expected)
    assert report.auc.value > 0.65


def test_the_output_covers_every_source_row(shifted, tmp_path):
    path, table = shifted
    report = analyze_mismatch(path, domain="domain", target="app", feature_prefix="f_", sample=300, folds=3,
                              importance_repeats=1)
    report.write_weights(tmp_path / "w.parquet")
    w = pq.read_table(tmp_path / "w.parquet")
    assert w.column_names == ["id", "domain", "p_target", "target_likeness", "weight"]
    assert sorted(w["id"].to_pylist()) == [i * 7 for i in range(1200, 2000)]
    got = dict(zip(map(str, w["id"].to_pylist()), w["p_target"].to_pylist()))
    for key, p in report.weights.out_of_fold.items():  # the sample keeps its out-of-fold probability
        assert got[key] == p
    like = np.array(w["target_likeness"].to_pylist())
    p = np.array(w["p_target"].to_pylist())
    assert np.allclose(like, p / (1 - p))
    assert np.allclose(w["weight"].to_numpy(), like / like.mean())
    assert [f.name for f in tmp_path.iterdir()] == ["w.parquet"]  # no staged file left


def test_without_a_sample_nothing_changes(shifted):
    path, _ = shifted
    everything = analyze_mismatch(path, domain="domain", target="app", feature_prefix="f_", sample=None, folds=3,
                                  importance_repeats=1)
    large = analyze_mismatch(path, domain="domain", target="app", feature_prefix="f_", sample=5000, folds=3,
                             importance_repeats=1)
    assert not large.sampled and everything.auc == large.auc
    assert everything.weights.equals(large.weights)


def test_a_sample_without_ids_is_refused(shifted):
    from mlstrat import InputError

    _, table = shifted
    with pytest.raises(InputError, match=r"2,000 rows, more than --sample 300 per side, and no id column 'id'"):
        analyze_mismatch(table.drop(["id"]), domain="domain", target="app", feature_prefix="f_", sample=300)


#: the bound on the command's peak memory; the table's columns alone exceed it
_BOUND = 512 * MB


@pytest.mark.slow
def test_mismatch_keeps_a_table_larger_than_its_memory_bound_off_the_driver(tmp_path):
    # 2.6 million rows of 24 features (one row in 100 from the source): about 560 MB of columns.
    # Before the sample, the command read them all and built a float64 copy (over 1 GB peak on
    # 2 million rows); DuckDB's own buffers are capped as a driver's memory would be.
    features = ", ".join(f"((i * {k + 7}) % 101)::DOUBLE + (CASE WHEN i % 100 = 0 THEN {k % 5} ELSE 0 END) "
                         f"AS f_{k}" for k in range(24))
    rows = 2_600_000
    size = write_big_table(tmp_path / "m.parquet", "i AS id, CASE WHEN i % 100 = 0 THEN 'web' ELSE 'app' END "
                           f"AS domain, {features}", rows)
    assert size > _BOUND
    rc, peak, out, err = peak_rss(["mismatch", "m.parquet", "--target", "app", "--feature-prefix", "f_",
                                   "--sample", "5000", "--folds", "3", "-o", "w.parquet", "--json"], tmp_path,
                                  MLSTRAT_MEMORY_LIMIT="128MB")
    assert (rc, err) == (0, "")
    assert peak < _BOUND, f"peak {peak / MB:.0f} MB"
    import json

    doc = json.loads(out)
    assert doc["sample"] == {"rows_per_side": 5000, "target_used": 5000, "target_rows": rows - rows // 100,
                             "source_used": 5000, "source_rows": rows // 100}
    assert pq.ParquetFile(tmp_path / "w.parquet").metadata.num_rows == rows // 100
