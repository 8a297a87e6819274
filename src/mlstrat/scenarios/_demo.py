"""The main job: the method's loop (split -> train -> diagnose -> decide -> act -> again) on
the bundled digits scenarios.

Each scenario plants one problem in the data or the model; nothing about the diagnosis is
hard-coded: every verdict is computed from the predictions by the same library calls a user
makes. The default scenario, ``mismatch``, is the web/app project: train mostly on clean web
images, serve blurred and noisy phone-app images.
"""

from __future__ import annotations

import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstrat._exceptions import ConfigError, InputError, MlstratWarning
from mlstrat._numbers import did_you_mean
from mlstrat._progress import Steps
from mlstrat.scenarios._changes import demo_changes
from mlstrat.scenarios._story import demo_report_parts, record_size_curve
from mlstrat.scenarios.digits import FEATURE_PREFIX, IMAGE_SHAPE, VALUE_RANGE, build_digits_manifest

__all__ = ["SCENARIOS", "DemoResult", "Iteration", "Scenario", "run_demo"]

#: Error-analysis categories offered on the demo's tagging sheet.
SHEET_CATEGORIES = ("blurry", "noisy", "ambiguous digit", "mislabeled")

# The tabular scenario's model: small boosted trees (a gradient-boosted model, so the recipe
# is worded for trees).
TABULAR_MODEL: dict[str, Any] = {"max_depth": 3, "max_iter": 100, "random_state": 0}

# The baseline network of every scenario; each scenario changes one knob at a time.
BASELINE: dict[str, dict[str, Any]] = {
    "data": {"feature_prefix": FEATURE_PREFIX, "label": "label", "image_shape": list(IMAGE_SHAPE),
             "value_range": list(VALUE_RANGE)},
    "model": {"kind": "mlp", "hidden": [128, 64], "activation": "relu", "init": "he"},
    "regularization": {"l2": 0.0, "keep_prob": 1.0},
    "optim": {"optimizer": "adam", "lr": 0.001, "batch_size": 64, "epochs": 30, "seed": 0},
    "early_stopping": {"monitor": "dev_cost", "patience": 0, "restore_best": True},
}


@dataclass(frozen=True)
class Iteration:
    """One turn of the loop: a trained (or re-diagnosed) run and its diagnosis."""

    name: str
    run_id: str
    run_dir: str | None
    diagnosis: dict[str, Any]
    metrics: dict[str, Any] | None = None
    history: dict[str, Any] | None = None
    predictions: str | None = None  # the table diagnosed (the report shows its worst mistakes)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "run_id": self.run_id, "run_dir": self.run_dir,
                "principal_problem": self.diagnosis.get("principal_problem"),
                "diagnosis": self.diagnosis}


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` did, step by step."""

    scenario: str
    planted: str | None
    out: str
    iterations: tuple[Iteration, ...]
    steps: dict[str, Any]
    changes: list[dict[str, Any]]
    report: str
    seconds: float

    @property
    def found(self) -> str | None:
        """The principal problem of the first iteration: what the toolkit diagnosed."""
        return self.iterations[0].diagnosis.get("principal_problem")

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "planted": self.planted, "found": self.found,
                "iterations": [it.to_dict() for it in self.iterations], "changes": self.changes,
                "steps": self.steps, "report": self.report, "out": self.out,
                "seconds": round(self.seconds, 2)}


@dataclass
class _Context:
    out: Path
    quick: bool
    human: tuple[str, ...]
    store: Any
    bar: Steps
    iterations: list[Iteration] = field(default_factory=list)
    steps: dict[str, Any] = field(default_factory=dict)

    def path(self, name: str) -> Path:
        return self.out / name


@dataclass(frozen=True)
class Scenario:
    """A planted problem: how to build its data, and the loop to run on it."""

    name: str
    description: str
    planted: str | None
    human: tuple[str, ...]
    n_steps: int
    run: Callable[[_Context], None]


# ---------------------------------------------------------------------------- shared steps

def _write(table: Any, path: Path) -> Path:
    from mlstrat.tables import write_table

    return write_table(table, path, force=True)


def _split(ctx: _Context, manifest: Any, **options: Any) -> Path:
    from mlstrat.splits import split

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlstratWarning)
        result = split(manifest, label="label", group="group", **options)
    path = result.write(ctx.path("split.parquet"), force=True)
    ctx.steps["split"] = {"output": str(path), "sizes": result.sizes, "policy": result.summary.get("policy"),
                          "warnings": result.summary.get("warnings", [])}
    ctx.bar.advance("split")
    return path


def _config(manifest: Path, **overrides: dict[str, Any]) -> Any:
    from mlstrat.nn import TrainConfig

    raw = {section: dict(values) for section, values in BASELINE.items()}
    for section, values in overrides.items():
        raw.setdefault(section, {}).update(values)
    raw["data"]["manifest"] = str(manifest)
    return TrainConfig.from_dict(raw)


def _train(ctx: _Context, name: str, manifest: Path, **overrides: dict[str, Any]) -> Iteration:
    """Train, diagnose the predictions, record the run: one iteration of the loop."""
    from mlstrat.nn import train

    config = _config(manifest, **overrides)
    run_id = ctx.store.new_id()
    result = train(config, run_dir=ctx.store.artifacts_root / run_id, progress=False, record=False)
    ctx.bar.advance(f"trained {name}")
    return _diagnose(ctx, name, result.run_dir / "predictions.parquet", run_id=run_id,
                     config=config.to_dict(), data=manifest, run_dir=result.run_dir,
                     history=result.history, kind="train")


def _diagnose(ctx: _Context, name: str, predictions: Path, *, run_id: str | None = None,
              config: dict[str, Any] | None = None, data: Path | None = None,
              run_dir: Path | None = None, history: dict[str, Any] | None = None,
              kind: str = "diagnose") -> Iteration:
    from mlstrat.diagnosis import diagnose
    from mlstrat.metrics import compute_metrics
    from mlstrat.runs import record_predictions_run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlstratWarning)
        diagnosis = diagnose(str(predictions), human=list(ctx.human)).to_dict()
        metrics = compute_metrics(str(predictions)).to_dict()
        run = record_predictions_run(kind, predictions, store=ctx.store, config=config, metrics=metrics,
                                     diagnosis=diagnosis, artifacts=run_dir, note=name, run_id=run_id,
                                     data=data)
    iteration = Iteration(name=name, run_id=run.id, run_dir=str(run_dir) if run_dir else None,
                          diagnosis=diagnosis, metrics=metrics, history=history, predictions=str(predictions))
    ctx.iterations.append(iteration)
    ctx.bar.advance(f"diagnosed {name}")
    return iteration


def _sheet(ctx: _Context, predictions: Path) -> None:
    from mlstrat.errors import sample_errors

    sample = sample_errors(str(predictions), split="dev", n=100, categories=SHEET_CATEGORIES, seed=0,
                           output=ctx.path("dev_errors.csv"), force=True)
    ctx.steps["error_sheet"] = {"sheet": str(sample.sheet), "sample_size": sample.sample_size,
                                "n_errors": sample.n_errors, "split_error": sample.split_error,
                                "categories": list(SHEET_CATEGORIES),
                                "next": f"mlstrat errors ui {sample.sheet}"}
    ctx.bar.advance("error sheet")


def _size_curve(ctx: _Context, final: Iteration) -> None:
    """The final configuration's learning curve against training-set size (``curve/``)."""
    ctx.steps["curve"] = record_size_curve(ctx.store, final.run_id, name=final.name, output=ctx.path("curve"),
                                           human=ctx.human)
    ctx.bar.advance("learning curve")


def _web_only(classes: tuple[int, ...] | None = None) -> Any:
    """The digits without the app channel (one distribution), optionally a subset of classes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = build_digits_manifest(app_share=0.0)
    if classes:
        table = table.filter(pc.is_in(table["label"], pa.array(classes, type=table["label"].type)))
    return table


# ---------------------------------------------------------------------------- the scenarios

def _mismatch(ctx: _Context) -> None:
    from mlstrat.mismatch import analyze_mismatch, synthesize

    manifest = _write(build_digits_manifest(), ctx.path("manifest.parquet"))
    split_path = _split(ctx, manifest, domain="domain", target="app")
    baseline = _train(ctx, "baseline", split_path)
    _sheet(ctx, Path(baseline.run_dir) / "predictions.parquet")

    image = {"feature_prefix": FEATURE_PREFIX, "image_shape": IMAGE_SHAPE, "value_range": VALUE_RANGE}
    folds = 3 if ctx.quick else 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlstratWarning)
        report = analyze_mismatch(str(split_path), domain="domain", target="app", group="group",
                                  folds=folds, importance_repeats=2 if ctx.quick else 5, top=5, **image)
    ctx.steps["mismatch"] = {"auc": report.auc.to_dict(), "strength": report.strength,
                             "top_features": [f.to_dict() for f in report.top_features]}
    ctx.bar.advance("mismatch")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlstratWarning)
        synth = synthesize(str(split_path), split="train", transforms=["blur", "noise"], like="app",
                           folds=folds, output=ctx.path("train_synth.parquet"), force=True, **image)
    ctx.steps["synth"] = synth.to_dict()
    ctx.bar.advance("synth")
    final = _train(ctx, "synthesized app-like training data", ctx.path("train_synth.parquet"))
    _size_curve(ctx, final)


def _bias(ctx: _Context) -> None:
    split_path = _split(ctx, _web_only(), train_dev="none")
    _train(ctx, "baseline: a 2-unit network", split_path, model={"hidden": [2]}, optim={"epochs": 15})
    _train(ctx, "bigger network", split_path, model={"hidden": [128, 64]}, optim={"epochs": 15})


def _variance(ctx: _Context) -> None:
    import numpy as np
    import pyarrow as pa

    from mlstrat.tables import read_table

    split_path = _split(ctx, _web_only(), train_dev="none")
    full = read_table(split_path).to_pyarrow()
    is_train = np.asarray(full["split"].to_pylist()) == "train"
    keep = np.ones(len(is_train), dtype=bool)
    train_rows = np.flatnonzero(is_train)
    keep[np.random.default_rng(0).permutation(train_rows)[120:]] = False  # 120 training rows left
    few = _write(full.filter(pa.array(keep)), ctx.path("split_few.parquet"))
    ctx.steps["few_training_rows"] = int(keep[is_train].sum())
    big = {"model": {"hidden": [512, 512]}, "optim": {"epochs": 100}}
    _train(ctx, "baseline: 120 training rows, big unregularized network", few, **big)
    _train(ctx, "more training data", split_path, **big)


def _label_noise(ctx: _Context) -> None:
    import numpy as np
    import pyarrow as pa

    from mlstrat.errors import find_label_issues
    from mlstrat.tables import read_table

    split_path = _split(ctx, _web_only(), train_dev=300)
    table = read_table(split_path).to_pyarrow()
    labels = table["label"].to_numpy().copy()
    rng = np.random.default_rng(1)
    dev = np.flatnonzero(np.asarray(table["split"].to_pylist()) == "dev")
    flipped = rng.choice(dev, size=int(round(0.15 * len(dev))), replace=False)
    labels[flipped] = (labels[flipped] + rng.integers(1, 10, size=len(flipped))) % 10
    noisy = _write(table.set_column(table.column_names.index("label"), "label", pa.array(labels)),
                   ctx.path("split_noisy_dev.parquet"))
    baseline = _train(ctx, "baseline: 15% of dev labels flipped", noisy)
    predictions = Path(baseline.run_dir) / "predictions.parquet"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlstratWarning)
        issues = find_label_issues(str(predictions), split="dev")
    found = {str(s["id"]) for s in issues.to_dict()["issues"]}
    planted = {str(i) for i in np.asarray(table["id"].to_pylist())[flipped]}
    hits = len(found & planted)
    ctx.steps["labels"] = {"planted": len(planted), "suspects": len(found), "hits": hits,
                           "precision": hits / len(found) if found else 0.0,
                           "recall": hits / len(planted) if planted else 0.0}
    ctx.bar.advance("labels")

    # A person reviews the suspects and restores the labels that really were wrong (the
    # scenario knows the original labels; a reviewer would read the images).
    original = dict(zip((str(i) for i in table["id"].to_pylist()), table["label"].to_pylist()))
    confirmed = found & planted
    preds = read_table(predictions).to_pyarrow()
    y_true = [str(original[str(i)]) if str(i) in confirmed else str(y)
              for i, y in zip(preds["id"].to_pylist(), preds["y_true"].to_pylist())]
    column = pa.array(y_true).cast(preds["y_true"].type)
    fixed = preds.set_column(preds.column_names.index("y_true"), "y_true", column)
    fixed_path = _write(fixed, ctx.path("predictions_fixed_labels.parquet"))
    _diagnose(ctx, "reviewed suspects, fixed dev labels", fixed_path,
              config={"labels": "suspects reviewed, confirmed ones fixed"})


def _fit_predict(ctx: _Context, split_path: Path, name: str, *, weights: Any = None) -> Path:
    """Fit the tabular model on train, write its predictions table (every split)."""
    import numpy as np
    import pyarrow as pa
    from sklearn.ensemble import HistGradientBoostingRegressor

    from mlstrat.scenarios.diabetes import DIABETES_FEATURES
    from mlstrat.tables import read_table

    table = read_table(split_path).to_pyarrow()
    X = np.column_stack([table[c].to_numpy() for c in DIABETES_FEATURES])
    y = table["y"].to_numpy()
    split = np.asarray(table["split"].to_pylist())
    train = split == "train"
    model = HistGradientBoostingRegressor(**TABULAR_MODEL)
    model.fit(X[train], y[train], sample_weight=None if weights is None else weights[train])
    ctx.bar.advance(f"fitted {name}")
    predictions = pa.table({"id": table["id"], "split": table["split"], "y_true": table["y"],
                            "y_pred": pa.array(model.predict(X)), "domain": table["domain"]})
    return _write(predictions, ctx.path(f"predictions_{'weighted' if weights is not None else 'baseline'}.parquet"))


def _diagnose_values(ctx: _Context, name: str, predictions: Path, *, config: dict[str, Any],
                     data: Path) -> Iteration:
    from mlstrat.diagnosis import diagnose
    from mlstrat.metrics import compute_regression_metrics
    from mlstrat.runs import record_predictions_run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlstratWarning)
        diagnosis = diagnose(str(predictions), metric="rmse", human=list(ctx.human),
                             model_family="gradient_boosting").to_dict()
        metrics = compute_regression_metrics(str(predictions)).to_dict()
        run = record_predictions_run("diagnose", predictions, store=ctx.store, config=config,
                                     metrics=metrics, diagnosis=diagnosis, note=name, data=data)
    iteration = Iteration(name=name, run_id=run.id, run_dir=None, diagnosis=diagnosis, metrics=metrics,
                          predictions=str(predictions))
    ctx.iterations.append(iteration)
    ctx.bar.advance(f"diagnosed {name}")
    return iteration


def _importance_weights(ctx: _Context, split_path: Path) -> Any:
    """Each train row's target-likeness from the domain classifier, as sample weights.

    Source rows get ``mlstrat mismatch``'s weight (p / (1 - p), mean 1), truncated at its
    99th percentile (a few huge weights would let a handful of rows decide the fit); target
    rows already in train weigh as much as the most target-like source rows (that percentile).
    """
    import numpy as np

    from mlstrat.mismatch import analyze_mismatch
    from mlstrat.scenarios.diabetes import DIABETES_FEATURES
    from mlstrat.tables import read_table

    table = read_table(split_path).to_pyarrow()
    train = table.filter(np.asarray(table["split"].to_pylist()) == "train")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlstratWarning)
        report = analyze_mismatch(train, domain="domain", target="clinic",
                                  features=list(DIABETES_FEATURES), folds=3 if ctx.quick else 5,
                                  importance_repeats=2 if ctx.quick else 5, top=3)
    weight_of = dict(zip(report.weights["id"].to_pylist(), report.weights["weight"].to_pylist()))
    top = float(np.quantile(list(weight_of.values()), 0.99))
    weights = np.minimum([weight_of.get(i, top) for i in table["id"].to_pylist()], top)
    ctx.steps["mismatch"] = {"auc": report.auc.to_dict(), "strength": report.strength,
                             "sides": "clinic from registry rows of train",
                             "top_features": [f.to_dict() for f in report.top_features],
                             "weights": {"truncated_at": top, "max": float(weights.max())}}
    ctx.bar.advance("mismatch")
    return weights


def _tabular_shift(ctx: _Context) -> None:
    from mlstrat.scenarios.diabetes import build_diabetes_manifest
    from mlstrat.splits import split

    manifest = _write(build_diabetes_manifest(), ctx.path("manifest.parquet"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlstratWarning)
        # large dev and test sets leave few clinic rows for train: the registry dominates it
        result = split(str(manifest), domain="domain", target="clinic", dev_size="40%", test_size="40%")
    split_path = result.write(ctx.path("split.parquet"), force=True)
    ctx.steps["split"] = {"output": str(split_path), "sizes": result.sizes,
                          "policy": result.summary.get("policy"), "warnings": result.summary.get("warnings", [])}
    ctx.bar.advance("split")
    config = {"model": "HistGradientBoostingRegressor", **TABULAR_MODEL}
    baseline = _fit_predict(ctx, split_path, "baseline")
    _diagnose_values(ctx, "baseline: trained mostly on registry patients", baseline,
                     config=config, data=split_path)
    weights = _importance_weights(ctx, split_path)
    weighted = _fit_predict(ctx, split_path, "importance-weighted", weights=weights)
    _diagnose_values(ctx, "importance-weighted training (target-likeness as sample weights)", weighted,
                     config={**config, "sample_weight": "target_likeness"}, data=split_path)


def _clean(ctx: _Context) -> None:
    split_path = _split(ctx, _web_only(classes=(0, 1, 4, 7)), train_dev="none")
    _train(ctx, "baseline on an easy task (digits 0, 1, 4, 7)", split_path)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("mismatch", "Train on clean web images, serve blurred and noisy phone-app images; "
                 "then synthesize app-like training data and retrain.", "data_mismatch",
                 ("expert=0.5%",), 11, _mismatch),
        Scenario("bias", "A 2-unit network cannot fit the digits; then a bigger network.",
                 "avoidable_bias", ("expert=0.5%",), 5, _bias),
        Scenario("variance", "120 training rows and a big unregularized network; then more data.",
                 "variance", ("expert=0.5%",), 5, _variance),
        Scenario("label-noise", "15% of the dev labels are flipped; confident learning finds them, "
                 "a reviewer fixes the confirmed ones, and the model is diagnosed again.", "data_mismatch", ("expert=0.5%",), 5,
                 _label_noise),
        Scenario("clean", "An easy task the network masters: no significant problem.", None,
                 ("expert=0.5%",), 3, _clean),
        Scenario("tabular-shift", "Regression on scikit-learn's diabetes table: the clinic to serve "
                 "sees high-BMI patients, the registry that provides most training rows low-BMI ones; "
                 "diagnosed on RMSE, then trained with importance weights from the domain classifier.",
                 "data_mismatch", ("noise floor=25",), 7, _tabular_shift),
    )
}


def run_demo(scenario: str = "mismatch", *, out: str | Path = "mlstrat-demo", quick: bool = False,
             progress: bool | None = None) -> DemoResult:
    """Run the loop on a bundled scenario and write its files and report under ``out``.

    Parameters
    ----------
    scenario : {"mismatch", "bias", "variance", "label-noise", "clean", "tabular-shift"}, default="mismatch"
        Which problem to plant (see :data:`SCENARIOS`).
    out : path-like, default="mlstrat-demo"
        The demo's folder; re-running replaces the demo's own files (its run store too).
    quick : bool, default=False
        Fewer cross-validation folds and permutation repeats in the mismatch analysis (for
        tests); training and diagnoses are unchanged.
    progress : bool, default=None
        A progress bar over the steps; ``None``: only on a terminal.

    Returns
    -------
    DemoResult
    """
    from mlstrat.report import render_report
    from mlstrat.runs import RunStore

    if scenario not in SCENARIOS:
        raise ConfigError(f"unknown scenario {scenario!r}{did_you_mean(scenario, SCENARIOS)}; "
                          f"choose one of: {', '.join(SCENARIOS)}")
    spec = SCENARIOS[scenario]
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; give a folder path with -o")
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / ".mlstrat", ignore_errors=True)  # the demo's own run history starts afresh
    started = time.perf_counter()
    store = RunStore(out / ".mlstrat" / "runs.db")
    with Steps(spec.n_steps + 1, f"demo: {scenario}", progress=progress) as bar:
        ctx = _Context(out=out, quick=quick, human=spec.human, store=store, bar=bar)
        spec.run(ctx)
        changes = demo_changes(ctx.iterations, ctx.store)
        last = ctx.iterations[-1]
        runs = [store.get(it.run_id) for it in ctx.iterations]
        render_report(runs=runs, history=last.history or ctx.iterations[0].history,
                      title=f"mlstrat demo: {scenario}", subtitle=spec.description,
                      output=out / "report.html", dev_rows=store.dev_rows,
                      **demo_report_parts(ctx.iterations, ctx.steps, changes))
        bar.advance("report")
    return DemoResult(scenario=scenario, planted=spec.planted, out=str(out), iterations=tuple(ctx.iterations),
                      steps=ctx.steps, changes=changes, report=str(out / "report.html"),
                      seconds=time.perf_counter() - started)
