"""The report's learning-rate range test section, read from what the run recorded.

An ``lr-find`` run keeps the test as its metrics document (``{"lr_find": ...}``); a training run
whose config said ``lr = "find"`` keeps the same summary in ``history.json`` and in its metrics
document (``nn/_lr_find.py`` and ``runs/_record.py`` write both). The curve points are thinned
when recorded; a summary without them (recorded by an older version) still shows the suggestion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlstrat._numbers import finite_or_none

__all__ = ["lr_find_section"]

#: how the suggestion was chosen, in words, by the recorded ``method``
_METHODS = {"steepest": "the steepest descent of the smoothed loss against log(lr), before its minimum"}
#: why the test ended, by the recorded ``stopped``
_STOPPED = {"diverged": "the smoothed loss passed {diverge} times its minimum", "end_lr": "every step ran"}


def recorded_lr_find(metrics: Mapping[str, Any] | None, history: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The recorded range test of a run: its metrics document's ``lr_find``, else its history's."""
    for doc in (metrics, history):
        found = (doc or {}).get("lr_find") if isinstance(doc, Mapping) else None
        if isinstance(found, Mapping):
            return dict(found)
    return None


def lr_find_section(metrics: Mapping[str, Any] | None, history: Mapping[str, Any] | None, *,
                    kind: str | None) -> dict[str, Any] | None:
    """The section's content: the suggestion, how it was chosen, and the chart.

    Parameters
    ----------
    metrics, history : mapping or None
        The reported run's metrics document and training history.
    kind : str or None
        The reported run's kind (``"lr-find"`` for the test alone); ``None`` without a run.

    Returns
    -------
    dict or None
        ``None`` when neither document holds a range test with a finite suggestion.
    """
    found = recorded_lr_find(metrics, history)
    suggestion = finite_or_none((found or {}).get("suggestion"))
    if found is None or suggestion is None:
        return None
    method = str(found.get("method") or "")
    settings = found.get("settings") if isinstance(found.get("settings"), Mapping) else {}
    return {
        "suggestion": f"{suggestion:.3g}",
        "how": _METHODS.get(method, method or "not recorded"),
        "min_lr": _lr_text(found.get("min_lr")),
        "steps": found.get("steps") if isinstance(found.get("steps"), int) else None,
        "stopped": _stopped_text(found.get("stopped"), settings),
        "range": _range(found, settings),
        "trained": kind != "lr-find",
        "svg": _chart(found),
    }


def _lr_text(value: Any) -> str | None:
    number = finite_or_none(value)
    return None if number is None else f"{number:.3g}"


def _range(found: Mapping[str, Any], settings: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The first and last learning rates the test ran (the curve's ends, else the settings')."""
    lrs = found.get("lrs")
    if isinstance(lrs, list) and lrs:
        return _lr_text(lrs[0]), _lr_text(lrs[-1])
    return _lr_text(settings.get("start_lr")), _lr_text(settings.get("end_lr"))


def _stopped_text(stopped: Any, settings: Mapping[str, Any]) -> str | None:
    if not stopped:
        return None
    diverge = finite_or_none(settings.get("diverge"))
    text = _STOPPED.get(str(stopped), str(stopped))
    return text.format(diverge=f"{diverge:g}" if diverge is not None else "several")


def _chart(found: Mapping[str, Any]) -> str | None:
    """The loss against the learning rate, when the curve was recorded."""
    from mlstrat.display._decision_charts import lr_find_svg

    lrs = found.get("lrs")
    if not isinstance(lrs, list) or len(lrs) < 2:
        return None
    return lr_find_svg(found)
