"""The split's engine work, written once as Ibis expressions (DuckDB and Spark compile them).

No SQL text and no quoting here: values (the target, the salt) enter as Ibis literals, which
each dialect quotes itself. Every function takes the :class:`~mlstrat.tables.Engine` and
returns either a small Python result or a lazy expression.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlstrat._constants import SPLITS
from mlstrat._exceptions import InputError

__all__ = [
    "Units", "validate", "read_lock", "count_units", "mixed_domain_groups", "draw_candidates",
    "group_label_counts", "drawn_table", "output", "split_counts", "groups_across_splits",
    "content_across_splits",
]


def _text(column: Any) -> Any:
    return column.cast("string")


def _lit(value: str) -> Any:
    import ibis

    return ibis.literal(value, type="string")


def _null_text() -> Any:
    import ibis

    return ibis.null().cast("string")


def validate(engine: Any, table: Any, *, source: str, id: str, domain: str | None,
             target: str | None) -> int:
    """Rows in the table; InputError on no rows, null or duplicate ids, an absent target."""
    n, nulls, suspects = _id_counts(engine, table, id=id)
    if n == 0:
        raise InputError(f"{source}: the table has no rows; a manifest needs one row per example")
    if nulls:
        raise InputError(f"{source}: column {id!r} has {nulls} empty id(s); every row needs a unique id "
                         "(fill or drop those rows)")
    if suspects:
        _check_duplicates(engine, table, suspects, source=source, id=id)
    if target is not None and domain is not None:
        _check_target(engine, table, source=source, domain=domain, target=target)
    return int(n)


def _id_counts(engine: Any, table: Any, *, id: str) -> tuple[int, int, list[Any]]:
    """Rows, null ids, and the 64-bit id hashes shared by several ids.

    A shared hash is only a suspect (confirmed on the text by :func:`_check_duplicates`, which
    the common case skips).
    """
    n, non_null = engine.rows(table.aggregate(n=table.count(), nn=table[id].count()))[0]
    n, nulls = int(n or 0), int(n or 0) - int(non_null or 0)
    if not n or nulls:
        return n, nulls, []
    return n, nulls, shared_hashes(engine, table, _text(table[id]), rows=n)


#: a local engine sorts up to this many 64-bit hashes in the process (8 bytes each): several
#: times less CPU than a hash table of them in the engine. Beyond, and on Spark (where the
#: values stay on the executors), the engine groups them.
SORT_IN_PROCESS = 50_000_000
#: below this many rows the engine groups them too: the in-process sort needs Arrow's NumPy
#: conversion, which imports pandas (~0.3 s), more than grouping a small table costs
SORT_IN_PROCESS_FROM = 1_000_000
#: at most this many shared hashes come back; more means duplicates (64-bit collisions are rare)
SHARED_HASHES = 1000


def shared_hashes(engine: Any, table: Any, value: Any, *, rows: int) -> list[Any]:
    """The 64-bit hashes of ``value`` (an expression on ``table``) that several non-null values share.

    Equal values share their hash, so no shared hash means every value is distinct; a shared
    hash may still be a collision of different values (confirm on the values). At most
    :data:`SHARED_HASHES` come back, the smallest first.
    """
    keyed = table.filter(value.notnull()).select(h=engine.hash64(value))
    if engine.kind == "spark" or not SORT_IN_PROCESS_FROM <= rows <= SORT_IN_PROCESS:
        per = keyed.group_by("h").aggregate(c=keyed.count())
        shared = per.filter(per.c > 1)
        return sorted(h for (h,) in engine.rows(shared.order_by("h").select("h").limit(SHARED_HASHES)))
    import numpy as np

    hashes = engine.to_arrow(keyed).column("h").to_numpy()
    if not hashes.flags.writeable:  # one chunk: Arrow's own buffer
        hashes = hashes.copy()
    hashes.sort()
    same = hashes[1:][hashes[1:] == hashes[:-1]]
    return np.unique(same)[:SHARED_HASHES].tolist()


def _check_duplicates(engine: Any, table: Any, suspects: list[Any], *, source: str, id: str) -> None:
    # confirmed on the text, among the ids whose hash is shared (all ids when many are)
    keyed = table.select(k=_text(table[id]), h=engine.hash64(_text(table[id])))
    doubles = keyed.filter(keyed.h.isin(suspects)) if len(suspects) < SHARED_HASHES else keyed
    counted = doubles.group_by("k").aggregate(c=doubles.count()).filter(lambda t: t.c > 1)
    dups = engine.rows(counted.order_by([counted.c.desc(), counted.k]).limit(3))
    if dups:
        shown = ", ".join(f"{k!r} x{c}" for k, c in dups)
        raise InputError(f"{source}: column {id!r} has duplicate ids ({shown}); ids must be unique "
                         "(deduplicate the manifest, or pass the right --id column)")


def _check_target(engine: Any, table: Any, *, source: str, domain: str, target: str) -> None:
    dom = _text(table[domain])
    if engine.scalar(table.filter(dom == _lit(target)).count()):
        return
    values_t = table.select(v=dom).distinct()
    values = [v for (v,) in engine.rows(values_t.order_by(values_t.v.asc(nulls_first=False)).limit(11))]
    shown = ", ".join(repr(v) for v in values[:10]) + (", ..." if len(values) > 10 else "")
    from mlstrat._numbers import did_you_mean

    hint = did_you_mean(target, [str(v) for v in values if v is not None])
    raise InputError(f"{source}: target {target!r} does not occur in column {domain!r}{hint}; "
                     f"values found: {shown}")


def read_lock(engine: Any, lock: Any, *, id: str, manifest: Any) -> tuple[Any, dict[str, Any]]:
    """The lock as ``lid``, ``lsplit`` (materialized), and what it holds; InputError when bad."""
    from mlstrat.tables import describe_source, read_table, require_columns

    name = describe_source(lock)
    raw = read_table(lock, con=engine, text_columns=(id,))
    require_columns(raw, [id, "split"], source=name, role="lock column")
    table = engine.materialize(raw.select(lid=_text(raw[id]), lsplit=_text(raw.split)))
    bad_t = table.filter(table.lsplit.isnull() | ~table.lsplit.isin(list(SPLITS)))
    bad_t = bad_t.group_by("lsplit").aggregate(n=bad_t.count())
    bad = engine.rows(bad_t.order_by(bad_t.lsplit.asc(nulls_first=True)).limit(3))
    if bad:
        shown = ", ".join(repr(v) for v, _ in bad)
        raise InputError(f"{name}: column 'split' of the lock has value(s) {shown}; allowed: {', '.join(SPLITS)}")
    dups_t = table.group_by("lid").aggregate(c=table.count()).filter(lambda t: t.c > 1)
    dups = engine.rows(dups_t.select("lid").order_by("lid").limit(3))
    if dups:
        raise InputError(f"{name}: the lock lists id {dups[0][0]!r} more than once; a lock has one row per id")
    ids = manifest.select(mid=_text(manifest[id]))
    n_lock, gone = engine.rows(table.aggregate(
        n=table.count(), gone=(~table.lid.isin(ids.mid)).cast("int64").sum()))[0]
    return table, {"source": name, "rows": int(n_lock), "missing_from_manifest": int(gone or 0)}


@dataclass(frozen=True)
class Units:
    """The assignment units and their strata.

    Attributes
    ----------
    rows : ibis.Table
        One row per manifest row: ``id_txt``, ``key`` (group or id text), ``lab``, ``dom``,
        ``elig`` (may go to dev/test), ``lsplit`` (its locked split or null).
    units : ibis.Table
        One row per unit (a row, or a whole group): ``key``, ``tie``, ``size``, ``elig``,
        ``dom``, ``lab`` (null when the group mixes them), ``lsplit``, ``h`` (its hash, drawn
        once for a group); with groups also ``n_elig``, the group's target rows.
    strata : dict
        ``(elig, dom, lab)`` -> rows, new rows, new units, rows locked per split.
    labels : tuple of str, optional
        With groups and labels (at most :data:`LABEL_COLUMNS` of them): the label values, whose
        rows per unit are the columns ``_n0``, ``_n1``, ... of ``units`` (``_nnull``: rows
        without a label); ``None`` otherwise.
    """

    rows: Any
    units: Any
    strata: dict[tuple[Any, ...], dict[str, Any]]
    labels: tuple[str, ...] | None = None


#: labelled groups carry their rows per label as columns of the unit table when there are at most
#: this many labels: the placement then reads its input from the units, without joining the rows
#: to them again. With more labels, the join.
LABEL_COLUMNS = 64


def count_units(engine: Any, table: Any, *, id: str, label: str | None, domain: str | None,
                group: str | None, target: str | None, mix: bool, lock: Any, salt: str) -> Units:
    """Rows -> units (with ``h``, their hash) -> per-stratum counts (one aggregation in the engine)."""
    from mlstrat.tables import unit_hash

    rows = _rows(table, id=id, label=label, domain=domain, group=group, target=target, mix=mix, lock=lock)
    import ibis

    labels = _label_values(engine, rows) if group and label else None
    units = _grouped_units(engine, rows, labels, locked=lock is not None, salt=salt) if group else rows.select(
        "key", tie=rows.id_txt, size=ibis.literal(1, type="int64"), elig=rows.elig, dom=rows.dom,
        lab=rows.lab, lsplit=rows.lsplit, h=unit_hash(engine, rows.key, salt))
    stats = units.group_by(["elig", "dom", "lab", "lsplit"]).aggregate(
        n_rows=units.size.cast("int64").sum(), n_units=units.count())
    return Units(rows=rows, units=units, strata=_strata(engine.rows(stats)), labels=labels)


def _label_values(engine: Any, rows: Any) -> tuple[str, ...] | None:
    """The label values (as text), or ``None`` when there are more than :data:`LABEL_COLUMNS`."""
    known = rows.filter(rows.lab.notnull()).select("lab").distinct()
    found = sorted(v for (v,) in engine.rows(known.limit(LABEL_COLUMNS + 1)))
    return tuple(found) if len(found) <= LABEL_COLUMNS else None


def _rows(table: Any, *, id: str, label: str | None, domain: str | None, group: str | None,
          target: str | None, mix: bool, lock: Any) -> Any:
    import ibis

    id_txt = _text(table[id])
    key = _text(table[group]).coalesce(id_txt) if group else id_txt
    dom = _text(table[domain]) if domain else _null_text()
    elig = (dom == _lit(target)).coalesce(False) if target is not None and not mix else ibis.literal(True)
    rows = table.select(id_txt=id_txt, key=key, lab=_text(table[label]) if label else _null_text(),
                        dom=dom, elig=elig)
    if lock is None:
        return rows.mutate(lsplit=_null_text())
    joined = rows.left_join(lock, rows.id_txt == lock.lid)
    return joined.select("id_txt", "key", "lab", "dom", "elig", "lsplit")


def _grouped_units(engine: Any, rows: Any, labels: tuple[str, ...] | None, *, locked: bool, salt: str) -> Any:
    # A group may go to dev/test only when every row is a target row. Its stratum is its domain
    # and label when all its rows share them, else null ("mixed"): min/max keep this one
    # cheap hash aggregation even for millions of groups.
    # ``n_elig`` (its target rows) serves the mixed-domain warning without a second pass; the
    # rows per label (``labels``) serve the labelled placement, and give the group's label.
    from mlstrat.tables import unit_hash

    per_label = {name: rows.count(where=hit) for name, hit in _label_columns(rows.lab, labels).items()}
    same_label = {} if labels is not None else {"lmin": rows.lab.min(), "lmax": rows.lab.max()}
    g = rows.group_by("key").aggregate(
        size=rows.count(), n_elig=rows.elig.cast("int64").sum(), dmin=rows.dom.min(), dmax=rows.dom.max(),
        **same_label, **({"lsplit": rows.lsplit.min()} if locked else {}), **per_label)
    lab = _one_label(g, labels) if labels is not None else (g.lmin == g.lmax).ifelse(g.lmin, _null_text())
    return engine.materialize(g.select(
        "key", tie=g.key, size=g.size, elig=g.n_elig == g.size,
        dom=(g.dmin == g.dmax).ifelse(g.dmin, _null_text()),
        lab=lab, lsplit=g.lsplit if locked else _null_text(), n_elig=g.n_elig, h=unit_hash(engine, g.key, salt),
        *per_label))


def _label_columns(lab: Any, labels: tuple[str, ...] | None) -> dict[str, Any]:
    """``_n{i}``: the row holds ``labels[i]``; ``_nnull``: it holds no label."""
    if labels is None:
        return {}
    return {"_nnull": lab.isnull(), **{f"_n{i}": lab == _lit(v) for i, v in enumerate(labels)}}


def _one_label(g: Any, labels: tuple[str, ...]) -> Any:
    """The label of a group whose labelled rows all hold one (empty labels aside), else null."""
    import ibis

    held = [g[f"_n{i}"] > 0 for i in range(len(labels))]
    if not held:
        return _null_text()
    count = sum((h.cast("int64") for h in held[1:]), held[0].cast("int64"))
    named = [h.ifelse(_lit(v), _null_text()) for h, v in zip(held, labels)]
    which = ibis.coalesce(*named) if len(named) > 1 else named[0]
    return (count == 1).ifelse(which, _null_text())


def _strata(stats: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], dict[str, Any]]:
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


def mixed_domain_groups(engine: Any, units: Units) -> tuple[int, int]:
    """Target rows (and their groups) kept out of dev/test because the group mixes domains."""
    u = units.units
    kept = u.filter(~u.elig & (u.n_elig > 0))
    n_rows, n_groups = engine.rows(kept.aggregate(n=kept.n_elig.sum(), g=kept.count()))[0]
    return int(n_rows or 0), int(n_groups)


def _plan_table(engine: Any, plan: Sequence[tuple[Any, ...]]) -> Any:
    cols = list(zip(*plan)) if plan else [()] * 5
    return engine.from_columns({
        "pelig": ("boolean", list(cols[0])), "pdom": ("string", list(cols[1])),
        "plab": ("string", list(cols[2])), "pneed": ("int64", list(cols[3])),
        "theta": ("float64", list(cols[4])),
    })


def draw_candidates(engine: Any, units: Any, plan: Sequence[tuple[Any, ...]]) -> Any:
    """New units whose hash lies below their stratum's ``theta``, with ``c0``: the rows before
    them in ``(u, key, tie)`` order within the stratum. Materialized (read twice).

    ``plan`` rows: ``(elig, dom, lab, rows needed, theta)``.
    """
    import ibis

    p = _plan_table(engine, plan)
    new = units.filter(units.lsplit.isnull())
    j = new.join(p, [new.elig == p.pelig, new.dom.identical_to(p.pdom), new.lab.identical_to(p.plab)])
    j = j.filter(j.h < j.theta)
    window = ibis.cumulative_window(group_by=[j.elig, j.dom, j.lab], order_by=[j.h, j.key, j.tie])
    cand = j.select("elig", "dom", "lab", "key", "size", c0=(j.size.sum().over(window) - j.size).cast("int64"))
    return engine.materialize(cand)


def candidate_rows(engine: Any, cand: Any) -> tuple[dict[tuple[Any, ...], int], list[tuple[Any, ...]]]:
    """Rows drawn per stratum, and the candidates ``(elig, dom, lab, key, size, c0)`` in stratum
    then ``c0`` order (strata: false before true, nulls last)."""
    got_t = cand.group_by(["elig", "dom", "lab"]).aggregate(got=cand.size.cast("int64").sum())
    got = {(bool(e), d, lab): int(n) for e, d, lab, n in engine.rows(got_t)}
    rows = engine.rows(cand.select("elig", "dom", "lab", "key", "size", "c0"))
    rows.sort(key=lambda r: (bool(r[0]), r[1] is None, r[1] or "", r[2] is None, r[2] or "", r[5]))
    return got, rows


def group_label_counts(engine: Any, units: Units, plan: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The greedy placement's input: ``(elig, dom, lab, key, u, row label, rows)``.

    Units of a planned stratum whose hash lies below its ``theta`` (the pool) come one row per
    unit and row label; the other new units of that stratum stay in train, and their rows come
    summed per stratum and row label, with a null ``key`` and ``u`` (they only weigh in the
    label shares the placement aims at). ``plan`` rows: ``(elig, dom, lab, rows needed, theta)``.
    """
    import ibis

    p = _plan_table(engine, plan)
    u = units.units.filter(units.units.lsplit.isnull())
    u = u.join(p, [u.elig == p.pelig, u.dom.identical_to(p.pdom), u.lab.identical_to(p.plab)])
    if units.labels is not None:
        return _counts_from_label_columns(engine, u, units.labels)
    pooled = u.h < u.theta
    u = u.select(uelig="elig", udom="dom", ulab="lab", ukey="key", pkey=pooled.ifelse(u.key, _null_text()),
                 ph=pooled.ifelse(u.h, ibis.null().cast("float64")))
    j = units.rows.join(u, units.rows.key == u.ukey)
    counts = j.group_by(["uelig", "udom", "ulab", "pkey", "ph", "lab"]).aggregate(n=j.count())
    return engine.rows(counts)


def _counts_from_label_columns(engine: Any, u: Any, labels: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """:func:`group_label_counts` from the units' rows per label: the pool's units as they are,
    the others summed per stratum (``u``: the planned new units with their ``h`` and ``theta``)."""
    names = ["_nnull", *(f"_n{i}" for i in range(len(labels)))]
    values = [None, *labels]
    pool = u.filter(u.h < u.theta).select("elig", "dom", "lab", "key", "h", *names)
    rest = u.filter(u.h >= u.theta)
    summed = rest.group_by(["elig", "dom", "lab"]).aggregate(**{n: rest[n].sum() for n in names})
    counts = []
    for row in engine.rows(pool):
        counts += [(*row[:5], lab, int(n)) for lab, n in zip(values, row[5:]) if n]
    for row in engine.rows(summed):
        counts += [(*row[:3], None, None, lab, int(n)) for lab, n in zip(values, row[3:]) if n]
    return counts


def drawn_table(engine: Any, keys: list[str], splits: list[str], *, units: Any, grouped: bool) -> Any:
    """``key`` -> ``split`` of the units that leave train (locked groups' new rows follow the group)."""
    drawn = engine.from_columns({"dkey": ("string", keys), "dsplit": ("string", splits)})
    if not grouped:
        return drawn
    locked = units.filter(units.lsplit.notnull() & (units.lsplit != _lit("train")))
    return drawn.union(locked.select(dkey=locked.key, dsplit=locked.lsplit))


def output(table: Any, drawn: Any, lock: Any, *, id: str, group: str | None) -> Any:
    """Every input column (but an old ``split``) plus the assigned ``split``."""
    keep = [c for c in table.columns if c != "split"]
    id_txt = _text(table[id])
    key = _text(table[group]).coalesce(id_txt) if group else id_txt
    base = table.mutate(_mlstrat_key=key, _mlstrat_id=id_txt)
    out = base.left_join(drawn, base._mlstrat_key == drawn.dkey)
    assigned = out.dsplit
    if lock is not None:
        lk = lock.select(_mlstrat_lid="lid", _mlstrat_lsplit="lsplit")
        out = out.left_join(lk, out._mlstrat_id == lk._mlstrat_lid)
        assigned = out._mlstrat_lsplit.coalesce(out.dsplit)
    return out.select(*keep, split=assigned.coalesce(_lit("train")))


def split_counts(engine: Any, out: Any, *, label: str | None, domain: str | None) -> list[tuple[Any, ...]]:
    """``(split, domain, label, rows)`` of the output."""
    cols = {"split": out.split}
    if domain:
        cols["d"] = _text(out[domain])
    if label:
        cols["l"] = _text(out[label])
    keyed = out.select(**cols)
    counts = engine.rows(keyed.group_by(list(cols)).aggregate(n=keyed.count()))
    return [(r[0], r[1] if domain else None, r[-2] if label else None, int(r[-1])) for r in counts]


#: values named per kind of leakage (groups, content); the counts cover every one
LEAK_EXAMPLES = 20


def groups_across_splits(engine: Any, out: Any, *, group: str) -> tuple[int, list[str]]:
    """(groups in several splits, the first :data:`LEAK_EXAMPLES` of them by name): counted by the
    engine, so that only the examples reach this process."""
    g = out.select(g=_text(out[group]), split=out.split)
    across = g.group_by("g").aggregate(s=g.split.nunique()).filter(lambda t: t.s > 1)
    n = int(engine.scalar(across.count()))
    first = across.select("g").order_by(across.g.asc(nulls_first=False)).limit(LEAK_EXAMPLES)
    return n, [r[0] for r in engine.rows(first)] if n else []


def content_across_splits(engine: Any, out: Any, *, content: list[str]) -> tuple[int, list[tuple[Any, ...]]]:
    """(values present in several splits, ``(values, splits, rows)`` of the first
    :data:`LEAK_EXAMPLES`, most rows first): counted by the engine."""
    flags = {f"in_{s}": (out.split == _lit(s)).cast("int64").max() for s in SPLITS}
    agg = out.group_by(content).aggregate(n=out.count(), **flags)
    shared = agg.filter(sum(agg[f] for f in flags) > 1)
    total = int(engine.scalar(shared.count()))
    order = [shared.n.desc(), *(shared[f].desc() for f in flags), *(shared[c].asc(nulls_first=False) for c in content)]
    found = engine.rows(shared.order_by(order).limit(LEAK_EXAMPLES)) if total else []
    result = []
    for row in found:
        values, n, present = row[:len(content)], int(row[len(content)]), row[len(content) + 1:]
        splits = sorted(s for s, f in zip(SPLITS, present) if f)
        result.append((values, splits, n))
    result.sort(key=lambda r: (-r[2], r[1], [(v is None, str(v)) for v in r[0]]))
    return total, result
