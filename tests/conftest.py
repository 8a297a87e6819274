"""Suite-wide fixtures."""

import pytest


@pytest.fixture(autouse=True)
def _isolated_run_store(tmp_path_factory, monkeypatch):
    """Commands that record runs write to a per-test store, never into the checkout."""
    monkeypatch.setenv("MLSTRAT_STORE", str(tmp_path_factory.mktemp("store") / "runs.db"))
