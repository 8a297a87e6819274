"""`mlstrat mismatch`: how the training data differs from the target (domain classifier)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import typer

from mlstrat.cli._app import app
from mlstrat.cli._common import start_engine
from mlstrat.cli._options import EngineOption, JsonOption

__all__ = ["mismatch", "render_warnings"]


def render_warnings(con: Any, messages: tuple[str, ...] | list[str]) -> None:
    from mlstrat.cli._common import safe

    for message in messages:
        con.print(f"[yellow]Warning:[/] {safe(message)}")


@app.command("mismatch")
def mismatch(
    manifest: str = typer.Argument(..., help="Manifest table (CSV, Parquet, JSONL, Arrow; a directory or URI)."),
    target: str = typer.Option(
        ..., "--target", help="Value of --domain that marks the target rows (e.g. app)."
    ),
    domain: str = typer.Option(
        "domain", "--domain", help="Column that says where each row comes from."
    ),
    source: str | None = typer.Option(
        None, "--source", help="Source value(s), comma-separated; default: all others."
    ),
    features: str | None = typer.Option(
        None, "--features", help="Numeric feature columns, comma-separated."
    ),
    feature_prefix: str | None = typer.Option(
        None, "--feature-prefix", help="Use every column starting with this."
    ),
    image_col: str | None = typer.Option(
        None, "--image-col", help="Column of image paths (image statistics)."
    ),
    embedding_col: str | None = typer.Option(
        None, "--embedding-col", help="Column holding a vector per row."
    ),
    image_shape: str | None = typer.Option(
        None,
        "--image-shape",
        help="C,H,W: the feature columns are image pixels (adds image statistics).",
    ),
    value_range: str | None = typer.Option(
        None, "--value-range", help="LOW,HIGH pixel range (e.g. 0,16)."
    ),
    group: str | None = typer.Option(
        None, "--group", help="Group column: folds never split a group."
    ),
    predictions: str | None = typer.Option(
        None,
        "--predictions",
        help="Predictions table: compare misclassified dev rows with train rows.",
    ),
    folds: int = typer.Option(5, "--folds", min=2, help="Cross-validation folds."),
    seed: int = typer.Option(0, "--seed", help="Seed of the folds, classifier and permutations."),
    top: int = typer.Option(10, "--top", min=1, help="Number of features shown."),
    sample: int = typer.Option(200_000, "--sample", min=10, help="Rows per side (target, source) the classifier "
                               "learns from; larger sides are sampled by the engine (hashed, reproducible). "
                               "-o still covers every source row."),
    output: str | None = typer.Option(
        None, "-o", "--output", help="Write each source row's target-likeness p/(1-p) here."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output."),
    json_: JsonOption = False,
    engine: EngineOption = None,
) -> None:
    """Tell target rows from source rows with a cross-validated classifier (adversarial validation).

    Reports the ROC AUC with a DeLong interval (0.5 = indistinguishable), the features that
    separate the domains (permutation importance) and their KS statistics.
    """
    from mlstrat._numbers import parse_numbers
    from mlstrat.cli._common import console, echo_json
    from mlstrat.mismatch import analyze_mismatch
    from mlstrat.tables import check_table_output

    start_engine(engine)
    if output is not None:  # an existing output, or storage the engine cannot reach, before the work
        check_table_output(output, inputs=[manifest], force=force)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rendered below from report.warnings
        report = analyze_mismatch(
            str(manifest),
            domain=domain,
            target=target,
            source=[s.strip() for s in source.split(",")] if source else None,
            features=[f.strip() for f in features.split(",") if f.strip()] if features else None,
            feature_prefix=feature_prefix,
            image_col=image_col,
            embedding_col=embedding_col,
            image_shape=parse_numbers(image_shape, name="--image-shape", count=3, integer=True),
            value_range=parse_numbers(value_range, name="--value-range", count=2),
            group=group,
            predictions=str(predictions) if predictions else None,
            folds=folds,
            seed=seed,
            top=top,
            sample=sample,
        )
    written = None
    if output is not None:
        written = report.write_weights(output, force=force, inputs=[manifest])
    if json_:
        out = report.to_dict()
        out["output"] = str(written) if written else None
        echo_json(out)
        return
    _render(console(), report, written)


def _render(con: Any, report: Any, written: Path | None) -> None:
    from rich.table import Table

    from mlstrat.cli._common import safe
    from mlstrat.tables import describe_output

    auc = report.auc
    grouped = f", folds grouped by {safe(repr(report.grouped_by))}" if report.grouped_by else ""
    con.print(
        f"Domain classifier: {safe(report.domain)} = {safe(report.target)} ({_rows(report, 'target')}) vs "
        f"{safe(', '.join(report.source))} ({_rows(report, 'source')}); {report.n_features} features "
        f"({report.feature_kind}), {report.folds}-fold CV{grouped}"
    )
    meaning = {
        "none": "the classifier cannot tell the domains apart: no detectable mismatch in these features",
        "slight": "slight mismatch",
        "moderate": "moderate mismatch",
        "strong": "strong mismatch: the domains are easy to tell apart",
    }[report.strength]
    con.print(
        f"ROC AUC [bold]{auc.value:.3f}[/] [{auc.ci_low:.3f}, {auc.ci_high:.3f}] "
        f"(DeLong {auc.level:.0%}; 0.5 = indistinguishable): {meaning}"
    )
    if report.top_features:
        con.print(_features_table(report.top_features, "What separates the domains", Table))
    lk = report.likeness
    con.print(
        f"Target-likeness p/(1-p) of the source rows: median {lk['median']:.3g}, 90th percentile "
        f"{lk['p90']:.3g}, max {lk['max']:.3g}; {lk['share_above_1']:.1%} look more like the target than "
        "the source"
    )
    if written is not None:
        con.print(
            f"Wrote {report.n_source:,} source rows with p_target, target_likeness and weight to "
            f"{safe(describe_output(written))}"
        )
    if report.errors is not None:
        e = report.errors
        base = (
            (
                f"; correctly classified dev rows vs train: {e.auc_correct.value:.3f} "
                f"[{e.auc_correct.ci_low:.3f}, {e.auc_correct.ci_high:.3f}]"
            )
            if e.auc_correct
            else ""
        )
        con.print(
            f"Misclassified dev rows ({e.n_misclassified}) vs train rows ({e.n_train}): AUC "
            f"{e.auc_misclassified.value:.3f} [{e.auc_misclassified.ci_low:.3f}, "
            f"{e.auc_misclassified.ci_high:.3f}]{base}"
        )
        if e.top_features:
            con.print(
                _features_table(
                    e.top_features,
                    "What separates the misclassified dev rows from train",
                    Table,
                    ("train", "misclassified"),
                )
            )
    render_warnings(con, report.warnings)


def _rows(report: Any, side: str) -> str:
    """``N rows``, or ``a sample of n of N rows`` when the classifier learned from a sample."""
    total = report.n_target if side == "target" else report.n_source
    used = report.sample.get(f"{side}_used", total)
    if used < total:
        return f"a sample of {used:,} of {total:,} rows"
    return f"{total} rows"


def _features_table(
    shifts: Any, title: str, Table: Any, sides: tuple[str, str] = ("source", "target")
) -> Any:
    from mlstrat.cli._common import console, safe

    # in a narrow terminal the two means (the lowest priority) are left out, with a note:
    # the figures that stay are never cut, and names and hints fold
    narrow = console().width < NARROW_COLUMNS
    caption = (f"mean {sides[0]} / mean {sides[1]} left out at this width (wider terminal or --json)"
               if narrow else None)
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    table.add_column("feature", overflow="fold")
    means = () if narrow else (f"mean {sides[0]}", f"mean {sides[1]}")
    for col in ("AUC drop", "KS", *means):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("usually means", overflow="fold")
    for f in shifts:
        # importance ± its standard deviation over the permutation repeats (a symmetric spread)
        figures = [f"{f.importance:.3f}±{f.importance_std:.3f}", f"{f.ks:.3f}"]
        if not narrow:
            figures += [f"{f.mean_source:.4g}", f"{f.mean_target:.4g}"]
        table.add_row(safe(f.feature), *figures, safe(f.hint or ""))
    return table


#: below this many columns, the features table leaves out its two means
NARROW_COLUMNS = 100
