"""The tagging UI's API and security, through Starlette's TestClient (no real server)."""

import csv
import json
import sqlite3
import warnings

import pytest

from mlstrat import InputError
from mlstrat.errors import sample_errors, summarize_sheet
from mlstrat.errors.ui import TagStore, create_app, store_path
from tests.errors._data import simple_predictions, write

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TOKEN = "s3cret-token"
H = {"X-Mlstrat-Token": TOKEN}


@pytest.fixture
def sheet(tmp_path):
    src = write(simple_predictions(), tmp_path / "preds.csv")
    out = tmp_path / "sheet.csv"
    sample_errors(src, n=5, categories="dog,blurry,mislabeled", output=out)
    img = tmp_path / "img"
    img.mkdir()
    for row in csv.DictReader(open(out)):
        (tmp_path / row["path"]).write_bytes(b"\x89PNG\r\n\x1a\n fake")
    (tmp_path / "secret.png").write_bytes(b"\x89PNG secret")
    return out


@pytest.fixture
def client(sheet):
    store = TagStore(sheet)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = TestClient(create_app(store, token=TOKEN))
    yield c
    store.close()


def rows(sheet):
    return list(csv.DictReader(open(sheet, newline="", encoding="utf-8")))


# ---- security ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/static/app.js",
        "/api/state",
        "/api/rows/0",
        "/file/img/dev-000.png",
        "/nothing",
        "/static/",
    ],
)
def test_no_token_is_403(client, path):
    r = client.get(path)
    assert r.status_code == 403
    assert "403 Forbidden" in r.text


def test_wrong_token_is_403(client):
    assert client.get("/?token=nope").status_code == 403
    assert client.get("/api/state", headers={"X-Mlstrat-Token": "nope"}).status_code == 403


def test_index_sets_cookie_and_security_headers(client):
    r = client.get(f"/?token={TOKEN}")
    assert r.status_code == 200
    assert "Error analysis" in r.text and "sheet.csv" in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert r.headers["referrer-policy"] == "no-referrer"
    assert client.get("/static/app.js").status_code == 200  # the cookie now carries the token
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")


def test_post_needs_the_header_not_just_the_cookie(client, sheet):
    client.get(f"/?token={TOKEN}")
    body = {"id": rows(sheet)[0]["id"], "category": "dog", "on": True}
    assert client.post("/api/tag", json=body).status_code == 403
    assert client.post(f"/api/tag?token={TOKEN}", json=body).status_code == 403
    assert client.post("/api/tag", json=body, headers=H).status_code == 200


def test_listed_file_is_served(client, sheet):
    listed = rows(sheet)[0]["path"]
    r = client.get(f"/file/{listed}", headers=H)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert client.get("/file/" + listed.replace("/", "%2F"), headers=H).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/file/secret.png",  # exists beside the sheet, but is not listed
        "/file/img/../secret.png",
        "/file/img/%2e%2e/secret.png",
        "/file/img%2F..%2Fsecret.png",
        "/file/..%2Fsheet.csv",
        "/file/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/file//etc/passwd",
        "/file/%2Fetc%2Fpasswd",
        "/file/etc/passwd",
        "/file/",
        "/file/img/",
        "/file/img",
        "/static/",
        "/static/../errors/_store.py",
        "/static/%2e%2e%2f_store.py",
        "/static/index.html",
        "/sheet.csv",
        "/preds.csv",
    ],
)
def test_paths_outside_the_listed_files_are_404(client, path):
    r = client.get(path, headers=H)
    assert r.status_code == 404, path
    assert "secret" not in r.text and "PNG" not in r.text


def test_trusted_hosts_when_served(sheet):
    store = TagStore(sheet)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = TestClient(
            create_app(store, token=TOKEN, allowed_hosts=["127.0.0.1"]), base_url="http://127.0.0.1"
        )
        evil = TestClient(
            create_app(store, token=TOKEN, allowed_hosts=["127.0.0.1"]), base_url="http://evil.test"
        )
    assert c.get("/api/state", headers=H).status_code == 200
    assert evil.get("/api/state", headers=H).status_code == 400
    store.close()


# ---- API ---------------------------------------------------------------------------------------


def test_state_and_row(client, sheet):
    s = client.get("/api/state", headers=H).json()
    assert s["categories"] == ["dog", "blurry", "mislabeled"]
    assert s["total"] == 5 and s["position"] == 0 and s["progress"] == {
        "tagged": 0,
        "reviewed": 0,
        "total": 5,
    }
    first = rows(sheet)[0]
    assert s["row"]["id"] == first["id"] and s["row"]["y_true"] == first["y_true"]
    assert s["row"]["images"] == [{"column": "path", "path": first["path"]}]
    assert s["row"]["texts"] == [{"column": "text", "text": first["text"]}]
    r = client.get("/api/rows/4", headers=H).json()
    assert r["id"] == rows(sheet)[4]["id"] and r["pos"] == 4
    assert client.get("/api/rows/5", headers=H).status_code == 404
    assert client.get("/api/rows/x", headers=H).status_code == 404


def test_tag_is_committed_and_exported(client, sheet):
    ids = [r["id"] for r in rows(sheet)]
    r = client.post("/api/tag", json={"id": ids[1], "category": "blurry", "on": True}, headers=H)
    assert r.status_code == 200
    data = r.json()
    assert data["row"]["tags"] == ["blurry"]
    assert data["progress"] == {"tagged": 1, "reviewed": 1, "total": 5}
    # one tag: 1 of 1 reviewed, shown with its interval (not "100% of the errors" as a fact)
    blurry = next(c for c in data["summary"]["categories"] if c["name"] == "blurry")
    assert (data["summary"]["reviewed"], data["summary"]["sample_size"]) == (1, 5)
    assert blurry["share"] == 1.0 and blurry["ceiling"] == pytest.approx(0.25)
    assert blurry["share_ci"] == pytest.approx([0.2065493, 1.0], abs=1e-6)  # Wilson 1/1 (scipy)
    # acknowledged -> in SQLite and in the CSV
    con = sqlite3.connect(store_path(sheet))
    assert con.execute("SELECT id, category FROM tags").fetchall() == [(ids[1], "blurry")]
    assert rows(sheet)[1]["blurry"] == "1"
    assert summarize_sheet(sheet).category("blurry").count == 1
    client.post("/api/tag", json={"id": ids[1], "category": "blurry", "on": False}, headers=H)
    assert rows(sheet)[1]["blurry"] == ""


def test_comment_category_and_position(client, sheet):
    ids = [r["id"] for r in rows(sheet)]
    assert (
        client.post(
            "/api/comment", json={"id": ids[0], "text": 'odd, "quoted"\nline'}, headers=H
        ).status_code
        == 200
    )
    assert rows(sheet)[0]["comment"] == 'odd, "quoted"\nline'
    r = client.post("/api/category", json={"name": "  thin stroke "}, headers=H)
    assert r.status_code == 200 and r.json()["added"] == "thin stroke"
    assert list(rows(sheet)[0])[-3:] == ["thin stroke", "comment", "reviewed"]
    assert (
        client.post(
            "/api/tag", json={"id": ids[2], "category": "thin stroke", "on": True}, headers=H
        ).json()["progress"]["tagged"]
        == 1
    )
    assert summarize_sheet(sheet).category("thin stroke").count == 1
    assert client.post("/api/position", json={"position": 3}, headers=H).json()["position"] == 3
    assert client.get("/api/state", headers=H).json()["position"] == 3


@pytest.mark.parametrize(
    "body, message",
    [
        ({"name": "Blurry"}, "category 'Blurry' already exists (as 'blurry')"),
        (
            {"name": "comment"},
            "categories: 'comment' is the name of a sheet column ('comment'); choose another category name",
        ),
        ({"name": " "}, "category: the name is empty; type a name such as 'blurry'"),
    ],
)
def test_bad_category(client, body, message):
    r = client.post("/api/category", json=body, headers=H)
    assert r.status_code == 400 and r.json() == {"error": message}


def test_bad_requests(client):
    assert client.post(
        "/api/tag", json={"id": "nope", "category": "dog", "on": True}, headers=H
    ).json() == {"error": "unknown row id 'nope'"}
    assert client.post("/api/tag", json=[1], headers=H).status_code == 400
    assert client.post("/api/tag", content=b"{", headers=H).status_code == 400
    assert client.post("/api/tag", json={"id": "x"}, headers=H).json() == {
        "error": "missing field 'category' for tag"
    }


# ---- durability --------------------------------------------------------------------------------


def test_restart_resumes(sheet):
    store = TagStore(sheet)
    ids = [r["id"] for r in store.rows()]
    store.set_tag(ids[0], "dog", True)
    store.add_category("new")
    store.set_tag(ids[3], "new", True)
    store.set_comment(ids[3], "hello")
    store.set_position(3)
    store.close()
    again = TagStore(sheet)
    assert again.position() == 3 and again.categories() == ["dog", "blurry", "mislabeled", "new"]
    by_id = {r["id"]: r for r in again.rows()}
    assert by_id[ids[0]]["tags"] == ["dog"] and by_id[ids[3]]["tags"] == ["new"]
    assert by_id[ids[3]]["comment"] == "hello"
    again.close()


def test_killed_after_commit_before_export(sheet):
    """The CSV still holds the previous export: the newer database wins and is exported."""
    store = TagStore(sheet)
    rid = store.rows()[2]["id"]
    store.close()
    con = sqlite3.connect(store_path(sheet))
    con.execute("INSERT INTO tags VALUES (?, 'mislabeled')", (rid,))  # committed, never exported
    con.commit()
    con.close()
    store = TagStore(sheet)
    assert rows(sheet)[2]["mislabeled"] == "1"
    store.close()


def test_csv_edited_while_stopped_is_reimported(sheet):
    store = TagStore(sheet)
    store.set_tag(store.rows()[0]["id"], "dog", True)
    store.close()
    data = rows(sheet)
    data[1]["blurry"] = "x"
    with open(sheet, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(data[0]))
        w.writeheader()
        w.writerows(data)
    store = TagStore(sheet)
    tags = [r["tags"] for r in store.rows()]
    assert tags[0] == ["dog"] and tags[1] == ["blurry"]
    store.close()


def test_store_refuses_bad_sheets(sheet, tmp_path):
    (tmp_path / "sheet.csv.meta.json").rename(tmp_path / "elsewhere.json")
    with pytest.raises(InputError, match="its meta file sheet.csv.meta.json is missing"):
        TagStore(sheet)


def test_state_json_escapes_script_end(sheet):
    store = TagStore(sheet)
    store.set_comment(store.rows()[0]["id"], "</script><script>alert(1)</script>")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = TestClient(create_app(store, token=TOKEN))
    html = c.get(f"/?token={TOKEN}").text
    assert "</script><script>alert(1)" not in html
    start = html.index('id="initial-state">') + len('id="initial-state">')
    state = json.loads(html[start : html.index("</script>", start)])
    assert state["row"]["comment"] == "</script><script>alert(1)</script>"
    store.close()


def test_state_json_keeps_a_comment_opener_from_swallowing_the_page(sheet):
    """``<!--<script>`` in a script block makes the browser read past its ``</script>``:
    the initial state would swallow the page's script tag. No ``<`` may reach the block."""
    store = TagStore(sheet)
    store.set_comment(store.rows()[0]["id"], "<!--<script>")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = TestClient(create_app(store, token=TOKEN))
    html = c.get(f"/?token={TOKEN}").text
    start = html.index('id="initial-state">') + len('id="initial-state">')
    block = html[start : html.index("</script>", start)]
    assert "<" not in block
    assert json.loads(block)["row"]["comment"] == "<!--<script>"
    store.close()


# ---- the header's figure ------------------------------------------------------------------------


def test_header_writes_the_split_error_as_every_other_rate(client):
    # 10 of 40 dev rows wrong: the project's rate vocabulary writes 25.0%, not 25.00%
    page = client.get("/", headers=H).text
    assert '<div class="meta">dev <strong>error 25.0%</strong></div>' in page
    assert client.get("/api/state", headers=H).json()["split_figure"] == "error 25.0%"


def test_header_of_a_loss_sheet_writes_the_metric_in_its_unit(tmp_path):
    preds = tmp_path / "preds.csv"
    preds.write_text("id,split,y_true,y_pred\n" + "".join(
        f"{i},dev,{10 * i},{10 * i + (i % 4)}\n" for i in range(20)))
    out = tmp_path / "sheet.csv"
    sample_errors(preds, n=5, metric="mae", output=out)
    store = TagStore(out)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            page = TestClient(create_app(store, token=TOKEN)).get("/", headers=H).text
    finally:
        store.close()
    # |errors| 0,1,2,3 repeated: mean absolute error 1.5, in the target's unit, never "150.00%"
    assert '<div class="meta">dev <strong>mae 1.5</strong></div>' in page
