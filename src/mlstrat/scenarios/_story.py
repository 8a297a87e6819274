"""What the demo's report shows beyond one run: the loop told in order, the last run's
probability curves and its worst dev mistakes with their examples."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlstrat._exceptions import MlstratError, MlstratWarning

__all__ = ["demo_report_parts"]


def demo_report_parts(iterations: Sequence[Any], steps: dict[str, Any],
                      changes: list[dict[str, Any]]) -> dict[str, Any]:
    """``render_report`` keywords: ``story``, ``curves``, ``top_losses`` and ``size_curve``.

    The curves and the mistakes come from the last iteration that has a predictions table;
    the learning curve against training-set size is the one the demo computed (its
    ``curve`` step). A part whose data is missing is left out (``None``), the report goes on
    without it.
    """
    story = {"iterations": [{"name": it.name, "run": it.run_id[:8], "diagnosis": it.diagnosis}
                            for it in iterations],
             "changes": changes, "mismatch": _mismatch(steps.get("mismatch")), "synthesis": steps.get("synth"),
             "notes": _notes(steps)}
    size_curve = (steps.get("curve") or {}).get("curve")
    predictions = next((Path(it.predictions) for it in reversed(iterations)
                        if it.predictions and Path(it.predictions).is_file()), None)
    if predictions is None:
        return {"story": story, "curves": None, "top_losses": None, "size_curve": size_curve}
    from mlstrat.report._proba import probability_curves
    from mlstrat.report._top_losses import top_losses

    data = _data_config(iterations, predictions, steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlstratWarning)
        try:
            curves = probability_curves(predictions)
        except MlstratError:
            curves = None  # the curves are an extra: the story stands without them
        try:
            losses = top_losses(predictions, data=data)
        except MlstratError:
            losses = None  # so are the examples
    if losses is not None:
        shown = next(it for it in reversed(iterations) if it.predictions and Path(it.predictions) == predictions)
        losses["run"] = shown.run_id[:8]
    return {"story": story, "curves": curves, "top_losses": losses, "size_curve": size_curve}


def _data_config(iterations: Sequence[Any], predictions: Path, steps: dict[str, Any]) -> dict[str, Any]:
    """Where the examples of ``predictions`` are: its run's ``[data]`` config; predictions the
    demo wrote itself (a re-diagnosis, the tabular model) borrow a trained run's (same ids and
    pixels), else join the split table."""
    from mlstrat.errors._context import run_data_config

    for candidate in (predictions, *(Path(it.run_dir) / "predictions.parquet" for it in reversed(iterations)
                                     if it.run_dir)):
        data = run_data_config(candidate)
        if data:
            return data
    return {"manifest": steps.get("split", {}).get("output")}


def _mismatch(step: dict[str, Any] | None) -> dict[str, Any] | None:
    """The mismatch step, saying which sides the classifier told apart (the digits' by default)."""
    return None if step is None else {"sides": "app from web images", **step}


def _notes(steps: dict[str, Any]) -> list[str]:
    """The other work between iterations, in words."""
    notes = []
    if "labels" in steps:
        s = steps["labels"]
        notes.append(f"Confident learning flagged {s['suspects']} dev labels; {s['hits']} of the "
                     f"{s['planted']} flipped ones were among them, and a reviewer fixed those.")
    if "few_training_rows" in steps:
        notes.append(f"The baseline trained on {steps['few_training_rows']} rows only.")
    if "error_sheet" in steps:
        s = steps["error_sheet"]
        notes.append(f"{s['sample_size']} of the {s['n_errors']} dev mistakes went onto a sheet for error "
                     f"analysis ({Path(s['sheet']).name}).")
    return notes
