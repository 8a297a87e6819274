import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlstrat.nn import DataConfig, EarlyStoppingConfig, ModelConfig, OptimConfig, TrainConfig


def split_digits(seed: int = 0):
    """The bundled digits manifest with a random split column (60/10/15/15)."""
    from mlstrat.scenarios import build_digits_manifest

    table = build_digits_manifest()
    u = np.random.default_rng(seed).random(table.num_rows)
    split = np.where(u < 0.6, "train", np.where(u < 0.7, "train_dev", np.where(u < 0.85, "dev", "test")))
    return table.append_column("split", pa.array(split))


@pytest.fixture(scope="session")
def digits_table():
    return split_digits()


@pytest.fixture(scope="session")
def digits_path(tmp_path_factory, digits_table):
    path = tmp_path_factory.mktemp("digits") / "split.parquet"
    pq.write_table(digits_table, path)
    return path


def small_config(manifest, **sections) -> TrainConfig:
    """A fast config on the digits manifest; keyword sections replace the defaults."""
    base = dict(
        data=DataConfig(manifest=str(manifest), feature_prefix="px_", image_shape=(1, 8, 8)),
        model=ModelConfig(hidden=(32,)),
        optim=OptimConfig(epochs=3, batch_size=64, lr=0.01),
        early_stopping=EarlyStoppingConfig(),
    )
    base.update(sections)
    return TrainConfig(**base)
