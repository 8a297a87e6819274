"""A label column that cannot hold one class per row is refused by name, by both loaders."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat import InputError
from mlstrat.cli import app
from mlstrat.nn import DataConfig, ModelConfig, OptimConfig, TrainConfig, train


def _manifest(tmp_path, label) -> str:
    n = len(label)
    rng = np.random.default_rng(0)
    table = pa.table({"id": np.arange(n), "split": np.where(np.arange(n) % 4 == 0, "dev", "train"),
                      "label": label, "f_0": rng.normal(size=n), "f_1": rng.normal(size=n)})
    path = tmp_path / "manifest.parquet"
    pq.write_table(table, path)
    return str(path)


@pytest.mark.parametrize("loader", ["memory", "stream"])
@pytest.mark.parametrize("label, kind", [
    (pa.array([[i % 2, 1 - i % 2] for i in range(24)]), "array<int64>"),
    (pa.array([{"c": i % 2} for i in range(24)]), "struct<c: int64>"),
    (pa.array([bytes([i % 2]) for i in range(24)]), "binary"),
])
def test_a_label_of_lists_is_refused_naming_the_column_and_the_type(tmp_path, loader, label, kind):
    manifest = _manifest(tmp_path, label)
    config = TrainConfig(data=DataConfig(manifest=manifest, feature_prefix="f_", loader=loader),
                         model=ModelConfig(hidden=(4,)), optim=OptimConfig(epochs=1, device="cpu"))
    message = (f"{manifest}: label column 'label' holds {kind} values; a label is one class per row, a string or "
               "an integer ([data] label): write the class itself (e.g. the index of a one-hot list's 1), or each "
               "0/1 target as its own column in [multitask] tasks")
    with pytest.raises(InputError, match=re.escape(message)):
        train(config, run_dir=tmp_path / "run", progress=False)


def test_the_cli_says_it_in_one_line(tmp_path):
    manifest = _manifest(tmp_path, pa.array([[i % 2] for i in range(24)]))
    config = tmp_path / "config.toml"
    config.write_text(f'[data]\nmanifest = "{manifest}"\nfeature_prefix = "f_"\n[optim]\nepochs = 1\n')
    res = CliRunner().invoke(app, ["train", str(config), "-o", str(tmp_path / "run"), "--no-record"])
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1 and "label column 'label' holds array<int64> values" in " ".join(res.output.split())
