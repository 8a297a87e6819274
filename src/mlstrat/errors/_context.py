"""What a sheet row needs to show its example: columns joined back by id, the image shape,
train statistics of the numeric features.

Predictions made elsewhere often carry only id / y_true / y_pred; the manifest (the split
file) still has the path, the text or the pixels. They are joined back by id in the engine,
so only the sampled rows ever leave it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstrat._exceptions import ConfigError, InputError

__all__ = ["ExampleContext", "run_data_config", "example_context", "join_manifest", "train_feature_stats",
           "parse_image_shape", "default_manifest"]

_DROP = ("split",)


@dataclass(frozen=True)
class ExampleContext:
    """How the rows of a sheet can be shown.

    Attributes
    ----------
    manifest : str or None
        The table whose columns were joined back by id.
    image_shape : tuple of int or None
        ``(C, H, W)`` (or ``(H, W)``) of the pixel features, from the run's config or given.
    image_features : tuple of str
        The pixel feature columns in order (length = product of ``image_shape``).
    """

    manifest: str | None = None
    image_shape: tuple[int, ...] | None = None
    image_features: tuple[str, ...] = field(default_factory=tuple)


def parse_image_shape(value: Any) -> tuple[int, ...] | None:
    """``"8x8"``, ``"1x28x28"``, ``"3,32,32"`` or a sequence -> a tuple of ints; ``None`` stays."""
    if value is None or value == "":
        return None
    parts = value if isinstance(value, (list, tuple)) else str(value).replace(",", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) not in (2, 3) or min(shape) < 1 or (len(shape) == 3 and shape[0] not in (1, 3)):
        raise ConfigError(
            f"image shape: {value!r} is not H x W or C x H x W with C = 1 or 3; "
            "give e.g. 8x8, 1x28x28 or 3x32x32"
        )
    return shape


#: Where a run directory keeps its configuration, most authoritative first: the trainer writes
#: the resolved config (absolute manifest path, every default filled in); a ``config.toml`` in
#: the run directory is the user's own file, read only when there is no resolved one.
RUN_CONFIG_NAMES = ("config.resolved.toml", "config.toml")


def run_data_config(predictions: Any) -> dict[str, Any]:
    """The ``[data]`` section of the run directory's config beside ``predictions``
    (``{}`` when there is none): it names the manifest and the image shape."""
    import tomllib

    if not isinstance(predictions, (str, os.PathLike)):
        return {}
    folder = Path(predictions).resolve().parent
    path = next((folder / name for name in RUN_CONFIG_NAMES if (folder / name).is_file()), None)
    if path is None:
        return {}
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}  # not a run of ours: showing the example is a nicety, never an error
    data = raw.get("data")
    return _usable(data) if isinstance(data, dict) else {}


#: the [data] keys read from a run's config, and the types they must have to be used
_RUN_KEYS = {"manifest": str, "id": str, "label": str, "feature_prefix": str, "features": list,
             "image_shape": (str, list)}


def _usable(data: dict[str, Any]) -> dict[str, Any]:
    """The keys of a run config's ``[data]`` that can be used as they are. The file beside the
    predictions may be anyone's config.toml: a value of another type (``manifest = 3``) or an
    image shape that is none is left out, like a config that is not TOML at all."""
    kept = {k: v for k, v in data.items() if k not in _RUN_KEYS or isinstance(v, _RUN_KEYS[k])}
    if not all(isinstance(f, str) for f in kept.get("features", ())):
        del kept["features"]
    try:
        parse_image_shape(kept.get("image_shape"))
    except ConfigError:
        del kept["image_shape"]
    return kept


def default_manifest(data: dict[str, Any]) -> str | None:
    """The run's manifest when it still exists (the config stores it as an absolute path)."""
    path = data.get("manifest")
    return path if path and Path(path).is_file() else None


def example_context(data: dict[str, Any], columns: list[str], *, manifest: Any = None,
                    image_shape: Any = None) -> ExampleContext:
    """Combine what the caller gave with what the run's config says (the caller wins)."""
    shape = parse_image_shape(image_shape) or parse_image_shape(data.get("image_shape"))
    features: tuple[str, ...] = ()
    if shape is not None:
        if data.get("features"):
            features = tuple(data["features"])
        else:
            prefix = data.get("feature_prefix")
            features = tuple(c for c in columns if prefix and c.startswith(prefix))
    if shape is not None and features and len(features) != math.prod(shape):
        features = ()  # the features are not the pixels of that shape
    if shape is not None and not features:
        features = _pixel_columns(columns, math.prod(shape))
    source = str(manifest) if isinstance(manifest, (str, os.PathLike)) else None
    return ExampleContext(manifest=source, image_shape=shape, image_features=features)


def _pixel_columns(columns: list[str], count: int) -> tuple[str, ...]:
    """``px_0 .. px_{count-1}`` (or ``pixel0 ..``) in numeric order, when exactly that many exist."""
    import re

    pattern = re.compile(r"^(?:px|pixel)_?(\d+)$", re.IGNORECASE)
    found = sorted((int(m.group(1)), c) for c in columns if (m := pattern.match(c)))
    return tuple(c for _, c in found) if len(found) == count else ()


def join_manifest(table: Any, manifest: Any, *, id_column: str = "id", label: str = "label",
                  con: Any = None, predictions: str = "the predictions") -> Any:
    """``table`` with the manifest's columns it lacks, joined on the id's text (left join).

    The manifest's ``split`` and ``label`` columns are left out: the predictions table has
    them as ``split`` and ``y_true``. ``predictions`` names the table in messages.

    Raises
    ------
    InputError
        When no id of the predictions is in the manifest (the columns would all be empty);
        some ids missing is a :class:`MlstratWarning` with their count.
    """
    from mlstrat.tables import describe_source, read_table, require_columns

    source = describe_source(manifest)
    other = read_table(manifest, con=con)
    require_columns(other, [id_column], source=source, role="id column")
    skip = {*_DROP, id_column, label}
    extra = [c for c in other.columns if c not in table.columns and c not in skip]
    if not extra:
        return table
    other = other.select(_mid=other[id_column].cast("string"), *extra)
    dup = other.group_by("_mid").aggregate(n=other.count()).filter(lambda t: t.n > 1).limit(1)
    dup_rows = dup.to_pyarrow().to_pylist()
    if dup_rows:
        raise InputError(f"{source}: id {dup_rows[0]['_mid']!r} appears {dup_rows[0]['n']} times; "
                         "the manifest must have one row per id to join its columns back")
    _check_ids_match(table, other, predictions=predictions, manifest=source, id_column=id_column)
    joined = table.left_join(other, table.id.cast("string") == other._mid)
    return joined.drop("_mid")


def _check_ids_match(table: Any, other: Any, *, predictions: str, manifest: str, id_column: str) -> None:
    """Refuse a manifest that shares no id with the predictions; warn when some ids are missing."""
    import warnings

    from mlstrat._exceptions import MlstratWarning

    ids = table.select(_pid=table.id.cast("string"))
    counts = ids.aggregate(n=ids.count(), m=ids._pid.isin(other._mid).cast("int64").sum())
    row = counts.to_pyarrow().to_pylist()[0]
    n, matched = int(row["n"] or 0), int(row["m"] or 0)
    if n and not matched:
        def example(t: Any, col: str) -> str:
            values = t.select(v=t[col]).filter(lambda x: x.v.notnull()).limit(1).to_pyarrow().column("v")
            return repr(values[0].as_py()) if len(values) else "none"

        raise InputError(
            f"{predictions}: no id matches the manifest {manifest}: the predictions' column 'id' (e.g. "
            f"{example(ids, '_pid')}) and the manifest's column {id_column!r} (e.g. {example(other, '_mid')}) "
            "share no value; give the manifest these predictions were made from (--manifest), or name its id "
            "column in the run's config ([data] id)")
    if matched < n:
        warnings.warn(f"{manifest}: {n - matched} of {n} predictions row(s) have no id in the manifest; "
                      "their manifest columns are empty", MlstratWarning, stacklevel=3)


def train_feature_stats(table: Any, columns: list[str]) -> dict[str, list[float]]:
    """``{column: [mean, std]}`` of the numeric ``columns`` over the train rows (one query)."""
    import ibis

    numeric = [c for c in columns if table[c].type().is_numeric() and not table[c].type().is_boolean()]
    if not numeric or "split" not in table.columns:
        return {}
    train = table.filter(table.split.cast("string") == "train")
    aggs: dict[str, Any] = {"_n": ibis._.count()}
    for i, c in enumerate(numeric):
        col = train[c].cast("float64")
        aggs[f"m{i}"] = col.mean()
        aggs[f"s{i}"] = col.std(how="pop")
    row = train.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    if not row["_n"]:
        return {}
    out = {}
    for i, c in enumerate(numeric):
        mean, std = row[f"m{i}"], row[f"s{i}"]
        if mean is not None and std is not None and math.isfinite(mean) and math.isfinite(std):
            out[c] = [float(mean), float(std)]
    return out
