import subprocess
import sys

import pytest

import mlstrat

CORE = ["mlstrat", "mlstrat.tables", "mlstrat.cli", "mlstrat.scenarios", "mlstrat.mismatch.transforms"]


def _modules_after_import(modules: list[str]) -> set[str]:
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_core_does_not_import_torch():
    loaded = _modules_after_import(CORE)
    assert "torch" not in loaded
    assert "optuna" not in loaded


def test_cli_startup_imports_nothing_heavy():
    loaded = _modules_after_import(["mlstrat.cli"])
    for heavy in ["torch", "duckdb", "ibis", "matplotlib", "sklearn", "pandas", "uvicorn", "optuna"]:
        assert heavy not in loaded, heavy


def test_version_is_exposed():
    assert mlstrat.__version__.count(".") == 2


def test_unknown_attribute_raises():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mlstrat.nope


def test_optional_integrations_stay_unimported():
    """`pip install mlstrat` stays light: importing it (and its CLI) loads no integration."""
    loaded = _modules_after_import(["mlstrat", "mlstrat.cli", "mlstrat.runs"])
    for optional in ["mlflow", "lightning", "pytorch_lightning", "nbclient", "ipykernel", "IPython", "transformers"]:
        assert optional not in loaded, optional


def test_sklearn_bridge_imports_sklearn_only_when_used():
    loaded = _modules_after_import(["mlstrat.sklearn"])
    assert "mlstrat.sklearn._bridge" in loaded and "sklearn" not in loaded
