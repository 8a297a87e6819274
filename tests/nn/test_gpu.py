"""The CUDA path (run by scripts/gpu-check.sh on a machine with a GPU). Without CUDA these
tests skip: they are the only tests of the suite allowed to."""

import numpy as np
import pytest
import torch

from mlstrat.nn import ModelConfig, OptimConfig, train

from .conftest import small_config

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU (scripts/gpu-check.sh runs these)")]


def _config(path, device, **model):
    return small_config(path, model=ModelConfig(hidden=(64, 64), **model),
                        optim=OptimConfig(epochs=4, batch_size=64, lr=0.01, device=device))


def test_cuda_training_matches_cpu_closely(tmp_path, digits_path):
    cpu = train(_config(digits_path, "cpu"), run_dir=tmp_path / "cpu")
    gpu = train(_config(digits_path, "cuda"), run_dir=tmp_path / "gpu")
    assert gpu.device.startswith("cuda")
    # same seed and data: the same optimization up to float rounding on another device
    assert abs(gpu.metrics["dev"]["error"] - cpu.metrics["dev"]["error"]) < 0.03
    costs = [[e["train_cost"] for e in r.history["epochs"]] for r in (cpu, gpu)]
    np.testing.assert_allclose(costs[0], costs[1], rtol=0.05)


def test_cuda_mixed_precision_learns_like_float32(tmp_path, digits_path):
    full = train(_config(digits_path, "cuda"), run_dir=tmp_path / "fp32")
    mixed_config = small_config(digits_path, model=ModelConfig(hidden=(64, 64)),
                                optim=OptimConfig(epochs=4, batch_size=64, lr=0.01, device="cuda", precision="bf16"))
    mixed = train(mixed_config, run_dir=tmp_path / "bf16")
    assert abs(mixed.metrics["dev"]["error"] - full.metrics["dev"]["error"]) < 0.03
    costs = [[e["train_cost"] for e in r.history["epochs"]] for r in (full, mixed)]
    np.testing.assert_allclose(costs[0], costs[1], rtol=0.05)


def test_cuda_batch_norm_health_and_schedule(tmp_path, digits_path):
    config = small_config(digits_path, model=ModelConfig(hidden=(32,) * 4, batch_norm=True),
                          optim=OptimConfig(epochs=3, batch_size=64, lr=0.01, device="cuda", lr_decay="exponential",
                                            clip_grad_norm=1.0))
    r = train(config, run_dir=tmp_path / "bn")
    assert [e["lr"] for e in r.history["epochs"]] == pytest.approx([0.01, 0.0095, 0.009025])
    assert all(e["layers"]["hidden.0"]["grad_norm"] > 0 for e in r.history["epochs"])
    assert r.history["warnings"] == []
    assert r.metrics["dev"]["error"] < 0.2


def test_cuda_model_predicts_on_cpu(tmp_path, digits_path):
    from mlstrat.nn import predict

    r = train(_config(digits_path, "cuda"), run_dir=tmp_path / "gpu")
    out = predict(r.run_dir, digits_path)  # model.pt holds CPU tensors
    assert out.num_rows > 0 and "proba_0" in out.column_names


def test_cuda_lr_find_suggests_what_cpu_suggests_within_a_grid_step(digits_path):
    from mlstrat.nn import lr_find

    found = {device: lr_find(small_config(digits_path, optim=OptimConfig(batch_size=64, device=device)), steps=120)
             for device in ("cpu", "cuda")}
    # the same test on another device: float rounding may move the steepest step by a few steps
    assert found["cuda"].stopped == "diverged"
    assert found["cpu"].suggestion / 3.2 < found["cuda"].suggestion < found["cpu"].suggestion * 3.2


def test_cuda_training_with_lr_find_trains_at_the_recorded_suggestion(tmp_path, digits_path):
    from mlstrat.report import render_report, report_inputs
    from mlstrat.runs import RunStore

    store = RunStore(tmp_path / "runs.db")
    config = small_config(digits_path, optim=OptimConfig(epochs=2, batch_size=64, lr="find", device="cuda"))
    result = train(config, run_dir=tmp_path / "found", store=store)
    found = result.history["lr_find"]
    assert result.device.startswith("cuda")
    assert found["stopped"] == "diverged" and len(found["lrs"]) == found["steps"] > 10
    assert result.history["epochs"][0]["lr"] == found["suggestion"]
    (run,) = store.list()
    assert run.metrics["lr_find"] == found
    html = render_report(**report_inputs(run.id, store=store).kwargs())
    section = html[html.index('id="lr-find"'):]
    assert f'suggested lr <b class="lr-suggestion">{found["suggestion"]:.3g}</b>' in section
    assert "<svg" in section[:section.index("</section>")]


def test_cuda_pruned_search_stops_the_trials_the_median_rule_names(tmp_path, digits_table):
    import json

    import pyarrow.parquet as pq

    from mlstrat.tune import tune
    from tests.tune.test_pruned_digits import CONFIG, _median_rule

    pq.write_table(digits_table, tmp_path / "digits.parquet")
    path = tmp_path / "d.toml"
    path.write_text(CONFIG.replace("[optim]\n", '[optim]\ndevice = "cuda"\n'))
    result = tune(path, output=tmp_path / "t", record=False)
    doc = json.loads((tmp_path / "t" / "tune.json").read_text())
    states = [t["state"] for t in doc["trials"]]
    assert "pruned" in states and set(states) == {"complete", "pruned"}
    expected = _median_rule(sorted(doc["trials"], key=lambda t: t["number"]), startup=2, warmup=1)
    assert {t["number"]: t.get("pruned_at_epoch") for t in doc["trials"]} == expected
    assert result.best.state == "complete"
