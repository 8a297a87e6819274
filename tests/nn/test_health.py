"""Gradient health: per-layer norms against a manual backward, and the vanishing / exploding
warnings on the textbook cases, each fixed by the remedy the warning names."""

import warnings

import numpy as np
import pytest
import torch

from mlstrat._exceptions import MlstratWarning
from mlstrat.nn import ModelConfig, OptimConfig, TrainConfig, train
from mlstrat.nn._health import gradient_warnings
from mlstrat.nn._model import Architecture, Network, initialize
from mlstrat.nn._fitter import Fitter

from .conftest import small_config


def _manual_gradients(W1, b1, W2, b2, X, y):
    """Backpropagation by hand (NumPy) for tanh -> softmax cross-entropy, mean over m rows."""
    m = X.shape[0]
    Z1 = X @ W1.T + b1
    A1 = np.tanh(Z1)
    Z2 = A1 @ W2.T + b2
    P = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    dZ2 = P.copy()
    dZ2[np.arange(m), y] -= 1
    dZ2 /= m
    dW2 = dZ2.T @ A1
    dZ1 = (dZ2 @ W2) * (1 - A1 ** 2)
    dW1 = dZ1.T @ X
    return dW1, dW2


def test_gradient_weight_and_update_norms_match_a_manual_backward():
    torch.manual_seed(0)
    X = torch.randn(40, 6, dtype=torch.float64)
    y = torch.randint(0, 3, (40,))
    net = Network(Architecture("mlp", 6, (5,), 3, "tanh")).double()
    initialize([*net.body_layers(), net.head], "xavier", torch.Generator().manual_seed(0))
    W1, b1 = net.hidden[0].weight.detach().numpy().copy(), net.hidden[0].bias.detach().numpy().copy()
    W2, b2 = net.head.weight.detach().numpy().copy(), net.head.bias.detach().numpy().copy()
    config = TrainConfig(optim=OptimConfig(optimizer="gd", lr=0.5, batch_size=0, epochs=1))
    history = Fitter(net, config, X, y, generator=torch.Generator().manual_seed(0)).fit(progress=False)
    layers = history["epochs"][0]["layers"]
    dW1, dW2 = _manual_gradients(W1, b1, W2, b2, X.numpy(), y.numpy())
    assert layers["hidden.0"]["grad_norm"] == pytest.approx(np.linalg.norm(dW1), rel=1e-9)
    assert layers["head"]["grad_norm"] == pytest.approx(np.linalg.norm(dW2), rel=1e-9)
    # one gradient-descent step: W <- W - 0.5 dW
    assert layers["head"]["weight_norm"] == pytest.approx(np.linalg.norm(W2 - 0.5 * dW2), rel=1e-9)
    assert layers["hidden.0"]["update_ratio"] == pytest.approx(0.5 * np.linalg.norm(dW1) / np.linalg.norm(W1),
                                                               rel=1e-9)
    assert layers["head"]["size"] == 15


def _deep(tmp_path, digits_path, name, **model):
    config = small_config(digits_path, model=ModelConfig(hidden=(32,) * 8, **model),
                          optim=OptimConfig(epochs=4, batch_size=64, lr=0.01))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = train(config, run_dir=tmp_path / name)
    raised = [str(w.message) for w in caught if issubclass(w.category, MlstratWarning)]
    assert raised == [w["message"] for w in r.history["warnings"]]
    return r


def test_deep_sigmoid_with_bad_init_is_diagnosed_vanishing_and_relu_he_fixes_it(tmp_path, digits_path):
    bad = _deep(tmp_path, digits_path, "sigmoid", activation="sigmoid", init="xavier", init_scale=0.5)
    assert [w["code"] for w in bad.history["warnings"]] == ["gradient-vanishing"]
    message = bad.history["warnings"][0]["message"]
    assert message.startswith("layer hidden.0: its gradient per weight is ")
    assert 'activation = "relu", init = "he"' in message and "batch_norm = true" in message
    first = bad.history["epochs"][0]["layers"]
    assert first["hidden.0"]["grad_norm"] < first["hidden.7"]["grad_norm"] / 100  # shrinks toward the input
    fixed = _deep(tmp_path, digits_path, "relu", activation="relu", init="he")
    assert fixed.history["warnings"] == []
    assert fixed.metrics["dev"]["error"] < bad.metrics["dev"]["error"] - 0.3
    normed = _deep(tmp_path, digits_path, "bn", activation="sigmoid", init="xavier", init_scale=0.5,
                   batch_norm=True)  # the other remedy named
    assert normed.history["warnings"] == []
    assert normed.metrics["dev"]["error"] < bad.metrics["dev"]["error"] - 0.3


def test_large_init_is_diagnosed_exploding_and_the_init_scale_fixes_it(tmp_path, digits_path):
    bad = _deep(tmp_path, digits_path, "large", activation="relu", init="he", init_scale=3.0)
    assert [w["code"] for w in bad.history["warnings"]] == ["gradient-exploding"]
    message = bad.history["warnings"][0]["message"]
    assert "x its weights' norm at the first epoch (exploding gradients)" in message
    assert "init_scale = 1" in message and "clip_grad_norm" in message
    fixed = _deep(tmp_path, digits_path, "he", activation="relu", init="he")
    assert fixed.history["warnings"] == []
    assert fixed.metrics["dev"]["error"] < bad.metrics["dev"]["error"] - 0.3


def _epoch(**layers):
    return {"layers": {n: {"grad_norm": g, "weight_norm": w, "update_ratio": 1e-3, "size": s}
                       for n, (g, w, s) in layers.items()}}


def test_warning_rules_on_hand_made_figures():
    healthy = _epoch(**{"hidden.0": (0.5, 8.0, 64), "head": (0.3, 3.0, 16)})
    assert gradient_warnings([healthy, healthy]) == []
    # RMS per weight: 1e-3/8 vs 0.3/4 -> 600x smaller
    vanishing = _epoch(**{"hidden.0": (1e-3, 8.0, 64), "head": (0.3, 3.0, 16)})
    assert [w["code"] for w in gradient_warnings([vanishing])] == ["gradient-vanishing"]
    assert "600x smaller than the head's at the first epoch" in gradient_warnings([vanishing])[0]["message"]
    nan = _epoch(**{"hidden.0": (float("nan"), 8.0, 64), "head": (0.3, 3.0, 16)})
    assert gradient_warnings([healthy, nan])[0]["message"].startswith(
        "layer hidden.0: the gradient is not finite at epoch 2")
    grown = _epoch(**{"hidden.0": (60.0, 8.0, 64), "head": (35.0, 3.0, 16)})
    assert "grew" not in gradient_warnings([healthy, grown])[0]["message"]  # caught as relative first
    later = _epoch(**{"hidden.0": (9.0, 8.0, 64), "head": (2.0, 3.0, 16)})  # 18x, above its weights
    assert gradient_warnings([healthy, later]) == []
    much_later = _epoch(**{"hidden.0": (60.0, 50.0, 64), "head": (31.0, 40.0, 16)})
    assert "grew 120x from the first to the last epoch" in gradient_warnings([healthy, much_later])[0]["message"]
    frozen = _epoch(**{"hidden.0": (0.0, 8.0, 64), "head": (0.3, 3.0, 16)})
    assert gradient_warnings([frozen]) == []  # a frozen layer is not vanishing
