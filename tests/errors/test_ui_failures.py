"""The tagging UI under failure: a locked store (two servers on one sheet), a full disk and
text that is not valid Unicode get an answer with a message, never a 500; nothing unsaved is
acknowledged."""

import csv
import errno
import os
import sqlite3
import warnings

import pytest

from mlstrat.errors import sample_errors
from mlstrat.errors.ui import TagStore, create_app
from tests.errors._data import simple_predictions, write

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TOKEN = "s3cret-token"
H = {"X-Mlstrat-Token": TOKEN, "Content-Type": "application/json"}


@pytest.fixture
def store(tmp_path):
    src = write(simple_predictions(), tmp_path / "preds.csv")
    out = tmp_path / "sheet.csv"
    sample_errors(src, n=5, categories="dog,blurry", output=out)
    store = TagStore(out)
    yield store
    store.close()


@pytest.fixture
def client(store):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield TestClient(create_app(store, token=TOKEN), raise_server_exceptions=False)


def _first_id(store):
    return store.rows()[0]["id"]


def _tags_in_csv(store):
    return [r["dog"] for r in csv.DictReader(open(store.sheet, newline="", encoding="utf-8"))]


@pytest.mark.parametrize("action, body, field", [
    ("tag", '{"id": "%s", "category": "\\ud800", "on": true}', "category"),
    ("comment", '{"id": "%s", "text": "a\\ud800b"}', "text"),
    ("category", '{"name": "x\\udfff"}', "name"),
    ("tag", '{"id": "\\ud800", "category": "dog", "on": true}', "id"),
])
def test_a_lone_surrogate_is_a_400(store, client, action, body, field):
    text = body % _first_id(store) if "%s" in body else body
    r = client.post(f"/api/{action}", content=text.encode(), headers=H)
    assert r.status_code == 400, r.text
    assert r.json() == {"error": f"field {field!r} is not valid Unicode (a lone surrogate such as \\ud800); "
                                 "send UTF-8 text"}
    assert store.rows()[0]["tags"] == [] and store.categories() == ["dog", "blurry"]


def test_a_store_locked_by_another_server_is_a_503_and_nothing_is_acknowledged(store, client):
    other = sqlite3.connect(store.path, isolation_level=None)  # a second UI on the same sheet, mid-write
    other.execute("BEGIN IMMEDIATE")
    store._con.execute("PRAGMA busy_timeout = 0")  # meet the lock at once, not after 5 s
    try:
        r = client.post("/api/tag", json={"id": _first_id(store), "category": "dog", "on": True}, headers=H)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert r.status_code == 503, r.text
    assert r.json()["error"] == (f"{store.path}: the tagging store is locked by another process (a second "
                                 "'mlstrat errors ui' on this sheet?); close it, then repeat the change")
    assert store.rows()[0]["tags"] == []
    r = client.post("/api/tag", json={"id": _first_id(store), "category": "dog", "on": True}, headers=H)
    assert r.status_code == 200 and store.rows()[0]["tags"] == ["dog"]


def test_a_full_disk_while_exporting_is_a_507_naming_the_sheet(store, client, monkeypatch):
    def no_space(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    r = client.post("/api/tag", json={"id": _first_id(store), "category": "dog", "on": True}, headers=H)
    assert r.status_code == 507, r.text
    assert r.json()["error"] == (f"{store.sheet}: no space left on device; free some space, then repeat "
                                 "the change (it was not saved to the sheet)")
    assert not [p for p in store.sheet.parent.iterdir() if p.name.startswith(".")]
    monkeypatch.undo()
    r = client.post("/api/tag", json={"id": _first_id(store), "category": "dog", "on": True}, headers=H)
    assert r.status_code == 200 and _tags_in_csv(store)[0] == "1"


def test_a_full_disk_in_sqlite_is_not_hidden_by_the_rollback(store, client, monkeypatch):
    """SQLite rolls back by itself on SQLITE_FULL; the ROLLBACK after it failed and became the 500."""
    real = store._con

    class FullOnInsert:
        def __getattr__(self, name):
            return getattr(real, name)

        def execute(self, sql, *args):
            if sql.startswith("INSERT OR IGNORE INTO tags"):
                real.execute("ROLLBACK")  # what SQLite does on a full disk
                raise sqlite3.OperationalError("database or disk is full")
            return real.execute(sql, *args)

    monkeypatch.setattr(store, "_con", FullOnInsert())
    r = client.post("/api/tag", json={"id": _first_id(store), "category": "dog", "on": True}, headers=H)
    assert r.status_code == 507, r.text
    assert r.json()["error"].startswith(f"{store.path}: no space left on device")
