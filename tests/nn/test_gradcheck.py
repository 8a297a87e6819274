import math

import pytest
import torch
from torch import nn

from mlstrat import ConfigError
from mlstrat.nn import gradcheck
from mlstrat.nn._gradcheck import verdict_for
from mlstrat.nn._model import Architecture, Network, cross_entropy_cost, initialize, masked_bce_cost


class _BrokenTanh(torch.autograd.Function):
    """tanh whose backward forgets the factor (1 - tanh^2): a typical hand-derived mistake."""

    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (1 - y)  # should be (1 - y ** 2)


class _GoodTanh(_BrokenTanh):
    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (1 - y ** 2)


class ThreeLayers(nn.Module):
    def __init__(self, middle_activation):
        super().__init__()
        self.first, self.second, self.third = nn.Linear(5, 7), nn.Linear(7, 6), nn.Linear(6, 3)
        self.middle = middle_activation

    def forward(self, x):
        h = torch.tanh(self.first(x))
        h = self.middle.apply(self.second(h))
        return self.third(h)


def data(n=12, d=5, k=3):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, d, generator=g), torch.randint(0, k, (n,), generator=g)


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_wrong_backward_is_caught_and_localized(mode):
    torch.manual_seed(0)
    X, y = data()
    result = gradcheck(ThreeLayers(_BrokenTanh), cross_entropy_cost, X, y, mode=mode, directions=6)
    print(f"\n{mode}: overall {result.difference:.2e}; " +
          ", ".join(f"{p.name} {p.difference:.1e}" for p in result.parameters))
    assert result.verdict == "bug"
    by_name = {p.name: p for p in result.parameters}
    # the broken activation sits after `second`: its parameters and those before it are off,
    # the layer after it (third) still gets a correct gradient
    assert by_name["second.weight"].verdict == "bug" and by_name["first.weight"].verdict == "bug"
    assert by_name["third.weight"].verdict == "ok" and by_name["third.bias"].verdict == "ok"
    assert result.worst in {"first.weight", "first.bias", "second.weight", "second.bias"}
    assert not result.vectorized  # vmap cannot trace the custom Function: the loop ran


def test_correct_custom_function_passes():
    torch.manual_seed(0)
    X, y = data()
    result = gradcheck(ThreeLayers(_GoodTanh), cross_entropy_cost, X, y)
    assert result.verdict == "ok", result.difference
    assert all(p.verdict == "ok" for p in result.parameters)


@pytest.mark.parametrize("activation", ["relu", "tanh", "leaky_relu"])
@pytest.mark.parametrize("l2, l1", [(0.0, 0.0), (3.0, 0.5)])
def test_network_passes_full_check_with_regularization(activation, l2, l1):
    net = Network(Architecture("mlp", 6, (8, 5), 4, activation), keep_probs=(0.5, 0.5))
    initialize([*net.body_layers(), net.head], "xavier", torch.Generator().manual_seed(1))
    X, y = data(16, 6, 4)
    result = gradcheck(net, cross_entropy_cost, X, y, l2=l2, l1=l1)
    assert result.verdict == "ok", (result.difference, result.worst)
    assert result.vectorized
    assert result.n_parameters == sum(p.numel() for p in net.parameters())
    assert result.n_evaluations == 2 * result.n_parameters
    assert net.training  # the model itself is untouched (dropout turned off on a copy only)
    assert next(net.parameters()).dtype == torch.float32


def test_cnn_and_multitask_pass():
    net = Network(Architecture("cnn", 16, (6,), 3, "tanh", (1, 4, 4), (2,)))
    initialize([*net.body_layers(), net.head], "he", torch.Generator().manual_seed(0))
    X = torch.randn(8, 16)
    y = torch.tensor([[1, 0, float("nan")]] * 4 + [[0, float("nan"), 1]] * 4)
    result = gradcheck(net, masked_bce_cost, X, y)
    assert result.verdict == "ok", result.difference
    assert [p.name for p in result.parameters][:2] == ["convs.0.weight", "convs.0.bias"]


def test_regularization_is_part_of_J():
    # a loss that ignores the weights entirely: the only gradient is the penalty's
    net = nn.Sequential(nn.Linear(3, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[0.5, -1.0, 2.0], [0.3, 0.2, -0.1]]))
    zero_loss = lambda out, y: (out * 0).sum()  # noqa: E731
    X, y = torch.randn(4, 3), torch.zeros(4)
    result = gradcheck(net, zero_loss, X, y, l2=2.0, l1=1.0)
    assert result.verdict == "ok"
    # it would be a "bug" if J's penalty and the gradient disagreed: check the analytic part directly
    W = net[0].weight.detach().double()
    assert torch.allclose(2.0 / 4 * W + 1.0 / 4 * torch.sign(W), _grad_of_penalty(net, 2.0, 1.0, 4))


def _grad_of_penalty(net, l2, l1, m):
    from mlstrat.nn._model import penalty

    copy = nn.Sequential(nn.Linear(3, 2)).double()
    copy.load_state_dict(net.state_dict())
    penalty(copy, l2=l2, l1=l1, m=m).backward()
    return copy[0].weight.grad


class Cube(nn.Module):
    def __init__(self, theta):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([theta]))

    def forward(self, x):
        return self.theta ** 3


def test_two_sided_difference_beats_one_sided_on_cube():
    cube = lambda out, y: out.sum()  # noqa: E731  J(theta) = theta^3
    X, y = torch.zeros(1, 1), torch.zeros(1)
    for eps in (1e-2, 1e-3):
        one = gradcheck(Cube(1.0), cube, X, y, eps=eps, two_sided=False)
        two = gradcheck(Cube(1.0), cube, X, y, eps=eps, two_sided=True)
        # J' = 3; one-sided error 3 eps + eps^2 (O(eps)), two-sided error eps^2 (O(eps^2))
        print(f"\neps={eps:g}: one-sided difference {one.difference:.2e}, two-sided {two.difference:.2e}")
        assert one.difference == pytest.approx((3 * eps + eps ** 2) / (6 + 3 * eps + eps ** 2), rel=1e-4)
        assert two.difference == pytest.approx(eps ** 2 / (6 + eps ** 2), rel=1e-3)
        assert two.difference < one.difference / 100
        assert one.n_evaluations == 1 and two.n_evaluations == 2


def test_directional_mode_is_o1_in_parameters():
    net = Network(Architecture("mlp", 50, (100, 100), 5, "tanh"))
    X, y = data(8, 50, 5)
    result = gradcheck(net, cross_entropy_cost, X, y, mode="directional", directions=3)
    assert result.verdict == "ok"
    n_tensors = len(list(net.parameters()))
    assert result.n_evaluations == 2 * 3 * (1 + n_tensors)  # independent of the 15k parameters


@pytest.mark.parametrize("d, verdict", [(0.0, "ok"), (9.9e-8, "ok"), (1e-7, "check"), (9.9e-4, "check"),
                                        (1e-3, "bug"), (0.5, "bug"), (math.nan, "bug")])
def test_verdict_thresholds(d, verdict):
    assert verdict_for(d) == verdict


def test_bad_arguments():
    X, y = data()
    with pytest.raises(ConfigError, match="gradcheck mode 'fast' is not one of full, directional"):
        gradcheck(ThreeLayers(_GoodTanh), cross_entropy_cost, X, y, mode="fast")
    with pytest.raises(ConfigError, match="eps = 0 must be positive"):
        gradcheck(ThreeLayers(_GoodTanh), cross_entropy_cost, X, y, eps=0)


def test_result_to_dict():
    X, y = data()
    d = gradcheck(ThreeLayers(_GoodTanh), cross_entropy_cost, X, y).to_dict()
    assert set(d) >= {"difference", "verdict", "mode", "parameters", "worst", "n_evaluations"}
    assert d["parameters"][0] == {"name": "first.weight", "shape": [7, 5], "difference": d["parameters"][0]["difference"],
                                  "verdict": "ok"}


@pytest.mark.parametrize("kind, l2, l1, two_sided", [("mlp", 0.0, 0.0, True), ("mlp", 2.0, 0.3, True),
                                                      ("cnn", 1.0, 0.0, True), ("mlp", 0.0, 0.0, False)])
def test_affine_fast_path_equals_plain_finite_differences(kind, l2, l1, two_sided):
    # the fast path reuses the unchanged prefix of the network: it must give the same numbers
    # as perturbing the parameter and running the whole network again
    from mlstrat.nn._differences import _full_affine, _full_loop, _functional_penalty

    arch = (Architecture("cnn", 16, (6, 5), 3, "tanh", (1, 4, 4), (2,)) if kind == "cnn"
            else Architecture("mlp", 4, (6, 5), 3, "relu"))
    net = Network(arch).double().eval()
    initialize([*net.body_layers(), net.head], "he", torch.Generator().manual_seed(0))
    X, y = torch.randn(7, arch.n_inputs, dtype=torch.float64), torch.randint(0, 3, (7,))
    base = {n: p.detach() for n, p in net.named_parameters()}

    def J(params):
        out = torch.func.functional_call(net, params, (X,))
        return cross_entropy_cost(out, y) + _functional_penalty(params, l2=l2, l1=l1, m=7)

    J0 = None if two_sided else J(base)
    fast = _full_affine(net, X, y, cross_entropy_cost, base, 1e-6, two_sided, J0, l2=l2, l1=l1, m=7)
    assert set(fast) == {n for n in base if not n.startswith("convs")}
    for name, approx in fast.items():
        plain = torch.empty(approx.numel(), dtype=torch.float64)
        _full_loop(J, base, name, 1e-6, two_sided, J0, plain)
        assert torch.allclose(approx.flatten(), plain, rtol=1e-6, atol=1e-8), name
