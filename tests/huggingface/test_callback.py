"""The Transformers callback with a real ``Trainer`` and a tiny BERT built from a config with
random weights: nothing is downloaded (offline, no telemetry), CPU only."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from tests.conftest import _skip_or_fail

# before Transformers is imported: it reads these once
for _name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
    os.environ[_name] = "1"

try:
    import torch
    import transformers
except ImportError as _exc:
    _skip_or_fail(f"transformers is not installed ({_exc}; pip install -e '.[huggingface]')",
                  tests="the Transformers callback's tests")

from mlstrat._exceptions import ConfigError  # noqa: E402
from mlstrat.integrations.huggingface import MlstratCallback  # noqa: E402
from mlstrat.runs import RunStore  # noqa: E402

SEQ = 6


def tiny_bert(seed: int = 0):
    """A one-layer BERT with 16 units over a 50-token vocabulary, two classes named neg/pos."""
    torch.manual_seed(seed)
    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16,
                                     id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1})
    return transformers.BertForSequenceClassification(config)


def token_rows(n: int, seed: int, *, noise: float = 0.2, offset: int = 0) -> list[dict]:
    """Rows of token ids whose first token tells the label, except for a ``noise`` share of
    rows; ``offset`` moves the other tokens (a shifted distribution)."""
    g = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = int(g.integers(0, 2))
        tokens = g.integers(3 + offset, 30 + offset, SEQ)
        tokens[0] = 1 + (label if g.random() > noise else 1 - label)
        rows.append({"input_ids": tokens.tolist(), "attention_mask": [1] * SEQ, "labels": label,
                     "id": seed * 1000 + i})
    return rows


def training_args(tmp_path, **extra):
    return transformers.TrainingArguments(
        output_dir=str(tmp_path / "checkpoints"), report_to=[], disable_tqdm=True, use_cpu=True,
        save_strategy="no", logging_strategy="no", per_device_train_batch_size=16,
        per_device_eval_batch_size=64, learning_rate=5e-3, seed=0, **extra)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two epochs of a real Trainer with the callback: (callback, model, datasets, folder, output)."""
    tmp_path = tmp_path_factory.mktemp("hf")
    datasets = {"train": token_rows(48, 1), "train_dev": token_rows(24, 2), "dev": token_rows(24, 3, offset=15)}
    callback = MlstratCallback(datasets, epochs=[1], output_dir=tmp_path / "out", human=["expert=5%"],
                               store=tmp_path / "runs.db")
    model = tiny_bert()
    trainer = transformers.Trainer(model=model, args=training_args(tmp_path, num_train_epochs=2),
                                   train_dataset=datasets["train"], callbacks=[callback])
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        trainer.train()
    return callback, model, datasets, tmp_path, printed.getvalue()


def test_writes_the_final_models_predictions_of_every_split(trained):
    callback, model, datasets, tmp_path, _ = trained
    out = tmp_path / "out"
    assert (out / "predictions_epoch1.parquet").exists() and not (out / "predictions_epoch2.parquet").exists()
    table = pd.read_parquet(out / "predictions.parquet")
    assert table.groupby("split").size().to_dict() == {"dev": 24, "train": 48, "train_dev": 24}
    assert list(table.columns) == ["id", "split", "y_true", "y_pred", "proba_neg", "proba_pos"]
    # recompute the dev probabilities from the trained model directly, without the callback's batching
    dev = datasets["dev"]
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([r["input_ids"] for r in dev]),
                       attention_mask=torch.tensor([r["attention_mask"] for r in dev])).logits
    expected = torch.softmax(logits, dim=1).numpy()
    got = table[table.split == "dev"].set_index("id").loc[[r["id"] for r in dev]]
    np.testing.assert_allclose(got[["proba_neg", "proba_pos"]].to_numpy(), expected, rtol=1e-5, atol=1e-6)
    assert list(got.y_pred) == [["neg", "pos"][j] for j in expected.argmax(axis=1)]
    assert list(got.y_true) == [["neg", "pos"][r["labels"]] for r in dev]


def test_history_has_each_epochs_errors(trained):
    callback, _, _, tmp_path, _ = trained
    history = json.loads((tmp_path / "out" / "history.json").read_text())
    assert [h["epoch"] for h in history["epochs"]] == [1, 2] and history["stopped_early"] is False
    table = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    for split in ("train", "train_dev", "dev"):
        rows = table[table.split == split]
        assert history["epochs"][-1][f"{split}_error"] == pytest.approx(float((rows.y_true != rows.y_pred).mean()))
        assert callback.diagnosis.errors[split].value == pytest.approx(float((rows.y_true != rows.y_pred).mean()))
    first = pd.read_parquet(tmp_path / "out" / "predictions_epoch1.parquet")
    dev1 = first[first.split == "dev"]
    assert history["epochs"][0]["dev_error"] == pytest.approx(float((dev1.y_true != dev1.y_pred).mean()))


def test_records_the_run_and_prints_the_verdict(trained):
    callback, _, _, tmp_path, printed = trained
    run = RunStore(tmp_path / "runs.db").get(callback.run_id)
    assert run.kind == "huggingface"
    assert run.config["huggingface"] == {
        "model": "BertForSequenceClassification", "model_type": "bert", "learning_rate": 5e-3,
        "num_train_epochs": 2, "max_steps": -1, "per_device_train_batch_size": 16,
        "gradient_accumulation_steps": 1, "weight_decay": 0.0, "warmup_steps": 0, "lr_scheduler_type": "linear",
        "optim": run.config["huggingface"]["optim"], "seed": 0, "fp16": False, "bf16": False}
    assert run.diagnosis["principal_problem"] == callback.diagnosis.principal_problem
    assert (callback.diagnosis.human_level.bayes_proxy.name, callback.diagnosis.human_level.bayes_proxy.value) == (
        "expert", pytest.approx(0.05))
    assert f"mlstrat: {callback.diagnosis.verdict}\n" in printed
    assert f"mlstrat: recorded run {callback.run_id[:8]}; mlstrat report {callback.run_id[:8]}\n" in printed
    assert callback.verdict_text() in printed


def test_a_second_train_starts_a_new_history(tmp_path):
    datasets = {"train": token_rows(8, 1), "dev": token_rows(8, 3)}
    callback = MlstratCallback(datasets, output_dir=tmp_path / "out", record=False, verbose=False)
    trainer = transformers.Trainer(model=tiny_bert(), args=training_args(tmp_path, max_steps=1),
                                   train_dataset=datasets["train"], callbacks=[callback])
    trainer.train()
    trainer.train()
    assert [h["epoch"] for h in callback.history] == [1] and callback.run_id is None


class StopAfterFirstEpoch(transformers.TrainerCallback):
    def on_epoch_end(self, args, state, control, **kwargs):
        control.should_training_stop = True


def test_a_run_stopped_before_its_last_epoch_says_so(tmp_path):
    datasets = {"train": token_rows(8, 1), "dev": token_rows(8, 3)}
    callback = MlstratCallback(datasets, output_dir=tmp_path / "out", record=False, verbose=False)
    trainer = transformers.Trainer(model=tiny_bert(), args=training_args(tmp_path, num_train_epochs=3),
                                   train_dataset=datasets["train"], callbacks=[StopAfterFirstEpoch(), callback])
    trainer.train()
    history = json.loads((tmp_path / "out" / "history.json").read_text())
    assert [h["epoch"] for h in history["epochs"]] == [1] and history["stopped_early"] is True


@pytest.mark.parametrize("datasets, message", [
    ({"train": [], "val": []}, r"MlstratCallback: unknown split\(s\) 'val'; allowed: train, "),
    ({"train": []}, r"MlstratCallback: datasets need at least 'train' and 'dev' \(add 'train_dev' to "),
])
def test_wrong_split_names_are_refused(datasets, message):
    with pytest.raises(ConfigError, match=message):
        MlstratCallback(datasets)
