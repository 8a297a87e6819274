import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlstrat.nn._model import (
    Architecture,
    InvertedDropout,
    Network,
    initialize,
    masked_bce_cost,
    penalty,
    weight_parameters,
)


def mlp(hidden=(300, 200), n_inputs=400, n_outputs=10, activation="relu", keep=None):
    return Network(Architecture("mlp", n_inputs, hidden, n_outputs, activation), keep)


@pytest.mark.parametrize("scheme, variance", [
    ("he", lambda n_prev, n: 2 / n_prev),
    ("xavier", lambda n_prev, n: 1 / n_prev),
    ("glorot", lambda n_prev, n: 2 / (n_prev + n)),
])
def test_init_variances(scheme, variance):
    net = mlp()
    initialize([*net.body_layers(), net.head], scheme, torch.Generator().manual_seed(0))
    for layer in [*net.hidden, net.head]:
        n, n_prev = layer.weight.shape
        w = layer.weight.detach().double().flatten()
        expected = variance(n_prev, n)
        # sample variance of k normals: relative standard error sqrt(2/k)
        tolerance = 4 * math.sqrt(2 / w.numel())
        assert abs(float(w.var()) / expected - 1) < tolerance, (scheme, layer)
        assert abs(float(w.mean())) < 4 * math.sqrt(expected / w.numel())
        assert torch.count_nonzero(layer.bias) == 0


def test_init_conv_uses_receptive_field():
    net = Network(Architecture("cnn", 64, (16,), 10, "relu", (1, 8, 8), (32,)))
    initialize(net.body_layers(), "he", torch.Generator().manual_seed(0))
    w = net.convs[0].weight.detach().double()  # (32, 1, 3, 3): n_prev = 1 * 9
    assert abs(float(w.var()) / (2 / 9) - 1) < 4 * math.sqrt(2 / w.numel())


def test_inverted_dropout_keeps_expected_activation():
    torch.manual_seed(0)
    drop = InvertedDropout(0.8).train()
    x = torch.full((2000, 500), 3.0)
    y = drop(x)
    kept = (y != 0).double().mean()
    # a kept unit is scaled by 1/keep_prob, a dropped one is 0
    assert set(torch.unique(y).tolist()) == {0.0, 3.0 / 0.8}
    assert abs(float(kept) - 0.8) < 4 * math.sqrt(0.8 * 0.2 / x.numel())
    assert abs(float(y.double().mean()) - 3.0) < 4 * 3.0 / 0.8 * math.sqrt(0.8 * 0.2 / x.numel())
    # a new mask per pass
    assert not torch.equal(drop(x), drop(x))


def test_no_dropout_in_eval():
    net = mlp(keep=(0.5, 0.5))
    x = torch.randn(64, 400)
    net.eval()
    assert torch.equal(net(x), net(x))
    net.train()
    assert not torch.equal(net(x), net(x))


def test_keep_prob_per_layer():
    net = mlp(keep=(0.5, 0.9))
    assert [d.keep_prob for d in net.dropouts] == [0.5, 0.9]


@given(l2=st.floats(0.0, 10.0), l1=st.floats(0.0, 10.0), m=st.integers(1, 1000))
@settings(max_examples=30, deadline=None)
def test_penalty_value_and_gradient(l2, l1, m):
    torch.manual_seed(1)
    net = mlp(hidden=(5,), n_inputs=4, n_outputs=3).double()
    weights = weight_parameters(net)
    value = penalty(net, l2=l2, l1=l1, m=m)
    expected = sum(l2 / (2 * m) * float((w.detach() ** 2).sum()) + l1 / m * float(w.detach().abs().sum()) for w in weights)
    assert float(value.detach()) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    if not (l2 or l1):
        return  # a constant zero: nothing to differentiate
    net.zero_grad()
    value.backward()
    for w in weights:  # d/dW = (lambda/m) W for L2 plus (lambda/m) sign(W) for L1
        assert torch.allclose(w.grad, l2 / m * w.detach() + l1 / m * torch.sign(w.detach()), atol=1e-12)
    for name, p in net.named_parameters():
        if name.endswith("bias"):  # biases are not regularized
            assert p.grad is None or torch.count_nonzero(p.grad) == 0


def test_masked_bce_missing_labels_have_exactly_zero_gradient():
    torch.manual_seed(0)
    logits = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[1, 0, float("nan")], [float("nan")] * 3, [0, 1, 1],
                      [1, float("nan"), 0], [0, 0, 0], [float("nan"), 1, float("nan")]], dtype=torch.float64)
    loss = masked_bce_cost(logits, y)
    loss.backward()
    missing = torch.isnan(y)
    assert torch.all(logits.grad[missing] == 0)
    assert torch.all(logits.grad[~missing] != 0)
    # the loss is the mean over labeled entries only
    labeled = ~missing
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[labeled], y[labeled])
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-12)


def test_masked_bce_parameter_gradient_ignores_missing_entries():
    # a network's gradient with missing labels equals the gradient on the labeled entries only
    torch.manual_seed(0)
    net = mlp(hidden=(8,), n_inputs=5, n_outputs=2, activation="tanh").double()
    X = torch.randn(10, 5, dtype=torch.float64)
    y = torch.randint(0, 2, (10, 2)).double()
    y[::3, 0] = float("nan")
    net.zero_grad()
    masked_bce_cost(net(X), y).backward()
    got = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    out = net(X)
    labeled = ~torch.isnan(y)
    torch.nn.functional.binary_cross_entropy_with_logits(out[labeled], y[labeled]).backward()
    for a, p in zip(got, net.parameters()):
        assert torch.allclose(a, p.grad, atol=1e-14)
