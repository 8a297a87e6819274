import json
import multiprocessing
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import mlstrat
from mlstrat import ConfigError, InputError
from mlstrat.runs import SCHEMA_VERSION, ReusedTestSetWarning, Run, RunStore
from tests.report.fixtures import DIAGNOSIS, METRICS

SRC = str(Path(mlstrat.__file__).parents[1])


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "store" / "runs.db")


def test_public_names():
    import mlstrat.runs

    assert mlstrat.RunStore is RunStore
    assert sorted(mlstrat.runs.__all__) == sorted(n for n in dir(mlstrat.runs) if not n.startswith("_")
                                                  and n not in {"annotations"} and not _is_module(mlstrat.runs, n))


def _is_module(pkg, name):
    import types

    return isinstance(getattr(pkg, name), types.ModuleType)


def test_default_path_is_under_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("MLSTRAT_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert RunStore().path == tmp_path / ".mlstrat" / "runs.db"


def test_environment_names_the_default_store(tmp_path, monkeypatch):
    monkeypatch.setenv("MLSTRAT_STORE", str(tmp_path / "elsewhere.db"))
    assert RunStore().path == tmp_path / "elsewhere.db"


def test_record_and_get_round_trip(store, tmp_path):
    run_dir = tmp_path / "run1"
    run_dir.mkdir()
    run = store.record("train", config={"optim": {"lr": 0.01}, "model": {"hidden": [64, 64]}},
                       data_fingerprint="sha256:data", metrics=METRICS, diagnosis=DIAGNOSIS,
                       artifacts=run_dir, note="baseline", test_fingerprint="sha256:test")
    got = store.get(run.id)
    assert got == run
    assert len(run.id) == 12 and run.seq == 1
    assert got.artifacts == str(run_dir.absolute())
    assert got.diagnosis == DIAGNOSIS and got.metrics == METRICS
    assert got.test_evaluations == 1
    assert got.errors()["dev"]["value"] == 0.112
    assert got.components()["data_mismatch"]["value"] == 0.078
    assert Run.from_dict(json.loads(json.dumps(got.to_dict()))) == got


def test_run_id_chosen_before_recording(store):
    run_id = store.new_id()
    artifacts = store.artifacts_root / run_id
    run = store.record("train", artifacts=artifacts, run_id=run_id)
    assert run.id == run_id and store.get(run_id).artifacts == str(artifacts.absolute())
    assert artifacts.parent == store.path.parent / "runs"
    with pytest.raises(ConfigError, match=f"run_id: '{run_id}' is already recorded"):
        store.record("train", run_id=run_id)
    with pytest.raises(ConfigError, match="run_id: 'XYZ' must be 6 to 32 lowercase hexadecimal"):
        store.record("train", run_id="XYZ")
    assert len(store) == 1


def test_store_file_uses_wal_and_records_its_schema_version(store):
    store.record("train")
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")] == [1, 2]
    assert store.schema_version == SCHEMA_VERSION == 2


def test_config_hash_ignores_key_order(store):
    a = store.record("train", config={"a": 1, "b": {"c": 2, "d": 3}})
    b = store.record("train", config={"b": {"d": 3, "c": 2}, "a": 1})
    c = store.record("train", config={"a": 1, "b": {"c": 2, "d": 4}})
    assert a.config_hash == b.config_hash != c.config_hash
    assert a.config_hash.startswith("sha256:")


def test_config_from_a_toml_file(store, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[regularization]\nkeep_prob = 0.5\n[optim]\nlr = 0.1\n')
    run = store.record("train", config=path)
    assert run.config == {"regularization": {"keep_prob": 0.5}, "optim": {"lr": 0.1}}


def test_documents_with_to_dict_are_stored_as_json(store):
    class Result:
        def to_dict(self):
            return {"metric": "error", "errors": {"dev": {"value": 0.1}}}

    run = store.record("diagnose", diagnosis=Result())
    assert store.get(run.id).diagnosis == {"metric": "error", "errors": {"dev": {"value": 0.1}}}


@pytest.mark.parametrize("kind", ["", "Train", "two words", 3])
def test_bad_kind(store, kind):
    with pytest.raises(ConfigError, match="must be a short lowercase word like 'train'"):
        store.record(kind)


def test_bad_document(store, tmp_path):
    with pytest.raises(InputError, match=r"config: expected a mapping \(JSON object\), got list"):
        store.record("train", config=[1, 2])
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(InputError, match=r"metrics: .*bad.json cannot be parsed"):
        store.record("train", metrics=bad)


def test_list_order_limit_and_kind(store):
    ids = [store.record("train" if i % 2 else "diagnose", note=str(i)).id for i in range(5)]
    assert [r.id for r in store.list()] == ids
    assert [r.note for r in store.list(limit=2)] == ["3", "4"]
    assert [r.note for r in store.list(kind="train")] == ["1", "3"]
    assert len(store) == 5
    with pytest.raises(ConfigError, match="limit: 0 must be a whole number >= 1"):
        store.list(limit=0)


def test_reading_a_missing_store_creates_nothing(tmp_path):
    store = RunStore(tmp_path / "nowhere" / "runs.db")
    assert store.list() == [] and len(store) == 0 and store.schema_version == 0
    assert store.test_evaluation_count("sha256:x") == 0
    with pytest.raises(InputError, match="no run store here yet"):
        store.get("abc")
    assert not (tmp_path / "nowhere").exists()


def test_get_by_prefix_latest_and_errors(store):
    runs = [store.record("train", note=str(i)) for i in range(17)]
    # 17 ids over 16 hex digits: at least two share their first character
    firsts = [r.id[0] for r in runs]
    shared = next(c for c in firsts if firsts.count(c) > 1)
    with pytest.raises(InputError, match=f"run id prefix '{shared}' is ambiguous .*; give more characters"):
        store.get(shared)
    assert store.get(runs[3].id[:10]).note == "3"
    assert store.get(runs[3].id.upper()).note == "3"
    assert store.get("latest").note == "16"
    assert store.get("latest~2").note == "14"
    with pytest.raises(InputError, match="has only 17 run"):
        store.get("latest~17")
    with pytest.raises(InputError, match="is not a run id"):
        store.get("../etc")
    missing = next(p for p in (f"{i:x}" * 12 for i in range(16)) if not any(r.id == p for r in runs))
    with pytest.raises(InputError, match=f"no run '{missing}' in .*runs list"):
        store.get(missing)


def test_test_split_evaluations_are_counted_by_record(store):
    no_test = {"splits": {"dev": METRICS["splits"]["dev"]}}
    assert store.record("train", metrics=no_test, test_fingerprint="sha256:t").test_evaluations is None
    assert store.record("train", metrics=METRICS, test_fingerprint="sha256:t").test_evaluations == 1
    assert store.record("diagnose", diagnosis=DIAGNOSIS, test_fingerprint="sha256:t").test_evaluations == 2
    assert store.record("train", test_fingerprint="sha256:t").test_evaluations == 3
    assert store.test_evaluation_count("sha256:t") == 3
    assert store.test_evaluation_count("sha256:other") == 0


def test_reuse_warning_after_the_threshold(store):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        counts = [store.count_test_evaluation("sha256:abcdef0123456789") for _ in range(5)]
    assert counts == [1, 2, 3, 4, 5]
    with pytest.warns(ReusedTestSetWarning,
                      match=r"the test set abcdef012345 has been evaluated 6 times \(threshold 5\): "
                            "decisions made while looking at it are overfitting the test set"):
        assert store.count_test_evaluation("sha256:abcdef0123456789") == 6
    with pytest.warns(ReusedTestSetWarning, match="evaluated 7 times"):
        store.record("train", metrics=METRICS, test_fingerprint="sha256:abcdef0123456789")


def test_threshold_is_configurable(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs.db", test_reuse_threshold=1)
    store.count_test_evaluation("t")
    with pytest.warns(ReusedTestSetWarning, match=r"evaluated 2 times \(threshold 1\)"):
        store.count_test_evaluation("t")
    monkeypatch.setenv("MLSTRAT_TEST_REUSE_THRESHOLD", "2")
    assert RunStore(tmp_path / "runs.db").test_reuse_threshold == 2
    monkeypatch.setenv("MLSTRAT_TEST_REUSE_THRESHOLD", "two")
    with pytest.raises(ConfigError, match="MLSTRAT_TEST_REUSE_THRESHOLD='two' is not a whole number"):
        RunStore(tmp_path / "runs.db")
    with pytest.raises(ConfigError, match=r"test_reuse_threshold: 0 must be a whole number >= 1"):
        RunStore(tmp_path / "runs.db", test_reuse_threshold=0)


def test_counter_survives_across_processes(store):
    store.count_test_evaluation("sha256:fp")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from mlstrat.runs import RunStore; "
            "print(RunStore(sys.argv[2]).count_test_evaluation('sha256:fp'))")
    for expected in (2, 3):
        out = subprocess.run([sys.executable, "-c", code, SRC, str(store.path)],
                             capture_output=True, text=True, check=True)
        assert out.stdout.strip() == str(expected)
    assert RunStore(store.path).test_evaluation_count("sha256:fp") == 3


def _writer(path: str, tag: str, n: int, barrier) -> None:
    store = RunStore(path, test_reuse_threshold=10_000)
    barrier.wait()
    for i in range(n):
        store.record("train", note=f"{tag}-{i}", metrics=METRICS, test_fingerprint="sha256:shared")
        store.count_test_evaluation("sha256:other")


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "fresh" / "runs.db")  # both processes also race to create the file
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    n = 25
    procs = [ctx.Process(target=_writer, args=(path, tag, n, barrier)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    store = RunStore(path)
    runs = store.list()
    assert sorted(r.note for r in runs) == sorted(f"{t}-{i}" for t in "ab" for i in range(n))
    assert len({r.id for r in runs}) == 2 * n
    assert sorted(r.seq for r in runs) == list(range(1, 2 * n + 1))
    assert sorted(r.test_evaluations for r in runs) == list(range(1, 2 * n + 1))
    assert store.test_evaluation_count("sha256:shared") == 2 * n
    assert store.test_evaluation_count("sha256:other") == 2 * n


# The first schema exactly as version 1 wrote it (a frozen copy: never edit).
_V1 = """
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
INSERT INTO schema_version VALUES (1, '2026-01-01T00:00:00+00:00');
CREATE TABLE runs (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, kind TEXT NOT NULL, config TEXT,
    data_fingerprint TEXT, metrics TEXT, diagnosis TEXT, artifacts TEXT, note TEXT);
CREATE INDEX runs_created ON runs (created_at);
"""


def test_migrates_a_v1_database(tmp_path):
    path = tmp_path / "runs.db"
    conn = sqlite3.connect(path)
    conn.executescript(_V1)
    conn.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 ("0123456789ab", "2026-01-01T00:00:00.000+00:00", "train", json.dumps({"lr": 0.1}),
                  "sha256:d", json.dumps(METRICS), json.dumps(DIAGNOSIS), "/runs/1", "old run"))
    conn.commit()
    conn.close()

    store = RunStore(path)
    old = store.get("0123")
    assert store.schema_version == 2
    assert old.note == "old run" and old.diagnosis == DIAGNOSIS and old.seq == 1
    assert old.config_hash == store.record("train", config={"lr": 0.1}).config_hash
    assert old.test_fingerprint is None and old.test_evaluations is None
    new = store.record("train", metrics=METRICS, test_fingerprint="sha256:t")
    assert new.seq == 3 and new.test_evaluations == 1
    assert [r.note for r in store.list()][0] == "old run"
    versions = sqlite3.connect(path).execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert versions == [(1,), (2,)]


def test_newer_schema_is_refused(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    store.record("train")
    conn = sqlite3.connect(store.path)
    conn.execute("INSERT INTO schema_version VALUES (99, 'future')")
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match="schema version 99 is newer than this mlstrat understands"):
        RunStore(store.path).list()


def test_a_schema_name_that_is_not_utf8_is_one_line(tmp_path):
    # SQLite names the damaged table in its error text, which Python decodes as UTF-8: a byte
    # like 0xff there used to escape as a UnicodeDecodeError traceback
    path = tmp_path / "runs.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE runs (a)")
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET name = CAST(x'72ff' AS TEXT), sql = 'CREATE TABLE ('")
    conn.commit()
    conn.close()
    with pytest.raises(InputError) as caught:
        RunStore(path).list()
    assert str(caught.value) == (f"{path}: is not an mlstrat run store (damaged: its schema holds "
                                 "bytes that are not UTF-8 text); pass another --store")


def test_not_a_run_store(tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("these are not the runs you are looking for" * 100)
    with pytest.raises(InputError, match="is not an mlstrat run store"):
        RunStore(text).list()
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match="is a SQLite database but not an mlstrat run store"):
        RunStore(other).record("train")
    assert sqlite3.connect(other).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == [("users",)]
    with pytest.raises(InputError, match="is a directory; --store takes the database file"):
        RunStore(tmp_path).list()


def test_bad_toml_config(store, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[optim\nlr = ")
    with pytest.raises(InputError, match=r"config: .*config.toml cannot be parsed"):
        store.record("train", config=path)
    assert len(store) == 0
