"""Step 5 of a split: the summary read from the output (sizes per split, domain and label; the
checks: leakage, label distribution, domain purity, dev size) and the policy that was applied.
"""

from __future__ import annotations

from typing import Any

from mlstrat._constants import SPLITS
from mlstrat.splits import _queries as q
from mlstrat.splits._checks import adequacy, label_check, purity
from mlstrat.splits._draw import _Allocation
from mlstrat.splits._plan import DRAWN
from mlstrat.splits._request import SplitSpec

#: the key of rows without a label (null or NaN) in the summary's ``by_label`` and label checks
EMPTY_LABEL = "(empty)"


def _summarize(engine: Any, out: Any, spec: SplitSpec, allocation: _Allocation, *, lock: bool,
               warn: list[str]) -> dict[str, Any]:
    sizes_, by_domain, by_label, eligible = _tally(q.split_counts(engine, out, label=spec.label,
                                                                 domain=spec.domain), spec)
    requested = allocation.requested
    checks: dict[str, Any] = {"duplicate_ids": 0, "null_ids": 0}
    checks["leakage"] = _leakage(engine, out, spec, lock=lock, warn=warn)
    checks["label_distribution"] = label_check(by_label, warn) if spec.label else None
    checks["domain_purity"] = purity(by_domain, spec.target, warn) if spec.target is not None else None
    checks["dev_size"] = adequacy(sizes_["dev"], spec.expected_error, spec.resolve, warn)
    checks["sizes"] = {sp: {"requested": requested[sp], "achieved": sizes_[sp]} for sp in DRAWN}
    if spec.grouped:
        for sp in DRAWN:
            req, got = requested[sp], sizes_[sp]
            if req and abs(got - req) > max(1, 0.05 * req):
                warn.append(f"{sp}: {got} rows drawn for {req} requested; groups are drawn whole, so sizes "
                            "are approximate (large groups make them coarser)")
    if spec.label:
        checks["label_shares"] = _label_shares(by_label, eligible)
        empty = sum(by_label.get(EMPTY_LABEL, {}).values())
        checks["empty_labels"] = empty
        if empty:
            warn.append(f"column {spec.label!r} has {empty} empty label(s); they are split like the other rows and "
                        f"counted as the label {EMPTY_LABEL!r} in the label checks (fill or drop them)")
    return {"sizes": sizes_, "by_domain": by_domain, "by_label": by_label, "checks": checks}


def _tally(counts: list[tuple[Any, ...]], spec: SplitSpec) -> tuple[dict[str, int], dict[str, Any],
                                                                    dict[str, Any], dict[str, int]]:
    """Sizes, counts per domain and per label, and eligible rows per label, from the output's counts."""
    sizes_ = dict.fromkeys(SPLITS, 0)
    by_domain: dict[str, dict[str, int]] = {}
    by_label: dict[str, dict[str, int]] = {}
    eligible: dict[str, int] = {}
    for sp, d, lab_v, n in counts:
        sizes_[sp] += n
        lab_v = EMPTY_LABEL if lab_v is None or lab_v != lab_v else lab_v  # null or NaN
        if spec.label and (spec.target is None or spec.mix or d == spec.target):
            eligible[str(lab_v)] = eligible.get(str(lab_v), 0) + n
        if spec.domain:
            by_domain.setdefault(str(d), dict.fromkeys(SPLITS, 0))[sp] += n
        if spec.label:
            by_label.setdefault(str(lab_v), dict.fromkeys(SPLITS, 0))[sp] += n
    return sizes_, dict(sorted(by_domain.items())), dict(sorted(by_label.items())), eligible


def _label_shares(by_label: dict[str, dict[str, int]], eligible: dict[str, int]) -> dict[str, Any]:
    shares = {}
    for sp in DRAWN:
        tot = sum(v[sp] for v in by_label.values())
        if tot:
            shares[sp] = {k: v[sp] / tot for k, v in by_label.items()}
    n_elig = sum(eligible.values())
    return {"expected": {k: v / n_elig for k, v in sorted(eligible.items())}, "achieved": shares}


#: examples named per kind of leakage (groups, content); the counts cover every one
_EXAMPLES_SHOWN = 5


def _leakage(engine: Any, out: Any, spec: SplitSpec, *, lock: bool, warn: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {"duplicate_ids": 0, "groups_across_splits": 0, "content_across_splits": None,
                              "examples": [], "examples_per_kind": _EXAMPLES_SHOWN}
    if spec.group and lock:  # without a lock, groups are drawn whole by construction
        result["groups_across_splits"], groups = q.groups_across_splits(engine, out, group=spec.group)
        result["examples"] += [f"group {g!r}" for g in groups[:_EXAMPLES_SHOWN]]
    if spec.content:
        result["content_across_splits"], found = q.content_across_splits(engine, out, content=list(spec.content))
        for values, splits, _n in found[:_EXAMPLES_SHOWN]:
            shown = ", ".join(f"{c}={v!r}" for c, v in zip(spec.content, values))
            result["examples"].append(f"content {shown} in {'/'.join(splits)}")
    near_rows = _near_duplicates(engine, out, spec, result["examples"], warn) if spec.near else 0
    result["near_duplicates_across_splits"] = near_rows if spec.near else None
    result["found"] = bool(result["groups_across_splits"] or result["content_across_splits"] or near_rows)
    return result


def _near_duplicates(engine: Any, out: Any, spec: SplitSpec, examples: list[str], warn: list[str]) -> int:
    """Rows with a near-duplicate in another split (over the ``near_duplicates`` columns); the first
    few pairs join the leakage examples, near-duplicates inside train become a warning."""
    from mlstrat.splits._near_duplicates import near_duplicate_leakage

    found = near_duplicate_leakage(engine, out, spec.near, id=spec.id, source=spec.source)
    for finding in found.findings:
        for count in finding.counts:
            pairs = [f"{count.first} id {a!r} ~ {count.second} id {b!r} ({sim:.3g})" for a, b, sim in count.examples]
            what = f"near-duplicate {finding.kind} {', '.join(finding.columns)}"
            if count.across and count.pairs:
                examples.append(f"{what}: {count.rows} {count.second} row(s) near {count.first}, e.g. {pairs[0]}")
            elif not count.across and count.pairs:
                warn.append(f"{what}: {count.rows} {count.first} row(s) have a near-duplicate inside {count.first} "
                            f"(e.g. {pairs[0]}); drop the copies: they weigh those examples twice")
    return sum(f.leaked_rows() for f in found.findings)


def _lead_warnings(warn: list[str], spec: SplitSpec, *, columns: list[str]) -> None:
    if "split" in columns:
        warn.insert(0, f"{spec.source}: the input already has a 'split' column; it is replaced in the output")
    if spec.mix:
        warn.insert(0, "--mix draws dev/test from every domain: they no longer measure the target "
                       f"{spec.target!r} alone, so tuning on them aims at a blend of distributions. "
                       "Prefer the default (dev/test from the target, other target rows in train)")


def _policy(spec: SplitSpec, a: _Allocation, lock_info: dict[str, Any] | None) -> dict[str, Any]:
    policy = dict(a.policy)
    policy.update(eligible_rows=a.eligible, total_rows=a.total_rows, pool_rows=a.total_rows - a.n_test - a.n_dev,
                  target=spec.target, mix=spec.mix, unit="group" if spec.group else "row",
                  stratify=[c for c in (spec.domain, spec.label) if c], train_dev=spec.train_dev.describe(),
                  train_dev_rows=a.n_train_dev, requested=a.requested)
    if lock_info:
        policy["lock"] = lock_info
    return policy


def _ordered(summary: dict[str, Any]) -> dict[str, Any]:
    keys = ["sizes", "by_domain", "by_label", "policy", "salt", "checks", "warnings"]
    return {k: summary[k] for k in keys}
