"""Gradient checking: mlstrat.nn.gradcheck vs torch.autograd.gradcheck.

1. Full check of a ~10k-parameter MLP (64 -> 128 -> 10, 32 examples, float64):
   - mlstrat full mode: 2n cost evaluations (two-sided differences of the scalar cost J for
     every parameter), batched with torch.func.vmap, then the normalized difference.
   - torch.autograd.gradcheck(fast_mode=False) on f(*params) = J: also 2n evaluations for the
     numerical Jacobian (central differences), one backward for the analytical one, then an
     allclose comparison. Same work in principle; the difference is overhead per evaluation.
2. Directional check of a ~1M-parameter MLP (784 -> 1024 -> 256 -> 10), 4 random directions
   overall plus 4 per parameter tensor (the per-layer breakdown), vs torch's fast_mode=True
   (one random projection).

Run: flock /tmp/mlstrat-bench.lock python benchmarks/gradcheck_bench.py
"""

from __future__ import annotations

import json
import time

import torch

from mlstrat.nn import gradcheck
from mlstrat.nn._model import Architecture, Network, cross_entropy_cost, initialize


def mlp(sizes: tuple[int, ...], n_inputs: int, n_outputs: int) -> Network:
    net = Network(Architecture("mlp", n_inputs, sizes, n_outputs, "tanh"))
    initialize([*net.body_layers(), net.head], "xavier", torch.Generator().manual_seed(0))
    return net


def torch_reference(net: Network, X: torch.Tensor, y: torch.Tensor, *, fast_mode: bool) -> tuple[float, bool]:
    net64 = Network(net.arch).double().eval()
    net64.load_state_dict(net.state_dict())
    names = [n for n, _ in net64.named_parameters()]
    params = tuple(p.detach().double().clone().requires_grad_(True) for p in net64.parameters())
    X64 = X.double()

    def J(*ps):
        return cross_entropy_cost(torch.func.functional_call(net64, dict(zip(names, ps)), (X64,)), y)

    started = time.perf_counter()
    ok = torch.autograd.gradcheck(J, params, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=fast_mode,
                                  raise_exception=False)
    return time.perf_counter() - started, bool(ok)


def main() -> None:
    torch.set_num_threads(1)
    results: dict[str, dict] = {}
    g = torch.Generator().manual_seed(0)

    small = mlp((128,), 64, 10)
    X, y = torch.randn(32, 64, generator=g), torch.randint(0, 10, (32,), generator=g)
    n_small = sum(p.numel() for p in small.parameters())
    ours = gradcheck(small, cross_entropy_cost, X, y, eps=1e-6, mode="full")
    loop = gradcheck(small, cross_entropy_cost, X, y, eps=1e-6, mode="full", vectorize=False)
    ref_seconds, ref_ok = torch_reference(small, X, y, fast_mode=False)
    results["full_10k"] = {
        "n_parameters": n_small, "rows": 32,
        "mlstrat_seconds": round(ours.seconds, 3), "mlstrat_difference": ours.difference,
        "mlstrat_verdict": ours.verdict, "mlstrat_loop_seconds": round(loop.seconds, 3),
        "torch_gradcheck_seconds": round(ref_seconds, 3), "torch_gradcheck_passed": ref_ok,
        "speedup_vs_torch": round(ref_seconds / ours.seconds, 1),
    }
    print(json.dumps(results["full_10k"], indent=2), flush=True)

    big = mlp((1024, 256), 784, 10)
    X, y = torch.randn(32, 784, generator=g), torch.randint(0, 10, (32,), generator=g)
    n_big = sum(p.numel() for p in big.parameters())
    for threads in (1, 2):
        torch.set_num_threads(threads)
        runs = [gradcheck(big, cross_entropy_cost, X, y, mode="directional", directions=4) for _ in range(3)]
        best = min(runs, key=lambda r: r.seconds)
        results[f"directional_1m_threads{threads}"] = {
            "n_parameters": n_big, "rows": 32, "directions": 4,
            "n_evaluations": best.n_evaluations, "seconds_best_of_3": round(best.seconds, 3),
            "seconds_all": [round(r.seconds, 3) for r in runs], "difference": best.difference,
            "verdict": best.verdict,
        }
        print(json.dumps(results[f"directional_1m_threads{threads}"], indent=2), flush=True)
    torch.set_num_threads(1)
    fast_seconds, fast_ok = torch_reference(big, X, y, fast_mode=True)
    results["torch_fast_mode_1m"] = {"seconds": round(fast_seconds, 3), "passed": fast_ok}
    print(json.dumps(results["torch_fast_mode_1m"], indent=2))


if __name__ == "__main__":
    main()
