"""The Transformers callback on bad rows, labels and logits: one MlstratError that says what to fix."""

from __future__ import annotations

import os
import re

import pytest

from tests.conftest import _skip_or_fail

for _name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
    os.environ[_name] = "1"

try:
    import torch
    import transformers  # noqa: F401
except ImportError as _exc:
    _skip_or_fail(f"transformers is not installed ({_exc}; pip install -e '.[huggingface]')",
                  tests="the Transformers callback's tests")

from mlstrat import ConfigError, InputError  # noqa: E402
from mlstrat.integrations.huggingface import MlstratCallback  # noqa: E402


class Fixed(torch.nn.Module):
    """Returns its input ids as the logits, or the logits it was given, as a Transformers
    model does: an output with ``.logits``."""

    def __init__(self, logits=None) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, input_ids, attention_mask=None):
        return transformers.modeling_outputs.SequenceClassifierOutput(
            logits=input_ids.float() if self.logits is None else self.logits[: len(input_ids)])


def _table(rows, model=None, **options):
    callback = MlstratCallback({"train": rows, "dev": rows}, record=False, verbose=False, **options)
    return callback.predictions_table(model or Fixed())


def test_rows_become_a_predictions_table_with_ids_and_classes():
    rows = [{"input_ids": [2, 0, 0], "labels": 0, "id": "a"}, {"input_ids": [0, 0, 3], "label": torch.tensor(2)}]
    table = _table(rows, classes=["x", "y", "z"])
    assert table.id.tolist() == ["a", "train-1", "a", "dev-1"]
    assert table.y_true.tolist() == ["x", "z", "x", "z"] and table.y_pred.tolist() == ["x", "z", "x", "z"]
    assert table.proba_x.iloc[0] == pytest.approx(torch.softmax(torch.tensor([2.0, 0, 0]), 0)[0].item())


class Stream:
    """An iterable dataset: no length, no indexing."""

    def __init__(self, rows):
        self.rows = rows

    def __iter__(self):
        return iter(self.rows)


def test_an_iterable_dataset_is_read_row_by_row():
    rows = [{"input_ids": [0, 4], "labels": 1}, {"input_ids": [5, 0], "labels": 1}]
    table = _table(Stream(rows))
    assert table.y_pred.tolist() == [1, 0, 1, 0] and table.id.tolist() == ["train-0", "train-1", "dev-0", "dev-1"]


@pytest.mark.parametrize("rows, message", [
    ([{"input_ids": [1, 0], "target": 0}],
     "MlstratCallback: row 0 of the 'train' dataset has no label; a row needs 'labels' (or 'label', 'label_ids') "
     "beside the model's inputs (keys: 'input_ids', 'target')"),
    ([{"input_ids": [1, 0], "labels": 0}, {"input_ids": [1, 0], "labels": 2}],
     "MlstratCallback: label 2 in the 'train' dataset is not a class index; labels must be whole numbers from 0 "
     "to 1 (the position of the class in the logits)"),
    ([{"input_ids": [1, 0], "labels": -1}], "MlstratCallback: label -1 in the 'train' dataset is not a class index"),
    ([{"input_ids": [1, 0], "labels": [0, 1]}], "MlstratCallback: label [0, 1] in the 'train' dataset is not a "),
    ([{"text": "a review", "labels": 0}],
     "MlstratCallback: row 0 of the 'train' dataset holds none of the model's inputs (attention_mask, input_ids); "
     "keys: 'text', 'labels'. Tokenize the dataset first (dataset.map(tokenizer))"),
    ([(torch.tensor([1.0, 0.0]), 0)],
     "MlstratCallback: the 'train' dataset yields tuple rows; each row must be a dict of the model's inputs and "
     "'labels'"),
    ([{"input_ids": [1, 0], "labels": 0}, {"input_ids": [1, 0, 0], "labels": 1}],
     "MlstratCallback: the 'train' rows 0-1 could not be batched ("),
    ([], "MlstratCallback: the 'train' dataset is empty"),
])
def test_bad_rows_are_one_clear_error(rows, message):
    with pytest.raises(InputError, match=re.escape(message)):
        _table(rows)


@pytest.mark.parametrize("logits, message", [
    (torch.tensor([[float("nan"), 0.0], [0.0, 1.0]]),
     "MlstratCallback: the model returned NaN or infinite logits for 1 of 2 rows of the 'train' dataset; the model "
     "diverged (lower the learning rate, clip gradients with max_grad_norm) or its input holds NaN"),
    (torch.tensor([[0.3], [0.1]]),
     "MlstratCallback: the model returned logits (2, 1) on the 'train' dataset; expected (batch, classes) with one "
     "logit per class, two or more (a sequence classification head with num_labels >= 2)"),
    (torch.tensor([0.3, 0.1]), "MlstratCallback: the model returned logits (2,) on the 'train' dataset"),
])
def test_bad_logits_are_one_clear_error(logits, message):
    rows = [{"input_ids": [1, 0], "labels": 0}, {"input_ids": [0, 1], "labels": 1}]
    with pytest.raises(InputError, match=re.escape(message)):
        _table(rows, Fixed(logits))


def test_a_wrong_number_of_classes_is_a_config_error():
    with pytest.raises(ConfigError, match=re.escape("MlstratCallback: 3 classes given but the model returns 2 "
                                                    "logits per row")):
        _table([{"input_ids": [1, 0], "labels": 0}], classes=["a", "b", "c"])


def test_classes_default_to_the_configs_label_names_else_indices():
    rows = [{"input_ids": [1, 0], "labels": 1}]
    named = Fixed()
    named.config = transformers.PretrainedConfig(id2label={0: "neg", 1: "pos"})
    assert _table(rows, named).y_true.tolist() == ["pos", "pos"]
    unnamed = Fixed()
    unnamed.config = transformers.PretrainedConfig(num_labels=2)  # LABEL_0, LABEL_1: no names given
    assert _table(rows, unnamed).y_true.tolist() == [1, 1]
