"""A train run directory appears whole or not at all, and the user's own files in it survive."""

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from tests.nn.conftest import split_digits

runner = CliRunner()
SRC = str(Path(__file__).resolve().parents[2] / "src")
CONFIG = ('# my experiment: keep this comment\n[data]\nmanifest = "../split.parquet"  # relative to me\n'
          'feature_prefix = "px_"\n[model]\nhidden = [16]\n[optim]\nepochs = 2\nlr = 0.01\n')
RUN_FILES = {"model.pt", "config.resolved.toml", "history.json", "metrics.json", "predictions.parquet"}


@pytest.fixture
def exp(tmp_path, monkeypatch):
    pq.write_table(split_digits(), tmp_path / "split.parquet")
    folder = tmp_path / "exp1"
    folder.mkdir()
    (folder / "config.toml").write_text(CONFIG)
    (folder / "notes").mkdir()
    (folder / "notes" / "todo.txt").write_text("try dropout\n")
    monkeypatch.chdir(tmp_path)
    return folder


def _train(folder, *extra):
    return runner.invoke(app, ["train", str(folder / "config.toml"), "-o", str(folder), "--no-record", *extra])


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _killed_train(folder, patch):
    """Run `mlstrat train --force` in a child process that SIGKILLs itself where ``patch`` says."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {SRC!r})
        def die():
            os.kill(os.getpid(), signal.SIGKILL)
    """) + textwrap.dedent(patch) + textwrap.dedent(f"""
        from mlstrat.cli import app
        app(["train", {str(folder / "config.toml")!r}, "-o", {str(folder)!r}, "--no-record", "--force"])
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300, cwd=folder.parent)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]


def test_the_users_config_in_the_run_directory_is_never_rewritten(exp):
    res = _train(exp)
    assert res.exit_code == 0, res.output
    assert (exp / "config.toml").read_text() == CONFIG
    assert (exp / "notes" / "todo.txt").read_text() == "try dropout\n"
    assert RUN_FILES <= {p.name for p in exp.iterdir()}
    assert "manifest" in (exp / "config.resolved.toml").read_text()
    res = _train(exp, "--force")  # over the old run: the user's files are carried over
    assert res.exit_code == 0, res.output
    assert (exp / "config.toml").read_text() == CONFIG
    assert (exp / "notes" / "todo.txt").read_text() == "try dropout\n"
    assert [p.name for p in exp.parent.iterdir() if p.name.startswith(".exp1.")] == []


@pytest.mark.slow
def test_killed_mid_write_leaves_the_old_run_whole_and_a_retry_works(exp):
    res = _train(exp)
    assert res.exit_code == 0, res.output
    before = _snapshot(exp)
    _killed_train(exp, """
        import mlstrat.tables as tables
        real = tables.atomic_write_text
        def write(path, text):
            real(path, text)
            if str(path).endswith("history.json"):
                die()
        tables.atomic_write_text = write
    """)
    assert _snapshot(exp) == before  # model, metrics, predictions: all from the old run
    partial = [p for p in exp.parent.iterdir() if p.name.startswith(".exp1.partial-")]
    assert len(partial) == 1 and (partial[0] / "model.pt").exists()
    res = _train(exp, "--force")
    assert res.exit_code == 0, res.output
    assert [p.name for p in exp.parent.iterdir() if p.name.startswith(".exp1.")] == []
    assert (exp / "config.toml").read_text() == CONFIG
    assert RUN_FILES <= {p.name for p in exp.iterdir()}


@pytest.mark.slow
def test_killed_between_the_two_renames_the_next_run_restores_the_old_folder(exp):
    res = _train(exp)
    assert res.exit_code == 0, res.output
    before = _snapshot(exp)
    _killed_train(exp, f"""
        real = os.rename
        def rename(src, dst):
            real(src, dst)
            if os.path.basename(str(src)) == "exp1":
                die()
        os.rename = rename
    """)
    assert not exp.exists()  # the window between the renames: no run at all, never a mixed one
    from mlstrat.nn._rundir import staged_run_dir

    with pytest.raises(RuntimeError):
        with staged_run_dir(exp):
            assert _snapshot(exp) == before  # restored before the new run starts
            raise RuntimeError("stop")
    assert _snapshot(exp) == before
    # no staged folder is left; the killed run's last epoch checkpoint is kept on purpose
    # (``train --resume exp1`` finishes that run)
    left = [p.name for p in exp.parent.iterdir() if p.name.startswith(".exp1.")]
    assert left == [".exp1.resume.pt"]
