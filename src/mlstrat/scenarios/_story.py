"""What the demo's report shows beyond one run: the loop told in order, the last run's
probability curves and its worst dev mistakes with their examples, and the final
configuration's learning curve against training-set size."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlstrat._exceptions import MlstratError, MlstratWarning

__all__ = ["CURVE_SIZES", "demo_report_parts", "record_size_curve"]

#: The learning curve's nested shares of train: three sizes are the fewest the power law (and so
#: the reading's forecast and its "enough data for an end-to-end model?" answer) can be fitted
#: on, and the smallest share still holds a few hundred rows, so its dev error is not noise.
CURVE_SIZES = "25%,50%,100%"


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


def record_size_curve(store: Any, run_id: str, *, name: str, output: Path,
                      human: Sequence[str]) -> dict[str, Any]:
    """The learning curve of run ``run_id``'s configuration against training-set size, computed
    and recorded as ``mlstrat curve`` does (``output``: one run per size, curve.json, curve.svg).

    Every size trains with the run's full config, epochs included: fewer epochs on the small
    subsets would leave them under-trained, and their higher train error would read as bias.
    A subset's epochs already cost in proportion to its rows, so the curve adds 1.75 trainings
    of the final run (25% + 50% + 100%), a few CPU seconds on the digits.

    Parameters
    ----------
    store : RunStore
        The demo's run store: it holds the run and receives the ``curve`` run.
    run_id : str
        The run whose configuration is curved.
    name : str
        What the run did, for the curve run's note.
    output : Path
        The curve's folder; replaced when it exists (it is the demo's own).
    human : sequence of str
        Human-level errors (``"expert=0.5%"``); the lowest is the curve's floor.

    Returns
    -------
    dict
        ``run`` (the curve run's id), ``output``, ``sizes`` and ``curve`` (its ``to_dict()``).
    """
    from mlstrat._json import dumps
    from mlstrat._numbers import parse_rate
    from mlstrat.curves import curve_from_config
    from mlstrat.display._charts import size_curve_svg
    from mlstrat.nn import TrainConfig
    from mlstrat.tables import atomic_write_text

    config = TrainConfig.from_dict(store.get(run_id).config)
    floor = min(parse_rate(level.split("=", 1)[-1], name="human level") for level in human)
    shutil.rmtree(output, ignore_errors=True)  # a re-run of the demo replaces its own curve
    curve = curve_from_config(config, sizes=CURVE_SIZES, output=output, human=floor, seed=0, force=True)
    doc = curve.to_dict()
    atomic_write_text(output / "curve.json", dumps(doc))
    atomic_write_text(output / "curve.svg", size_curve_svg(doc))
    run = store.record("curve", config=config.to_dict(), metrics={"curve": doc}, artifacts=str(output),
                       note=f"learning curve of {name}")
    return {"run": run.id, "output": str(output), "sizes": CURVE_SIZES, "curve": doc}


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
