"""`mlstrat runs list | show RUN | compare RUN RUN... | export RUN... --mlflow`: the history of experiments."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from mlstrat.cli._app import app

__all__ = ["runs_app"]

runs_app = typer.Typer(
    no_args_is_help=True,
    help="The history of runs (SQLite store, .mlstrat/runs.db): list, show, compare, export.",
)
app.add_typer(runs_app, name="runs")

# `runs list` packs many columns into 80 characters: short names there, full ones elsewhere
_SHORT_SPLIT = {"train": "train", "train_dev": "tr-dev", "dev": "dev", "test": "test"}
_SHORT_COMPONENT = {"avoidable_bias": "bias", "variance": "variance", "data_mismatch": "mismatch",
                    "dev_overfitting": "dev overfit"}
_STORE_HELP = ("The run store (SQLite file). Default: $MLSTRAT_STORE, else .mlstrat/runs.db under the "
               "working directory.")


def _store(path: Optional[Path]) -> Any:
    from mlstrat.runs import RunStore

    return RunStore(path)


def _rate(value: Optional[float], diagnosis: Optional[dict[str, Any]] = None, digits: Optional[int] = None) -> str:
    """A rate as a percentage, or a figure in the diagnosed metric's unit (RMSE, WER, ...)."""
    from mlstrat.display._numbers import format_figure

    return format_figure(value, diagnosis, digits=digits)


def _summary(run: Any) -> dict[str, Any]:
    return {
        "id": run.id, "seq": run.seq, "created_at": run.created_at, "kind": run.kind, "note": run.note,
        "errors": {s: e["value"] for s, e in run.errors().items()},
        "principal_problem": (run.diagnosis or {}).get("principal_problem"),
        "config_hash": run.config_hash, "data_fingerprint": run.data_fingerprint,
        "test_fingerprint": run.test_fingerprint, "artifacts": run.artifacts,
    }


@runs_app.command("list")
def list_runs(
    kind: Optional[str] = typer.Option(None, "--kind", help="Only runs of this kind (train, diagnose, ...)."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="Only the most recent N runs."),
    store: Optional[Path] = typer.Option(None, "--store", help=_STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List recorded runs, oldest first (the latest run is at the bottom)."""
    from rich.text import Text

    from mlstrat.cli._common import console, echo_json, safe

    run_store = _store(store)
    runs = run_store.list(kind=kind, limit=limit)
    if as_json:
        echo_json({"store": str(run_store.path), "runs": [_summary(r) for r in runs]})
        return
    out = console()
    if not runs:
        out.print(f"No runs recorded in {safe(run_store.path)}.")
        return
    notes = _notes_and_changes(runs)
    wide = _list_table(runs, run_store, notes)
    if not any(notes):
        out.print(wide)
        return
    from rich.console import Group

    from mlstrat.display._flow import FirstThatFits, Flow, keep_together

    # a long note folded into a narrow column makes a row of five lines: below the table instead
    below = [Flow(keep_together(Text.assemble((f"#{r.seq} ", "dim"), what)), indent=4)
             for r, what in zip(runs, notes) if what]
    out.print(FirstThatFits(wide, Group(_list_table(runs, run_store, None), Text("note / changed", style="bold"), *below)))


def _notes_and_changes(runs: list[Any]) -> list[str]:
    """Per run, its note and the config keys changed since the run before."""
    from mlstrat.runs import flatten_config

    previous: dict[str, Any] | None = None
    out = []
    for run in runs:
        config = flatten_config(run.config)
        changed = _changed_keys(previous, config)
        previous = config if config else previous
        out.append("; ".join(part for part in (run.note or "", changed) if part))
    return out


def _list_table(runs: list[Any], run_store: Any, notes: Optional[list[str]]) -> Any:
    """One row per run; ``notes`` in a last column, each on one line (None: no such column)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from mlstrat._constants import SPLITS
    from mlstrat.cli._common import safe
    from mlstrat.display._numbers import is_rate_metric

    kinds = len({r.kind for r in runs}) > 1
    splits = [s for s in SPLITS if any(s in r.errors() for r in runs)]
    table = Table(title=f"Runs in {safe(run_store.path)}", title_justify="left", header_style="bold",
                  box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("UTC", no_wrap=True)
    if kinds:
        table.add_column("kind", no_wrap=True)
    for split in splits:
        table.add_column(_SHORT_SPLIT[split], justify="right", no_wrap=True)
    table.add_column("principal", no_wrap=True)
    if notes is not None:
        table.add_column("note / changed", no_wrap=True)
    digits = _column_digits(runs, splits)
    for i, run in enumerate(runs):
        errors = run.errors()
        principal = (run.diagnosis or {}).get("principal_problem")
        table.add_row(str(run.seq), run.short_id, run.created_at[5:16].replace("T", " "),
                      *([run.kind] if kinds else []),
                      *[_rate(errors.get(s, {}).get("value"), run.diagnosis,
                              digits[s] if is_rate_metric(run.diagnosis) else None) for s in splits],
                      _SHORT_COMPONENT.get(principal, "-") if run.diagnosis else "-",
                      *([Text(notes[i])] if notes is not None else []))
    return table


def _column_digits(runs: list[Any], splits: list[str]) -> dict[str, int]:
    """One precision per split's column, over the runs whose figures are rates."""
    from mlstrat.display._numbers import column_digits, is_rate_metric

    return {s: column_digits([r.errors().get(s, {}).get("value") for r in runs if is_rate_metric(r.diagnosis)])
            for s in splits}


def _changed_keys(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """``"keep_prob 1.0 -> 0.5"``: the config keys that differ from the run before (last part of
    each dotted key; at most three, then a count)."""
    if not before or not after:
        return ""
    keys = [k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
    parts = [f"{k.rsplit('.', 1)[-1]} {before.get(k, '-')} -> {after.get(k, '-')}" for k in keys[:3]]
    if len(keys) > 3:
        parts.append(f"and {len(keys) - 3} more")
    return ", ".join(parts)


@runs_app.command("show")
def show_run(
    run_id: str = typer.Argument(..., metavar="RUN", help="Run id or a unique prefix; 'latest' for the last."),
    store: Optional[Path] = typer.Option(None, "--store", help=_STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the whole run as JSON."),
) -> None:
    """Show one run: config, errors with intervals, components, verdict, actions."""
    from mlstrat.cli._common import console, echo_json, print_convergence

    run_store = _store(store)
    run = run_store.get(run_id)
    evaluations = run_store.test_evaluation_count(run.test_fingerprint) if run.test_fingerprint else None
    if as_json:
        echo_json({**run.to_dict(), "test_evaluations_total": evaluations,
                   "test_reuse_threshold": run_store.test_reuse_threshold})
        return
    out = console()
    _print_run_header(out, run, evaluations=evaluations, threshold=run_store.test_reuse_threshold)
    print_convergence(out, (run.metrics or {}).get("convergence"))
    for table in (_config_table(run), _errors_table(run), _components_table(run)):
        if table is not None:
            out.print(table)
    _print_run_advice(out, run.diagnosis or {})


def _print_run_header(out: Any, run: Any, *, evaluations: Optional[int], threshold: int) -> None:
    """The run's id, kind and time, its note, fingerprints and test-set evaluation count."""
    from mlstrat.cli._common import safe

    out.print(f"[bold]Run {safe(run.id)}[/] (#{run.seq}, {safe(run.kind)}) at {run.created_at[:19].replace('T', ' ')} UTC")
    if run.note:
        out.print(f"note: {safe(run.note)}")
    facts = [("artifacts", run.artifacts), ("config", run.config_hash),
             ("data", run.data_fingerprint), ("test set", run.test_fingerprint)]
    for name, value in facts:
        if value:
            out.print(f"[dim]{name}:[/] {safe(value)}")
    if evaluations is not None:
        over = evaluations > threshold
        style = "bold yellow" if over else "dim"
        out.print(f"[{style}]test set evaluated {evaluations} time(s) in this store "
                  f"(threshold {threshold})[/]")


def _config_table(run: Any) -> Any:
    """The run's config, flattened to one key per row; None without a config."""
    if not run.config:
        return None
    from rich.table import Table

    from mlstrat.cli._common import safe
    from mlstrat.runs import flatten_config

    table = Table(title="Config", title_justify="left", header_style="bold")
    table.add_column("key")
    table.add_column("value")
    for key, value in flatten_config(run.config).items():
        table.add_row(safe(key), safe(value))
    return table


def _errors_table(run: Any) -> Any:
    """Error per split with its 95% interval; None without errors."""
    errors = run.errors()
    if not errors:
        return None
    from rich.table import Table

    from mlstrat._constants import SPLIT_DISPLAY
    from mlstrat.display._numbers import format_interval, is_rate_metric

    table = Table(title="Errors", title_justify="left", header_style="bold")
    for name, justify in (("split", "left"), ("n", "right"), ("error", "right"), ("95% interval", "right")):
        table.add_column(name, justify=justify)
    for split, e in errors.items():
        interval = format_interval(e["ci_low"], e["ci_high"], rate=is_rate_metric(run.diagnosis))
        table.add_row(SPLIT_DISPLAY[split], str(e["n"]) if e["n"] is not None else "-",
                      _rate(e["value"], run.diagnosis), interval)
    return table


def _components_table(run: Any) -> Any:
    """The diagnosis components with intervals, the principal one in bold; None without any."""
    components = run.components()
    if not components:
        return None
    from rich.table import Table

    from mlstrat.display._numbers import format_interval, is_rate_metric
    from mlstrat.runs import COMPONENT_DISPLAY

    principal = (run.diagnosis or {}).get("principal_problem")
    table = Table(title="Components", title_justify="left", header_style="bold")
    for name, justify in (("component", "left"), ("value", "right"), ("95% interval", "right"),
                          ("significant", "left")):
        table.add_column(name, justify=justify)
    for key, c in components.items():
        interval = format_interval(c["ci_low"], c["ci_high"], rate=is_rate_metric(run.diagnosis), signed=True)
        label = COMPONENT_DISPLAY[key] + (" (principal)" if key == principal else "")
        table.add_row(label, _rate(c["value"], run.diagnosis), interval, "yes" if c["significant"] else "no",
                      style="bold" if key == principal else None)
    return table


def _print_run_advice(out: Any, diagnosis: dict[str, Any]) -> None:
    """The recorded verdict, numbered actions and warnings."""
    from mlstrat.cli._common import safe

    if diagnosis.get("verdict"):
        out.print(f"[bold]Verdict:[/] {safe(diagnosis['verdict'])}")
    for i, action in enumerate(diagnosis.get("actions") or [], 1):
        if isinstance(action, dict):
            out.print(f"  {i}. [bold]{safe(action.get('title') or action.get('id'))}[/]: {safe(action.get('why', ''))}")
    for warning in diagnosis.get("warnings") or []:
        message = warning.get("message") if isinstance(warning, dict) else warning
        out.print(f"[yellow]Warning:[/] {safe(message)}")


@runs_app.command("compare")
def compare_runs(
    run_ids: list[str] = typer.Argument(..., metavar="RUN RUN...", help="Two or more run ids (or prefixes), oldest first."),
    store: Optional[Path] = typer.Option(None, "--store", help=_STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Compare runs side by side: errors, components, what changed and its effect.

    Each step's dev change has a 95% interval and a verdict (better, worse, tied within noise),
    paired on the same dev rows when both runs kept them; runs of different metrics or label
    sets are refused.
    """
    from mlstrat.cli._common import console, echo_json
    from mlstrat.cli._compare_view import print_comparison

    comparison = _store(store).compare(run_ids)
    if as_json:
        echo_json(comparison.to_dict())
        return
    print_comparison(console(), comparison)


@runs_app.command("export")
def export_runs(
    run_ids: list[str] = typer.Argument(..., metavar="RUN...", help="Run ids (or prefixes, or 'latest')."),
    mlflow: Optional[str] = typer.Option(
        None, "--mlflow", metavar="[TRACKING_URI]",
        help="Log the runs to MLflow: params, metrics per split and component, diagnosis, report, "
             "sheet summaries, tags. Without a URI: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here."),
    experiment: str = typer.Option("mlstrat", "--experiment", help="The MLflow experiment (created if missing)."),
    sheet: Optional[list[Path]] = typer.Option(None, "--sheet", help="A tagged sheet whose summary to attach (repeatable)."),
    store: Optional[Path] = typer.Option(None, "--store", help=_STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print what was exported as JSON."),
) -> None:
    """Export recorded runs to an experiment tracker (MLflow); a run exported before is not duplicated."""
    from mlstrat._exceptions import ConfigError
    from mlstrat.cli._common import console, echo_json

    if mlflow is None:
        raise ConfigError("runs export: say where to: --mlflow [TRACKING_URI]")
    from mlstrat.integrations import export_to_mlflow

    runs_store = _store(store)
    results = [export_to_mlflow(runs_store.get(rid), tracking_uri=mlflow or None, experiment=experiment,
                                sheets=sheet or ()) for rid in run_ids]
    if as_json:
        echo_json([r.to_dict() for r in results])
        return
    out = console()
    for r in results:
        verb = "exported" if r.created else "already exported"
        out.print(f"run {r.run_id[:8]} {verb}: MLflow run {r.mlflow_run_id} (experiment {r.experiment_id}) "
                  f"at {r.tracking_uri}", markup=False, soft_wrap=True)
