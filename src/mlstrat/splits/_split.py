"""``split``: stable, target-aware, size-aware train / train-dev / dev / test assignment.

Everything runs in the engine (DuckDB SQL over the Ibis table), in a few streaming passes:

1. validate: row count, null and duplicate ids, rows per (domain, label);
2. units: one row per assignment unit (a row, or a whole group) with its stratum
   ``(eligible, domain, label)`` and its lock split; counted per stratum;
3. allocate (Python, on the small per-stratum counts): sizes from the policy, exact
   proportional rounding (:func:`apportion`), minus what the lock already holds;
4. draw: within each stratum, units in ``(u, key, id)`` order fill test, then dev, then
   train-dev; only units below a per-stratum hash threshold are ranked (a few times the rows
   needed), so the ranking is small whatever the table size;
5. the output view joins the drawn units back; summary counts and checks read that view.
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstrat._constants import SPLITS
from mlstrat._exceptions import ConfigError, InputError, MlstratWarning
from mlstrat._progress import Steps
from mlstrat.splits._allocate import apportion
from mlstrat.splits._hashing import DEFAULT_SALT, hash_sql, sql_literal
from mlstrat.splits._policy import (
    AUTO_CAP,
    AUTO_FRACTION,
    auto_size,
    parse_error_rate,
    parse_request,
    resolvable_difference,
    resolve_size,
)

__all__ = ["split", "SplitResult", "CHI2_ALPHA", "ADEQUATE_DIFFERENCE", "DEFAULT_EXPECTED_ERROR"]

CHI2_ALPHA = 0.01            # warn when dev and test label distributions differ at p < 0.01
ADEQUATE_DIFFERENCE = 0.01   # dev is "adequate" when it resolves a 1-point error difference
DEFAULT_EXPECTED_ERROR = 0.1  # error assumed for adequacy when none is given
_DRAWN = ("test", "dev", "train_dev")  # order in which units fill the splits
_COUNTER = itertools.count(1)


@dataclass(frozen=True)
class SplitResult:
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

    def __repr__(self) -> str:
        from mlstrat.report._notebook import text_repr

        return text_repr(self)

    def _repr_html_(self) -> str:
        from mlstrat.report._notebook import html_repr

        return html_repr(self)

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


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(column: str, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return f"CAST({prefix}{_q(column)} AS VARCHAR)"


class _Engine:
    """Thin helper over the DuckDB connection: unique temp names and fetches."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.tag = f"mlstrat_split_{next(_COUNTER)}"

    def name(self, what: str) -> str:
        return f"{self.tag}_{what}"

    def run(self, sql: str) -> None:
        self.con.raw_sql(sql)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        cur = self.con.raw_sql(sql)
        return cur.fetchall()

    def view(self, what: str, sql: str) -> str:
        name = self.name(what)
        self.run(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")
        return name

    def temp_table(self, what: str, sql: str) -> str:
        name = self.name(what)
        self.run(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
        return name


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
        One row per example (DESIGN.md's manifest table).
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
    con : ibis DuckDB backend, default=None
        Engine connection; the process-wide one by default.
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
    from mlstrat.tables import default_connection, describe_source, read_table, require_columns

    source = describe_source(manifest)
    dev_req = parse_request(dev_size, name="dev_size")
    test_req = parse_request(test_size, name="test_size")
    td_req = parse_request(train_dev, name="train_dev", allow_none=True)
    delta = parse_error_rate(resolve, name="resolve") if resolve is not None else None
    p_given = parse_error_rate(expected_error, name="expected_error") if expected_error is not None else None
    content_cols = _content_columns(content)
    if target is not None:
        target = str(target)
        domain = domain or "domain"
    if mix and target is None:
        raise ConfigError("mix=True (--mix) only applies with a target domain (--target VALUE)")
    if not isinstance(salt, str) or salt == "":
        raise ConfigError(f"salt: {salt!r} must be a non-empty text")

    con = con or default_connection()
    eng = _Engine(con)
    with Steps(6, "Splitting", progress=progress) as steps:
        table = read_table(manifest, con=con, text_columns=(id, group))
        require_columns(table, [id], source=source, role="id column")
        for role, col in (("label column", label), ("domain column", domain), ("group column", group)):
            require_columns(table, [col], source=source, role=role)
        require_columns(table, content_cols, source=source, role="content column")
        import ibis

        base = eng.view("base", ibis.to_sql(table, dialect="duckdb"))
        columns = list(table.columns)
        steps.advance("validating")
        _validate(eng, base, source=source, id=id, label=label, domain=domain, target=target)

        warn: list[str] = []
        lock_view, lock_info = (None, None)
        if lock is not None:
            lock_view, lock_info = _read_lock(eng, lock, id=id, con=con, manifest_ids=base, warn=warn)
        rows = _rows_view(eng, base, id=id, label=label, domain=domain, group=group, target=target,
                          mix=mix, lock_view=lock_view)
        steps.advance("counting units")
        units = _units(eng, rows, grouped=group is not None, salt=salt)
        strata = _strata_stats(eng, units)

        steps.advance("allocating")
        eligible = sum(s["rows"] for s in strata.values() if s["elig"])
        total_rows = sum(s["rows"] for s in strata.values())
        if target is not None and not mix and group is not None:
            _warn_mixed_domain_groups(eng, rows, units, target=target, warn=warn)
        if eligible == 0:
            raise InputError(f"{source}: no group of column {group!r} lies wholly in target domain {target!r}; "
                             "dev and test cannot be drawn (check --group/--target)")
        policy, n_test, n_dev = _sizes(test_req, dev_req, eligible, delta=delta, p_given=p_given,
                                       source=source, target=target)
        allocation, n_td = _allocate(strata, n_test, n_dev, td_req, target=target, total_rows=total_rows,
                                     source=source, policy=policy)

        steps.advance("drawing")
        drawn = _draw(eng, units, allocation, grouped=group is not None, salt=salt,
                      rows=rows if group is not None and label is not None else None)
        out_view = _output_view(eng, base, columns, drawn, lock_view, id=id, group=group)
        steps.advance("summarizing")
        summary = _summarize(eng, out_view, label=label, domain=domain, group=group, target=target,
                             content=content_cols, lock=lock_view is not None, n_dev=n_dev, p_given=p_given,
                             delta=delta, warn=warn, requested={"test": n_test, "dev": n_dev, "train_dev": n_td},
                             mix=mix)
        steps.advance("done")

    if "split" in columns:
        warn.insert(0, f"{source}: the input already has a 'split' column; it is replaced in the output")
    if mix:
        warn.insert(0, "--mix draws dev/test from every domain: they no longer measure the target "
                       f"{target!r} alone, so tuning on them aims at a blend of distributions. "
                       "Prefer the default (dev/test from the target, other target rows in train)")
    policy.update(eligible_rows=eligible, total_rows=total_rows, pool_rows=total_rows - n_test - n_dev,
                  target=target, mix=mix, unit="group" if group else "row",
                  stratify=[c for c in (domain, label) if c], train_dev=td_req.describe(),
                  train_dev_rows=n_td, requested={"test": n_test, "dev": n_dev, "train_dev": n_td})
    if lock_info:
        policy["lock"] = lock_info
    summary.update(policy=policy, salt=salt)
    summary["warnings"] = warn
    for message in warn:
        warnings.warn(message, MlstratWarning, stacklevel=2)
    result_table = con.table(out_view)
    inputs = tuple(x for x in (manifest, lock) if isinstance(x, (str, os.PathLike)))
    return SplitResult(table=result_table, summary=_ordered(summary), source=source, _con=con,
                       _inputs=inputs, _id=id)


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


def _validate(eng: _Engine, base: str, *, source: str, id: str, label: str | None, domain: str | None,
              target: str | None) -> dict[str, int]:
    n, null_ids = eng.rows(f"SELECT count(*), count(*) - count({_q(id)}) FROM {base}")[0]
    if n == 0:
        raise InputError(f"{source}: the table has no rows; a manifest needs one row per example")
    if null_ids:
        raise InputError(f"{source}: column {id!r} has {null_ids} empty id(s); every row needs a unique id "
                         "(fill or drop those rows)")
    # Duplicates: group 64-bit hashes (small keys, little memory), then confirm on the text.
    idt = _text(id)
    suspects = eng.rows(f"SELECT h FROM (SELECT hash({idt}) AS h FROM {base}) GROUP BY h HAVING count(*) > 1 LIMIT 100")
    dups: list[tuple[Any, ...]] = []
    if suspects:
        listed = ", ".join(f"{int(h)}::UBIGINT" for (h,) in suspects)
        dups = eng.rows(f"SELECT {idt} AS k, count(*) AS c FROM {base} WHERE hash({idt}) IN ({listed}) "
                        "GROUP BY k HAVING count(*) > 1 ORDER BY c DESC, k LIMIT 3")
    if dups:
        shown = ", ".join(f"{k!r} x{c}" for k, c in dups)
        raise InputError(f"{source}: column {id!r} has duplicate ids ({shown}); ids must be unique "
                         "(deduplicate the manifest, or pass the right --id column)")
    if target is not None and domain is not None:
        found = eng.rows(f"SELECT count(*) FROM {base} WHERE {_text(domain)} = {sql_literal(target)}")[0][0]
        if not found:
            values = [v for (v,) in eng.rows(
                f"SELECT DISTINCT {_text(domain)} AS v FROM {base} ORDER BY v NULLS LAST LIMIT 11")]
            shown = ", ".join(repr(v) for v in values[:10]) + (", ..." if len(values) > 10 else "")
            from mlstrat._numbers import did_you_mean

            hint = did_you_mean(target, [str(v) for v in values if v is not None])
            raise InputError(f"{source}: target {target!r} does not occur in column {domain!r}{hint}; "
                             f"values found: {shown}")
    return {"rows": int(n)}


def _read_lock(eng: _Engine, lock: Any, *, id: str, con: Any, manifest_ids: str,
               warn: list[str]) -> tuple[str, dict[str, Any]]:
    import ibis

    from mlstrat.tables import describe_source, read_table, require_columns

    name = describe_source(lock)
    table = read_table(lock, con=con, text_columns=(id,))
    require_columns(table, [id, "split"], source=name, role="lock column")
    raw = eng.view("lockraw", ibis.to_sql(table, dialect="duckdb"))
    view = eng.temp_table("lock", f"SELECT {_text(id)} AS lid, CAST(split AS VARCHAR) AS lsplit FROM {raw}")
    allowed = ", ".join(sql_literal(s) for s in SPLITS)
    bad = eng.rows(f"SELECT lsplit, count(*) FROM {view} WHERE lsplit IS NULL OR lsplit NOT IN ({allowed}) "
                   "GROUP BY lsplit ORDER BY lsplit NULLS FIRST LIMIT 3")
    if bad:
        shown = ", ".join(repr(v) for v, _ in bad)
        raise InputError(f"{name}: column 'split' of the lock has value(s) {shown}; allowed: {', '.join(SPLITS)}")
    dups = eng.rows(f"SELECT lid FROM {view} GROUP BY lid HAVING count(*) > 1 ORDER BY lid LIMIT 3")
    if dups:
        raise InputError(f"{name}: the lock lists id {dups[0][0]!r} more than once; a lock has one row per id")
    n_lock, gone = eng.rows(
        f"SELECT count(*), count(*) FILTER (WHERE lid NOT IN (SELECT {_text(id)} FROM {manifest_ids})) FROM {view}"
    )[0]
    if gone:
        warn.append(f"{name}: {gone} locked id(s) are no longer in the manifest; they are ignored")
    return view, {"source": name, "rows": int(n_lock), "missing_from_manifest": int(gone)}


def _rows_view(eng: _Engine, base: str, *, id: str, label: str | None, domain: str | None,
               group: str | None, target: str | None, mix: bool, lock_view: str | None) -> str:
    id_txt = _text(id, "b")
    key = f"coalesce({_text(group, 'b')}, {id_txt})" if group else id_txt
    lab = _text(label, "b") if label else "CAST(NULL AS VARCHAR)"
    dom = _text(domain, "b") if domain else "CAST(NULL AS VARCHAR)"
    elig = f"coalesce({dom} = {sql_literal(target)}, false)" if target is not None and not mix else "true"
    select = f"SELECT {id_txt} AS id_txt, {key} AS key, {lab} AS lab, {dom} AS dom, {elig} AS elig, "
    if lock_view:
        return eng.view("rows", f"{select} l.lsplit AS lsplit FROM {base} b LEFT JOIN {lock_view} l ON {id_txt} = l.lid")
    return eng.view("rows", f"{select} CAST(NULL AS VARCHAR) AS lsplit FROM {base} b")


def _units(eng: _Engine, rows: str, *, grouped: bool, salt: str) -> str:
    """One row per assignment unit: key, tie-break, size, stratum, lock split."""
    if not grouped:
        return eng.view("units", f"SELECT key, id_txt AS tie, 1 AS size, elig, dom, lab, lsplit FROM {rows}")
    # A group is eligible for dev/test only when every row is a target row. Its stratum is its
    # domain and label when all its rows share them, else NULL ("mixed"): min/max aggregates
    # keep this one cheap hash aggregation even for millions of groups.
    return eng.temp_table("units", (
        "SELECT key, key AS tie, size, elig, CASE WHEN dmin = dmax THEN dmin END AS dom, "
        "CASE WHEN lmin = lmax THEN lmin END AS lab, lsplit, ls_max FROM ("
        "SELECT key, count(*)::BIGINT AS size, bool_and(elig) AS elig, min(dom) AS dmin, max(dom) AS dmax, "
        "min(lab) AS lmin, max(lab) AS lmax, min(lsplit) AS lsplit, max(lsplit) AS ls_max "
        f"FROM {rows} GROUP BY key)"
    ))


def _warn_mixed_domain_groups(eng: _Engine, rows: str, units: str, *, target: str, warn: list[str]) -> None:
    """Warn about target rows kept out of dev/test because their group also holds other domains."""
    # A mixed group's stratum has no single domain, so these rows are counted row by row.
    n_rows, n_groups = eng.rows(
        f"SELECT count(*)::BIGINT, count(DISTINCT r.key)::BIGINT FROM {rows} r JOIN {units} u ON r.key = u.key "
        "WHERE r.elig AND NOT u.elig"
    )[0]
    if n_rows:
        warn.append(f"{n_rows} {target!r} row(s) in {n_groups} group(s) that also hold other domains stay in "
                    "train/train-dev so that dev/test remain pure target rows")


def _strata_stats(eng: _Engine, units: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    stats = eng.rows(
        f"SELECT elig, dom, lab, lsplit, sum(size)::BIGINT, count(*)::BIGINT "
        f"FROM {units} GROUP BY ALL"
    )
    strata: dict[tuple[Any, ...], dict[str, Any]] = {}
    for elig, d, lab_v, lsplit, n_rows, n_units in stats:
        key = (bool(elig), d, lab_v)
        s = strata.setdefault(key, {"elig": bool(elig), "dom": d, "lab": lab_v, "rows": 0, "new_rows": 0,
                                    "new_units": 0, "locked": dict.fromkeys(SPLITS, 0)})
        s["rows"] += int(n_rows)
        if lsplit is None:
            s["new_rows"] += int(n_rows)
            s["new_units"] += int(n_units)
        else:
            s["locked"][lsplit] += int(n_rows)
    return dict(sorted(strata.items(), key=lambda kv: tuple((v is None, str(v)) for v in kv[0])))


def _sizes(test_req: Any, dev_req: Any, eligible: int, *, delta: float | None, p_given: float | None,
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


def _allocate(strata: dict[tuple[Any, ...], dict[str, Any]], n_test: int, n_dev: int, td_req: Any, *,
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


def _draw(eng: _Engine, units: str, bounds: dict[tuple[Any, ...], tuple[int, int, int]], *,
          grouped: bool, salt: str, rows: str | None = None) -> str:
    """The drawn units: key -> split, for units that leave train.

    ``rows`` is given when groups and labels are: groups are then placed by
    :func:`_draw_labelled_groups` so that every split keeps the label shares.
    """
    if bounds and rows is not None:
        drawn = _draw_labelled_groups(eng, units, rows, bounds, salt=salt)
    elif bounds:
        drawn = _draw_new(eng, units, bounds, salt=salt)
    else:
        drawn = eng.temp_table("drawn", "SELECT CAST(NULL AS VARCHAR) AS key, CAST(NULL AS VARCHAR) AS split "
                                        "WHERE false")
    if grouped:  # locked groups: their new rows follow the group
        eng.run(f"INSERT INTO {drawn} SELECT key, lsplit FROM {units} WHERE lsplit IS NOT NULL AND lsplit <> 'train'")
    return drawn


def _draw_new(eng: _Engine, units: str, bounds: dict[tuple[Any, ...], tuple[int, int, int]], *,
              salt: str) -> str:
    """Rank the new units of each stratum below its hash threshold and place them."""
    import pyarrow as pa

    u = hash_sql("key", salt)
    plan = {
        "elig": [k[0] for k in bounds], "dom": [k[1] for k in bounds], "lab": [k[2] for k in bounds],
        "b1": [b[0] for b in bounds.values()], "b2": [b[1] for b in bounds.values()],
        "b3": [b[2] for b in bounds.values()],
    }
    plan_name = eng.name("plan")
    counts = _new_counts(eng, units)
    theta = []
    for k, b in bounds.items():
        new_rows, new_units = counts.get(k, (0, 0))
        theta.append(_threshold(b[2], new_rows, new_units))
    plan["theta"] = theta
    eng.con.con.register(plan_name, pa.table({
        "elig": pa.array(plan["elig"], pa.bool_()), "dom": pa.array(plan["dom"], pa.string()),
        "lab": pa.array(plan["lab"], pa.string()), "b1": pa.array(plan["b1"], pa.int64()),
        "b2": pa.array(plan["b2"], pa.int64()), "b3": pa.array(plan["b3"], pa.int64()),
        "theta": pa.array(plan["theta"], pa.float64()),
    }))
    join = (f"u.elig = p.elig AND u.dom IS NOT DISTINCT FROM p.dom AND u.lab IS NOT DISTINCT FROM p.lab")
    cand_units = (f"SELECT key, tie, size, elig, dom, lab, {u} AS h FROM {units} "
                  "WHERE lsplit IS NULL")
    for _attempt in range(3):
        cand = eng.temp_table("cand", (
            f"SELECT u.key, u.size, p.b1, p.b2, p.b3, p.elig, p.dom, p.lab, "
            "sum(u.size) OVER (PARTITION BY p.elig, p.dom, p.lab ORDER BY u.h, u.key, u.tie "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - u.size AS c0 "
            f"FROM ({cand_units}) u JOIN {plan_name} p ON {join} WHERE u.h < p.theta"
        ))
        short = eng.rows(
            f"SELECT p.elig, p.dom, p.lab FROM {plan_name} p LEFT JOIN "
            f"(SELECT elig, dom, lab, sum(size) AS got FROM {cand} GROUP BY ALL) c "
            "ON c.elig = p.elig AND c.dom IS NOT DISTINCT FROM p.dom AND c.lab IS NOT DISTINCT FROM p.lab "
            "WHERE p.theta <= 1 AND coalesce(c.got, 0) < p.b3"
        )
        if not short:
            break
        # The hash fell unluckily in these strata: rank all their units.
        redo = {tuple(r) for r in short}
        plan["theta"] = [2.0 if (e, d, l_) in redo else t
                         for e, d, l_, t in zip(plan["elig"], plan["dom"], plan["lab"], plan["theta"])]
        eng.con.con.unregister(plan_name)
        eng.con.con.register(plan_name, pa.table({
            "elig": pa.array(plan["elig"], pa.bool_()), "dom": pa.array(plan["dom"], pa.string()),
            "lab": pa.array(plan["lab"], pa.string()), "b1": pa.array(plan["b1"], pa.int64()),
            "b2": pa.array(plan["b2"], pa.int64()), "b3": pa.array(plan["b3"], pa.int64()),
            "theta": pa.array(plan["theta"], pa.float64()),
        }))
    drawn = eng.name("drawn")
    cand_rows = eng.rows(f"SELECT elig, dom, lab, key, size, c0 FROM {cand} "
                         "ORDER BY elig, dom NULLS LAST, lab NULLS LAST, c0")
    eng.con.con.register(drawn + "_arrow", pa.table(_place(cand_rows, bounds), schema=pa.schema(
        [("key", pa.string()), ("split", pa.string())])))
    eng.run(f"CREATE OR REPLACE TEMP TABLE {drawn} AS SELECT * FROM {drawn}_arrow")
    eng.con.con.unregister(drawn + "_arrow")
    return drawn


def _draw_labelled_groups(eng: _Engine, units: str, rows: str,
                          bounds: dict[tuple[Any, ...], tuple[int, int, int]], *, salt: str) -> str:
    """Place whole groups so that every split keeps the label shares of the exact allocation.

    Drawing groups at random within strata lets label shares drift: a group holding several
    labels has no single stratum, and a large one-label group overshoots its stratum's quota.
    Like scikit-learn's ``StratifiedGroupKFold``, groups are placed greedily, largest first
    (ties in hash order, so the result is a pure function of data and salt): each goes to the
    bucket (test, dev, train-dev or train) whose per-label counts move closest, in squared
    error, to the targets that the per-stratum allocation (``bounds``) sets. Single-row units,
    which come last, fill the remaining per-label gaps in hash order.
    """
    import pyarrow as pa

    u = hash_sql("u.key", salt)
    counts = eng.rows(
        f"SELECT u.elig, u.dom, u.lab, u.key, {u} AS h, r.lab, count(*)::BIGINT FROM {units} u "
        f"JOIN {rows} r ON r.key = u.key WHERE u.lsplit IS NULL GROUP BY ALL"
    )
    parts: dict[tuple[Any, ...], dict[str, Any]] = {}
    for elig, dom, ulab, key, h, lab, n in counts:
        stratum = (bool(elig), dom, ulab)
        if stratum in bounds:
            unit = parts.setdefault(stratum[:2], {}).setdefault(key, [h, stratum, {}])
            unit[2][lab] = int(n)
    keys: list[str] = []
    splits: list[str] = []
    for part in parts.values():
        placed = _greedy_place(part, bounds)
        keys += list(placed)
        splits += list(placed.values())
    drawn = eng.name("drawn")
    eng.con.con.register(drawn + "_arrow", pa.table({"key": pa.array(keys, pa.string()),
                                                     "split": pa.array(splits, pa.string())}))
    eng.run(f"CREATE OR REPLACE TEMP TABLE {drawn} AS SELECT * FROM {drawn}_arrow")
    eng.con.con.unregister(drawn + "_arrow")
    return drawn


def _greedy_place(units: dict[str, list[Any]],
                  bounds: dict[tuple[Any, ...], tuple[int, int, int]]) -> dict[str, str]:
    """key -> split for the units of one ``(eligible, domain)`` that leave train."""
    import numpy as np

    labels = sorted({lab for *_x, labs in units.values() for lab in labs}, key=lambda v: (v is None, str(v)))
    col = {lab: i for i, lab in enumerate(labels)}
    vectors = {k: np.zeros(len(labels)) for k in units}
    stratum_totals: dict[tuple[Any, ...], Any] = {}
    for k, (_h, stratum, labs) in units.items():
        for lab, n in labs.items():
            vectors[k][col[lab]] = n
        stratum_totals[stratum] = stratum_totals.get(stratum, 0) + vectors[k]
    # Bucket sizes come from the per-stratum allocation; label targets are the exact shares of
    # these units (the per-stratum quotas are rounded, up to a row per stratum and split).
    quota = np.zeros(4)  # test, dev, train-dev, train
    for stratum, totals in stratum_totals.items():
        b = bounds[stratum]
        quota += [b[0], b[1] - b[0], b[2] - b[1], totals.sum() - b[2]]
    totals = sum(stratum_totals.values())
    target = np.outer(quota, totals / totals.sum())  # (bucket, label)
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
                    v = g[theirs][None, :, :] - g[near][:, None, :]  # (mine, theirs, label): what a gains
                    swap = self.delta(a, d, e, v) + self.delta(b, d, e, -v)
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


def _place(cand_rows: list[tuple[Any, ...]],
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


def _new_counts(eng: _Engine, units: str) -> dict[tuple[Any, ...], tuple[int, int]]:
    rows = eng.rows(f"SELECT elig, dom, lab, sum(size)::BIGINT, count(*)::BIGINT FROM {units} "
                    "WHERE lsplit IS NULL GROUP BY ALL")
    return {(bool(e), d, lab_v): (int(r), int(n)) for e, d, lab_v, r, n in rows}


def _threshold(need_rows: int, new_rows: int, new_units: int) -> float:
    """Hash bound below which a stratum's first ``need_rows`` rows (in hash order) almost surely lie."""
    if new_units == 0 or need_rows >= new_rows:
        return 2.0
    need_units = need_rows * new_units / new_rows
    expected = need_units + 6 * math.sqrt(need_units) + 32
    share = expected / new_units
    return 2.0 if share >= 0.5 else share


def _output_view(eng: _Engine, base: str, columns: list[str], drawn: str, lock_view: str | None, *,
                 id: str, group: str | None) -> str:
    keep = ", ".join(f"b.{_q(c)}" for c in columns if c != "split")
    id_txt = f"CAST(b.{_q(id)} AS VARCHAR)"
    key = f"coalesce(CAST(b.{_q(group)} AS VARCHAR), {id_txt})" if group else id_txt
    if lock_view:
        return eng.view("out", (
            f"SELECT {keep}, coalesce(l.lsplit, d.split, 'train') AS split FROM {base} b "
            f"LEFT JOIN {lock_view} l ON {id_txt} = l.lid LEFT JOIN {drawn} d ON {key} = d.key"
        ))
    return eng.view("out", (
        f"SELECT {keep}, coalesce(d.split, 'train') AS split FROM {base} b LEFT JOIN {drawn} d ON {key} = d.key"
    ))


def _summarize(eng: _Engine, out: str, *, label: str | None, domain: str | None, group: str | None,
               target: str | None, content: list[str], lock: bool, n_dev: int, p_given: float | None,
               delta: float | None, warn: list[str], requested: dict[str, int],
               mix: bool) -> dict[str, Any]:
    lab = _text(label) if label else "NULL"
    dom = _text(domain) if domain else "NULL"
    counts = eng.rows(f"SELECT split, {dom} AS d, {lab} AS l, count(*)::BIGINT FROM {out} GROUP BY ALL")
    sizes = dict.fromkeys(SPLITS, 0)
    by_domain: dict[str, dict[str, int]] = {}
    by_label: dict[str, dict[str, int]] = {}
    eligible: dict[str, int] = {}
    for sp, d, lab_v, n in counts:
        sizes[sp] += n
        if label and (target is None or mix or d == target):
            eligible[str(lab_v)] = eligible.get(str(lab_v), 0) + n
        if domain:
            by_domain.setdefault(str(d), dict.fromkeys(SPLITS, 0))[sp] += n
        if label:
            by_label.setdefault(str(lab_v), dict.fromkeys(SPLITS, 0))[sp] += n
    by_domain = dict(sorted(by_domain.items()))
    by_label = dict(sorted(by_label.items()))

    checks: dict[str, Any] = {"duplicate_ids": 0, "null_ids": 0}
    checks["leakage"] = _leakage(eng, out, group=group, content=content, lock=lock)
    checks["label_distribution"] = _label_check(by_label, warn) if label else None
    checks["domain_purity"] = _purity(by_domain, target, warn) if target is not None else None
    checks["dev_size"] = _adequacy(sizes["dev"], p_given, delta, warn)
    checks["sizes"] = {sp: {"requested": requested[sp], "achieved": sizes[sp]} for sp in _DRAWN}
    if group:
        for sp in _DRAWN:
            req, got = requested[sp], sizes[sp]
            if req and abs(got - req) > max(1, 0.05 * req):
                warn.append(f"{sp}: {got} rows drawn for {req} requested; groups are drawn whole, so sizes "
                            "are approximate (large groups make them coarser)")
    if label:
        shares = {}
        for sp in _DRAWN:
            tot = sum(v[sp] for v in by_label.values())
            if tot:
                shares[sp] = {k: v[sp] / tot for k, v in by_label.items()}
        n_elig = sum(eligible.values())
        expected = {k: v / n_elig for k, v in sorted(eligible.items())}
        checks["label_shares"] = {"expected": expected, "achieved": shares}
    return {"sizes": sizes, "by_domain": by_domain, "by_label": by_label, "checks": checks}


def _leakage(eng: _Engine, out: str, *, group: str | None, content: list[str], lock: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"duplicate_ids": 0, "groups_across_splits": 0, "content_across_splits": None,
                              "examples": []}
    if group and lock:  # without a lock, groups are drawn whole by construction
        rows = eng.rows(f"SELECT {_q(group)}::VARCHAR FROM {out} GROUP BY 1 "
                        "HAVING count(DISTINCT split) > 1 ORDER BY 1")
        result["groups_across_splits"] = len(rows)
        result["examples"] += [f"group {r[0]!r}" for r in rows[:5]]
    if content:
        cols = ", ".join(_q(c) for c in content)
        rows = eng.rows(
            f"SELECT {cols}, list(DISTINCT split ORDER BY split) AS s, count(*) AS n FROM {out} "
            f"GROUP BY {cols} HAVING count(DISTINCT split) > 1 ORDER BY n DESC, s"
        )
        result["content_across_splits"] = len(rows)
        for r in rows[:5]:
            value = ", ".join(f"{c}={v!r}" for c, v in zip(content, r[:-2]))
            result["examples"].append(f"content {value} in {'/'.join(r[-2])}")
    result["found"] = bool(result["groups_across_splits"] or result["content_across_splits"])
    return result


def _label_check(by_label: dict[str, dict[str, int]], warn: list[str]) -> dict[str, Any] | None:
    dev = [v["dev"] for v in by_label.values()]
    test = [v["test"] for v in by_label.values()]
    keep = [i for i in range(len(dev)) if dev[i] + test[i] > 0]
    if len(keep) < 2 or not sum(dev) or not sum(test):
        return {"chi2": None, "p_value": None, "dof": 0, "ok": True}
    from scipy.stats import chi2_contingency

    table = [[dev[i] for i in keep], [test[i] for i in keep]]
    stat, p, dof, _ = chi2_contingency(table, correction=False)
    ok = bool(p >= CHI2_ALPHA)
    if not ok:
        warn.append(f"dev and test label distributions differ (chi-square p = {p:.3g} < {CHI2_ALPHA}); "
                    "they should come from the same distribution")
    return {"chi2": float(stat), "p_value": float(p), "dof": int(dof), "ok": ok}


def _purity(by_domain: dict[str, dict[str, int]], target: str, warn: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"target": target}
    for sp in ("dev", "test"):
        total = sum(v[sp] for v in by_domain.values())
        out[sp] = by_domain.get(target, {}).get(sp, 0) / total if total else None
    out["ok"] = all(out[sp] in (None, 1.0) for sp in ("dev", "test"))
    if not out["ok"]:
        warn.append(f"dev/test are not pure {target!r} rows (dev {out['dev']:.1%}, test {out['test']:.1%}); "
                    "they no longer measure the target distribution alone")
    return out


def _adequacy(n_dev: int, p_given: float | None, delta: float | None, warn: list[str]) -> dict[str, Any]:
    p = p_given if p_given is not None else DEFAULT_EXPECTED_ERROR
    resolvable = resolvable_difference(n_dev, p)
    goal = delta if delta is not None else ADEQUATE_DIFFERENCE
    adequate = resolvable is not None and resolvable <= goal + 1e-12
    if not adequate and resolvable is not None:
        warn.append(f"dev has {n_dev} rows: at an error near {p:.0%} it resolves differences of "
                    f"{resolvable:.1%} or more (95%), not {goal:.1%}; "
                    f"{resolve_size(goal, p)} rows would be needed")
    return {"rows": n_dev, "expected_error": p, "resolvable_difference": resolvable, "goal": goal,
            "adequate": adequate}
