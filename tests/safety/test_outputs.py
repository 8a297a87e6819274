"""Outputs never replace inputs or stores; SQL never carries user text unquoted; killed writers
leave nothing the next run keeps."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat import ConfigError, InputError
from mlstrat.cli import app
from mlstrat.tables import check_output_path, connect, read_table, write_table
from mlstrat.tables._engine import spill_directory

runner = CliRunner()
SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def manifest(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("id,label\n" + "".join(f"ex{i},{'a' if i % 2 else 'b'}\n" for i in range(200)))
    return path


def _store(path):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE runs (id TEXT)")
    con.execute("INSERT INTO runs VALUES ('r1')")
    con.commit()
    con.close()
    return path.read_bytes()


def test_force_never_replaces_a_sqlite_store_whatever_its_name(tmp_path):
    for name in ("runs.db", "report.html"):
        path = tmp_path / name
        before = _store(path)
        with pytest.raises(InputError, match=r"is a SQLite store \(run history or tagging state\); "
                                             r"mlstrat never overwrites it, even with --force"):
            check_output_path(path, force=True)
        assert path.read_bytes() == before


def test_report_force_onto_the_run_store_is_refused(tmp_path, manifest):
    store = tmp_path / ".mlstrat" / "runs.db"
    store.parent.mkdir()
    preds = tmp_path / "p.csv"
    preds.write_text("id,split,y_true,y_pred\n" + "".join(
        f"{i},{s},a,{'a' if i % 4 else 'b'}\n" for i in range(40) for s in ("train", "dev")))
    res = runner.invoke(app, ["diagnose", str(preds), "--store", str(store)])
    assert res.exit_code == 0, res.output
    before = store.read_bytes()
    res = runner.invoke(app, ["report", "latest", "--store", str(store), "-o", str(store), "--force"])
    assert res.exit_code == 2
    assert "never overwrites it, even with --force" in res.output
    assert store.read_bytes() == before


def test_force_never_replaces_a_sheet_meta_file(tmp_path):
    meta = tmp_path / "sheet.csv.meta.json"
    meta.write_text('{"split": "dev"}')
    with pytest.raises(InputError, match="is an error sheet's meta file"):
        check_output_path(meta, force=True)
    assert check_output_path(meta, force=True, replaces=("meta",)) == meta  # errors sample owns it


def test_split_lock_that_is_the_manifest_is_refused(manifest, tmp_path):
    lock_like = tmp_path / "ids.csv"
    lock_like.write_text("id,split\n" + "".join(f"ex{i},train\n" for i in range(50)))
    before = lock_like.read_bytes()
    res = runner.invoke(app, ["split", str(lock_like), "--lock", str(lock_like), "-o", str(tmp_path / "o.parquet")])
    assert res.exit_code == 2
    assert "the output path is the input file" in res.output
    assert lock_like.read_bytes() == before


def test_output_folder_not_writable(manifest, tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # root ignores permissions: let the check see what a user would
            real = os.access
            monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == ro else real(p, mode))
        res = runner.invoke(app, ["split", str(manifest), "-o", str(ro / "out.parquet")])
        assert res.exit_code == 2
        assert f"the folder {ro} is not writable; choose another -o path" in " ".join(res.output.split())
    finally:
        ro.chmod(0o700)


def test_memory_limit_with_sql_is_refused_and_runs_nothing(manifest, tmp_path):
    res = runner.invoke(app, ["split", str(manifest), "-o", str(tmp_path / "o.parquet"),
                              "--memory-limit", "2GB'; CREATE TABLE pwned (a INT); --"])
    assert res.exit_code == 2
    assert "memory limit \"2GB'; CREATE TABLE pwned (a INT); --\" is not a size" in " ".join(res.output.split())
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.parametrize("limit", ["2GB", "512MiB", "80%", "1.5 GB"])
def test_memory_limit_sizes_are_applied(limit):
    con = connect(memory_limit=limit)
    assert con.raw_sql("SELECT current_setting('memory_limit')").fetchall()[0][0]


def test_threads_bound():
    with pytest.raises(ConfigError, match="threads = 100000 is out of range; use 1 to 4096"):
        connect(threads=100000)


def test_output_path_with_an_apostrophe(tmp_path):
    folder = tmp_path / "o'brien's data"
    folder.mkdir()
    for suffix in ("jsonl", "csv", "parquet"):
        out = write_table(pa.table({"a": [1, 2]}), folder / f"x'y.{suffix}")
        assert out.exists() and out.stat().st_size > 0


def test_spill_folders_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / str(dead.pid)
    stale.mkdir()
    (stale / "duckdb_temp_storage-0.tmp").write_bytes(b"x" * 1000)
    alive = tmp_path / str(os.getpid() if os.getppid() == 1 else os.getppid())
    alive.mkdir()
    mine = spill_directory(tmp_path)
    assert mine == tmp_path / str(os.getpid())
    assert not stale.exists() and alive.exists()


def test_temp_file_of_a_killed_split_is_removed_by_the_next_run(manifest, tmp_path):
    """The writer is SIGKILLed after the engine wrote its temporary file, before the rename."""
    out = tmp_path / "out.parquet"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {SRC!r})
        import mlstrat.tables._io as io
        def killed(tmp, final):
            os.kill(os.getpid(), signal.SIGKILL)
        io.publish = killed
        from mlstrat.cli import app
        app(["split", {str(manifest)!r}, "-o", {str(out)!r}])
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.parquet.")]
    assert len(left) == 1 and left[0].endswith(".tmp.parquet")
    assert not out.exists()
    res = runner.invoke(app, ["split", str(manifest), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.parquet.")] == []
    assert pq.read_table(out).num_rows == 200


# A backslash, control characters, DEL and a line separator: each once in a file name and in a
# folder name, through each format. Ibis quoted paths with Python's repr, which DuckDB read as
# another name: the write failed at the rename and left the full temporary file behind.
ODD = ["back\\slash", "esc\x1bape", "new\nline", "t\tab", "del\x7fete", "line\u2028sep", "br[ack]et",
       "~tilde", "quote's"]


@pytest.mark.parametrize("odd", ODD, ids=ascii)
def test_odd_characters_in_output_paths_are_written_exactly_there(tmp_path, odd):
    folder = tmp_path / f"d{odd}"
    folder.mkdir()
    table = pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    for suffix in ("csv", "parquet", "jsonl"):
        out = write_table(table, folder / f"{odd}.{suffix}")
        assert out == folder / f"{odd}.{suffix}"
        assert read_table(out).count().execute() == 3
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{odd}.{s}" for s in ("csv", "parquet", "jsonl"))
    assert pq.read_table(folder / f"{odd}.parquet").equals(table)


def test_split_to_an_output_with_a_backslash_and_a_newline(manifest, tmp_path):
    out = tmp_path / "a\\b\nc.parquet"
    res = runner.invoke(app, ["split", str(manifest), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert pq.read_table(out).num_rows == 200
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([manifest.name, out.name])


def test_a_failing_engine_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    from mlstrat.tables._duckdb_engine import DuckDBEngine

    def half_written(self, expr, path, fmt):
        Path(path).write_bytes(b"x" * 4096)
        raise RuntimeError("the engine failed mid-write")

    monkeypatch.setattr(DuckDBEngine, "_write", half_written)
    with pytest.raises(RuntimeError, match="the engine failed mid-write"):
        write_table(pa.table({"a": [1]}), tmp_path / "o.parquet")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_curve_force_replaces_its_own_output_folder(tmp_path):
    from tests.nn.conftest import split_digits

    pq.write_table(split_digits().slice(0, 300), tmp_path / "split.parquet")
    config = tmp_path / "config.toml"
    config.write_text(f'[data]\nmanifest = "{tmp_path / "split.parquet"}"\nfeature_prefix = "px_"\n'
                      '[model]\nhidden = [8]\n[optim]\nepochs = 1\n')
    args = ["curve", str(config), "--sizes", "50%,100%", "-o", str(tmp_path / "curve"), "--no-record", "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2
    assert "the folder is not empty; give another --output or --force" in " ".join(refused.output.split())
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert forced.output == first.output
