"""Allocation (pure Python, on the small per-stratum counts): sizes, quotas, placement.

The engine counts units per stratum; here the policy sizes dev and test, the exact
proportional rounding (:func:`apportion`) gives each stratum its quota, and the drawn
candidates are walked in hash order to fill test, dev and train-dev.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from mlstrat._exceptions import InputError
from mlstrat.splits._allocate import apportion
from mlstrat.splits._policy import AUTO_CAP, AUTO_FRACTION, auto_size, resolve_size

__all__ = ["DRAWN", "sizes", "allocate", "place", "threshold"]

DRAWN = ("test", "dev", "train_dev")  # order in which units fill the splits
_DRAWN = DRAWN


def sizes(test_req: Any, dev_req: Any, eligible: int, *, delta: float | None, p_given: float | None,
           source: str, target: str | None) -> tuple[dict[str, Any], int, int]:
    where = f"target {target!r} rows" if target is not None else "rows"
    if delta is not None:
        p = p_given if p_given is not None else 0.5
        auto = resolve_size(delta, p)
        rule = f"resolve a {delta:g} error difference at 95% with p={p:g}: n = z^2 p(1-p)/delta^2"
    else:
        auto = auto_size(eligible)
        rule = f"min({AUTO_FRACTION:.0%} of eligible rows, {AUTO_CAP})"
    n_test = test_req.rows(eligible, auto=auto)
    n_dev = dev_req.rows(eligible, auto=auto)
    for name, n in (("test_size", n_test), ("dev_size", n_dev)):
        if n == 0:
            raise InputError(f"{source}: only {eligible} eligible {where}: {name}=auto gives 0 rows; "
                             "give explicit sizes or more data")
    if n_test + n_dev > eligible:
        raise InputError(f"{source}: dev_size {n_dev} + test_size {n_test} = {n_dev + n_test} rows but only "
                         f"{eligible} eligible {where}; give smaller sizes (e.g. --dev-size 10% --test-size 10%)")
    policy = {"rule": rule, "dev": dev_req.describe(), "test": test_req.describe(), "dev_rows": n_dev,
              "test_rows": n_test, "resolve": delta, "expected_error": p_given}
    return policy, n_test, n_dev


def allocate(strata: dict[tuple[Any, ...], dict[str, Any]], n_test: int, n_dev: int, td_req: Any, *,
              target: str | None, total_rows: int, source: str,
              policy: dict[str, Any]) -> tuple[dict[tuple[Any, ...], tuple[int, int, int]], int]:
    """Per stratum, the row boundaries (test, test+dev, test+dev+train_dev) among its new units."""
    keys = list(strata)
    elig_keys = [k for k in keys if strata[k]["elig"]]
    first = apportion([strata[k]["rows"] for k in elig_keys], [n_test, n_dev])
    quota = {k: {"test": 0, "dev": 0, "train_dev": 0} for k in keys}
    for k, (t, d) in zip(elig_keys, first):
        quota[k].update(test=t, dev=d)
    pool = [strata[k]["rows"] - quota[k]["test"] - quota[k]["dev"] for k in keys]
    n_pool = sum(pool)
    auto_td = n_dev if target is not None else 0
    n_td = td_req.rows(n_pool, auto=auto_td)
    if n_td >= n_pool and n_td > 0:
        raise InputError(f"{source}: train_dev {n_td} rows leaves nothing to train on (training pool: "
                         f"{n_pool} rows); give a smaller --train-dev")
    if n_pool == 0:
        raise InputError(f"{source}: dev and test take all {total_rows} rows; nothing is left to train on. "
                         "Give smaller --dev-size/--test-size")
    for k, (td,) in zip(keys, apportion(pool, [n_td])):
        quota[k]["train_dev"] = td
    bounds: dict[tuple[Any, ...], tuple[int, int, int]] = {}
    for k in keys:
        s = strata[k]
        cum, acc = [], 0
        for name in _DRAWN:
            acc += max(0, quota[k][name] - s["locked"][name])
            cum.append(min(acc, s["new_rows"]))
        if cum[-1] > 0:
            bounds[k] = (cum[0], cum[1], cum[2])
    return bounds, n_td


def place(cand_rows: list[tuple[Any, ...]],
           bounds: dict[tuple[Any, ...], tuple[int, int, int]]) -> dict[str, list[Any]]:
    """Walk each stratum's candidate units in hash order, filling test, dev, train-dev.

    A unit goes where the middle of its rows falls: exact for single rows. Whole groups
    overshoot or undershoot a boundary by up to half a group; that error is carried into the
    next stratum's boundaries so that the totals stay close to the requested sizes.
    """
    keys: list[str] = []
    splits: list[str] = []
    carry = [0.0, 0.0, 0.0]
    for stratum, units in itertools.groupby(cand_rows, key=lambda r: (bool(r[0]), r[1], r[2])):
        b = bounds[stratum]
        goal = [b[j] - carry[j] for j in range(3)]
        got = [0, 0, 0]
        for _e, _d, _l, key, size, c0 in units:
            mid = c0 + size / 2.0
            for j in range(3):
                if mid < goal[j]:
                    keys.append(key)
                    splits.append(_DRAWN[j])
                    for jj in range(j, 3):
                        got[jj] += size
                    break
        carry = [carry[j] + got[j] - b[j] for j in range(3)]
    return {"key": keys, "split": splits}


def threshold(need_rows: int, new_rows: int, new_units: int) -> float:
    """Hash bound below which a stratum's first ``need_rows`` rows (in hash order) almost surely lie."""
    if new_units == 0 or need_rows >= new_rows:
        return 2.0
    need_units = need_rows * new_units / new_rows
    expected = need_units + 6 * math.sqrt(need_units) + 32
    share = expected / new_units
    return 2.0 if share >= 0.5 else share
