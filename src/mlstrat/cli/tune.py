"""`mlstrat tune`: random hyperparameter search, coarse to fine, chosen on dev."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mlstrat.cli._app import app
from mlstrat.cli._options import StoreOption


@app.command("tune")
def tune_command(
    config: Path = typer.Argument(..., help="Training TOML with a [tune] section ([tune.space] name = [low, high])."),
    budget: int | None = typer.Option(None, "--budget", min=2, help="Trials in all (default: [tune] budget)."),
    jobs: int | None = typer.Option(None, "--jobs", min=1, help="Trials trained in parallel processes."),
    seed: int | None = typer.Option(None, "--seed", min=0, help="Seeds the sampler (default: [tune] seed)."),
    output: Path | None = typer.Option(None, "-o", "--output",
                                       help="Folder for the trials, tune.db and tune.json (default: runs/tune-<config>)."),
    force: bool = typer.Option(False, "--force", help="Start a new search in an output folder that already holds one."),
    resume: bool = typer.Option(False, "--resume", help="Go on with the search the output folder holds (stopped by "
                                "Ctrl-C, kill or a crash): finished trials are kept, the others trained."),
    human: list[str] = typer.Option([], "--human", help='Human-level error for the trials\' diagnoses: "expert=0.5%"'),
    store: StoreOption = None,
    record: bool = typer.Option(True, "--record/--no-record", help="Record every trial in the run store."),
    prune: bool | None = typer.Option(None, "--prune/--no-prune", help="Stop unpromising trials early: a trial "
                                      "whose dev cost is worse than the earlier trials' median at the same epoch "
                                      "(default: [tune] prune, on). The same seed and --jobs prune the same trials."),
    time: str | None = typer.Option(None, "--time", help="Time budget (90s, 10m, 2h, 1h30m): no trial starts once "
                                    "it is spent; go on later with --resume (default: [tune] time, none)."),
    json_: bool = typer.Option(False, "--json", help="Print tune.json."),
) -> None:
    """Search the [tune.space] hyperparameters at random (log scales, never a grid), zoom on the
    best region, record every trial with its diagnosis, and choose the winner on dev under the
    satisficing constraints."""
    from mlstrat._numbers import require_percent
    from mlstrat._processes import Stopped, stop_on_signals
    from mlstrat.tune import tune

    for item in human:  # refused before any trial: a bare 0.5 could be 0.5% or 50%
        require_percent(item, name="--human")
    if time is not None:  # refused before the config is read
        from mlstrat.tune._prune import parse_duration

        parse_duration(time, name="--time")
    try:
        with stop_on_signals():
            result = tune(config, budget=budget, jobs=jobs, seed=seed, output=output, store=store, human=human,
                          record=record, force=force, resume=resume, prune=prune, time=time)
    except Stopped as stop:
        _stopped(stop, config, output)
        raise typer.Exit(stop.exit_code) from None
    failed = result.first_failure
    if failed is not None:
        from mlstrat.cli._common import err_console, safe

        err_console(soft_wrap=True).print(
            f"[bold red]Error:[/] every trial failed ({len(result.search.trials)}); the first, trial "
            f"{failed.number}: {safe(failed.info.get('error', 'no cause given'))}")
        raise typer.Exit(1)
    from mlstrat.cli._common import emit

    emit(result.to_dict(), as_json=json_, render=lambda _: _render(result))


def _stopped(stop: Any, config: Path, output: Path | None) -> None:
    """One line: which signal, and how to go on when the search had started."""
    import shlex

    from mlstrat._processes import signal_label
    from mlstrat.cli._common import err_console, safe
    from mlstrat.tune._tune import output_folder

    out = output_folder(config, output)
    line = f"[bold red]Stopped:[/] tune stopped by {signal_label(stop.signum)}"
    if (out / "tune.db").exists():
        again = shlex.join(["mlstrat", "tune", str(config), "-o", str(out), "--resume"])
        line += f"; its finished trials are kept: go on with {safe(again)}"
    err_console(soft_wrap=True).print(line)


def _render(result: Any) -> None:
    from rich.table import Table

    from mlstrat.display._numbers import format_param, format_rate
    from mlstrat.cli._common import console, safe

    out = console()
    doc = result.to_dict()
    names = [p["name"] for p in doc["space"]]
    best = doc["best"]
    table = Table(title=f"{len(doc['trials'])} trials, chosen on {doc['metric']} (dev)")
    for col in ("#", "round", *names, doc["metric"], "seconds", "parameters", "feasible"):
        table.add_column(safe(col), justify="right")
    for t in sorted(doc["trials"], key=lambda t: (t["value"] is None, t["value"] or 0.0)):
        mark = "[bold green]" if best and t["number"] == best["number"] else ""
        value = _trial_value(t, doc["metric"])
        cells = [str(t["number"]), str(t["round"]), *[format_param(t["params"][n]) for n in names], value,
                 f"{t.get('seconds', 0):.1f}", f"{t['n_parameters']:,}" if "n_parameters" in t else "",
                 "yes" if t["feasible"] else ("" if t.get("state") == "pruned" else "no")]
        table.add_row(*[mark + safe(c) for c in cells])
    out.print(table)
    _render_budget(out, doc)
    if any(t["round"] == 2 for t in doc["trials"]) or not doc.get("out_of_time"):
        zoom = ", ".join(f"{p['name']} [{format_param(p['low'])}, {format_param(p['high'])}]" for p in doc["zoomed"])
        out.print(f"Zoomed region (round 2): {safe(zoom)}")
    _render_effects(out, doc["effects"])
    if best is None and not any(t.get("state") == "complete" for t in doc["trials"]) and doc.get("out_of_time"):
        pass  # the time budget line said it: no trial completed before it ran out
    elif best is None:
        limits = [f"{k} = {v}" for k, v in doc["constraints"].items() if v]
        out.print("[bold red]No trial met the constraints[/]"
                  + (f" ({safe(', '.join(limits))}): relax them in \\[tune]." if limits else "."))
    else:
        values = ", ".join(f"{k} = {format_param(v)}" for k, v in best["params"].items())
        value = format_rate(best["value"]) if doc["metric"] == "dev_error" else f"{best['value']:.4f}"
        out.print(f"Best: trial {best['number']} ({safe(values)}), dev {doc['metric'][4:]} {value}; "
                  f"run {safe(str(best.get('run_id')))} in {safe(best['run_dir'])}")
        tied = doc.get("tied") or []
        if tied:
            numbers = ", ".join(str(t["number"]) for t in tied)
            out.print(f"[yellow]Tied with the best within noise[/] (95% paired interval includes 0): "
                      f"trial(s) {numbers}; prefer the simplest or cheapest of them, or evaluate on "
                      "more dev rows")
    for note in doc.get("convergence_notes") or []:
        out.print(f"[yellow]Convergence:[/] {safe(note)}")  # prose: Rich wraps it at word boundaries
    out.print(f"Written to {safe(str(Path(doc['output']) / 'tune.json'))}")


def _trial_value(t: dict[str, Any], metric: str) -> str:
    """The trial's figure, or its state: "pruned at epoch 3", "failed"."""
    if t.get("state") == "pruned":
        return f"pruned at epoch {t.get('pruned_at_epoch')}"
    if t["value"] is None:
        return "failed"
    from mlstrat.display._numbers import format_rate

    return format_rate(t["value"]) if metric == "dev_error" else f"{t['value']:.4f}"


def _render_budget(out: Any, doc: dict[str, Any]) -> None:
    """What pruning and the time budget did: trials pruned, epochs trained, trials left."""
    if doc.get("prune"):
        out.print(f"Pruned {doc['pruned']} of {len(doc['trials'])} trials (median rule on the dev cost per epoch, "
                  f"once {doc['prune']['startup']} trials completed, from epoch {doc['prune']['warmup']}); "
                  f"{doc['epochs']} epochs trained in all")
    if doc.get("out_of_time"):
        from mlstrat.cli._common import safe

        done = sum(t.get("state") == "complete" for t in doc["trials"])
        out.print(f"[yellow]The time budget ({safe(str(doc['time']))}) ran out[/]: {len(doc['trials'])} of "
                  f"{doc['planned']} trials ran ({done} completed; the clock counts from the start, start-up "
                  "included); go on with --resume, or give more --time")


def _render_effects(out: Any, effects: dict[str, dict[str, float | None]]) -> None:
    from rich.table import Table

    from mlstrat.cli._common import safe

    components = sorted({c for per in effects.values() for c in per})
    if not components:
        return
    table = Table(title="Which component each hyperparameter moved (Spearman rho across trials; "
                        "+ = the component grows with the value)")
    table.add_column("hyperparameter")
    for c in components:
        table.add_column(c.replace("_", " "), justify="right")
    for name, per in effects.items():
        table.add_row(safe(name), *["n/a" if per.get(c) is None else f"{per[c]:+.2f}" for c in components])
    out.print(table)
