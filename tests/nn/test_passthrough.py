"""Every manifest column that is not a feature travels to the predictions table (train and predict),
so error analysis shows the example."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from mlstrat.nn import predict, train
from tests.nn.conftest import small_config


def test_train_and_predict_keep_paths_and_text(tmp_path, digits_table):
    n = digits_table.num_rows
    table = digits_table.append_column("path", pa.array([f"img/{i}.png" for i in range(n)]))
    table = table.append_column("text", pa.array([f"note {i}" for i in range(n)]))
    manifest = tmp_path / "split.parquet"
    pq.write_table(table, manifest)
    result = train(small_config(manifest), run_dir=tmp_path / "run")
    preds = pq.read_table(result.run_dir / "predictions.parquet")
    kept = [c for c in preds.column_names if not c.startswith("proba_")]
    assert kept == ["id", "split", "y_true", "y_pred", "domain", "group", "path", "text"]
    by_id = dict(zip(table.column("id").to_pylist(), table.column("text").to_pylist()))
    assert all(by_id[i] == t for i, t in zip(preds.column("id").to_pylist(), preds.column("text").to_pylist()))

    applied = predict(result.run_dir, manifest)
    assert [c for c in applied.column_names if not c.startswith("proba_")] == kept
    assert applied.column("path").to_pylist() == table.column("path").to_pylist()
