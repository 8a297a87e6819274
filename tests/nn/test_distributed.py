"""Distributed training (DDP): 2 processes on CPU train what 1 process trains, with and without
importance weights.

Two launches of 2 processes each (torchrun on 127.0.0.1): tests/nn/ddp_worker.py, and
``mlstrat train --nproc 2``; the rest runs in this process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlstrat import ConfigError
from mlstrat.nn import train
from mlstrat.nn._distributed import Dist, StreamShards, check_batch, select_blocks
from tests.nn.conftest import split_digits
from tests.nn.ddp_worker import VARIANTS, digits_config, fit_float64

ROOT = Path(__file__).resolve().parents[2]
RUN_FILES = {"config.resolved.toml", "history.json", "metrics.json", "model.pt", "predictions.parquet"}
LAUNCH_TIMEOUT = 300  # a hung collective fails the test instead of blocking the suite


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]), OMP_NUM_THREADS="1")
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    return env


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=LAUNCH_TIMEOUT)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    import pyarrow as pa

    path = tmp_path_factory.mktemp("ddp_data") / "split.parquet"
    table = split_digits()
    w = np.random.default_rng(5).uniform(0.0, 2.0, table.num_rows)  # importance weights, some near 0
    pq.write_table(table.append_column("w", pa.array(w)), path)
    return path


@pytest.fixture(scope="module")
def workers(tmp_path_factory, manifest):
    """tests/nn/ddp_worker.py under torchrun, 2 processes: what each rank saw."""
    out = tmp_path_factory.mktemp("ddp")
    proc = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                 str(ROOT / "tests" / "nn" / "ddp_worker.py"), str(out), str(manifest)], cwd=out)
    assert proc.returncode == 0, proc.stderr[-4000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
    return out, ranks


# -- 2 processes train what 1 process trains ------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_float64_weights_match_one_process_to_1e_12(workers, variant):
    out, ranks = workers
    history, reference = fit_float64(None, variant=variant)
    assert history["stopped_early"] and history["restored_best"]  # the case worth testing
    assert len(history["epochs"]) > 2  # (unfreeze: past the frozen stage)
    for r in range(2):
        state = torch.load(out / f"rank{r}-{variant}.pt")
        assert state.keys() == reference.keys()
        for name, value in reference.items():
            assert value.dtype == torch.float64
            torch.testing.assert_close(state[name], value, rtol=0, atol=1e-12)
        got = ranks[r][variant]
        assert (got["best_epoch"], got["stopped_early"], got["restored_best"]) == (
            history["best_epoch"], history["stopped_early"], history["restored_best"])
        assert len(got["epochs"]) == len(history["epochs"])
        for a, b in zip(got["epochs"], history["epochs"]):
            for key in ("train_cost", "dev_cost", "train_error", "dev_error"):
                assert a[key] == pytest.approx(b[key], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("loader", ["memory", "dataloader"])
def test_float32_run_matches_one_process_to_1e_6(workers, manifest, tmp_path, loader):
    out, ranks = workers
    one = train(digits_config(manifest, loader=loader), run_dir=tmp_path / "one", progress=False)
    assert one.history["stopped_early"]
    (run,) = [p for p in (out / "cwd0" / "runs").iterdir() if _loader(p) == loader]
    ref = torch.load(tmp_path / "one" / "model.pt", weights_only=False)["state_dict"]
    got = torch.load(run / "model.pt", weights_only=False)["state_dict"]
    for name, value in ref.items():
        torch.testing.assert_close(got[name], value, rtol=0, atol=1e-6)
    for r in range(2):
        h = ranks[r][loader]["history"]
        assert (h["best_epoch"], h["stopped_early"]) == (one.history["best_epoch"], one.history["stopped_early"])
    assert ranks[1]["memory"]["processes"] == 2


def _loader(run: Path) -> str:
    import tomllib

    return tomllib.loads((run / "config.resolved.toml").read_text())["data"]["loader"]


def test_every_rank_takes_the_same_stop_decision(workers):
    _, (r0, r1) = workers
    for key in (*VARIANTS, "stream"):
        a = r0[key] if key != "stream" else r0[key]["history"]
        b = r1[key] if key != "stream" else r1[key]["history"]
        assert a == b  # bitwise: the totals come from rank 0
    assert r0["memory"]["history"] == r1["memory"]["history"]
    assert r0["dataloader"]["history"] == r1["dataloader"]["history"]


def test_rank_0_alone_writes_the_run_directories(workers):
    out, (r0, r1) = workers
    assert list((out / "cwd1").iterdir()) == []
    runs = sorted((out / "cwd0" / "runs").iterdir())
    assert len(runs) == 3 and all({p.name for p in run.iterdir()} == RUN_FILES for run in runs)
    assert sorted(_loader(p) for p in runs) == ["dataloader", "memory", "stream"]
    assert r0["stream"]["metrics"]["dev"]["error"] < 0.2 and r1["stream"]["metrics"] == {}
    assert r0["group_kept"] and r1["group_kept"]  # train() leaves the caller's process group alone


def test_cli_nproc_2_writes_and_records_once(manifest, tmp_path):
    import pyarrow.compute as pc

    table = pq.read_table(manifest)  # no dev rows: a warning that every rank would raise
    no_dev = tmp_path / "no_dev.parquet"
    pq.write_table(table.set_column(table.column_names.index("split"), "split",
                                    pc.if_else(pc.equal(table["split"], "dev"), "test", table["split"])), no_dev)
    config = tmp_path / "ddp.toml"
    config.write_text(f'[data]\nmanifest = "{no_dev}"\nfeature_prefix = "px_"\nloader = "memory"\n'
                      '[model]\nhidden = [16]\n[optim]\nepochs = 2\nbatch_size = 75\ndevice = "cpu"\n')
    store = tmp_path / "runs.db"
    proc = _run([sys.executable, "-m", "mlstrat", "train", str(config), "-o", "run", "--nproc", "2",
                 "--store", str(store), "--note", "two ranks", "--json"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout)  # rank 0 alone printed: one JSON document
    assert result["processes"] == 2 and result["run_dir"] == "run"
    assert {p.name for p in (tmp_path / "run").iterdir()} == RUN_FILES
    from mlstrat.runs import RunStore

    (run,) = RunStore(store).list()
    assert run.note == "two ranks" and run.artifacts == str((tmp_path / "run").resolve())
    assert proc.stderr.count("recorded run") == 0  # --json: the id is in the store, not on stderr
    assert proc.stderr.count("no dev rows") == 1, proc.stderr  # rank 0's warning only

    bad = tmp_path / "bad.toml"
    bad.write_text(config.read_text().replace(str(no_dev), str(tmp_path / "missing.parquet")))
    proc = _run([sys.executable, "-m", "mlstrat", "train", str(bad), "--nproc", "2"], cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("Error:") == 1 and "missing.parquet" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- the pieces, in this process -----------------------------------------------------------------


@settings(deadline=None)
@given(n=st.integers(0, 500), world=st.integers(1, 8))
def test_shares_of_a_global_batch_cover_it_once(n, world):
    parts = [Dist(rank=r, world=world, local_rank=r, device=torch.device("cpu")).share(n) for r in range(world)]
    assert [i for p in parts for i in range(n)[p]] == list(range(n))
    sizes = [p.stop - p.start for p in parts]
    assert max(sizes) - min(sizes) <= 1


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 40), max_size=12), world=st.integers(1, 4), block=st.integers(1, 25))
def test_stream_blocks_partition_the_rows_whatever_the_batch_sizes(sizes, world, block):
    import pyarrow as pa

    starts = np.cumsum([0, *sizes])
    batches = [pa.record_batch({"i": np.arange(a, a + n)}) for a, n in zip(starts, sizes)]
    got = {r: [i for b in select_blocks(iter(batches), rank=r, world=world, block=block)
               for i in b.column("i").to_pylist()] for r in range(world)}
    assert sorted(i for rows in got.values() for i in rows) == list(range(sum(sizes)))
    for r, rows in got.items():
        assert all((i // block) % world == r for i in rows)
        assert len(rows) == StreamShards(rank=r, world=world, block=block, m=sum(sizes), batch_size=8).rows(r)


@settings(deadline=None)
@given(m=st.integers(1, 3000), world=st.integers(1, 5), block=st.integers(1, 400), batch=st.integers(5, 300))
def test_stream_schedule_counts_every_row_once(m, world, block, batch):
    shards = StreamShards(rank=0, world=world, block=block, m=m, batch_size=batch)
    assert sum(shards.rows(r) for r in range(world)) == m
    assert sum(shards.global_rows(s) for s in range(shards.steps())) == m
    assert all(0 < shards.global_rows(s) <= batch for s in range(shards.steps()))


def test_stream_shards_run_the_same_number_of_steps(manifest):
    from mlstrat.nn._stream import StreamSource, TrainStream

    data = digits_config(manifest, loader="stream").data
    src = StreamSource.open(str(manifest), data)
    stats = src.scan()
    m = stats.m
    ys, steps = [], []
    for rank in range(2):
        shards = StreamShards(rank=rank, world=2, block=data.chunk_size, m=m, batch_size=75)
        stream = TrainStream(src, stats, stats.normalizer, batch_size=75, device=torch.device("cpu"),
                             shards=shards)
        sizes = [len(y) for _, y, _ in stream.epoch(5)]
        steps.append(len(sizes))
        ys.append(sizes)
        assert shards.rows(rank) == sum(sizes)
    # the ranks' row counts differ (blocks of 100 over the train rows), their step counts do not
    assert ys[0] != ys[1] and steps[0] == steps[1] == shards.steps()
    assert [a + b for a, b in zip(*ys)] == [shards.global_rows(s) for s in range(steps[0])]
    assert sum(map(sum, ys)) == m


def test_a_global_batch_smaller_than_the_processes_is_refused():
    with pytest.raises(ConfigError, match=r"^\[optim\] batch_size = 1 is smaller than the 2 training processes; "
                                          r"every process needs rows in each step: use batch_size >= 2"):
        check_batch(1, 2)
    check_batch(0, 4)  # 0: the whole train split
    check_batch(2, 2)


def test_one_process_is_untouched_by_ddp(manifest, tmp_path):
    """Without a launcher there is no process group and the result carries processes = 1."""
    config = dataclasses.replace(digits_config(manifest, loader="memory"),
                                 optim=dataclasses.replace(digits_config(manifest, loader="memory").optim, epochs=1))
    result = train(config, run_dir=tmp_path / "r", progress=False)
    assert result.processes == 1 and result.to_dict()["processes"] == 1
    assert not torch.distributed.is_initialized()


def test_cli_refuses_a_batch_smaller_than_nproc_before_launching(manifest, tmp_path):
    from typer.testing import CliRunner

    from mlstrat.cli import app

    config = tmp_path / "tiny.toml"
    config.write_text(f'[data]\nmanifest = "{manifest}"\nfeature_prefix = "px_"\n[optim]\nbatch_size = 1\n'
                      'device = "cpu"\n')
    result = CliRunner().invoke(app, ["train", str(config), "--nproc", "2", "-o", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "[optim] batch_size = 1 is smaller than the 2 training processes" in result.output
    assert not (tmp_path / "r").exists()


def test_the_weighted_variants_learn_something_else():
    """The weights reach the gradient: without them the same fits end elsewhere."""
    for weighted, plain in (("weighted", "classes"), ("weighted_multitask", "multitask")):
        _, a = fit_float64(None, variant=weighted)
        _, b = fit_float64(None, variant=plain)
        assert max(float((a[k] - b[k]).abs().max()) for k in a) > 1e-3
