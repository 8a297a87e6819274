"""What a report is made from: a run id, a run directory, a predictions table or a diagnosis file."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlstrat._exceptions import ConfigError, InputError
from mlstrat._json import to_jsonable
from mlstrat.runs._run import Run

__all__ = ["ReportInputs", "report_inputs"]

_HISTORY_MAX_RUNS = 20
_PREDICTIONS = "predictions.parquet"


@dataclass(frozen=True)
class ReportInputs:
    """The documents of a report, ready for :func:`mlstrat.render_report` (``**inputs.kwargs()``)."""

    runs: tuple[Run, ...] = ()
    diagnosis: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    history: dict[str, Any] | None = None
    error_summary: dict[str, Any] | None = None
    subtitle: str | None = None
    #: ROC / precision-recall / calibration of the predictions' probabilities (when they have some)
    curves: dict[str, Any] | None = None
    #: the slices where the model fails most (``find_slices(...).to_dict()``), when it applies
    slices: dict[str, Any] | None = None
    #: the worst dev mistakes with their examples (``report._top_losses.top_losses``)
    top_losses: dict[str, Any] | None = None
    #: files read, so that the output never overwrites one of them
    sources: tuple[str, ...] = field(default_factory=tuple)
    #: ``{"code", "message"}``: the test split sealed, or looked at (with the count)
    warnings: tuple[dict[str, str], ...] = ()

    def kwargs(self) -> dict[str, Any]:
        return {"runs": list(self.runs) or None, "diagnosis": self.diagnosis, "metrics": self.metrics,
                "history": self.history, "error_summary": self.error_summary, "subtitle": self.subtitle,
                "curves": self.curves, "slices": self.slices, "top_losses": self.top_losses}

    def sections(self) -> list[str]:
        """Names of the sections the report will have."""
        diagnosis = self.diagnosis or (self.runs[-1].diagnosis if self.runs else None)
        metrics = self.metrics or (self.runs[-1].metrics if self.runs else None)
        names = []
        if diagnosis:
            names += ["diagnosis", "actions"] if diagnosis.get("actions") else ["diagnosis"]
        if metrics:
            names.append("metrics")
            if any((s or {}).get("confusion") for s in (metrics.get("splits") or {}).values()):
                names.append("confusion matrix")
        if self.curves:
            names.append("probability curves")
        if self.history:
            names.append("learning curves")
        from mlstrat.report._lr_find import recorded_lr_find

        if recorded_lr_find(metrics, self.history):
            names.append("learning-rate range test")
        if self.error_summary:
            names.append("error analysis")
        if self.slices:
            names.append("where it fails")
        if self.top_losses:
            names.append("worst mistakes")
        if len(self.runs) >= 2:
            names.append("run history")
        return names


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: is not valid JSON ({exc}); expected the {what} JSON") from None
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a JSON object (the {what}), got {type(doc).__name__}")
    return doc


@dataclass
class _Seal:
    """Whether the report shows the test split, where a look at it is counted, and whether
    computing the documents here counted it already (so that it is counted once)."""

    test: bool = False
    store: Any = None
    counted: bool = False


def _diagnose(predictions: Path, human: Sequence[str], seal: _Seal) -> tuple[dict[str, Any], dict[str, Any]]:
    """Diagnosis and metrics of a predictions table (the capabilities load only here).

    The diagnosis counts the look at the test set (``seal.test``); the metrics do not count it
    again.
    """
    from mlstrat.diagnosis import diagnose
    from mlstrat.metrics import compute_metrics

    kwargs = {"human": list(human)} if human else {}
    diagnosis = to_jsonable(diagnose(str(predictions), test=seal.test, store=seal.store, **kwargs))
    seal.counted = seal.counted or seal.test
    metrics = to_jsonable(compute_metrics(str(predictions), test=seal.test, store=False))
    return diagnosis, metrics


_WITHHELD = ("The verdict is withheld: it involves the test split, which is sealed "
             "(mlstrat report --test shows it, as one counted look).")


def seal_documents(diagnosis: dict[str, Any] | None,
                   metrics: dict[str, Any] | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Stored documents without their test figures (a report shows them only with ``--test``)."""
    import copy

    if diagnosis and "test" in (diagnosis.get("errors") or {}):
        diagnosis = copy.deepcopy(diagnosis)
        diagnosis["errors"].pop("test")
        comp = (diagnosis.get("components") or {}).get("dev_overfitting")
        if isinstance(comp, dict):
            comp.update(value=None, ci_low=None, ci_high=None, significant=False, status="missing")
        if "dev_overfitting" in (diagnosis.get("problems") or []):
            diagnosis["problems"] = [p for p in diagnosis["problems"] if p != "dev_overfitting"]
            if diagnosis.get("principal_problem") == "dev_overfitting":
                diagnosis["principal_problem"] = (diagnosis["problems"] or [None])[0]
            diagnosis["actions"] = [a for a in diagnosis.get("actions") or []
                                    if set(a.get("addresses") or []) - {"dev_overfitting"}]
        if "dev overfitting" in str(diagnosis.get("verdict") or "") or "test" in str(
                diagnosis.get("verdict") or ""):
            diagnosis["verdict"] = _WITHHELD
    if metrics and "test" in (metrics.get("splits") or {}):
        metrics = copy.deepcopy(metrics)
        metrics["splits"].pop("test")
    if metrics and "test" in metrics and "splits" not in metrics:  # a training run's metrics.json
        metrics = {k: v for k, v in metrics.items() if k != "test"}
    return diagnosis, metrics


def _seal_run(run: Run) -> Run:
    diagnosis, metrics = seal_documents(run.diagnosis, run.metrics)
    return replace(run, diagnosis=diagnosis, metrics=metrics)


def _count_stored_look(runs: Sequence[Run], seal: _Seal) -> list[dict[str, str]]:
    """``--test`` on stored documents: one look at the test set of the run shown."""
    from mlstrat.sealing._looks import TestLook, resolve_store

    shown = runs[-1] if runs else None
    store = resolve_store(seal.store)
    if shown is None or not shown.test_fingerprint or store is None:
        return TestLook(None, None, store.test_reuse_threshold if store else 0).warnings()
    count = store.count_test_evaluation(shown.test_fingerprint)
    return TestLook(shown.test_fingerprint, count, store.test_reuse_threshold).warnings()


def _error_summary(sheet: Path | None) -> dict[str, Any] | None:
    if sheet is None:
        return None
    if not sheet.is_file():
        raise InputError(f"{sheet}: no such file; --sheet takes an error-analysis sheet (CSV) or "
                         "its summary (mlstrat errors summarize --json)")
    if sheet.suffix.lower() == ".json":
        doc = _read_json(sheet, "error-analysis summary")
        if "categories" not in doc:
            raise InputError(f"{sheet}: has no 'categories'; expected the output of "
                             "`mlstrat errors summarize --json`")
        return doc
    from mlstrat.errors import summarize_sheet

    return to_jsonable(summarize_sheet(str(sheet)))


def _store_history(store: Any, run: Run) -> tuple[Run, ...]:
    """The runs of the same kind up to ``run``, oldest first (the iterations that led to it)."""
    runs = [r for r in store.list(kind=run.kind) if r.seq <= run.seq]
    return tuple(runs[-_HISTORY_MAX_RUNS:]) or (run,)


class _Extras:
    """The sections computed from the predictions file, which is opened on the engine once
    for all of them (the engine then reads only what each section's queries need)."""

    def __init__(self) -> None:
        self._opened: dict[Path, Any] = {}

    def curves(self, predictions: Path | None) -> dict[str, Any] | None:
        from mlstrat.report._proba import probability_curves

        return self._extra(predictions, probability_curves, "the probability curves")

    def top_losses(self, predictions: Path | None) -> dict[str, Any] | None:
        from mlstrat.report._top_losses import top_losses

        return self._extra(predictions, top_losses, "the worst mistakes")

    def _open(self, predictions: Path) -> Any:
        from mlstrat.report._proba import open_predictions

        if predictions not in self._opened:
            self._opened[predictions] = open_predictions(predictions)
        return self._opened[predictions]

    def _extra(self, predictions: Path | None, compute: Any, what: str) -> dict[str, Any] | None:
        """A section computed from the predictions file; an extra: when the file cannot give it,
        the report goes on without it, saying why in one line."""
        if predictions is None or not predictions.is_file():
            return None
        import warnings

        from mlstrat._exceptions import MlstratError, MlstratWarning

        try:
            opened = self._open(predictions)
            return compute(predictions, opened=opened) if opened is not None else None
        except MlstratError as exc:
            warnings.warn(f"{exc}; the report leaves {what} out", MlstratWarning, stacklevel=3)
            return None


def _from_run_dir(path: Path, store: Any, human: Sequence[str], seal: _Seal, extras: _Extras) -> ReportInputs:
    files = {name: path / name for name in ("config.resolved.toml", "history.json", "metrics.json",
                                             "diagnosis.json", _PREDICTIONS)}
    present = {k: v for k, v in files.items() if v.is_file()}
    if not set(present) & {"history.json", "metrics.json", "diagnosis.json", _PREDICTIONS}:
        raise InputError(f"{path}: not a run directory (none of history.json, metrics.json, "
                         f"diagnosis.json, {_PREDICTIONS}); give a run directory, a run id or a "
                         "predictions file")
    history = _read_json(present["history.json"], "training history") if "history.json" in present else None
    metrics = _read_json(present["metrics.json"], "metrics") if "metrics.json" in present else None
    if metrics is not None and "splits" not in metrics:
        metrics = None  # the trainer's short per-split summary: the full metrics come from below
    diagnosis = _read_json(present["diagnosis.json"], "diagnosis") if "diagnosis.json" in present else None
    runs: tuple[Run, ...] = ()
    if store is not None and store.path.exists():
        resolved = str(path.absolute())
        match = [r for r in store.list() if r.artifacts and os.path.abspath(r.artifacts) == resolved]
        if match:
            runs = _store_history(store, match[-1])
            # the recorded run carries the diagnosis made with its human level: as complete as by run id
            diagnosis = diagnosis or match[-1].diagnosis
            metrics = metrics or match[-1].metrics
    if _PREDICTIONS in present and (diagnosis is None or metrics is None or human):
        computed_diagnosis, computed = _diagnose(present[_PREDICTIONS], human, seal)
        diagnosis = computed_diagnosis if (diagnosis is None or human) else diagnosis
        metrics = metrics or computed
    elif human:
        raise InputError(f"{path}: --human needs {_PREDICTIONS} in the run directory to diagnose")
    return ReportInputs(runs=runs, diagnosis=diagnosis, metrics=metrics, history=history,
                        subtitle=f"run directory {path.name}", curves=extras.curves(present.get(_PREDICTIONS)),
                        sources=tuple(str(p) for p in present.values()))


def _from_run(run: Run, store: Any, human: Sequence[str], seal: _Seal, extras: _Extras) -> ReportInputs:
    history = None
    diagnosis, metrics = run.diagnosis, run.metrics
    sources: list[str] = []
    artifacts = Path(run.artifacts) if run.artifacts else None
    if artifacts is not None and (artifacts / "history.json").is_file():
        history = _read_json(artifacts / "history.json", "training history")
        sources.append(str(artifacts / "history.json"))
    if human:
        predictions = artifacts / _PREDICTIONS if artifacts is not None else None
        if predictions is None or not predictions.is_file():
            raise InputError(f"run {run.short_id}: --human needs the run's {_PREDICTIONS} "
                             f"(artifacts: {run.artifacts or 'none recorded'})")
        diagnosis, metrics = _diagnose(predictions, human, seal)
    runs = _store_history(store, run)
    curves = extras.curves(artifacts / _PREDICTIONS if artifacts is not None else None)
    return ReportInputs(runs=runs, diagnosis=diagnosis, metrics=metrics, history=history,
                        subtitle=None, curves=curves, sources=tuple(sources))


def report_inputs(target: str | os.PathLike, *, store: Any = None, human: Sequence[str] = (),
                  sheet: str | os.PathLike | None = None, test: bool = False,
                  model_family: str | None = None) -> ReportInputs:
    """Gather a report's documents from ``target``.

    Parameters
    ----------
    target : str or path-like
        A run directory (``history.json``, ``metrics.json``, ``diagnosis.json`` and/or
        ``predictions.parquet``), a predictions table (diagnosed with ``human``), a diagnosis
        JSON file, or a run id (prefix, or ``latest``) in ``store``.
    store : RunStore, default=None
        Where run ids are looked up and where the run history comes from.
    human : sequence of str
        Human-level figures passed to :func:`mlstrat.diagnose` when a predictions table is
        diagnosed (e.g. ``"expert team=0.5%"``).
    sheet : path-like, default=None
        An error-analysis summary (JSON) or a tagged sheet (summarized here).
    test : bool, default=False
        The test split is sealed: its figures are computed and shown only with ``test=True``
        (one look counted in ``store``); stored documents that hold them are shown without.
    model_family : str, default=None
        How the recommended actions are worded (``neural_network``, ``gradient_boosting``,
        ``linear``, ``other``, or an alias that :func:`mlstrat.diagnosis.parse_model_family`
        reads). ``None``: the family recorded with the run or the diagnosis, else a network.

    Raises
    ------
    ConfigError
        When ``model_family`` names no family.
    """
    from mlstrat.runs import RunStore

    family = _parse_family(model_family) if model_family is not None else None

    store = store if store is not None else RunStore()
    seal = _Seal(test=test, store=store)
    extras = _Extras()
    path = Path(target)
    summary = _error_summary(Path(sheet) if sheet is not None else None)
    if path.is_dir():
        inputs = _from_run_dir(path, store, human, seal, extras)
    elif path.is_file():
        doc = None
        if path.suffix.lower() == ".json":
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                doc = None  # JSON lines: a predictions table
        if isinstance(doc, dict) and "components" in doc and "errors" in doc:
            if human:
                raise InputError(f"{path}: is a diagnosis already; --human applies to predictions")
            inputs = ReportInputs(diagnosis=doc, subtitle=path.name, sources=(str(path),))
        elif path.suffix.lower() == ".toml":
            raise InputError(f"{path}: is a config file; give a run directory, a run id or a predictions table")
        else:
            diagnosis, metrics = _diagnose(path, human, seal)
            inputs = ReportInputs(diagnosis=diagnosis, metrics=metrics, subtitle=path.name,
                                  curves=extras.curves(path), sources=(str(path),))
    else:
        text = str(target)
        looks_like_path = os.sep in text or "." in text
        try:
            run = store.get(text)
        except InputError as exc:
            if looks_like_path:
                raise InputError(f"{text}: no such file or directory; give a run directory, a "
                                 "predictions file or a run id") from None
            raise InputError(f"{text}: not a file or directory, and not a run id: {exc}") from None
        inputs = _from_run(run, store, human, seal, extras)
    inputs = _sealed(inputs, seal)
    inputs = _worded_for(inputs, family)
    predictions = _report_predictions(path, store, text=str(target))
    if inputs.metrics is not None:  # a predictions table was read: the slices of its dev split
        from mlstrat.report._slices import where_it_fails

        inputs = replace(inputs, slices=where_it_fails(predictions))
    inputs = replace(inputs, top_losses=extras.top_losses(predictions))
    if summary is not None:
        _check_sheet_source(Path(sheet), predictions)
        inputs = replace(inputs, error_summary=summary, sources=(*inputs.sources, str(sheet)))
    return inputs


def recorded_family(diagnosis: dict[str, Any] | None, runs: Sequence[Run] = (),
                    metrics: dict[str, Any] | None = None) -> str | None:
    """The model family recorded with the report's run, else with its diagnosis or learning
    curve (``None`` when none records one)."""
    candidates = [(runs[-1].diagnosis or {}).get("model_family") if runs else None,
                  (runs[-1].config or {}).get("model_family") if runs else None,
                  (diagnosis or {}).get("model_family"),
                  ((metrics or {}).get("curve") or {}).get("model_family")]
    return next((c for c in candidates if isinstance(c, str) and c), None)


def reword_actions(diagnosis: dict[str, Any], family: str) -> dict[str, Any]:
    """``diagnosis`` with its recipe actions worded for ``family`` (ids unchanged; actions
    outside the recipe, such as a command to carve a train-dev split, keep their words)."""
    from mlstrat.diagnosis._recipe import ACTIONS, FAMILY_ACTIONS

    actions = []
    for action in diagnosis.get("actions") or []:
        wording = FAMILY_ACTIONS.get(family, {}).get(action.get("id"), ACTIONS.get(action.get("id")))
        actions.append({**action, "title": wording[0], "why": wording[1]} if wording else action)
    return {**diagnosis, "actions": actions, "model_family": family}


def _parse_family(name: str) -> str:
    # the diagnosis capability loads only when a family is named or recorded
    from mlstrat.diagnosis._recipe import parse_model_family

    return parse_model_family(name)


def _worded_for(inputs: ReportInputs, family: str | None) -> ReportInputs:
    """The diagnosis's actions worded for the family given, else for the one recorded."""
    if inputs.diagnosis is None:
        return inputs
    if family is None:
        recorded = recorded_family(inputs.diagnosis, inputs.runs, inputs.metrics)
        try:
            family = _parse_family(recorded) if recorded else None
        except ConfigError:
            family = None  # a family this version does not know: the words the diagnosis has
    if family is None or family == inputs.diagnosis.get("model_family"):
        return inputs
    return replace(inputs, diagnosis=reword_actions(inputs.diagnosis, family))


def _has_test(doc: dict[str, Any] | None) -> bool:
    doc = doc or {}
    return "test" in (doc.get("errors") or {}) or "test" in (doc.get("splits") or {}) or (
        "splits" not in doc and "errors" not in doc and "test" in doc)


def _sealed(inputs: ReportInputs, seal: _Seal) -> ReportInputs:
    """Stored documents lose their test figures unless ``--test``; with it, the look counts
    (once: documents computed here from predictions counted it when computed)."""
    if seal.test:
        if seal.counted:
            notes = [w for w in (inputs.diagnosis or {}).get("warnings") or []
                     if w.get("code") in ("test_split_used", "test_set_reused")]
        elif _has_test(inputs.diagnosis) or _has_test(inputs.metrics):
            notes = _count_stored_look(inputs.runs, seal)
        else:
            notes = []
        return replace(inputs, warnings=tuple(notes))
    stored = [_has_test(inputs.diagnosis), _has_test(inputs.metrics)]
    stored += [_has_test(r.diagnosis) or _has_test(r.metrics) for r in inputs.runs]
    sealed = [w for w in (inputs.diagnosis or {}).get("warnings") or [] if w.get("code") == "test_sealed"]
    if any(stored):
        sealed = [{"code": "test_sealed", "message": "The stored test figures are sealed: not shown. "
                   "Pass --test for the final estimate; each look is counted."}]
    diagnosis, metrics = seal_documents(inputs.diagnosis, inputs.metrics)
    return replace(inputs, diagnosis=diagnosis, metrics=metrics,
                   runs=tuple(_seal_run(r) for r in inputs.runs), warnings=tuple(sealed))


def _report_predictions(path: Path, store: Any, *, text: str) -> Path | None:
    """The predictions file a report describes, when it has one."""
    if path.is_dir():
        candidate = path / _PREDICTIONS
    elif path.is_file():
        candidate = path
    else:
        run = store.get(text)
        candidate = Path(run.artifacts) / _PREDICTIONS if run.artifacts else None
    return candidate if candidate is not None and candidate.is_file() else None


def _check_sheet_source(sheet: Path, predictions: Path | None) -> None:
    """Refuse an error-analysis sheet sampled from other predictions than the report's.

    The sheet's meta file records the fingerprint (sha256 of the bytes) of the predictions it
    was sampled from; a report that puts its shares next to another model's errors would
    attribute one model's mistakes to another.
    """
    if predictions is None or sheet.suffix.lower() == ".json":
        return  # a summary JSON records no fingerprint
    from mlstrat.errors._sheet import meta_path
    from mlstrat.tables import fingerprint

    meta_file = meta_path(sheet)
    if not meta_file.is_file():
        return
    recorded = _read_json(meta_file, "error-analysis sheet meta").get("fingerprint")
    now = fingerprint(predictions)
    if recorded and recorded != now:
        raise InputError(
            f"{sheet}: sampled from other predictions than {predictions} (fingerprint {recorded} at sampling, "
            f"{now} now); its shares describe other errors. Sample this model's errors "
            f"(mlstrat errors sample {predictions}) or leave --sheet out")
