"""`mlstrat errors ui` as a real server: its first line, its binding, and a real browser."""

from __future__ import annotations

import csv
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

import mlstrat
from mlstrat.errors import sample_errors, summarize_sheet

SRC = str(Path(mlstrat.__file__).resolve().parents[1])
REPO = Path(__file__).resolve().parents[2]
URL = re.compile(r"^http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]{20,})$")


class Server:
    """``mlstrat errors ui SHEET --no-browser`` in a subprocess; ``url`` is its first stdout line."""

    def __init__(self, sheet: Path, *extra: str) -> None:
        env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlstrat", "errors", "ui", str(sheet), "--no-browser", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.proc.stdout.readline()), daemon=True).start()
        try:
            self.url = lines.get(timeout=60).strip()
        except queue.Empty:
            self.kill()
            raise AssertionError("the server printed no URL within 60 s") from None
        if not self.url:
            self.proc.wait(timeout=10)
            raise AssertionError(f"the server exited: {self.proc.stderr.read()}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def digits_sheet(digits_csv, tmp_path):
    out = tmp_path / "sheet.csv"
    sample_errors(digits_csv, n=10, categories="blurry,thin stroke,mislabeled", output=out)
    return out


def test_first_line_is_the_url_and_it_binds_localhost(digits_sheet):
    import httpx

    server = Server(digits_sheet, "--port", "0")
    try:
        m = URL.match(server.url)
        assert m, server.url
        port, token = m.group(1), m.group(2)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/").status_code == 403
        assert httpx.get(base + "/api/state", headers={"X-Mlstrat-Token": token}).status_code == 200
        assert httpx.get(server.url).status_code == 200
        # bound to 127.0.0.1 only: the Host check refuses other names too
        assert httpx.get(base + "/", headers={"Host": "example.com"}).status_code == 400
    finally:
        server.kill()


def test_busy_port_is_a_clear_error(digits_sheet):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    port = sock.getsockname()[1]
    try:
        env = dict(os.environ, PYTHONPATH=SRC)
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "mlstrat",
                "errors",
                "ui",
                str(digits_sheet),
                "--no-browser",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    finally:
        sock.close()
    assert out.returncode == 2
    assert f"port: cannot listen on 127.0.0.1:{port} (Address already in use)" in out.stderr


def _browser_or_skip():
    chromium = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
    )
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None
    )
    try:
        import selenium  # noqa: F401
    except ImportError:
        driver = None
    if chromium and driver:
        return chromium, driver
    reason = "headless Chromium, chromedriver or selenium missing (run scripts/install-browser.sh)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + "; CI must run the browser test")
    pytest.skip(reason)


@pytest.mark.browser
@pytest.mark.slow
def test_tag_in_chromium_survive_sigkill_and_resume(digits_sheet, tmp_path):
    chromium, chromedriver = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--window-size=1280,900",
        f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-', dir=tmp_path)}",
    ):
        opts.add_argument(arg)
    server = Server(digits_sheet)
    driver = webdriver.Chrome(service=Service(chromedriver), options=opts)
    from selenium.common.exceptions import StaleElementReferenceException

    # the page re-renders its category buttons after each answer: a button read mid-render is
    # stale, so conditions are re-tried rather than read once
    wait = WebDriverWait(driver, 20, ignored_exceptions=[StaleElementReferenceException])
    text = lambda id_: driver.find_element(By.ID, id_).text  # noqa: E731

    def press(keys: str) -> None:
        ActionChains(driver).send_keys(keys).perform()

    def settled(d) -> bool:
        return (
            d.find_element(By.TAG_NAME, "body").get_attribute("data-pending") == "0"
            and text("status") == "All changes saved"
        )

    def tags_on() -> list[str]:
        return [
            b.get_attribute("data-name")
            for b in driver.find_elements(By.CSS_SELECTOR, "#categories .cat.on")
        ]

    try:
        driver.get(server.url)
        wait.until(lambda d: text("progress") == "0 / 10")
        assert driver.find_elements(By.CSS_SELECTOR, "canvas.pixels"), "the 8x8 digit is drawn"
        press("1")  # row 1: blurry
        wait.until(lambda d: text("progress") == "1 / 10" and settled(d))
        press("j")
        wait.until(lambda d: text("pos") == "2")
        press("2")  # row 2: thin stroke + mislabeled
        wait.until(lambda d: settled(d) and tags_on() == ["thin stroke"])
        press("3")
        wait.until(lambda d: settled(d) and tags_on() == ["thin stroke", "mislabeled"])
        press("n")  # a new category while tagging
        press("smudge" + Keys.ENTER)
        wait.until(
            lambda d: settled(d) and len(d.find_elements(By.CSS_SELECTOR, "#categories .cat")) == 4
        )
        press("4")
        wait.until(lambda d: settled(d) and tags_on() == ["thin stroke", "mislabeled", "smudge"])
        press("c")
        press("looks like a 7" + Keys.ESCAPE)  # Esc leaves the box, which saves the comment
        wait.until(settled)
        press("j")
        wait.until(lambda d: text("pos") == "3")
        press("k")  # row 3 only looked at: not reviewed
        wait.until(lambda d: text("pos") == "2" and text("progress") == "2 / 10")
        wait.until(lambda d: settled(d) and text("summary-note") == "2 of 10 reviewed")
        press("j")
        wait.until(lambda d: text("pos") == "3")
        press("0")  # row 3 marked "no category" explicitly
        wait.until(lambda d: settled(d) and text("summary-note") == "3 of 10 reviewed")
        press("k")
        wait.until(lambda d: text("pos") == "2" and settled(d))
        # rows 1 and 2 tagged, row 3 marked: 3 reviewed, mislabeled 1 of 3
        # (Wilson 95% interval of 1/3: 6-79%), row 3 on the "other causes" line
        summary = text("summary-body")
        assert "mislabeled 1 33.3% [6.1%, 79.2%]" in summary
        assert "no category: other causes 1 33.3% [6.1%, 79.2%]" in summary
        driver.save_screenshot(str(tmp_path / "errors-ui-before-kill.png"))

        server.kill()  # SIGKILL: no chance to flush anything
        server = Server(digits_sheet)
        driver.get(server.url)  # new token, new port
        wait.until(lambda d: text("progress") == "2 / 10")
        assert text("pos") == "2"  # resumes where we were
        wait.until(lambda d: tags_on() == ["thin stroke", "mislabeled", "smudge"])
        assert driver.find_element(By.ID, "comment").get_attribute("value") == "looks like a 7"
        press("k")
        wait.until(lambda d: text("pos") == "1" and tags_on() == ["blurry"])
        artifacts = REPO / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        for target in (tmp_path / "errors-ui.png", artifacts / "errors-ui.png"):
            driver.save_screenshot(str(target))
        assert driver.get_log("browser") == []  # no JS error, no CSP violation, no 404
    finally:
        driver.quit()
        server.kill()

    rows = list(csv.DictReader(open(digits_sheet, newline="", encoding="utf-8")))
    assert (
        rows[0]["blurry"] == "1"
        and rows[1]["smudge"] == "1"
        and rows[1]["comment"] == "looks like a 7"
    )
    s = summarize_sheet(digits_sheet)
    assert s.tagged == 2 and s.category("mislabeled").count == 1


@pytest.mark.parametrize(
    "ci, outcome",
    [
        ("true", pytest.fail.Exception),
        ("", pytest.skip.Exception),
        ("false", pytest.skip.Exception),
    ],
)
def test_missing_browser_fails_under_ci_and_skips_otherwise(monkeypatch, ci, outcome):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os.path, "exists", lambda path: False)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="headless Chromium, chromedriver or selenium missing"):
        _browser_or_skip()


def test_sigkill_mid_stream_loses_no_acknowledged_change(digits_sheet):
    """Tag as fast as possible, SIGKILL while requests are in flight: every acked tag survives."""
    import httpx

    from mlstrat.errors.ui import TagStore

    server = Server(digits_sheet)
    m = URL.match(server.url)
    base, headers = f"http://127.0.0.1:{m.group(1)}", {"X-Mlstrat-Token": m.group(2)}
    ids = [r["id"] for r in csv.DictReader(open(digits_sheet, newline="", encoding="utf-8"))]
    acked: list[tuple[str, str]] = []
    stop = threading.Event()

    def tagger() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            for i in range(1000):
                if stop.is_set():
                    return
                pair = (ids[i % len(ids)], ("blurry", "thin stroke", "mislabeled")[(i // len(ids)) % 3])
                try:
                    r = client.post("/api/tag", json={"id": pair[0], "category": pair[1], "on": True})
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    acked.append(pair)

    thread = threading.Thread(target=tagger)
    thread.start()
    try:
        while len(acked) < 12 and thread.is_alive():
            threading.Event().wait(0.01)
    finally:
        server.kill()
        stop.set()
        thread.join(timeout=20)
    assert len(acked) >= 12
    store = TagStore(digits_sheet)
    stored = {(r["id"], t) for r in store.rows() for t in r["tags"]}
    store.close()
    assert set(acked) <= stored
    rows = list(csv.DictReader(open(digits_sheet, newline="", encoding="utf-8")))
    in_csv = {(r["id"], c) for r in rows for c in ("blurry", "thin stroke", "mislabeled") if r[c] == "1"}
    assert set(acked) <= in_csv
