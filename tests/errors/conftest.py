import pytest

from tests.errors._data import digits_predictions, simple_predictions, write


@pytest.fixture
def preds_csv(tmp_path):
    return write(simple_predictions(), tmp_path / "preds.csv")


@pytest.fixture
def digits_csv(tmp_path):
    return digits_predictions(tmp_path / "digits_preds.csv")
