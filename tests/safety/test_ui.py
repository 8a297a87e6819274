"""The tagging UI: per-server cookies, only regular image files, schema-checked requests, and a
re-export that keeps every byte it does not own."""

import csv
import json
import os
import warnings

import pytest

from mlstrat.errors import sample_errors, summarize_sheet
from mlstrat.errors.ui import TagStore, create_app
from mlstrat.errors.ui._guard import MAX_BODY
from tests.errors._data import simple_predictions, write

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TOKEN = "s3cret-token"
H = {"X-Mlstrat-Token": TOKEN}
PNG = b"\x89PNG\r\n\x1a\n fake"


@pytest.fixture
def sheet(tmp_path):
    src = write(simple_predictions(), tmp_path / "preds.csv")
    out = tmp_path / "sheet.csv"
    sample_errors(src, n=5, categories="dog,blurry", output=out)
    (tmp_path / "img").mkdir()
    for row in csv.DictReader(open(out)):
        (tmp_path / row["path"]).write_bytes(PNG)
    return out


def _client(sheet, token=TOKEN):
    store = TagStore(sheet)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TestClient(create_app(store, token=token)), store


def _paths(sheet):
    return [r["path"] for r in csv.DictReader(open(sheet))]


def test_two_servers_set_cookies_of_their_own_names(sheet):
    a, sa = _client(sheet, "token-a")
    b, sb = _client(sheet, "token-b")
    names = set()
    for c, tok in ((a, "token-a"), (b, "token-b")):
        r = c.get(f"/?token={tok}")
        (name,) = list(r.cookies.keys())
        assert name.startswith("mlstrat_token_")
        names.add(name)
    assert len(names) == 2
    # one browser holding both cookies (same host, other ports) is let in by each server
    jar = {**dict(a.cookies), **dict(b.cookies)}
    for c in (a, b):
        c.cookies.clear()
        for k, v in jar.items():
            c.cookies.set(k, v)
        assert c.get("/api/state").status_code == 200
    sa.close()
    sb.close()


def test_a_listed_symlink_to_a_non_image_is_not_served(sheet, tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    first, second, third, *_ = _paths(sheet)
    (tmp_path / first).unlink()
    os.symlink(secret, tmp_path / first)  # a.png -> a text file
    (tmp_path / second).unlink()
    os.symlink(tmp_path / "img", tmp_path / second)  # a folder named like an image
    real = tmp_path / "elsewhere.png"
    real.write_bytes(PNG)
    (tmp_path / third).unlink()
    os.symlink(real, tmp_path / third)  # a link to a real image: followed
    c, store = _client(sheet)
    assert c.get(f"/file/{first}", headers=H).status_code == 404
    assert "root" not in c.get(f"/file/{first}", headers=H).text
    assert c.get(f"/file/{second}", headers=H).status_code == 404
    r = c.get(f"/file/{third}", headers=H)
    assert r.status_code == 200 and r.content == PNG and r.headers["content-type"] == "image/png"
    store.close()


def test_a_listed_file_whose_bytes_are_not_an_image_is_not_served(sheet, tmp_path):
    first = _paths(sheet)[0]
    (tmp_path / first).write_text("#!/bin/sh\necho not a png\n")
    c, store = _client(sheet)
    assert c.get(f"/file/{first}", headers=H).status_code == 404
    store.close()


@pytest.mark.parametrize("body, message", [
    (b'{"position": 1e999}', "number 1e999 is out of range"),
    (b'{"position": NaN}', "NaN is not a number JSON allows"),
    (b'{"position": 1.5}', "field 'position' must be a whole number"),
    (b'{"position": true}', "field 'position' must be a whole number"),
    (b'{"position": -1}', "field 'position' is out of range"),
    (b'{"position": 1, "x": 2}', "unknown field 'x' for position; expected position"),
    (b"[" * 100_000 + b"]" * 100_000, "expected a JSON object"),
    (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "expected a JSON object"),
    (b"\xff\xfe", "expected a JSON object"),
])
def test_malformed_position_bodies_are_400(sheet, body, message):
    c, store = _client(sheet)
    r = c.post("/api/position", content=body, headers=H)
    assert r.status_code == 400 and r.json() == {"error": message}
    store.close()


def test_a_string_false_does_not_turn_a_tag_on(sheet):
    c, store = _client(sheet)
    rid = store.rows()[0]["id"]
    r = c.post("/api/tag", json={"id": rid, "category": "dog", "on": "false"}, headers=H)
    assert r.status_code == 400 and r.json() == {"error": "field 'on' must be true or false"}
    assert store.rows()[0]["tags"] == []
    assert c.post("/api/tag", json={"id": 3, "category": "dog", "on": True}, headers=H).status_code == 400
    store.close()


def test_request_bodies_are_capped(sheet):
    c, store = _client(sheet)
    rid = store.rows()[0]["id"]
    big = json.dumps({"id": rid, "text": "x" * MAX_BODY}).encode()
    r = c.post("/api/comment", content=big, headers=H)
    assert r.status_code == 400 and r.json() == {"error": "the request body is over 4 MiB"}
    assert store.rows()[0]["comment"] == ""
    store.close()


def test_a_long_comment_stays_readable_by_every_reader(sheet, tmp_path):
    c, store = _client(sheet)
    rid = store.rows()[0]["id"]
    long = "very long note " * 20_000  # 300 000 characters, over csv's 131 072 default
    assert c.post("/api/comment", json={"id": rid, "text": long}, headers=H).status_code == 200
    assert c.post("/api/tag", json={"id": rid, "category": "dog", "on": True}, headers=H).status_code == 200
    store.close()
    assert summarize_sheet(sheet).tagged == 1
    again = TagStore(sheet)
    assert again.rows()[0]["comment"] == long
    again.close()


def test_formulas_are_neutralized_in_the_csv_and_restored_on_read(sheet):
    c, store = _client(sheet)
    rid = store.rows()[0]["id"]
    evil = '=HYPERLINK("http://x","click")'
    assert c.post("/api/comment", json={"id": rid, "text": evil}, headers=H).status_code == 200
    store.close()
    raw = {r["id"]: r["comment"] for r in csv.DictReader(open(sheet, encoding="utf-8"))}
    assert raw[rid] == "'" + evil
    again = TagStore(sheet)
    assert again.rows()[0]["comment"] == evil
    again.close()


def test_unnamed_columns_and_cells_past_the_header_survive_the_ui(tmp_path, sheet):
    lines = sheet.read_text(encoding="utf-8").splitlines()
    header = lines[0] + ",,notes"
    body = [line + f",kept {i}!,{'x' if i % 2 else ''},beyond {i},\"q,\"\"uoted\"\"\"" for i, line in enumerate(lines[1:])]
    sheet.write_text("\n".join([header, *body]) + "\n", encoding="utf-8")
    c, store = _client(sheet)
    rid = store.rows()[0]["id"]
    assert c.post("/api/tag", json={"id": rid, "category": "dog", "on": True}, headers=H).status_code == 200
    assert c.post("/api/category", json={"name": "dark"}, headers=H).status_code == 200
    store.close()
    rows = list(csv.reader(open(sheet, encoding="utf-8")))
    head = rows[0]
    blank = head.index("")
    assert head[blank + 1] == "notes" and "dark" in head
    for i, row in enumerate(rows[1:]):
        assert row[blank] == f"kept {i}!" and row[blank + 1] == ("1" if i % 2 else "")
        assert row[len(head):] == [f"beyond {i}", 'q,"uoted"']
