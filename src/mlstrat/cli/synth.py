"""`mlstrat synth`: make training data more like the target (artificial data synthesis)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import typer

from mlstrat.cli._app import app
from mlstrat.cli._common import start_engine
from mlstrat.cli._options import EngineOption, JsonOption
from mlstrat.cli._flags import split_callback

__all__ = ["synth", "parse_params"]


def parse_params(text: str | None) -> dict[str, dict[str, float]]:
    """``"blur.sigma=0.8,noise.std=0.1"`` -> ``{"blur": {"sigma": 0.8}, "noise": {"std": 0.1}}``."""
    from mlstrat._exceptions import ConfigError
    from mlstrat._numbers import parse_assignments

    if not text:
        return {}
    out: dict[str, dict[str, float]] = {}
    for key, value in parse_assignments(text, name="--param").items():
        transform, dot, param = key.partition(".")
        if not dot or not transform or not param:
            raise ConfigError(
                f"--param: {key!r} must be transform.parameter (example: blur.sigma=0.8)"
            )
        try:
            out.setdefault(transform, {})[param] = float(value)
        except ValueError:
            raise ConfigError(f"--param: {key}={value!r} is not a number") from None
    return out


@app.command("synth")
def synth(
    manifest: str = typer.Argument(..., help="Manifest with a split column (from mlstrat split); a file, directory or URI."),
    transform: str = typer.Option(
        ...,
        "--transform",
        "-t",
        help="Transforms in order, comma-separated: blur, noise, brightness_contrast, "
        "shift, rotate, fog (images) or mix (audio).",
    ),
    output: str = typer.Option(
        ..., "-o", "--output",
        help="Output table: the input rows plus the new ones (a path, or a URI the engine writes).",
    ),
    split: str = typer.Option(
        "train", "--split", callback=split_callback,
        help="Split to synthesize from and append to (train only)."
    ),
    like: str | None = typer.Option(
        None, "--like", help="Target value of --domain: calibrate strengths and report the AUC."
    ),
    domain: str = typer.Option("domain", "--domain", help="Domain column (used with --like)."),
    features: str | None = typer.Option(None, "--features", help="Pixel columns, comma-separated."),
    feature_prefix: str | None = typer.Option(
        None, "--feature-prefix", help="Pixel columns starting with this."
    ),
    image_col: str | None = typer.Option(None, "--image-col", help="Column of image file paths."),
    audio_col: str | None = typer.Option(None, "--audio-col", help="Column of audio file paths."),
    image_shape: str | None = typer.Option(
        None, "--image-shape", help="C,H,W of feature-vector images (e.g. 1,8,8); without it, feature columns are tabular (transforms jitter, match)."
    ),
    value_range: str | None = typer.Option(
        None, "--value-range", help="LOW,HIGH pixel range (e.g. 0,16)."
    ),
    pool: Path | None = typer.Option(
        None, "--pool", help="Folder or file: fog overlays, or noise clips for mix."
    ),
    max_reuse: float | None = typer.Option(
        None, "--max-reuse", help="Cap on how often the pool is reused."
    ),
    param: str | None = typer.Option(
        None, "--param", help="Fixed strengths, e.g. blur.sigma=0.8,noise.std=0.1."
    ),
    copies: int = typer.Option(1, "--copies", min=1, help="Synthetic rows per source row."),
    snr: str = typer.Option("5,20", "--snr", help="LOW,HIGH signal-to-noise ratio in dB for mix."),
    files_dir: Path | None = typer.Option(
        None, "--files-dir", help="Folder for new files (default: next to -o)."
    ),
    seed: int = typer.Option(0, "--seed"),
    folds: int = typer.Option(
        5, "--folds", min=2, help="Folds of the domain classifier behind the AUCs."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output."),
    json_: JsonOption = False,
    engine: EngineOption = None,
) -> None:
    """Synthesize target-like training rows (blur, noise, fog, ...; audio mixed with noise).

    New rows carry synthetic_of (the original id), inherit its group and go to train only.
    """
    from mlstrat.cli._common import console, emit
    from mlstrat._numbers import parse_numbers
    from mlstrat.cli.mismatch import render_warnings
    from mlstrat.mismatch import synthesize

    start_engine(engine)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rendered below from result.warnings
        result = synthesize(
            str(manifest),
            split=split,
            transforms=transform,
            like=like,
            domain=domain,
            features=[f.strip() for f in features.split(",") if f.strip()] if features else None,
            feature_prefix=feature_prefix,
            image_col=image_col,
            audio_col=audio_col,
            image_shape=parse_numbers(image_shape, name="--image-shape", count=3, integer=True),
            value_range=parse_numbers(value_range, name="--value-range", count=2),
            pool=str(pool) if pool else None,
            max_reuse=max_reuse,
            params=parse_params(param),
            copies=copies,
            snr=parse_numbers(snr, name="--snr", count=2),
            output=str(output),
            files_dir=str(files_dir) if files_dir else None,
            seed=seed,
            folds=folds,
            force=force,
        )
    emit(result.to_dict(), as_json=json_, render=lambda _: _render(console(), result, render_warnings))


def _render(con: Any, r: Any, render_warnings: Any) -> None:
    from mlstrat.cli._common import safe

    from mlstrat.tables import describe_output

    params = "; ".join(
        f"{t}(" + ", ".join(f"{k}={v:g}" for k, v in ps.items()) + ")" for t, ps in r.params.items()
    )
    con.print(
        f"Synthesized {r.n_synthesized} train rows from {r.n_source_rows} source rows "
        f"({r.copies} per row): {safe(params)}"
    )
    if r.calibration is not None:
        c = r.calibration
        con.print(
            f"Calibrated against {c.n_target} {safe(c.like)} rows (test excluded): statistics distance "
            f"{c.distance_before:.3f} -> {c.distance_after:.3f}"
        )
    if r.auc_before is not None and r.auc_after is not None:
        b, a = r.auc_before, r.auc_after
        con.print(
            f"Domain classifier AUC, target vs training rows: before [bold]{b.value:.3f}[/] "
            f"[{b.ci_low:.3f}, {b.ci_high:.3f}] -> synthesized [bold]{a.value:.3f}[/] "
            f"[{a.ci_low:.3f}, {a.ci_high:.3f}] (0.5 = indistinguishable)"
        )
    if r.pool is not None:
        p = r.pool
        con.print(f"Pool: {p.kind}, {p.size:g} {p.unit}, reused {p.reuse_factor:.1f}x")
    if r.output is None:  # a no-op: the warning below says why
        con.print("[bold yellow]Nothing written[/]: the transforms leave every row unchanged.")
        render_warnings(con, r.warnings)
        return
    if r.files_dir:
        con.print(f"New files in {safe(r.files_dir)}")
    con.print(
        f"Wrote {r.n_input_rows + r.n_synthesized} rows ({r.n_input_rows} original + {r.n_synthesized} "
        f"synthetic, column synthetic_of) to {safe(describe_output(r.output))}"
    )
    render_warnings(con, r.warnings)
