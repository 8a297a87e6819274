"""Steps 3 and 4 of a split: allocate the sizes per stratum (Python, on the small per-stratum
counts), then draw the units that leave train: ranked by hash below a per-stratum threshold, or,
for labelled groups, placed greedily from a hash-chosen pool so that every split keeps the label
shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlstrat._exceptions import InputError
from mlstrat.splits import _queries as q
from mlstrat.splits._groups import POOL, greedy_place
from mlstrat.splits._plan import allocate, place, sizes, threshold
from mlstrat.splits._request import SplitSpec


@dataclass(frozen=True)
class _Allocation:
    """Step 3's result: the policy, the sizes, and per stratum the row boundaries
    (test, test+dev, test+dev+train-dev) among its new units."""

    policy: dict[str, Any]
    bounds: dict[tuple[Any, ...], tuple[int, int, int]]
    n_test: int
    n_dev: int
    n_train_dev: int
    eligible: int
    total_rows: int

    @property
    def requested(self) -> dict[str, int]:
        return {"test": self.n_test, "dev": self.n_dev, "train_dev": self.n_train_dev}


def _allocate(units: q.Units, spec: SplitSpec) -> _Allocation:
    strata = units.strata
    eligible = sum(s["rows"] for s in strata.values() if s["elig"])
    total_rows = sum(s["rows"] for s in strata.values())
    if eligible == 0:
        raise InputError(f"{spec.source}: no group of column {spec.group!r} lies wholly in target domain "
                         f"{spec.target!r}; dev and test cannot be drawn (check --group/--target)")
    policy, n_test, n_dev = sizes(spec.test, spec.dev, eligible, delta=spec.resolve,
                                  p_given=spec.expected_error, source=spec.source, target=spec.target)
    bounds, n_td = allocate(strata, n_test, n_dev, spec.train_dev, target=spec.target, total_rows=total_rows,
                            source=spec.source, policy=policy)
    return _Allocation(policy=policy, bounds=bounds, n_test=n_test, n_dev=n_dev, n_train_dev=n_td,
                       eligible=eligible, total_rows=total_rows)


def _draw(engine: Any, units: q.Units, allocation: _Allocation, spec: SplitSpec) -> Any:
    """The units that leave train, as an engine table ``dkey`` -> ``dsplit``."""
    bounds = allocation.bounds
    if bounds and spec.grouped and spec.label is not None:
        placed = _place_labelled_groups(engine, units, bounds)
    elif bounds:
        placed = _draw_by_hash(engine, units, bounds)
    else:
        placed = {"key": [], "split": []}
    return q.drawn_table(engine, placed["key"], placed["split"], units=units.units, grouped=spec.grouped)


def _draw_by_hash(engine: Any, units: q.Units,
                  bounds: dict[tuple[Any, ...], tuple[int, int, int]]) -> dict[str, list[Any]]:
    """Rank the new units of each stratum below its hash threshold and place them."""
    plan = {k: threshold(b[2], units.strata[k]["new_rows"], units.strata[k]["new_units"])
            for k, b in bounds.items()}
    for _attempt in range(3):
        cand = q.draw_candidates(engine, units.units, [(*k, b[2], plan[k]) for k, b in bounds.items()])
        got, rows = q.candidate_rows(engine, cand)
        short = [k for k, b in bounds.items() if plan[k] <= 1 and got.get(k, 0) < b[2]]
        if not short:
            break
        # The hash fell unluckily in these strata: rank all their units.
        plan.update(dict.fromkeys(short, 2.0))
    return place(rows, bounds)


def _place_labelled_groups(engine: Any, units: q.Units,
                           bounds: dict[tuple[Any, ...], tuple[int, int, int]]) -> dict[str, list[Any]]:
    """Groups with labels: placed per ``(eligible, domain)`` by :func:`greedy_place`.

    Only a pool of units is placed: in each stratum, those below a hash threshold that holds
    about ``POOL`` times the rows it gives to test, dev and train-dev (all of them when that is
    most of the stratum). The other units stay in train; their label counts still set the
    shares the placement aims at. The pool is a hash sample, so it is the same on every engine.
    """
    plan = {k: threshold(POOL * b[2], units.strata[k]["new_rows"], units.strata[k]["new_units"])
            for k, b in bounds.items()}
    for _attempt in range(3):
        parts, outside, pooled = _label_counts(engine, units, bounds, plan)
        # The hash fell unluckily: a stratum whose pool holds under half the rows it was sized for
        # gets all its units.
        short = [k for k, b in bounds.items() if plan[k] <= 1 and pooled.get(k, 0) < POOL * b[2] / 2]
        if not short:
            break
        plan.update(dict.fromkeys(short, 2.0))
    keys: list[str] = []
    splits: list[str] = []
    for part_key, part in parts.items():
        placed = greedy_place(part, bounds, outside=outside.get(part_key, {}))
        keys += list(placed)
        splits += list(placed.values())
    return {"key": keys, "split": splits}


def _label_counts(engine: Any, units: q.Units, bounds: dict[tuple[Any, ...], tuple[int, int, int]],
                  plan: dict[tuple[Any, ...], float]) -> tuple[dict[Any, Any], dict[Any, Any], dict[Any, int]]:
    """Per ``(eligible, domain)``: the pool's units ``key -> [u, stratum, {label: rows}]`` and the
    rows left out of the pool per stratum and label; and the pool's rows per stratum."""
    parts: dict[tuple[Any, ...], dict[str, Any]] = {}
    outside: dict[tuple[Any, ...], dict[tuple[Any, ...], dict[Any, int]]] = {}
    pooled: dict[tuple[Any, ...], int] = {}
    counts = q.group_label_counts(engine, units, [(*k, b[2], plan[k]) for k, b in bounds.items()])
    for elig, dom, ulab, key, h, lab, n in counts:
        stratum = (bool(elig), dom, ulab)
        if key is None:
            rest = outside.setdefault(stratum[:2], {}).setdefault(stratum, {})
            rest[lab] = rest.get(lab, 0) + int(n)
            continue
        unit = parts.setdefault(stratum[:2], {}).setdefault(key, [h, stratum, {}])
        unit[2][lab] = int(n)
        pooled[stratum] = pooled.get(stratum, 0) + int(n)
    return parts, outside, pooled
