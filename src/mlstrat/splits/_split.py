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

Steps 3 and 4 live in :mod:`._draw`, step 5 in :mod:`._summary`; the request and the result
in :mod:`._request` and :mod:`._result`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

from mlstrat._exceptions import InputError, MlstratWarning
from mlstrat._progress import Steps
from mlstrat.splits import _queries as q
from mlstrat.splits._draw import _allocate, _draw
from mlstrat.splits._hashing import DEFAULT_SALT
from mlstrat.splits._request import SplitSpec
from mlstrat.splits._result import SplitResult
from mlstrat.splits._summary import _lead_warnings, _ordered, _policy, _summarize

__all__ = ["split"]


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
    near_duplicates: str | Sequence[str] | None = None,
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
    near_duplicates : str or sequence of str, default=None
        Columns searched for near-duplicate content across splits (and inside train): text
        columns by Jaccard of shingles, columns of image paths by perceptual hash, numeric
        columns together once rounded (see :func:`find_near_duplicates` for the thresholds).
        Near-duplicates in two splits are reported as leakage.
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
                           expected_error=expected_error, near_duplicates=near_duplicates)
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
    require_columns(table, spec.near, source=spec.source, role="near-duplicate column",
                    arguments=dict.fromkeys(spec.near, "near_duplicates"))
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
                          target=spec.target, mix=spec.mix, lock=lock_table, salt=spec.salt)
    if spec.target is not None and not spec.mix and spec.grouped:
        n_rows, n_groups = q.mixed_domain_groups(engine, units)
        if n_rows:
            warn.append(f"{n_rows} {spec.target!r} row(s) in {n_groups} group(s) that also hold other domains "
                        "stay in train/train-dev so that dev/test remain pure target rows")
    return units
