"""The assignment number: the engine's expression equals a pure-Python hashlib implementation."""

import hashlib

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from mlstrat.splits import DEFAULT_SALT, assign_hash
from mlstrat.tables import connect, engine_of, read_table, unit_hash

from .conftest import run_split


def reference(key, salt):
    """The formula of docs/guide/split.md written independently of the package."""
    return int(hashlib.md5(f"{key}:{salt}".encode()).hexdigest()[:8], 16) / 2**32


_DUCK = engine_of(connect("duckdb"))


def engine(keys, salt):
    table = read_table(pa.table({"k": pa.array(keys, pa.string())}), con=_DUCK)
    return [r[0] for r in _DUCK.rows(table.select(u=unit_hash(_DUCK, table.k, salt)))]


def test_known_value():
    assert assign_hash("a", "b") == reference("a", "b") == 0.8440864447038621


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.text(min_size=0, max_size=20), min_size=1, max_size=30),
       salt=st.text(min_size=1, max_size=10))
def test_duckdb_equals_hashlib(keys, salt):
    expected = [reference(k, salt) for k in keys]
    assert engine(keys, salt) == expected
    assert [assign_hash(k, salt) for k in keys] == expected


def test_integer_ids_hash_as_decimal_text():
    table = read_table(pa.table({"i": pa.array([7, -12, 10000000000], pa.int64())}), con=_DUCK)
    got = _DUCK.rows(table.select(u=unit_hash(_DUCK, table.i, "s")))
    assert [g[0] for g in got] == [reference(7, "s"), reference(-12, "s"), reference(10000000000, "s")]


def test_values_in_unit_interval():
    us = [assign_hash(i) for i in range(2000)]
    assert min(us) >= 0 and max(us) < 1
    assert 0.45 < sum(us) / len(us) < 0.55


def test_split_follows_the_formula_end_to_end():
    # Without label/domain/groups there is one stratum: test = the 7 smallest u, dev = the next 5.
    ids = [f"row-{i}" for i in range(50)] + list(range(50))
    ids_text = [str(i) for i in ids]
    manifest = pa.table({"id": pa.array(ids_text)})
    res = run_split(manifest, dev_size=5, test_size=7, salt="pepper")
    order = sorted(ids_text, key=lambda k: (reference(k, "pepper"), k))
    got = {r["id"]: r["split"] for r in res.table.to_pyarrow().to_pylist()}
    assert {k for k, v in got.items() if v == "test"} == set(order[:7])
    assert {k for k, v in got.items() if v == "dev"} == set(order[7:12])
    assert res.summary["salt"] == "pepper"


def test_integer_id_column_matches_text_formula():
    manifest = pa.table({"id": pa.array(range(40), pa.int64())})
    res = run_split(manifest, dev_size=4, test_size=4)
    order = sorted(range(40), key=lambda k: (reference(k, DEFAULT_SALT), str(k)))
    got = {r["id"]: r["split"] for r in res.table.to_pyarrow().to_pylist()}
    assert {k for k, v in got.items() if v == "test"} == set(order[:4])


def test_group_key_is_hashed_not_id():
    groups = [f"g{i % 10}" for i in range(40)]
    manifest = pa.table({"id": [f"r{i}" for i in range(40)], "grp": groups})
    res = run_split(manifest, group="grp", dev_size=4, test_size=4)
    order = sorted({g for g in groups}, key=lambda g: (reference(g, DEFAULT_SALT), g))
    got = res.table.to_pyarrow().to_pylist()
    test_groups = {r["grp"] for r in got if r["split"] == "test"}
    assert test_groups == {order[0]}
