"""Target-likeness of every source row when the classifier learned from a sample.

The rows of the sample keep their out-of-fold probability (as without a sample); every other
source row is scored by a classifier fitted on the whole sample (it never saw them either).
The source rows stream from the engine in record batches, their weights go to a Parquet file
batch by batch, and the engine writes the output from it with ``weight = likeness / mean``:
the table never sits whole in this process.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlstrat.mismatch._features import FeatureSpec, build_features, manifest_bases

__all__ = ["StreamedWeights", "streamed_weights"]

#: rows the engine hands over at a time (DuckDB reads a few batches ahead)
_ENGINE_ROWS = 4_096
#: a batch scored at once holds up to this many bytes of the manifest
_BATCH_BYTES = 32 << 20
_EPS = 1e-6  # as in _domain: probabilities are clipped to [eps, 1 - eps] before p / (1 - p)


@dataclass(frozen=True)
class StreamedWeights:
    """The weights of every source row, written on request (:meth:`write`), never held whole."""

    engine: Any
    rows: Any  # engine table: the source rows (id, domain and feature columns)
    model: Any  # classifier fitted on the whole sample
    out_of_fold: dict[str, float]  # id text -> out-of-fold p of the source rows of the sample
    spec: FeatureSpec
    bases: list[Path]
    name: str
    id_col: str
    domain: str

    def write(self, path: str | os.PathLike, *, force: bool = False, inputs: Sequence[Any] = (),
              con: Any = None) -> Path:
        """Score every source row and write ``id, domain, p_target, target_likeness, weight``."""
        from mlstrat.tables import check_output_path, engine_of, is_uri, read_table, write_table
        from mlstrat.tables._outputs import remove_path, reporting_full_disk, temp_path

        engine = engine_of(con) if con is not None else self.engine
        final = check_output_path(path, inputs=inputs, force=force)
        staged = final.with_suffix(".parquet") if not is_uri(path) else Path(tempfile.gettempdir()) / "weights.parquet"
        with reporting_full_disk(final):
            tmp = temp_path(staged.absolute())
            try:
                total, n = self._score(tmp)
                table = read_table(tmp, con=engine)
                weighted = table.mutate(weight=table.target_likeness / (total / n))
                return write_table(weighted, path, con=engine, force=force, inputs=inputs)
            finally:
                remove_path(tmp)

    def _score(self, path: Path) -> tuple[float, int]:
        """Write each source row's p and p / (1 - p) to ``path``: (sum of the likeness, rows)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        total, n = 0.0, 0
        try:
            for batch in self._batches():
                p = np.clip(self._probabilities(batch), _EPS, 1 - _EPS)
                like = p / (1 - p)
                out = pa.table({self.id_col: batch.column(self.id_col), self.domain: batch.column(self.domain),
                                "p_target": p, "target_likeness": like})
                if writer is None:
                    writer = pq.ParquetWriter(str(path), out.schema)
                writer.write_table(out.cast(writer.schema))
                total, n = total + float(like.sum()), n + out.num_rows
        finally:
            if writer is not None:
                writer.close()
        return total, n

    def _probabilities(self, batch: Any) -> np.ndarray:
        """The target probability of each row of ``batch``: out of fold for the rows of the
        sample, from the classifier fitted on the whole sample for the others."""
        fm = build_features(batch, self.spec, source=self.name, bases=self.bases)
        p = self.model.predict_proba(fm.X)[:, 1]
        ids = batch.column(self.id_col).to_pylist()
        for i, key in enumerate(ids):
            known = self.out_of_fold.get(str(key))
            if known is not None:
                p[i] = known
        return p

    def _batches(self) -> Any:
        """The source rows as pyarrow tables of about :data:`_BATCH_BYTES`."""
        import pyarrow as pa

        pending: list[Any] = []
        size = 0
        for batch in self.engine.batches(self.rows, chunk_size=_ENGINE_ROWS):
            if not batch.num_rows:
                continue
            pending.append(batch)
            size += batch.nbytes
            if size >= _BATCH_BYTES:
                yield pa.Table.from_batches(pending)
                pending, size = [], 0
        if pending:
            yield pa.Table.from_batches(pending)


def streamed_weights(engine: Any, table: Any, data: Any, fit: Any, spec: FeatureSpec, sides: Any, *,
                     manifest: Any, name: str, id_col: str, seed: int) -> StreamedWeights:
    """The weights of every source row of ``table``, from the classifier's fit on the sample."""
    from threadpoolctl import threadpool_limits

    from mlstrat.mismatch._adversarial import _threads, domain_classifier

    model = domain_classifier(len(fit.y), seed)
    with threadpool_limits(_threads()):
        model.fit(fit.fm.X, fit.y)
    source_ids = [str(v) for v in fit.sub.filter(pa_mask(fit.y == 0)).column(id_col).to_pylist()]
    dom = table[sides.domain].cast("string")
    return StreamedWeights(engine=engine, rows=table.filter(dom.isin(list(sides.sources))), model=model,
                           out_of_fold=dict(zip(source_ids, fit.p.tolist())), spec=spec,
                           bases=manifest_bases(manifest), name=name, id_col=id_col, domain=sides.domain)


def pa_mask(mask: np.ndarray) -> Any:
    import pyarrow as pa

    return pa.array(mask)
