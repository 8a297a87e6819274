"""Learning-rate decay, batch normalization, gradient clipping and two-stage fine-tuning, each
against an independent computation (hand values, NumPy, torch.nn.functional)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mlstrat import ConfigError
from mlstrat.nn import ModelConfig, OptimConfig, RegularizationConfig, TrainConfig, TransferConfig, train
from mlstrat.nn._model import Architecture, Network, cross_entropy_cost, initialize, penalty
from mlstrat.nn._fitter import Fitter

from .conftest import small_config

# -- learning-rate decay --------------------------------------------------------------------------


def _toy_fitter(**optim):
    torch.manual_seed(0)
    X = torch.randn(40, 6)
    y = torch.randint(0, 3, (40,))
    net = Network(Architecture("mlp", 6, (5,), 3, "tanh"))
    initialize([*net.body_layers(), net.head], "xavier", torch.Generator().manual_seed(0))
    config = TrainConfig(optim=OptimConfig(optimizer="gd", batch_size=0, **optim))
    return Fitter(net, config, X, y, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("optim, expected", [
    # alpha0 / (1 + decay_rate * epoch), epoch counted from 0 (hand values)
    (dict(lr=0.2, lr_decay="inverse", decay_rate=1.0), [0.2, 0.1, 0.2 / 3, 0.05]),
    (dict(lr=0.2, lr_decay="inverse", decay_rate=0.5), [0.2, 0.2 / 1.5, 0.1, 0.08]),
    # 0.95^epoch * alpha0
    (dict(lr=1.0, lr_decay="exponential"), [1.0, 0.95, 0.9025, 0.857375]),
    # halve every 2 epochs
    (dict(lr=1.0, lr_decay="step", decay_step=2, decay_gamma=0.5), [1.0, 1.0, 0.5, 0.5]),
    # cosine from 1 to 0.1 over 4 epochs: 0.1 + 0.9 (1 + cos(pi e / 3)) / 2
    (dict(lr=1.0, lr_decay="cosine", lr_min=0.1), [1.0, 0.775, 0.325, 0.1]),
    (dict(lr=0.3), [0.3] * 4),
])
def test_learning_rate_schedule_in_the_history(optim, expected):
    history = _toy_fitter(epochs=4, **optim).fit(progress=False)
    assert [e["lr"] for e in history["epochs"]] == pytest.approx(expected, rel=1e-12)


def test_decayed_rate_is_the_step_the_optimizer_takes():
    # full-batch gradient descent: epoch 2's update must be -alpha0/(1 + 1) * grad at its start
    f = _toy_fitter(epochs=1, lr=0.4, lr_decay="inverse", decay_rate=1.0)
    f.fit(progress=False)  # epoch 1 at 0.4; the scheduler then steps to 0.2
    before = {n: p.detach().clone() for n, p in f.model.named_parameters()}
    f.model.zero_grad()
    cross_entropy_cost(f.model(f.X_train), f.y_train).backward()
    grads = {n: p.grad.clone() for n, p in f.model.named_parameters()}
    f.run_epoch()
    for n, p in f.model.named_parameters():
        assert torch.allclose(p.detach() - before[n], -0.2 * grads[n], atol=1e-7)


def test_schedule_config_errors():
    with pytest.raises(ConfigError, match=r"lr_decay = 'linear' is not one of none, inverse, exponential, step, "
                                          r"cosine"):
        OptimConfig(lr_decay="linear")
    with pytest.raises(ConfigError, match=r"decay_gamma = 1.5 must be in \(0, 1\]"):
        OptimConfig(decay_gamma=1.5)
    with pytest.raises(ConfigError, match=r"lr_min = 0.01 must be below lr = 0.001"):
        OptimConfig(lr_decay="cosine", lr_min=0.01)
    with pytest.raises(ConfigError, match=r"clip_grad_norm = -1.0 must be zero or positive"):
        OptimConfig(clip_grad_norm=-1.0)


# -- gradient clipping ----------------------------------------------------------------------------


def test_clip_grad_norm_rescales_the_global_gradient():
    plain, clipped = _toy_fitter(epochs=1, lr=1.0), _toy_fitter(epochs=1, lr=1.0, clip_grad_norm=0.01)
    w0 = {n: p.detach().clone() for n, p in plain.model.named_parameters()}
    plain.run_epoch()
    clipped.run_epoch()
    plain_step = {n: p.detach() - w0[n] for n, p in plain.model.named_parameters()}  # = -grad (lr 1)
    total = math.sqrt(sum(float((s ** 2).sum()) for s in plain_step.values()))
    assert total > 0.01
    for n, p in clipped.model.named_parameters():  # the same direction, global norm 0.01
        assert torch.allclose(p.detach() - w0[n], plain_step[n] * (0.01 / total), atol=1e-7)


# -- batch normalization ----------------------------------------------------------------------------


def _bn_net(seed=0):
    net = Network(Architecture("mlp", 6, (5, 4), 3, "relu", batch_norm=True))
    initialize([*net.body_layers(), net.head], "he", torch.Generator().manual_seed(seed))
    with torch.no_grad():  # non-trivial gamma and beta
        for bn in net.norms:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    return net


def test_batch_norm_layout_before_the_activation():
    net = _bn_net()
    assert [type(m).__name__ for m in net.norms] == ["BatchNorm1d", "BatchNorm1d"]
    assert all(h.bias is None for h in net.hidden)  # beta replaces the bias
    names = [n for n, _ in net.named_parameters()]
    assert "norms.0.weight" in names and "norms.0.bias" in names
    # gamma is not penalized by L2: only the three weight matrices are
    w2 = sum(float((m.weight.detach() ** 2).sum()) for m in [*net.hidden, net.head])
    assert float(penalty(net, l2=2.0, l1=0.0, m=4).detach()) == pytest.approx(2.0 / 8 * w2, rel=1e-6)


def test_batch_norm_training_statistics_match_numpy_and_functional():
    net = _bn_net()
    X = torch.randn(16, 6, generator=torch.Generator().manual_seed(1))
    net.train()
    z = X @ net.hidden[0].weight.T  # (16, 5) pre-activations
    bn = net.norms[0]
    eps = bn.eps
    zn = z.detach().double().numpy()
    mu, var = zn.mean(axis=0), zn.var(axis=0)  # the mini-batch's biased variance normalizes
    expected = (zn - mu) / np.sqrt(var + eps) * bn.weight.detach().double().numpy() + bn.bias.detach().double().numpy()
    captured = {}
    hook = bn.register_forward_hook(lambda m, i, o: captured.setdefault("out", o))
    net(X)
    hook.remove()
    np.testing.assert_allclose(captured["out"].detach().double().numpy(), expected, rtol=1e-5, atol=1e-5)
    reference = F.batch_norm(z, None, None, bn.weight, bn.bias, training=True, eps=eps)
    assert torch.allclose(captured["out"], reference, atol=1e-6)
    # running averages: momentum 0.1 from (0, 1), the unbiased variance (as torch documents)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * mu, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * zn.var(axis=0, ddof=1), rtol=1e-5)


def test_batch_norm_eval_uses_running_statistics_and_ignores_the_other_rows():
    net = _bn_net()
    gen = torch.Generator().manual_seed(2)
    net.train()
    for _ in range(5):  # accumulate running statistics
        net(torch.randn(32, 6, generator=gen) * 2 + 1)
    net.eval()
    X = torch.randn(10, 6, generator=gen)
    alone = torch.cat([net(X[i:i + 1]) for i in range(10)])
    together = net(X)
    shuffled = net(X.flip(0)).flip(0)
    assert torch.allclose(alone, together, atol=1e-6) and torch.allclose(together, shuffled, atol=1e-6)
    bn = net.norms[0]
    z = X @ net.hidden[0].weight.T
    eval_ref = F.batch_norm(z, bn.running_mean, bn.running_var, bn.weight, bn.bias, training=False, eps=bn.eps)
    captured = {}
    hook = bn.register_forward_hook(lambda m, i, o: captured.setdefault("out", o))
    net(X)
    hook.remove()
    assert torch.allclose(captured["out"], eval_ref, atol=1e-6)
    # in training mode a row's output does depend on the rest of the batch
    net.train()
    assert not torch.allclose(net(X)[:1], net(X[:2])[:1], atol=1e-4)


def test_gradcheck_passes_with_batch_norm():
    from mlstrat.nn import gradcheck

    net = _bn_net()
    gen = torch.Generator().manual_seed(3)
    net.train()
    net(torch.randn(32, 6, generator=gen))  # non-trivial running statistics
    X, y = torch.randn(12, 6, generator=gen), torch.randint(0, 3, (12,), generator=gen)
    result = gradcheck(net, cross_entropy_cost, X, y, l2=0.7, vectorize=False)  # eval: running statistics
    assert result.verdict == "ok", result.to_dict()
    assert {"norms.0.weight", "norms.0.bias", "norms.1.weight"} <= {p.name for p in result.parameters}
    # training mode (batch statistics, where batch norm's backward is non-trivial), float64
    net64 = _bn_net().double().train()
    X64 = X.double().requires_grad_(False)
    params = tuple(net64.parameters())

    def J(*theta):
        state = dict(zip([n for n, _ in net64.named_parameters()], theta))
        out = torch.func.functional_call(net64, state, (X64,))
        return cross_entropy_cost(out, y)

    assert torch.autograd.gradcheck(J, tuple(p.detach().clone().requires_grad_(True) for p in params), eps=1e-6,
                                    fast_mode=True)  # random projections of the Jacobian: seconds, not minutes


def test_trainer_with_batch_norm_learns_and_round_trips(tmp_path, digits_path):
    from mlstrat.nn import predict

    config = small_config(digits_path, model=ModelConfig(hidden=(32, 32), batch_norm=True))
    r = train(config, run_dir=tmp_path / "bn")
    assert r.metrics["dev"]["error"] < 0.2
    out = predict(r.run_dir, digits_path)
    import pyarrow.parquet as pq

    saved = pq.read_table(r.run_dir / "predictions.parquet")
    np.testing.assert_allclose(out.column("proba_0").to_numpy(), saved.column("proba_0").to_numpy(), atol=1e-6)


# -- two-stage fine-tuning --------------------------------------------------------------------------


def test_two_stage_fine_tuning_unfreezes_after_k_epochs(tmp_path, digits_path):
    source = train(small_config(digits_path, model=ModelConfig(hidden=(16, 16))), run_dir=tmp_path / "a")
    src_w = torch.load(source.run_dir / "model.pt", weights_only=False)["state_dict"]["hidden.0.weight"]
    stage = small_config(digits_path, model=ModelConfig(hidden=(16, 16)),
                         optim=OptimConfig(epochs=3, batch_size=64, lr=0.01),
                         transfer=TransferConfig(init_from=str(source.run_dir), freeze=2, unfreeze_after=1))
    r = train(stage, run_dir=tmp_path / "b")
    layers = [e["layers"] for e in r.history["epochs"]]
    assert layers[0]["hidden.0"]["grad_norm"] == 0.0 and layers[0]["hidden.1"]["update_ratio"] == 0.0
    assert layers[1]["hidden.0"]["grad_norm"] > 0 and layers[1]["hidden.0"]["update_ratio"] > 0
    new_w = torch.load(r.run_dir / "model.pt", weights_only=False)["state_dict"]["hidden.0.weight"]
    assert not torch.equal(src_w, new_w)
    with pytest.raises(ConfigError, match=r"unfreeze_after = 2 needs freeze"):
        TransferConfig(init_from="x", unfreeze_after=2)


def test_l2_still_skips_batch_norm_gamma_in_the_optimizer():
    from mlstrat.nn._setup import make_optimizer

    net = _bn_net()
    config = TrainConfig(regularization=RegularizationConfig(l2=2.0))
    decayed, free = make_optimizer(net, config, m=10).param_groups
    assert len(decayed["params"]) == 3 and all(p.dim() == 2 for p in decayed["params"])
    assert len(free["params"]) == 5  # gamma, beta of two norms + the head's bias


# -- threads from a measurement -------------------------------------------------------------------


def test_thread_measurement_changes_nothing_it_measures():
    from mlstrat.nn._threads import measure_threads

    net = _bn_net()
    net.dropouts[0].keep_prob = 0.5
    X, y = torch.randn(256, 6), torch.randint(0, 3, (256,))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    n = measure_threads(net, X, y, cross_entropy_cost, steps=10_000)
    assert n in (1, torch.get_num_threads())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # weights and BN buffers
    assert torch.equal(rng, torch.get_rng_state())  # dropout draws untouched
    assert all(p.grad is None for p in net.parameters())
    assert measure_threads(net, X, y, cross_entropy_cost, steps=10) == 1  # too short a run to measure


def test_pinned_threads_are_recorded(tmp_path, digits_path):
    config = small_config(digits_path, optim=OptimConfig(epochs=1, batch_size=64, threads=2))
    assert train(config, run_dir=tmp_path / "t").history["threads"] == 2
