"""``split``: stable, target-aware, size-aware train / train-dev / dev / test assignment.

The request becomes one frozen :class:`SplitSpec`; then one short function per step, the
steps the progress bar names. The engine work is written once as Ibis expressions
(:mod:`mlstrat.splits._queries`), so DuckDB and Spark compute the same assignment:

1. validate: row count, null and duplicate ids, the target value;
2. count units: one row per assignment unit (a row, or a whole group) with its stratum
   ``(eligible, domain, label)`` and its lock split; counted per stratum;
3. allocate (Python, on the small per-stratum counts): sizes from the policy, exact
   proportional rounding (:func:`apportion`), minus what the lock already holds;
4. draw: within each stratum, units in ``(u, key, id)`` order fill test, then dev, then
   train-dev; only units below a per-stratum hash threshold are ranked (a few times the rows
   needed), so the ranking is small whatever the table size. Labelled groups are placed
   greedily so that every split keeps the label shares, from a pool chosen the same way;
5. summarize: the output joins the drawn units back; counts and checks read it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstrat._constants import SPLITS
from mlstrat._exceptions import ConfigError, InputError, MlstratWarning
from mlstrat._progress import Steps
from mlstrat.display._repr import NotebookRepr
from mlstrat.splits import _queries as q
from mlstrat.splits._checks import (
    ADEQUATE_DIFFERENCE,
    CHI2_ALPHA,
    DEFAULT_EXPECTED_ERROR,
    adequacy,
    label_check,
    purity,
)
from mlstrat.splits._groups import POOL, greedy_place
from mlstrat.splits._hashing import DEFAULT_SALT
from mlstrat.splits._plan import DRAWN, allocate, place, sizes, threshold
from mlstrat.splits._policy import SizeRequest, parse_error_rate, parse_request

__all__ = ["split", "SplitResult", "SplitSpec", "CHI2_ALPHA", "ADEQUATE_DIFFERENCE", "DEFAULT_EXPECTED_ERROR"]

#: the key of rows without a label (null or NaN) in the summary's ``by_label`` and label checks
EMPTY_LABEL = "(empty)"


@dataclass(frozen=True)
class SplitResult(NotebookRepr):
    """The manifest with its ``split`` column, and the summary of how it was made.

    Attributes
    ----------
    table : ibis.Table
        Every input column plus ``split`` (``train``, ``train_dev``, ``dev``, ``test``).
        Lazy: it is computed by the engine when written or executed.
    summary : dict
        ``sizes``, ``by_domain``, ``by_label``, ``policy``, ``salt``, ``checks``, ``warnings``.
    source : str
        The input's file name or type, for messages.
    """

    table: Any
    summary: dict[str, Any]
    source: str
    _con: Any = field(default=None, repr=False, compare=False)
    _inputs: tuple[Any, ...] = field(default=(), repr=False, compare=False)
    _id: str = field(default="id", repr=False, compare=False)

    @property
    def sizes(self) -> dict[str, int]:
        return dict(self.summary["sizes"])

    @property
    def leakage(self) -> bool:
        """True when an id, group or identical content sits in two splits."""
        return bool(self.summary["checks"]["leakage"]["found"])

    def to_dict(self) -> dict[str, Any]:
        return dict(self.summary)

    def write(self, path: str | os.PathLike, *, force: bool = False) -> Path:
        """Write the table with its ``split`` column to Parquet/CSV/JSONL, atomically.

        Refuses to overwrite the input (or the lock it was read with), and an existing file
        unless ``force``.
        """
        from mlstrat.tables import write_table

        return write_table(self.table, path, con=self._con, force=force, inputs=self._inputs,
                           keep_order=False)  # row order carries no meaning: the writer runs in parallel

    def write_lock(self, path: str | os.PathLike, *, force: bool = True) -> Path:
        """Write the lock (``id``, ``split`` of every row) that keeps this assignment stable."""
        from mlstrat.tables import write_table

        lock = self.table.select(self._id, "split")
        if _same_path(self.source, path) and Path(self.source).exists():
            from mlstrat._exceptions import InputError

            raise InputError(f"{path}: the lock path is the manifest; mlstrat never overwrites its input. "
                             "Give --lock a file of its own (e.g. split.lock.parquet)")
        inputs = tuple(i for i in self._inputs if not _same_path(i, path))  # the lock read may be refreshed
        return write_table(lock, path, con=self._con, force=force, inputs=inputs)


def _same_path(a: Any, b: Any) -> bool:
    return isinstance(a, (str, os.PathLike)) and Path(a).absolute() == Path(b).absolute()


@dataclass(frozen=True)
class SplitSpec:
    """One split request, validated: what :func:`split` was asked (see its parameters)."""

    source: str                      # the manifest's name, for messages
    id: str
    label: str | None
    domain: str | None               # "domain" when only a target is given
    target: str | None
    group: str | None
    dev: SizeRequest
    test: SizeRequest
    train_dev: SizeRequest
    salt: str
    content: tuple[str, ...]         # columns whose equal values are the same content
    mix: bool
    resolve: float | None            # error difference dev/test must resolve
    expected_error: float | None

    @property
    def grouped(self) -> bool:
        return self.group is not None

    @classmethod
    def parse(cls, source: str, *, id: str, label: str | None, domain: str | None, target: Any,
              group: str | None, dev_size: Any, test_size: Any, train_dev: Any, salt: Any,
              content: str | Sequence[str] | None, mix: bool, resolve: Any,
              expected_error: Any) -> SplitSpec:
        """Check the options (ConfigError on bad ones) before touching the data."""
        if mix and target is None:
            raise ConfigError("mix=True (--mix) only applies with a target domain (--target VALUE)")
        if not isinstance(salt, str) or salt == "":
            raise ConfigError(f"salt: {salt!r} must be a non-empty text")
        return cls(
            source=source, id=id, label=label,
            domain=(domain or "domain") if target is not None else domain,
            target=None if target is None else str(target), group=group,
            dev=parse_request(dev_size, name="dev_size"), test=parse_request(test_size, name="test_size"),
            train_dev=parse_request(train_dev, name="train_dev", allow_none=True), salt=salt,
            content=tuple(_content_columns(content)), mix=mix,
            resolve=parse_error_rate(resolve, name="resolve") if resolve is not None else None,
            expected_error=(parse_error_rate(expected_error, name="expected_error")
                            if expected_error is not None else None),
        )


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


def split(
    manifest: Any,
    *,
    id: str = "id",
    label: str | None = None,
    domain: str | None = None,
    target: str | None = None,
    group: str | None = None,
    dev_size: str | int | float = "auto",
    test_size: str | int | float = "auto",
    train_dev: str | int | float = "auto",
    salt: str = DEFAULT_SALT,
    lock: Any = None,
    content: str | Sequence[str] | None = None,
    mix: bool = False,
    resolve: str | float | None = None,
    expected_error: str | float | None = None,
    con: Any = None,
    progress: bool | None = None,
) -> SplitResult:
    """Assign every manifest row to train, train-dev, dev or test.

    Parameters
    ----------
    manifest : path-like, DataFrame, pyarrow.Table or ibis.Table
        One row per example (a manifest table, docs/guide/split.md).
    id : str, default="id"
        Unique, non-null example id; hashed as its text when there are no groups.
    label : str, default=None
        Class column to stratify on: each class's count in dev, test and train-dev is within
        one row of its exact proportional share (per domain when ``domain`` is given).
    domain : str, default=None
        Where each row comes from; ``"domain"`` when only ``target`` is given.
    target : str, default=None
        The domain value production sees. Dev and test are drawn from these rows only; the
        rest of them go to train. A train-dev set is then created by default.
    group : str, default=None
        Rows sharing a group never straddle splits; groups are drawn whole.
    dev_size, test_size : str, int or float, default="auto"
        ``"auto"`` = ``min(20% of eligible rows, 10 000)``; a count (``500``); a fraction
        (``0.1``) or percentage (``"10%"``) of the eligible rows (target rows when a target
        is given).
    train_dev : str, int or float, default="auto"
        ``"auto"``: the size of dev when a target is given, else none; ``"none"``; a count; a
        fraction of the training pool.
    salt : str, default="mlstrat"
        Mixed into the hash; another salt draws another split.
    lock : path-like or table, default=None
        A previous output or lock file (``id`` and ``split`` columns). Its rows keep their
        split; new rows are drawn so that each split approaches its policy size.
    content : str or sequence of str, default=None
        Columns whose values identify identical content (e.g. a file hash); the same content
        in two splits is reported as leakage.
    mix : bool, default=False
        Draw dev/test from all domains, not only the target (warned: it dilutes dev/test).
    resolve : str or float, default=None
        Size auto dev/test so that they resolve this error difference at 95%
        (``n = z^2 p (1-p) / delta^2``).
    expected_error : str or float, default=None
        The ``p`` in that formula and in the dev-size adequacy check (0.1 when not given;
        0.5, the worst case, for ``resolve`` when not given).
    con : ibis backend or SparkSession, default=None
        The engine (see :func:`mlstrat.connect`); the process-wide one by default. DuckDB
        and Spark give the same assignment row for row.
    progress : bool, default=None
        Show a progress bar (default: on a terminal only).

    Returns
    -------
    SplitResult

    Raises
    ------
    InputError
        Missing columns, null or duplicate ids, an empty table, a target absent from the
        domain column, sizes larger than the eligible rows, a bad lock file.
    ConfigError
        Bad sizes, rates or option combinations.
    """
    from mlstrat.tables import describe_source, engine_of

    spec = SplitSpec.parse(describe_source(manifest), id=id, label=label, domain=domain, target=target,
                           group=group, dev_size=dev_size, test_size=test_size, train_dev=train_dev,
                           salt=salt, content=content, mix=mix, resolve=resolve,
                           expected_error=expected_error)
    engine = engine_of(con)
    warn: list[str] = []
    with Steps(6, "Splitting", progress=progress) as steps:
        table = _read(engine, manifest, spec)
        steps.advance("validating")
        q.validate(engine, table, source=spec.source, id=spec.id, domain=spec.domain, target=spec.target)
        lock_table, lock_info = _read_lock(engine, lock, table, spec, warn)
        steps.advance("counting units")
        units = _count_units(engine, table, lock_table, spec, warn)
        steps.advance("allocating")
        allocation = _allocate(units, spec)
        steps.advance("drawing")
        drawn = _draw(engine, units, allocation, spec)
        out = q.output(table, drawn, lock_table, id=spec.id, group=spec.group)
        steps.advance("summarizing")
        summary = _summarize(engine, out, spec, allocation, lock=lock_table is not None, warn=warn)
        steps.advance("done")

    _lead_warnings(warn, spec, columns=list(table.columns))
    summary.update(policy=_policy(spec, allocation, lock_info), salt=spec.salt, warnings=warn)
    for message in warn:
        warnings.warn(message, MlstratWarning, stacklevel=2)
    inputs = tuple(x for x in (manifest, lock) if isinstance(x, (str, os.PathLike)))
    return SplitResult(table=out, summary=_ordered(summary), source=spec.source, _con=engine.backend,
                       _inputs=inputs, _id=spec.id)


def _read(engine: Any, manifest: Any, spec: SplitSpec) -> Any:
    from mlstrat.tables import read_table, require_columns

    table = read_table(manifest, con=engine, text_columns=(spec.id, spec.group))
    require_columns(table, [spec.id], source=spec.source, role="id column", arguments={spec.id: "id"})
    for role, col in (("label column", spec.label), ("domain column", spec.domain),
                      ("group column", spec.group)):
        require_columns(table, [col], source=spec.source, role=role, arguments={col or "": role.split()[0]})
    require_columns(table, spec.content, source=spec.source, role="content column")
    for flag, col in (("--id", spec.id), ("--label", spec.label), ("--domain", spec.domain),
                      ("--group", spec.group)):
        if col is not None and table[col].type().is_binary():
            # DuckDB spells bytes as '\xFF' escapes, Spark decodes them as UTF-8: the hashes would differ
            raise InputError(f"{spec.source}: column {col!r} ({flag}) holds bytes (binary); ids, labels, domains "
                             "and groups are hashed and compared as text, which engines spell differently for "
                             "bytes: write the column as text (e.g. hex) or integers")
    return table


def _read_lock(engine: Any, lock: Any, table: Any, spec: SplitSpec,
               warn: list[str]) -> tuple[Any, dict[str, Any] | None]:
    if lock is None:
        return None, None
    lock_table, info = q.read_lock(engine, lock, id=spec.id, manifest=table)
    if info["missing_from_manifest"]:
        warn.append(f"{info['source']}: {info['missing_from_manifest']} locked id(s) are no longer in the "
                    "manifest; they are ignored")
    return lock_table, info


def _count_units(engine: Any, table: Any, lock_table: Any, spec: SplitSpec, warn: list[str]) -> q.Units:
    units = q.count_units(engine, table, id=spec.id, label=spec.label, domain=spec.domain, group=spec.group,
                          target=spec.target, mix=spec.mix, lock=lock_table)
    if spec.target is not None and not spec.mix and spec.grouped:
        n_rows, n_groups = q.mixed_domain_groups(engine, units)
        if n_rows:
            warn.append(f"{n_rows} {spec.target!r} row(s) in {n_groups} group(s) that also hold other domains "
                        "stay in train/train-dev so that dev/test remain pure target rows")
    return units


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
        placed = _place_labelled_groups(engine, units, bounds, salt=spec.salt)
    elif bounds:
        placed = _draw_by_hash(engine, units, bounds, salt=spec.salt)
    else:
        placed = {"key": [], "split": []}
    return q.drawn_table(engine, placed["key"], placed["split"], units=units.units, grouped=spec.grouped)


def _draw_by_hash(engine: Any, units: q.Units, bounds: dict[tuple[Any, ...], tuple[int, int, int]], *,
                  salt: str) -> dict[str, list[Any]]:
    """Rank the new units of each stratum below its hash threshold and place them."""
    plan = {k: threshold(b[2], units.strata[k]["new_rows"], units.strata[k]["new_units"])
            for k, b in bounds.items()}
    for _attempt in range(3):
        cand = q.draw_candidates(engine, units.units, [(*k, b[2], plan[k]) for k, b in bounds.items()],
                                 salt=salt)
        got, rows = q.candidate_rows(engine, cand)
        short = [k for k, b in bounds.items() if plan[k] <= 1 and got.get(k, 0) < b[2]]
        if not short:
            break
        # The hash fell unluckily in these strata: rank all their units.
        plan.update(dict.fromkeys(short, 2.0))
    return place(rows, bounds)


def _place_labelled_groups(engine: Any, units: q.Units, bounds: dict[tuple[Any, ...], tuple[int, int, int]],
                           *, salt: str) -> dict[str, list[Any]]:
    """Groups with labels: placed per ``(eligible, domain)`` by :func:`greedy_place`.

    Only a pool of units is placed: in each stratum, those below a hash threshold that holds
    about ``POOL`` times the rows it gives to test, dev and train-dev (all of them when that is
    most of the stratum). The other units stay in train; their label counts still set the
    shares the placement aims at. The pool is a hash sample, so it is the same on every engine.
    """
    plan = {k: threshold(POOL * b[2], units.strata[k]["new_rows"], units.strata[k]["new_units"])
            for k, b in bounds.items()}
    for _attempt in range(3):
        parts, outside, pooled = _label_counts(engine, units, bounds, plan, salt=salt)
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
                  plan: dict[tuple[Any, ...], float], *, salt: str) -> tuple[dict[Any, Any], dict[Any, Any],
                                                                             dict[Any, int]]:
    """Per ``(eligible, domain)``: the pool's units ``key -> [u, stratum, {label: rows}]`` and the
    rows left out of the pool per stratum and label; and the pool's rows per stratum."""
    parts: dict[tuple[Any, ...], dict[str, Any]] = {}
    outside: dict[tuple[Any, ...], dict[tuple[Any, ...], dict[Any, int]]] = {}
    pooled: dict[tuple[Any, ...], int] = {}
    counts = q.group_label_counts(engine, units, [(*k, b[2], plan[k]) for k, b in bounds.items()], salt=salt)
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


def _summarize(engine: Any, out: Any, spec: SplitSpec, allocation: _Allocation, *, lock: bool,
               warn: list[str]) -> dict[str, Any]:
    sizes_, by_domain, by_label, eligible = _tally(q.split_counts(engine, out, label=spec.label,
                                                                 domain=spec.domain), spec)
    requested = allocation.requested
    checks: dict[str, Any] = {"duplicate_ids": 0, "null_ids": 0}
    checks["leakage"] = _leakage(engine, out, spec, lock=lock)
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


def _leakage(engine: Any, out: Any, spec: SplitSpec, *, lock: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"duplicate_ids": 0, "groups_across_splits": 0, "content_across_splits": None,
                              "examples": []}
    if spec.group and lock:  # without a lock, groups are drawn whole by construction
        groups = q.groups_across_splits(engine, out, group=spec.group)
        result["groups_across_splits"] = len(groups)
        result["examples"] += [f"group {g!r}" for g in groups[:5]]
    if spec.content:
        found = q.content_across_splits(engine, out, content=list(spec.content))
        result["content_across_splits"] = len(found)
        for values, splits, _n in found[:5]:
            shown = ", ".join(f"{c}={v!r}" for c, v in zip(spec.content, values))
            result["examples"].append(f"content {shown} in {'/'.join(splits)}")
    result["found"] = bool(result["groups_across_splits"] or result["content_across_splits"])
    return result


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


def _content_columns(content: str | Sequence[str] | None) -> list[str]:
    if content is None:
        return []
    cols = [c.strip() for c in content.split(",")] if isinstance(content, str) else [str(c) for c in content]
    cols = [c for c in cols if c]
    if not cols:
        raise ConfigError("content: no column given (example: --content sha1 or --content path,size)")
    return cols
