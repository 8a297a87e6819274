"""Fixed costs of a training run: the optimizer without torch._dynamo, the thread choice."""

import json
import os
import subprocess
import sys
import warnings

import pytest
import torch

from mlstrat.nn import OptimConfig, RegularizationConfig, TrainConfig, train
from mlstrat.nn import _setup, _threads
from mlstrat.nn._model import Architecture, Network, cross_entropy_cost
from mlstrat.nn._setup import eager_optimizer, make_optimizer
from tests.nn.conftest import small_config

OPTIMIZERS = ["gd", "momentum", "rmsprop", "adam"]


def _steps(opt: torch.optim.Optimizer, net: Network, n: int = 10) -> None:
    g = torch.Generator().manual_seed(1)
    for _ in range(n):
        X, y = torch.randn(16, 4, generator=g), torch.randint(0, 2, (16,), generator=g)
        opt.zero_grad(set_to_none=True)
        cross_entropy_cost(net(X), y).backward()
        opt.step()


@pytest.mark.parametrize("l2", [0.0, 2.0])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_eager_optimizer_gives_the_bits_of_the_torch_optimizer(name, l2, monkeypatch):
    config = TrainConfig(optim=OptimConfig(optimizer=name, lr=0.05, beta1=0.8, beta2=0.95),
                         regularization=RegularizationConfig(l2=l2))
    runs = []
    for wrap in (eager_optimizer, lambda cls: cls):  # the optimizer used, then torch's own class
        monkeypatch.setattr(_setup, "eager_optimizer", wrap)
        torch.manual_seed(0)
        net = Network(Architecture("mlp", 4, (8,), 2, "relu"))
        opt = make_optimizer(net, config, m=10)
        _steps(opt, net)
        runs.append((net.state_dict(), opt.state_dict()))
    (w_eager, s_eager), (w_torch, s_torch) = runs
    assert all(torch.equal(w_eager[k], w_torch[k]) for k in w_torch)
    assert s_eager["param_groups"] == s_torch["param_groups"]
    for i, state in s_torch["state"].items():
        assert all(torch.equal(s_eager["state"][i][k], v) for k, v in state.items())


def test_eager_optimizer_is_the_torch_class_for_schedulers_and_checkpoints():
    net = Network(Architecture("mlp", 4, (3,), 2, "relu"))
    opt = make_optimizer(net, TrainConfig(), m=10)
    assert isinstance(opt, torch.optim.Adam) and type(opt).__name__ == "Adam"
    assert eager_optimizer(torch.optim.Adam) is type(opt)  # one class per optimizer, not one per run
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    _steps(opt, net, n=1)
    opt.load_state_dict(opt.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the scheduler sees the optimizer's step
        scheduler.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5 * TrainConfig().optim.lr)


def test_a_training_run_imports_no_dynamo(tmp_path, digits_path):
    """In a fresh interpreter, a whole run (read, fit, predict, write) leaves torch._dynamo
    unimported (torch's own optimizer classes import it: ~1.2 s of CPU per process)."""
    code = f"""
import json, sys
from mlstrat.nn import train
from tests.nn.conftest import small_config
train(small_config({str(digits_path)!r}), run_dir={str(tmp_path / "run")!r}, record=False)
print(json.dumps({{"dynamo": "torch._dynamo" in sys.modules, "torch": "torch" in sys.modules}}))
"""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"dynamo": False, "torch": True}


def test_trained_weights_equal_those_of_the_torch_optimizer(tmp_path, digits_path, monkeypatch):
    config = small_config(digits_path, regularization=RegularizationConfig(l2=1.0))
    eager = train(config, run_dir=tmp_path / "eager", record=False)
    monkeypatch.setattr(_setup, "eager_optimizer", lambda cls: cls)
    plain = train(config, run_dir=tmp_path / "torch", record=False)
    weights = [torch.load(r.run_dir / "model.pt", weights_only=False)["state_dict"] for r in (eager, plain)]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[1])
    assert eager.history["epochs"] == plain.history["epochs"]


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    _threads._cache.clear()
    yield
    torch.set_num_threads(before)
    _threads._cache.clear()


def _batch(width: int, rows: int):
    net = Network(Architecture("mlp", width, (width,), 2, "relu"))
    return net, torch.randn(rows, width), torch.randint(0, 2, (rows,))


def _never_measured(*args, **kwargs):
    raise AssertionError("the thread count was measured")


def test_small_network_keeps_one_thread_without_measuring(two_threads, monkeypatch):
    monkeypatch.setattr(_threads, "_time_steps", _never_measured)
    net, X, y = _batch(64, 512)  # 64x64 + 64x2 weights x 512 rows: far below SMALL_WORK
    n, why = _threads.choose_threads(net, X, y, cross_entropy_cost, steps=10_000)
    assert (n, why) == (1, "small network (4224 weights x batch 512): one thread")


def test_loaded_machine_keeps_one_thread_without_measuring(two_threads, monkeypatch):
    monkeypatch.setattr(_threads, "_time_steps", _never_measured)
    monkeypatch.setattr(_threads.os, "getloadavg", lambda: (6.0, 6.0, 6.0))
    monkeypatch.setattr(_threads.os, "cpu_count", lambda: 2)
    net, X, y = _batch(512, 128)  # 512x512 + 512x2 weights x 128 rows > SMALL_WORK
    n, why = _threads.choose_threads(net, X, y, cross_entropy_cost, steps=10_000)
    assert (n, why) == (1, "loaded machine (load 6.0 on 2 cores): one thread")


def test_quiet_machine_measures_a_large_network(two_threads, monkeypatch):
    monkeypatch.setattr(_threads.os, "getloadavg", lambda: (0.5, 0.5, 0.5))
    monkeypatch.setattr(_threads.os, "cpu_count", lambda: 2)
    seconds = {1: 2.0, 2: 1.0}  # two threads twice as fast
    monkeypatch.setattr(_threads, "_time_steps", lambda model, xb, yb, loss, n: seconds[n])
    net, X, y = _batch(512, 128)
    assert _threads.choose_threads(net, X, y, cross_entropy_cost, steps=10_000) == (
        2, "measured: fastest of 1 and 2")


def test_thread_choice_is_recorded_with_its_reason(tmp_path, digits_path):
    history = train(small_config(digits_path), run_dir=tmp_path / "a", record=False).history
    assert (history["threads"], history["threads_reason"]) == (1, "short run (51 steps < 200): one thread, not measured")
    pinned = small_config(digits_path, optim=OptimConfig(epochs=1, batch_size=64, threads=2))
    saved = json.loads((train(pinned, run_dir=tmp_path / "b", record=False).run_dir / "history.json").read_text())
    assert (saved["threads"], saved["threads_reason"]) == (2, "set in [optim] threads")


# -- a small local Parquet manifest is read by PyArrow, with the engine's results ----------------

def _rich_manifest(path):
    """String ids and labels, a weight column, pass-through text with empty values, a dictionary
    column, integer, boolean and float features."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 60
    rng = np.random.default_rng(0)
    table = pa.table({
        "id": [f"row-{i:03d}" for i in range(n)],
        "split": ["train", "dev", "test"] * (n // 3),
        "label": [["cat", "dog", "eel"][(i // 3) % 3] for i in range(n)],
        "w": rng.uniform(0.5, 2.0, n),
        "note": [None if i % 7 == 0 else f"note {i}" for i in range(n)],
        "domain": pa.array([["a", "b"][i % 2] for i in range(n)]).dictionary_encode(),
        "f_int": pa.array(rng.integers(0, 9, n), pa.int32()),
        "f_bool": [bool(i % 2) for i in range(n)],
        "f_float": rng.normal(size=n).astype("float32"),
    })
    pq.write_table(table, path)
    return path


def _datasets(path, data, tasks=()):
    from mlstrat.nn import _data

    direct = _data.load_dataset(str(path), data, tasks=tasks)
    assert _data.small_parquet(str(path)) == str(path)
    original = _data.small_parquet
    try:
        _data.small_parquet = lambda manifest, con=None: None  # force the engine
        engine = _data.load_dataset(str(path), data, tasks=tasks)
    finally:
        _data.small_parquet = original
    return direct, engine


def _assert_same(a, b):
    import numpy as np

    for name in ("source", "feature_names", "classes", "tasks"):
        assert getattr(a, name) == getattr(b, name), name
    for name in ("ids", "split", "X", "labels", "y", "weights"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
    assert a.passthrough.keys() == b.passthrough.keys()
    for key in a.passthrough:
        assert a.passthrough[key].tolist() == b.passthrough[key].tolist(), key


def test_pyarrow_and_engine_readers_give_the_same_dataset(tmp_path, digits_path):
    from mlstrat.nn import DataConfig

    _assert_same(*_datasets(digits_path, DataConfig(manifest=str(digits_path), feature_prefix="px_")))
    rich = _rich_manifest(tmp_path / "rich.parquet")
    _assert_same(*_datasets(rich, DataConfig(manifest=str(rich), feature_prefix="f_", weight_col="w")))


def test_pyarrow_reader_leaves_problems_to_the_engine_messages(tmp_path):
    from mlstrat._exceptions import InputError
    from mlstrat.nn import DataConfig, _data

    rich = _rich_manifest(tmp_path / "rich.parquet")
    data = DataConfig(manifest=str(rich), feature_prefix="f_", label="missing")
    assert _data._read_with_pyarrow(str(rich), data, ()) is None
    with pytest.raises(InputError, match=r"rich.parquet: missing label column 'missing'"):
        _data.load_dataset(str(rich), data)
    assert _data.small_parquet(str(tmp_path / "rich.csv")) is None  # other formats: the engine
    assert _data.small_parquet(str(rich), con=object()) is None  # an engine given: that engine


def test_a_damaged_parquet_manifest_is_the_engine_message(tmp_path):
    from mlstrat._exceptions import InputError

    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(InputError, match=r"bad.parquet: cannot be read as PARQUET .*check that the file is a "
                                         r"valid PARQUET table"):
        train(small_config(bad), run_dir=tmp_path / "run", record=False)
