"""The Lightning callback with a tiny real LightningModule on CPU (no mocks of Lightning)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from mlstrat._exceptions import ConfigError  # noqa: E402
from mlstrat.lightning import MlstratCallback  # noqa: E402
from mlstrat.runs import RunStore  # noqa: E402


class Tiny(pl.LightningModule):
    def __init__(self, n_in: int = 4, lr: float = 0.1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Linear(n_in, 3)

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, _):
        x, y, _ids = batch
        return torch.nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def _loader(n: int, seed: int, shift: float = 0.0, shuffle: bool = False):
    g = np.random.default_rng(seed)
    y = g.integers(0, 3, n)
    x = g.normal(size=(n, 4)).astype(np.float32)
    x[np.arange(n), y] += 2.0
    x += shift
    ids = torch.arange(seed * 1000, seed * 1000 + n)
    return DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y), ids), batch_size=32, shuffle=shuffle)


def test_callback_writes_tables_records_and_prints_the_verdict(tmp_path, capsys):
    torch.manual_seed(0)
    loaders = {"train": _loader(300, 1), "train_dev": _loader(100, 2), "dev": _loader(100, 3, shift=1.0)}
    store = tmp_path / "runs.db"
    callback = MlstratCallback(loaders, classes=["a", "b", "c"], epochs=[1], output_dir=tmp_path / "out",
                               human=["0.5%"], store=store)
    model = Tiny()
    trainer = pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[callback])
    trainer.fit(model, train_dataloaders=_loader(300, 1, shuffle=True))

    out = tmp_path / "out"
    assert (out / "predictions_epoch1.parquet").exists() and not (out / "predictions_epoch2.parquet").exists()
    table = pd.read_parquet(out / "predictions.parquet")
    assert table.groupby("split").size().to_dict() == {"dev": 100, "train": 300, "train_dev": 100}
    # the table is the final model's: recompute the dev predictions independently
    x, _, ids = loaders["dev"].dataset.tensors
    with torch.no_grad():
        expected = np.array(["a", "b", "c"])[model(x).argmax(dim=1).numpy()]
    dev = table[table.split == "dev"].set_index("id").loc[ids.numpy()]
    assert (dev.y_pred.to_numpy() == expected).all()
    history = json.loads((out / "history.json").read_text())["epochs"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[-1]["dev_error"] == pytest.approx(float((dev.y_true != dev.y_pred).mean()))

    run = RunStore(store).get(callback.run_id)
    assert run.kind == "lightning" and run.config["lightning"] == {"module": "Tiny", "n_in": 4, "lr": 0.1}
    assert run.diagnosis["principal_problem"] == callback.diagnosis.principal_problem
    printed = capsys.readouterr().out
    assert f"mlstrat: {callback.diagnosis.verdict}" in printed
    assert f"mlstrat: recorded run {callback.run_id[:8]}" in printed


def test_unknown_split_name_is_refused():
    with pytest.raises(ConfigError, match=r"MlstratCallback: unknown split\(s\) 'val'; allowed: train, "):
        MlstratCallback({"train": [], "val": []})


def test_loaders_without_dev_are_refused():
    with pytest.raises(ConfigError, match=r"^MlstratCallback: loaders need at least 'train' and 'dev' \(add "
                       r"'train_dev' to separate variance from data mismatch\)$"):
        MlstratCallback({"train": []})
