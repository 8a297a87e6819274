import pytest


@pytest.fixture(autouse=True)
def _restore_default_engine():
    """`--engine spark` makes Spark the process default; later tests expect DuckDB back."""
    from mlstrat.tables import _connect as _engine

    saved = _engine._DEFAULT
    yield
    _engine._DEFAULT = saved
