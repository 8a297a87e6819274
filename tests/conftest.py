"""Suite-wide set-up."""

import os
import tempfile


def pytest_configure(config):
    """Commands that record runs write to a throwaway store, never into the checkout
    (module-scoped fixtures run before function-scoped ones, so this is set for the session)."""
    # recorded runs are logged to MLflow when this is set: only the tests that ask for it do
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    if "MLSTRAT_STORE" not in os.environ:
        os.environ["MLSTRAT_STORE"] = os.path.join(tempfile.mkdtemp(prefix="mlstrat-store-"), "runs.db")
