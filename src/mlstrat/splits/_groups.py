"""Placing whole groups so that every split keeps the label shares (like StratifiedGroupKFold).

Pure Python on the per-group label counts that the engine returns: the same input gives the
same placement whatever the engine.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["POOL", "greedy_place"]

_DRAWN = ("test", "dev", "train_dev")

# Units offered to the placement per stratum: about POOL times the rows it draws (chosen by hash,
# so on every engine the same). Greedy placement needs a choice of units, not all of them: past a
# few times the rows drawn, a larger pool no longer brings the label shares closer, while the
# work (a Python loop per unit) grows with it.
POOL = 4


def greedy_place(units: dict[str, list[Any]], bounds: dict[tuple[Any, ...], tuple[int, int, int]], *,
                 outside: dict[tuple[Any, ...], dict[Any, int]] | None = None) -> dict[str, str]:
    """key -> split for the units of one ``(eligible, domain)`` that leave train.

    ``units``: ``key -> [u, stratum, {label: rows}]``, the pool; ``outside``: per stratum, the
    rows per label of its units left out of the pool (they stay in train). The label shares
    aimed at are those of all rows, pool and outside together.
    """
    import numpy as np

    outside = outside or {}
    found = {lab for *_x, labs in units.values() for lab in labs} | {lab for labs in outside.values() for lab in labs}
    labels = sorted(found, key=lambda v: (v is None, str(v)))
    col = {lab: i for i, lab in enumerate(labels)}
    vectors = {k: np.zeros(len(labels)) for k in units}
    stratum_totals: dict[tuple[Any, ...], Any] = {}
    for k, (_h, stratum, labs) in units.items():
        for lab, n in labs.items():
            vectors[k][col[lab]] = n
        stratum_totals[stratum] = stratum_totals.get(stratum, 0) + vectors[k]
    if not units:
        return {}
    # Bucket sizes come from the per-stratum allocation; label targets are the exact shares of
    # all the units (the per-stratum quotas are rounded, up to a row per stratum and split).
    # Train's bucket holds what the pool keeps in train.
    quota = np.zeros(4)  # test, dev, train-dev, train
    for stratum, totals in stratum_totals.items():
        b = bounds[stratum]
        quota += [b[0], b[1] - b[0], b[2] - b[1], totals.sum() - b[2]]
    pool = sum(stratum_totals.values())
    totals = pool.copy()
    for labs in outside.values():
        for lab, n in labs.items():
            totals[col[lab]] += n
    target = np.outer(quota, totals / totals.sum())  # (bucket, label)
    if outside:
        # The pool is a sample: its label shares stray from all rows' a little. Train's part of
        # the pool takes what the drawn splits leave, so that the stray lands in train (where
        # the rows outside the pool dilute it) rather than in the small drawn splits.
        target[3] = np.maximum(pool - target[:3].sum(axis=0), 0)
    order = sorted(units, key=lambda k: (-sum(units[k][2].values()), units[k][0], k))
    g = np.array([vectors[k] for k in order])  # (unit, label)
    buckets = _Buckets(target)
    where = buckets.greedy(g)
    buckets.refine(g, where)
    return {k: _DRAWN[j] for k, j in zip(order, where) if j < 3}


class _Buckets:
    """The objective the group placement minimizes, and the two searches over it.

    Per bucket ``j`` (test, dev, train-dev, train) with target counts ``T_j`` (per label) and
    target shares ``t_j = T_j / |T_j|``: ``(||c_j - n_j t_j||^2 + SIZE_WEIGHT (n_j - |T_j|)^2) / |T_j|``
    where ``c_j`` are the placed counts and ``n_j`` their total. The first term is the error in
    label *shares* (what stratification promises), the second keeps sizes near the request;
    dividing by the bucket size puts small dev/test sets on par with a large train set.
    """

    SIZE_WEIGHT = 0.1

    def __init__(self, target: Any) -> None:
        import numpy as np

        sizes = target.sum(axis=1)
        self.open = sizes > 0
        self.w = np.where(self.open, 1.0 / np.maximum(sizes, 1), 0.0)
        self.t = target / np.maximum(sizes, 1)[:, None]  # (bucket, label)
        self.sizes = sizes

    def state(self, g: Any, where: Any) -> tuple[Any, Any]:
        import numpy as np

        counts = np.stack([g[where == j].sum(axis=0) for j in range(len(self.t))])
        n = counts.sum(axis=1)
        return counts - n[:, None] * self.t, n - self.sizes

    def delta(self, j: int, d: Any, e: Any, change: Any) -> Any:
        """Objective change of bucket ``j`` when ``change`` (..., label) counts join it."""
        size = change.sum(axis=-1)
        h = change - size[..., None] * self.t[j]
        return self.w[j] * ((h * (2 * d[j] + h)).sum(axis=-1) + self.SIZE_WEIGHT * size * (2 * e[j] + size))

    def swap_delta(self, j: int, d: Any, e: Any, *, gain: Any, lose: Any) -> Any:
        """Objective change of bucket ``j`` when ``gain[k]`` joins it and ``lose[i]`` leaves, as
        an ``(i, k)`` matrix: :meth:`delta` of ``gain[k] - lose[i]`` expanded so that the cross
        terms are one matrix product (no ``(i, k, label)`` array)."""
        import numpy as np

        lam, dj, ej = self.SIZE_WEIGHT, d[j], e[j]
        s_in, s_out = gain.sum(axis=1), lose.sum(axis=1)
        h_in = gain - s_in[:, None] * self.t[j]
        h_out = lose - s_out[:, None] * self.t[j]
        col = (h_in * (2 * dj + h_in)).sum(axis=1) + lam * s_in * (2 * ej + s_in)
        row = (h_out * (h_out - 2 * dj)).sum(axis=1) + lam * s_out * (s_out - 2 * ej)
        # einsum's own loop, not BLAS: a threaded BLAS call costs ~100x more on a busy machine
        cross = np.einsum("il,kl->ik", h_out, h_in) + lam * s_out[:, None] * s_in[None, :]
        return self.w[j] * (row[:, None] + col[None, :] - 2 * cross)

    def greedy(self, g: Any) -> Any:
        """Each unit, in order, joins the bucket where the objective grows least.

        Plain Python floats: with a handful of buckets and labels, per-unit numpy calls would
        cost more than the arithmetic (this loop runs once per group).
        """
        import numpy as np

        t = self.t.tolist()
        w = self.w.tolist()
        d = (-self.t * self.sizes[:, None]).tolist()  # placed - target, per bucket and label
        e = (-self.sizes).tolist()
        lam = self.SIZE_WEIGHT
        buckets = [j for j in range(len(t)) if self.open[j]]
        labels = range(len(t[0]))
        where = np.empty(len(g), dtype=int)
        for i, gi in enumerate(g.tolist()):
            size = sum(gi)
            best_j, best = buckets[0], math.inf
            for j in buckets:
                dj, tj = d[j], t[j]
                cost = lam * size * (2 * e[j] + size)
                for c in labels:
                    h = gi[c] - size * tj[c]
                    cost += h * (2 * dj[c] + h)
                cost *= w[j]
                if cost < best:
                    best_j, best = j, cost
            dj, tj = d[best_j], t[best_j]
            for c in labels:
                dj[c] += gi[c] - size * tj[c]
            e[best_j] += size
            where[i] = best_j
        return where

    def refine(self, g: Any, where: Any, *, rounds: int = 300, per_bucket: int = 400) -> None:
        """Local search: apply the best single move or pairwise swap until none helps.

        Swaps are tried among the ``per_bucket`` smallest units of each bucket (the fine-grained
        ones), which bounds the work on tables with very many groups.
        """
        import numpy as np

        buckets = [j for j in range(len(self.t)) if self.open[j]]
        for _ in range(rounds):
            d, e = self.state(g, where)
            best, action = -1e-9, None
            for a in buckets:
                mine = np.flatnonzero(where == a)
                if not len(mine):
                    continue
                leave = self.delta(a, d, e, -g[mine])
                for b in buckets:
                    if b == a:
                        continue
                    gain = leave + self.delta(b, d, e, g[mine])
                    i = int(np.argmin(gain))
                    if gain[i] < best:
                        best, action = gain[i], ("move", mine[i], b)
                    theirs = np.flatnonzero(where == b)[-per_bucket:]
                    if b < a or not len(theirs):
                        continue
                    near = mine[-per_bucket:]
                    # (mine, theirs): a gives near[i] and takes theirs[k]; b the reverse
                    swap = (self.swap_delta(a, d, e, gain=g[theirs], lose=g[near])
                            + self.swap_delta(b, d, e, gain=g[near], lose=g[theirs]).T)
                    flat = int(np.argmin(swap))
                    if swap.flat[flat] < best:
                        i, k = divmod(flat, len(theirs))
                        best, action = swap.flat[flat], ("swap", near[i], theirs[k])
            if action is None:
                return
            kind, i, other = action
            if kind == "move":
                where[i] = other
            else:
                where[i], where[other] = where[other], where[i]
