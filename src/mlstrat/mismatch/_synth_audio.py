"""Synthesis of audio rows: clean clips mixed with noise clips of a pool at a random SNR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlstrat._exceptions import InputError
from mlstrat.mismatch._pool import cap_by_pool
from mlstrat.mismatch._rows import (
    append_rows,
    make_ids,
    need_folder,
    require,
    safe_name,
    stored_path,
)
from mlstrat.mismatch._synth_spec import SynthBatch, Synthesized, SynthSpec

__all__ = ["AUDIO_TRANSFORMS", "synth_audio"]

#: transforms for audio rows (``audio_col``): mix with a noise clip of the pool at a random SNR
AUDIO_TRANSFORMS: tuple[str, ...] = ("mix",)


def synth_audio(spec: SynthSpec, batch: SynthBatch) -> Synthesized:
    """Mix each source clip with a random noise clip of the pool at a random SNR; write WAV files."""
    import pyarrow as pa

    from mlstrat.mismatch._files import AUDIO_SUFFIXES, list_pool_files, read_audio

    name, data, id_col, rng, notes = batch.name, batch.data, spec.id_col, batch.rng, batch.notes
    audio_col, snr = spec.audio_col or "", spec.snr
    require(data, [audio_col], name=name, role="audio column")
    paths, clips = _read_clips(data, audio_col, batch.jobs, name=name, bases=batch.bases)
    noise = [
        (p, *read_audio(p)) for p in list_pool_files(spec.pool, suffixes=AUDIO_SUFFIXES, kind="audio")
    ]
    pool_seconds = float(sum(len(d) / r for _, d, r in noise))
    seconds = np.array([len(clips[j][0]) / clips[j][1] for j in batch.jobs])
    jobs, copy_no, usage = cap_by_pool(
        batch.jobs, batch.copy_no, seconds, pool_seconds, "noise", "seconds", spec.max_reuse, rng, notes
    )
    if spec.like is not None:
        notes.append(
            f"like={spec.like!r}: audio strength is not calibrated; the SNR range {snr[0]:g}..{snr[1]:g} dB "
            "was used as given"
        )
    files_dir = need_folder(batch.files_dir)
    files_dir.mkdir(parents=True, exist_ok=True)
    new_ids = make_ids(data.column(id_col), jobs, copy_no, name, id_col)
    written, snrs = _mix_clips(jobs, new_ids.to_pylist(), clips, paths, noise, snr=snr, rng=rng,
                               files_dir=files_dir, out_path=batch.out_path)
    taken = data.take(pa.array(jobs))
    taken = taken.set_column(
        taken.schema.get_field_index(audio_col),
        audio_col,
        pa.array(written).cast(data.schema.field(audio_col).type),
    )
    table = append_rows(data, taken, new_ids, data.column(id_col).type, id_col, jobs)
    params = {
        "mix": {
            "snr_low": float(snr[0]),
            "snr_high": float(snr[1]),
            "snr_mean": float(np.mean(snrs)) if snrs else float("nan"),
        }
    }
    return Synthesized(table, params, len(jobs), usage)


def _read_clips(data: Any, audio_col: str, jobs: np.ndarray, *, name: str,
                bases: list[Path]) -> tuple[dict[int, Path], dict[int, tuple[np.ndarray, int]]]:
    """The file and the (samples, rate) of every source clip, by manifest row."""
    from mlstrat.mismatch._files import read_audio, resolve_paths

    column = data.column(audio_col).to_pylist()
    uniq = np.unique(jobs)
    paths = dict(
        zip(
            uniq.tolist(),
            resolve_paths([column[i] for i in uniq], column=audio_col, source=name, bases=bases),
        )
    )
    return paths, {i: read_audio(p) for i, p in paths.items()}


def _mix_clips(jobs: np.ndarray, new_ids: list[Any], clips: dict[int, tuple[np.ndarray, int]],
               paths: dict[int, Path], noise: list[tuple[Any, np.ndarray, int]], *,
               snr: tuple[float, float], rng: np.random.Generator, files_dir: Path,
               out_path: Path | None) -> tuple[list[str], list[float]]:
    """Each synthetic clip: its source mixed with a random noise clip at a random SNR, written as
    WAV; (the stored paths, the SNRs drawn)."""
    from mlstrat.mismatch._files import mix_at_snr, write_audio

    written, snrs = [], []
    for j, new_id in zip(jobs, new_ids):
        clean, rate = clips[j]
        path, noise_data, noise_rate = noise[int(rng.integers(len(noise)))]
        if noise_rate != rate:
            raise InputError(
                f"{path}: noise sampled at {noise_rate} Hz but {paths[j]} at {rate} Hz; "
                "resample the pool to the clips' rate"
            )
        level = float(rng.uniform(snr[0], snr[1]))
        snrs.append(level)
        out = files_dir / f"{safe_name(new_id)}.wav"
        write_audio(out, mix_at_snr(clean, noise_data, level, rng), rate)
        written.append(stored_path(out, out_path))
    return written, snrs
