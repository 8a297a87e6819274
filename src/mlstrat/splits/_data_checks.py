"""Data checks before the split: what in a manifest is worth fixing before it is divided.

Every figure is an aggregate the engine computes (DuckDB or Spark through Ibis): counts,
distinct-count estimates, medians, grouped counts. No value reaches Python (on DuckDB the
64-bit hashes of a column of nearly all distinct values do, to be sorted), so a manifest of
any size is checked in a few passes over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlstrat.display._repr import NotebookRepr

__all__ = ["CHECKS", "IMBALANCE_RATIO", "MAD_SCALE", "OUTLIER_Z", "DataChecks", "Finding", "check_table"]

#: the checks, in the order they are reported (the names ``--fail-on`` takes)
CHECKS = ("nulls", "constant", "all_unique", "label_imbalance", "label_one_domain", "duplicates",
          "duplicates_in_train", "outliers", "label_like_id")
#: a label is imbalanced when its smallest class has fewer rows than this share of the largest
IMBALANCE_RATIO = 0.05
#: a value is an outlier when |x - median| / (MAD_SCALE * MAD) exceeds this robust z-score
OUTLIER_Z = 5.0
#: makes the median absolute deviation estimate the standard deviation of normal data
MAD_SCALE = 1.4826
#: at most this many values named as examples in a finding
_EXAMPLES = 5
#: findings of one check listed in :meth:`DataChecks.to_dict` (a wide table can have thousands of
#: outlier columns); ``counts`` and ``findings_left_out`` cover the others
FINDINGS_PER_CHECK = 20


@dataclass(frozen=True)
class Finding:
    """One thing found: which check, on which column, how many rows, and what to do about it."""

    check: str
    column: str | None
    count: int
    message: str
    fix: str

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "column": self.column, "count": self.count,
                "message": self.message, "fix": self.fix}


@dataclass(frozen=True)
class DataChecks(NotebookRepr):
    """What :func:`check_table` found in a manifest.

    Attributes
    ----------
    source : str
        The input's file name or type, for messages.
    rows : int
        Rows in the manifest.
    columns : tuple of str
        Its columns, in order.
    findings : tuple of Finding
        Everything found, in the order of :data:`CHECKS`; empty when the data looks clean.
    """

    source: str
    rows: int
    columns: tuple[str, ...]
    findings: tuple[Finding, ...]

    def found(self, check: str) -> tuple[Finding, ...]:
        """The findings of one check (see :data:`CHECKS`)."""
        return tuple(f for f in self.findings if f.check == check)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows": self.rows,
            "columns": list(self.columns),
            "thresholds": {"imbalance_ratio": IMBALANCE_RATIO, "outlier_z": OUTLIER_Z, "mad_scale": MAD_SCALE},
            "counts": {c: sum(f.count for f in self.found(c)) for c in CHECKS},
            "findings": [f.to_dict() for c in CHECKS for f in self.found(c)[:FINDINGS_PER_CHECK]],
            "findings_per_check": FINDINGS_PER_CHECK,
            "findings_left_out": {c: len(self.found(c)) - FINDINGS_PER_CHECK for c in CHECKS
                                  if len(self.found(c)) > FINDINGS_PER_CHECK},
        }


def check_table(manifest: Any, *, id: str | None = "id", label: str | None = None,
                domain: str | None = None, group: str | None = None, con: Any = None) -> DataChecks:
    """Check a manifest before splitting it: nulls, constant and all-unique columns, label
    imbalance, labels in one domain only, exact duplicate rows, numeric outliers and a label
    that looks like an id.

    Parameters
    ----------
    manifest : path-like, URI or in-memory table
        Anything :func:`mlstrat.tables.read_table` reads.
    id : str or None, default="id"
        The id column: never counted as all-unique, left out of duplicates and outliers.
    label, domain, group : str, default=None
        The label, domain and group columns; the label and domain checks run when given.
    con : engine, default=None
        The engine (see :func:`mlstrat.connect`); the process-wide one by default.

    Returns
    -------
    DataChecks

    Raises
    ------
    InputError
        When the manifest cannot be read or a named column is missing.
    """
    from mlstrat.tables import describe_source, engine_of, read_table, require_columns

    engine = engine_of(con)
    source = describe_source(manifest)
    table = read_table(manifest, con=engine, text_columns=(id, group))
    for role, col in (("id column", id), ("label column", label), ("domain column", domain),
                      ("group column", group)):
        require_columns(table, [col], source=source, role=role)
    columns = list(table.columns)
    profile = _profile(engine, table, columns, id=id)
    rows = profile["rows"]
    findings = [*_column_findings(table, columns, profile, id=id)]
    if label is not None and rows:
        findings += _label_findings(engine, table, label, domain, profile)
    findings += _duplicate_findings(engine, table, columns, id=id, profile=profile)
    findings += _outlier_findings(engine, table, _numeric_columns(table, columns, id=id))
    order = {c: i for i, c in enumerate(CHECKS)}
    findings.sort(key=lambda f: order[f.check])  # stable: columns stay in table order
    return DataChecks(source=source, rows=rows, columns=tuple(columns), findings=tuple(findings))


#: a column's exact distinct count is computed only where a check turns on it: when the
#: estimate is below this (is it constant? one domain or several?) ...
FEW_VALUES = 1000
#: ... or at least this share of its values (are they all distinct?). In between, the column is
#: neither constant nor all-unique, whatever the exact count (estimates err by a few percent).
NEAR_UNIQUE = 0.5


def _profile(engine: Any, table: Any, columns: list[str], *, id: str | None) -> dict[str, Any]:
    """Rows, and per column its non-null count and its distinct count where a check needs it
    (``None``: many values, some repeated), from one pass of counts and distinct-count estimates.

    Exact distinct counts of columns of millions of values would cost more than the split
    itself; the estimate (HyperLogLog) tells which columns need one. The id's only matters when
    few (a constant id): it is never reported as all-unique.
    """
    metrics = {"rows": table.count()}
    for i, col in enumerate(columns):  # positional names: any column name is safe
        metrics[f"n{i}"] = table[col].count()
        metrics[f"a{i}"] = table[col].approx_nunique()
    (values,) = engine.rows(table.aggregate(**metrics))
    got = dict(zip(metrics, values))
    rows = int(got["rows"])
    non_null = {c: int(got[f"n{i}"]) for i, c in enumerate(columns)}
    estimate = {c: int(got[f"a{i}"] or 0) for i, c in enumerate(columns)}
    few = [c for c in columns if estimate[c] < FEW_VALUES]
    distinct: dict[str, int | None] = dict.fromkeys(columns)
    distinct.update(_exact_distinct(engine, table, few))
    for col in columns:
        if col not in few and col != id and estimate[col] >= NEAR_UNIQUE * non_null[col]:
            distinct[col] = non_null[col] if _all_distinct(engine, table, col, rows=rows) else None
    return {"rows": rows, "non_null": non_null, "distinct": distinct}


def _exact_distinct(engine: Any, table: Any, columns: list[str]) -> dict[str, int]:
    if not columns:
        return {}
    (values,) = engine.rows(table.aggregate(**{f"u{i}": table[c].nunique() for i, c in enumerate(columns)}))
    return {c: int(v) for c, v in zip(columns, values)}


def _all_distinct(engine: Any, table: Any, col: str, *, rows: int) -> bool:
    """Whether the non-null values of ``col`` are all distinct: their 64-bit hashes first, the
    values themselves only where hashes are shared."""
    from mlstrat.splits._queries import SHARED_HASHES, shared_hashes

    if table.schema()[col].is_floating():  # -0.0 and 0.0 are one value with two hashes
        return _exact_distinct(engine, table, [col])[col] == engine.scalar(table[col].count())
    shared = shared_hashes(engine, table, table[col], rows=rows)
    if not shared:
        return True
    known = table.filter(table[col].notnull())
    if len(shared) < SHARED_HASHES:
        known = known.filter(engine.hash64(known[col]).isin(shared))
    repeated = known.group_by(v=known[col]).aggregate(c=known.count()).filter(lambda t: t.c > 1)
    return not engine.rows(repeated.select("c").limit(1))


def _column_findings(table: Any, columns: list[str], profile: dict[str, Any], *, id: str | None) -> list[Finding]:
    rows = profile["rows"]
    out = []
    for col in columns:
        nulls = rows - profile["non_null"][col]
        if nulls:
            out.append(Finding("nulls", col, nulls, f"{nulls:,} of {rows:,} rows have no {col!r}",
                               "fill or drop the missing values, or drop the column"))
    for col in columns:
        distinct = profile["distinct"][col]
        if rows >= 2 and distinct is not None and distinct <= 1:
            what = "holds one value" if distinct else "is empty"
            out.append(Finding("constant", col, rows, f"{col!r} {what} in all {rows:,} rows",
                               "drop the column: it tells the examples apart in nothing"))
    for col in columns:
        dtype = table.schema()[col]
        if (col != id and rows >= 2 and not dtype.is_floating() and not dtype.is_decimal()
                and profile["distinct"][col] == rows):
            out.append(Finding("all_unique", col, rows, f"{col!r} has a different value in each of the "
                               f"{rows:,} rows: a likely id or free text",
                               "use it as --id, or leave it out of the features"))
    return out


def _label_findings(engine: Any, table: Any, label: str, domain: str | None,
                    profile: dict[str, Any]) -> list[Finding]:
    labelled = profile["non_null"][label]
    if labelled >= 2 and profile["distinct"][label] == labelled:
        return [Finding("label_like_id", label, labelled, f"label {label!r} has a different value in each of "
                        f"its {labelled:,} rows: it looks like an id, not a class",
                        "pass the class column as --label")]
    out = []
    known = table.filter(table[label].notnull())
    counts = known.group_by(lab=known[label].cast("string")).aggregate(k=known.count())
    smallest = engine.rows(counts.order_by(["k", "lab"]).limit(1))
    largest = engine.scalar(counts.k.max())
    if smallest and largest:
        name, k = smallest[0]
        if k < IMBALANCE_RATIO * largest:
            out.append(Finding("label_imbalance", label, int(k),
                               f"smallest class {name!r} has {k:,} rows, {k / largest:.1%} of the largest "
                               f"({largest:,}; flagged below {IMBALANCE_RATIO:.0%})",
                               "collect more of it, or weigh or resample it in training; "
                               "report per-class metrics"))
    domains = profile["distinct"][domain] if domain is not None else 0
    if domains is None or domains >= 2:
        out += _one_domain_labels(engine, table, label, domain)
    return out


def _one_domain_labels(engine: Any, table: Any, label: str, domain: str) -> list[Finding]:
    known = table.filter(table[label].notnull() & table[domain].notnull())
    per_label = known.group_by(lab=known[label].cast("string")).aggregate(d=known[domain].nunique())
    lonely = per_label.filter(per_label.d == 1)
    count = int(engine.scalar(lonely.count()))
    if not count:
        return []
    names = [r[0] for r in engine.rows(lonely.select("lab").order_by("lab").limit(_EXAMPLES))]
    shown = ", ".join(map(repr, names)) + (", ..." if count > len(names) else "")
    return [Finding("label_one_domain", label, count, f"{count:,} label value(s) occur in one domain only: {shown}",
                    "a model can learn the domain for the label: collect them in the other domains, "
                    "or read their metrics per domain")]


def _duplicate_findings(engine: Any, table: Any, columns: list[str], *, id: str | None,
                        profile: dict[str, Any]) -> list[Finding]:
    content = [c for c in columns if c not in (id, "split")]
    rows = profile["rows"]
    if not content or rows < 2 or any(profile["distinct"][c] == rows for c in content):
        return []  # a column of distinct values (a path, a hash) tells every row apart
    out = []
    copies = rows - int(engine.scalar(table.select(content).distinct().count()))
    if copies:
        out.append(Finding("duplicates", None, copies, f"{copies:,} row(s) repeat an earlier row in every column "
                           "but the id", "drop the copies, or split with --content so copies share a split"))
    if "split" in columns:
        from mlstrat.tables import map_split_aliases

        mapped = map_split_aliases(table, source="split").table
        train = mapped.filter(mapped.split.cast("string") == "train")
        n_train = int(engine.scalar(train.count()))
        in_train = n_train - int(engine.scalar(train.select(content).distinct().count()))
        if in_train:
            out.append(Finding("duplicates_in_train", None, in_train,
                               f"{in_train:,} train row(s) repeat an earlier train row",
                               "drop the copies: they weigh those examples twice"))
    return out


def _numeric_columns(table: Any, columns: list[str], *, id: str | None) -> list[str]:
    schema = table.schema()
    return [c for c in columns if c not in (id, "split") and schema[c].is_numeric() and not schema[c].is_boolean()]


def _outlier_findings(engine: Any, table: Any, columns: list[str]) -> list[Finding]:
    """Robust z-score per numeric column: |x - median| / (1.4826 MAD) > 5, in three passes."""
    if not columns:
        return []
    names = {f"c{i}": col for i, col in enumerate(columns)}
    values = {k: table[c].cast("float64") for k, c in names.items()}
    (medians,) = engine.rows(table.aggregate(**{k: v.median() for k, v in values.items()}))
    median = dict(zip(names, medians))
    live = [k for k in names if median[k] is not None]
    if not live:
        return []
    (mads,) = engine.rows(table.aggregate(**{k: (values[k] - median[k]).abs().median() for k in live}))
    mad = {k: m for k, m in zip(live, mads) if m}  # MAD 0: most values equal, z undefined
    if not mad:
        return []
    far = {k: ((values[k] - median[k]).abs() > OUTLIER_Z * MAD_SCALE * mad[k]).cast("int64").sum() for k in mad}
    (counts,) = engine.rows(table.aggregate(**far))
    out = []
    for k, n in zip(far, counts):
        if n:
            col = names[k]
            out.append(Finding("outliers", col, int(n), f"{int(n):,} value(s) of {col!r} lie more than {OUTLIER_Z:g} "
                               f"robust standard deviations from its median {median[k]:.6g} (MAD {mad[k]:.6g})",
                               "check them for unit or entry errors; fix, clip or drop them"))
    return out
