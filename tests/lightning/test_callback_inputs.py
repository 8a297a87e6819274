"""The Lightning callback on bad batches, labels and logits: one MlstratError that says what to fix."""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from mlstrat import InputError, MlstratError  # noqa: E402
from mlstrat.lightning import MlstratCallback  # noqa: E402


class Fixed(pl.LightningModule):
    """Returns the logits it was given (or the input itself), whatever x is."""

    def __init__(self, logits=None) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, x):
        return x if self.logits is None else self.logits[: len(x)]


def _table(batches, module=None, classes=None):
    callback = MlstratCallback({"train": batches, "dev": batches}, classes=classes, record=False, verbose=False)
    return callback.predictions_table(module or Fixed())


GOOD_X = torch.tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0]])


@pytest.mark.parametrize("batch, message", [
    ({"inputs": GOOD_X, "y": torch.tensor([0, 1])},
     "MlstratCallback: a dict batch needs the keys 'x' and 'y' (and optionally 'id'); 'x' missing (keys: 'inputs', "
     "'y')"),
    ((GOOD_X, torch.tensor([0, 3])),
     "MlstratCallback: label 3 in a 'train' batch is not a class index; y must hold whole numbers from 0 to 2 (the "
     "position of the class in the logits)"),
    ((GOOD_X, torch.tensor([-1, 0])),
     "MlstratCallback: label -1 in a 'train' batch is not a class index; y must hold whole numbers from 0 to 2"),
    ((GOOD_X, torch.tensor([0.5, 1.0])),
     "MlstratCallback: label 0.5 in a 'train' batch is not a class index"),
    ((GOOD_X, torch.tensor([0, 1, 2])),
     "MlstratCallback: a 'train' batch has 2 logit rows, 3 labels and 2 ids; they must match row for row"),
    ((GOOD_X, torch.tensor([0, 1]), ["a"]),
     "MlstratCallback: a 'train' batch has 2 logit rows, 2 labels and 1 ids; they must match row for row"),
    ((torch.tensor([1.0, 2.0]), torch.tensor([0, 1])),
     "MlstratCallback: the module's forward returned (2,) on a 'train' batch; expected a tensor of logits of shape "
     "(batch, classes), one logit per class"),
    ((torch.tensor([[float("nan"), 0.0, 0.0], [0.0, 1.0, 0.0]]), torch.tensor([0, 1])),
     "MlstratCallback: the module returned NaN or infinite logits for 1 of 2 rows of a 'train' batch; the model "
     "diverged (lower the learning rate, clip gradients) or its input holds NaN"),
    ((torch.tensor([[float("inf"), 0.0, 0.0], [0.0, float("-inf"), 0.0]]), torch.tensor([0, 1])),
     "MlstratCallback: the module returned NaN or infinite logits for 2 of 2 rows"),
])
def test_bad_inputs_are_one_clear_error(batch, message):
    with pytest.raises(InputError, match=re.escape(message)):
        _table([batch])


def test_a_batch_of_another_shape_is_an_mlstrat_error():
    with pytest.raises(MlstratError, match=re.escape("MlstratCallback: a batch must be (x, y), (x, y, ids) or a dict")):
        _table([GOOD_X])


def test_good_batches_still_make_the_table():
    table = _table([(GOOD_X, torch.tensor([0, 1]), ["p", "q"]),
                    {"x": GOOD_X, "y": torch.tensor([1.0, 1.0])}], classes=["a", "b", "c"])
    assert table.y_true.tolist() == ["a", "b", "b", "b"] * 2
    assert table.y_pred.tolist() == ["a", "b", "a", "b"] * 2
    assert table.id.tolist()[:4] == ["p", "q", "train-2", "train-3"]
