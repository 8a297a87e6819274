"""Exact proportional allocation of split sizes over strata (controlled rounding).

Split ``k`` asks for ``n_k`` rows out of ``N`` eligible rows; stratum ``s`` holds ``N_s`` of
them. Its exact share is ``q_sk = n_k N_s / N``. We need integers ``x_sk`` in
``{floor(q_sk), ceil(q_sk)}`` whose column sums are exactly ``n_k`` and whose row sums (with
a "rest" column) are exactly ``N_s``. Such a rounding always exists for a two-way table (the
transportation polytope has integral vertices); we find one as a maximum flow over the
rows' and columns' deficits, a few strata x 3 edges.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["apportion"]


def apportion(counts: Sequence[int], totals: Sequence[int]) -> list[list[int]]:
    """Allocate ``totals[k]`` rows over strata of sizes ``counts``, within one row of proportional.

    Parameters
    ----------
    counts : sequence of int
        Rows per stratum, ``N_s >= 0``.
    totals : sequence of int
        Rows asked for by each split; ``sum(totals) <= sum(counts)``.

    Returns
    -------
    list of list of int
        ``x[s][k]``: rows of stratum ``s`` for split ``k``; ``sum_s x[s][k] == totals[k]``,
        ``sum_k x[s][k] <= counts[s]`` and ``|x[s][k] - totals[k] counts[s] / N| < 1``.

    Examples
    --------
    >>> apportion([5, 5], [3, 3])
    [[2, 1], [1, 2]]
    """
    n = sum(counts)
    rest = n - sum(totals)
    if rest < 0 or any(c < 0 for c in counts) or any(t < 0 for t in totals):
        raise ValueError("apportion: totals exceed the rows available")
    if n == 0:
        return [[0] * len(totals) for _ in counts]
    columns = [*totals, rest]
    k = len(columns)
    floors = [[(t * c) // n for t in columns] for c in counts]
    fractional = [[(t * c) % n != 0 for t in columns] for c in counts]
    row_deficit = [c - sum(f) for c, f in zip(counts, floors)]
    col_deficit = [t - sum(f[j] for f in floors) for j, t in enumerate(columns)]
    if sum(row_deficit):
        _round_up(floors, fractional, row_deficit, col_deficit)
    return [row[: k - 1] for row in floors]


def _round_up(floors: list[list[int]], fractional: list[list[bool]], row_deficit: list[int],
              col_deficit: list[int]) -> None:
    """Pick which cells round up: a max flow source -> strata -> columns -> sink."""
    import numpy as np
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_flow

    s_count, k = len(floors), len(col_deficit)
    source, sink = 0, s_count + k + 1
    rows, cols, caps = [], [], []
    for s, deficit in enumerate(row_deficit):
        if deficit:
            rows.append(source), cols.append(1 + s), caps.append(deficit)
            for j in range(k):
                if fractional[s][j]:
                    rows.append(1 + s), cols.append(1 + s_count + j), caps.append(1)
    for j, deficit in enumerate(col_deficit):
        if deficit:
            rows.append(1 + s_count + j), cols.append(sink), caps.append(deficit)
    graph = csr_matrix((np.array(caps, dtype=np.int32), (rows, cols)), shape=(sink + 1, sink + 1))
    flow = maximum_flow(graph, source, sink).flow.tocoo()
    for a, b, f in zip(flow.row, flow.col, flow.data):
        if f > 0 and 1 <= a <= s_count and s_count < b <= s_count + k:
            floors[a - 1][b - 1 - s_count] += 1
