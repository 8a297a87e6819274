"""A full disk (ENOSPC) anywhere is one line naming the path, exit 2, and no temporary file left.

The fault is injected where bytes reach the disk (``os.fsync``, SQLite's schema creation and
insert); one test fills a real 64 KiB tmpfs, where the machine lets root mount one."""

import errno
import os
import sqlite3
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from tests.nn.conftest import split_digits

runner = CliRunner()
FULL = "no space left on device"


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _sqlite_full(*args, **kwargs):
    exc = sqlite3.OperationalError("database or disk is full")
    exc.sqlite_errorcode = 13  # SQLITE_FULL
    raise exc


def _line(res):
    return " ".join(res.output.split())


@pytest.fixture
def preds(tmp_path):
    path = tmp_path / "preds.csv"
    path.write_text("id,split,y_true,y_pred\n" + "".join(
        f"r{i},{s},{'ab'[i % 2]},{'ab'[i % 3 == 0]}\n" for i in range(60) for s in ("train", "dev")))
    return path


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("command", [["report", "{preds}", "-o", "{out}/r.html", "--no-record"],
                                     ["errors", "sample", "{preds}", "--split", "dev", "-o", "{out}/s.csv"]],
                         ids=["report", "errors-sample"])
def test_a_full_disk_while_writing_an_output_is_one_line(preds, tmp_path, monkeypatch, command):
    out = tmp_path / "out"
    out.mkdir()
    args = [a.format(preds=preds, out=out) for a in command]
    if "--no-record" in args:  # report records nothing; keep the run store out of the picture
        args.remove("--no-record")
        args += ["--store", str(tmp_path / "none" / "runs.db")]
    monkeypatch.setattr(os, "fsync", _no_space)
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    target = args[args.index("-o") + 1]
    assert f"{target}: {FULL}; free some space or choose another -o path" in _line(res)
    assert _files(out) == []


def test_a_full_disk_while_creating_the_run_store_is_not_called_a_foreign_file(preds, tmp_path, monkeypatch):
    store = tmp_path / "runs.db"
    monkeypatch.setattr("mlstrat.sealing._ledger.migrate", _sqlite_full)
    res = runner.invoke(app, ["diagnose", str(preds), "--store", str(store)])
    assert res.exit_code == 2, res.output
    assert f"{store}: {FULL}; free some space or pass another --store" in _line(res)
    assert "not an mlstrat run store" not in res.output


def test_a_full_disk_while_recording_is_not_hidden_by_the_rollback(preds, tmp_path, monkeypatch):
    """SQLite rolls a transaction back by itself on SQLITE_FULL; the second ROLLBACK then failed
    with "cannot rollback - no transaction is active" and that was all the user saw."""
    from mlstrat.runs import RunStore

    store = tmp_path / "runs.db"
    RunStore(store).list()  # a valid, empty store

    def full_mid_transaction(cls, conn):
        conn.execute("ROLLBACK")  # what SQLite does on SQLITE_FULL
        _sqlite_full()

    monkeypatch.setattr(RunStore, "_new_id", classmethod(full_mid_transaction))
    res = runner.invoke(app, ["diagnose", str(preds), "--store", str(store)])
    assert res.exit_code == 2, res.output
    assert f"{store}: {FULL}; free some space or pass another --store" in _line(res)


def test_a_full_disk_during_train_removes_the_partial_run_folder(tmp_path, monkeypatch):
    pq.write_table(split_digits(), tmp_path / "split.parquet")
    config = tmp_path / "config.toml"
    config.write_text('[data]\nmanifest = "split.parquet"\nfeature_prefix = "px_"\n'
                      '[model]\nhidden = [8]\n[optim]\nepochs = 1\n')
    monkeypatch.setattr(os, "fsync", _no_space)
    res = runner.invoke(app, ["train", str(config), "-o", str(tmp_path / "run"), "--no-record"])
    assert res.exit_code == 2, res.output
    assert f"{tmp_path / 'run'}: {FULL}; free some space or choose another -o folder" in _line(res)
    assert _files(tmp_path) == ["config.toml", "split.parquet"]


@pytest.fixture
def full_tmpfs(tmp_path):
    """A 64 KiB tmpfs filled to the last byte; skipped where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root and a mount-capable sandbox")
    try:
        with open(mount / "filler", "wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_real_full_disk(preds, full_tmpfs):
    report = runner.invoke(app, ["report", str(preds), "-o", str(full_tmpfs / "r.html"),
                                 "--store", str(full_tmpfs / "runs.db")])
    assert report.exit_code == 2, report.output
    assert f"{full_tmpfs / 'r.html'}: {FULL}" in _line(report)
    diagnose = runner.invoke(app, ["diagnose", str(preds), "--store", str(full_tmpfs / "runs.db")])
    assert diagnose.exit_code == 2, diagnose.output
    assert f"{full_tmpfs / 'runs.db'}: {FULL}; free some space or pass another --store" in _line(diagnose)
    assert not [p for p in full_tmpfs.iterdir() if p.name.startswith(".")]
