"""Image and audio files: path resolution, reading, writing, mixing at a signal-to-noise ratio.

Pillow (a dependency of matplotlib) reads and writes images; soundfile reads and writes audio.
Both are imported inside the functions that need them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mlstrat._exceptions import ConfigError, InputError

__all__ = [
    "resolve_paths",
    "read_image",
    "write_image",
    "read_audio",
    "write_audio",
    "mix_at_snr",
    "list_pool_files",
    "IMAGE_SUFFIXES",
    "AUDIO_SUFFIXES",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")


def resolve_paths(
    values: Sequence[object], *, column: str, source: str, bases: Sequence[Path] = ()
) -> list[Path]:
    """Resolve each value of a path column; relative paths against ``bases`` in order, then the
    working directory. Raises :class:`InputError` with the count and the first few missing ones."""
    out: list[Path] = []
    missing: list[str] = []
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)) or str(value) == "":
            missing.append("<empty>")
            out.append(Path())
            continue
        path = Path(str(value))
        candidates = [path] if path.is_absolute() else [b / path for b in bases] + [path]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            missing.append(str(value))
            out.append(path)
        else:
            out.append(found)
    if missing:
        where = ", ".join(str(b) for b in bases)
        rel = (
            f" (relative paths are looked up in {where} and the working directory)" if bases else ""
        )
        raise InputError(
            f"{source}: {len(missing)} of {len(values)} path(s) in column {column!r} do not exist"
            f"{rel}, e.g. {', '.join(missing[:3])}; fix the paths or the column"
        )
    return out


def read_image(path: Path) -> np.ndarray:
    """Read an image file as float32 (C, H, W) in 0..255: C = 1 for grey images, 3 otherwise."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            mode = "L" if img.mode in ("L", "1", "I;16", "I", "F", "LA") else "RGB"
            arr = np.asarray(img.convert(mode), dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(
            f"{path}: not a readable image ({type(exc).__name__}: {exc}); "
            "expected PNG, JPEG or another format Pillow reads"
        ) from None
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def write_image(path: Path, image: np.ndarray) -> None:
    """Write a (C, H, W) array in 0..255 as an image file (PNG unless the suffix says otherwise)."""
    from PIL import Image

    arr = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr[0]) if arr.shape[0] == 1 else Image.fromarray(arr.transpose(1, 2, 0))
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    img.save(tmp)
    os.replace(tmp, path)


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Read an audio file as float64 (frames, channels) in -1..1 and its sample rate."""
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise InputError(
            f"{path}: not a readable audio file ({str(exc).strip() or type(exc).__name__}); "
            "expected WAV, FLAC, OGG or another format soundfile reads"
        ) from None
    if data.shape[0] == 0:
        raise InputError(f"{path}: the audio file has no samples")
    return data, int(rate)


def write_audio(path: Path, data: np.ndarray, rate: int) -> None:
    """Write float (frames, channels) audio as 16-bit PCM (WAV/FLAC by suffix), atomically."""
    import soundfile as sf

    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    sf.write(str(tmp), data, rate, subtype="PCM_16")
    os.replace(tmp, path)


def mix_at_snr(
    clean: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator
) -> np.ndarray:
    """Add ``noise`` to ``clean`` so that 10 log10(P_clean / P_noise) = ``snr_db``.

    Both are (frames, channels). The noise starts at a random offset and loops when shorter
    than the clean clip; a mono noise is used on every channel, otherwise channels must match.
    If the mix would clip, both parts are scaled down together (the SNR is unchanged).
    """
    frames, channels = clean.shape
    if noise.shape[1] not in (1, channels):
        raise InputError(
            f"noise clip has {noise.shape[1]} channels and the clean clip {channels}; "
            "use mono noise or the same number of channels"
        )
    start = int(rng.integers(0, noise.shape[0]))
    idx = (start + np.arange(frames)) % noise.shape[0]
    seg = noise[idx]
    p_clean = float(np.mean(clean**2))
    p_noise = float(np.mean(seg**2))
    if p_noise == 0.0 or p_clean == 0.0:
        return clean.copy()
    gain = math.sqrt(p_clean / (p_noise * 10.0 ** (snr_db / 10.0)))
    mixed = clean + gain * np.broadcast_to(seg, clean.shape)
    peak = float(np.abs(mixed).max())
    return mixed * (0.99 / peak) if peak > 0.99 else mixed


def list_pool_files(pool: object, *, suffixes: Sequence[str], kind: str) -> list[Path]:
    """The files of a pool given as a folder, one file, or a sequence of paths."""
    if isinstance(pool, (str, os.PathLike)):
        path = Path(pool)
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
            )
            if not files:
                raise InputError(
                    f"{path}: the pool folder has no {kind} files ({', '.join(suffixes)})"
                )
            return files
        paths = [path]
    else:
        try:
            paths = [Path(p) for p in pool]  # type: ignore[union-attr]
        except TypeError:
            raise ConfigError(
                f"pool: expected a folder, a file or a list of files; got {type(pool).__name__}"
            ) from None
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InputError(
            f"pool: {len(missing)} of {len(paths)} file(s) do not exist, e.g. {', '.join(missing[:3])}"
        )
    if not paths:
        raise ConfigError("pool: no files given")
    return paths
