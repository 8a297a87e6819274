"""Human-level references: given as figures (``"expert team=0.5%"``) or measured from labels."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from mlstrat._exceptions import ConfigError, InputError
from mlstrat._numbers import did_you_mean, parse_rate
from mlstrat.diagnosis._results import HumanReference
from mlstrat.metrics._intervals import wilson_interval

__all__ = ["parse_human", "choose_bayes_proxy", "human_from_labels"]


def parse_human(human: Iterable[Any], *, parse: Callable[..., float] = parse_rate
                ) -> list[HumanReference]:
    """Parse ``--human`` values: ``"expert team=0.5%"``, ``"0.5%"``, ``0.005`` or ``(name, rate)``.

    A bare figure is named ``human``; names must be unique. ``parse`` reads the figure (a rate
    by default; a number in the metric's unit for regression and per-example metrics).
    """
    refs: list[HumanReference] = []
    for item in human:
        if isinstance(item, HumanReference):
            refs.append(item)
            continue
        if isinstance(item, tuple) and len(item) == 2:
            name, raw = str(item[0]).strip(), item[1]
        elif isinstance(item, str) and "=" in item:
            name, _, raw = item.rpartition("=")
            name = name.strip()
            if not name:
                raise ConfigError(
                    f'--human: {item!r} has an empty name; write "expert team=0.5%" or just 0.5%'
                )
        else:
            name, raw = "human", item
        value = parse(raw, name=f"--human {name}")
        refs.append(HumanReference(value=value, name=name))
    names = [r.name for r in refs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(
            f'--human: the name {dupes[0]!r} is given twice; name each reference ("expert=0.5%")'
        )
    return refs


def choose_bayes_proxy(refs: Sequence[HumanReference], bayes: str | None) -> HumanReference:
    """The best (lowest) reference, unless ``bayes`` names the one that matters for the goal."""
    if bayes is None:
        return min(refs, key=lambda r: r.value)
    for ref in refs:
        if ref.name == bayes:
            return ref
    names = [r.name for r in refs]
    raise ConfigError(
        f"--bayes: no human reference named {bayes!r}{did_you_mean(bayes, names)}; "
        f"references: {', '.join(names) or 'none'}"
    )


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def human_from_labels(
    labels: Any, predictions: Any, *, con: Any = None
) -> tuple[list[HumanReference], int]:
    """Human error measured on the predictions' examples: per annotator and by majority vote.

    Parameters
    ----------
    labels : path-like or table
        Columns ``id``, ``label`` and optionally ``annotator`` (one row per human label).
    predictions : Predictions
        The validated predictions table; its ``y_true`` (joined by ``id``) is the reference.

    Returns
    -------
    (references, unmatched) : list of HumanReference, int
        One reference per annotator (or ``human labels`` without an annotator column) and,
        when some example has several labels, ``majority vote`` (ties go to the label whose
        text sorts first). Each has a Wilson interval. ``unmatched``: label rows whose id is
        not in the predictions.
    """
    from mlstrat.tables import describe_source, read_table, require_columns

    source = describe_source(labels)
    table = read_table(labels, con=con, text_columns=("id",))
    require_columns(table, ["id", "label"], source=source)
    pred = predictions.table
    if "id" not in pred.columns:
        raise InputError(
            f"{predictions.source}: no 'id' column; --human-labels are joined to the "
            "predictions by id, so the predictions table needs one"
        )
    has_annotator = "annotator" in table.columns
    cols = ["id", "label"] + (["annotator"] if has_annotator else [])
    h = table.select(*cols).mutate(_hid=table.id.cast("string")).drop("id")
    p = pred.select(_pid=pred.id.cast("string"), y_true=pred.y_true)
    joined = h.left_join(p, h._hid == p._pid).to_pyarrow().to_pylist()
    if not joined:
        raise InputError(f"{source}: the human labels table has no rows")
    missing = sum(1 for r in joined if r["label"] is None)
    if missing:
        raise InputError(
            f"{source}: column 'label' has {missing} empty value(s); every row needs a label"
        )
    matched = [r for r in joined if r["_pid"] is not None]
    unmatched = len(joined) - len(matched)
    if not matched:
        raise InputError(
            f"{source}: none of its ids is in the predictions table; "
            "human labels must be for examples that have predictions (same id column)"
        )

    per_annotator: dict[str, list[bool]] = defaultdict(list)
    per_example: dict[str, list[str]] = defaultdict(list)
    truth: dict[str, str] = {}
    for r in matched:
        wrong = _text(r["label"]) != _text(r["y_true"])
        per_annotator[str(r["annotator"]) if has_annotator else ""].append(wrong)
        per_example[r["_hid"]].append(_text(r["label"]))
        truth[r["_hid"]] = _text(r["y_true"])

    refs: list[HumanReference] = []
    for annotator in sorted(per_annotator):
        flags = per_annotator[annotator]
        name = f"annotator {annotator}" if has_annotator else "human labels"
        refs.append(_measured(name, sum(flags), len(flags)))
    if any(len(v) > 1 for v in per_example.values()):
        wrong = 0
        for ex, votes in per_example.items():
            counts = Counter(votes)
            top = max(counts.values())
            winner = sorted(v for v, c in counts.items() if c == top)[0]
            wrong += winner != truth[ex]
        refs.append(_measured("majority vote", wrong, len(per_example)))
    return refs, unmatched


def _measured(name: str, errors: int, n: int) -> HumanReference:
    low, high = wilson_interval(errors, n)
    return HumanReference(value=errors / n, ci_low=low, ci_high=high, n=n, name=name)
