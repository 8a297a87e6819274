import subprocess
import sys

import pytest

import mlstrat
from tests._probe import modules_of_command, top_packages

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
    for heavy in ["torch", "duckdb", "ibis", "matplotlib", "sklearn", "pandas", "uvicorn", "optuna", "pyspark"]:
        assert heavy not in loaded, heavy


def test_duckdb_work_never_imports_pyspark():
    """pyspark loads only when Spark is asked for (its import alone costs about a second)."""
    code = ("import sys, mlstrat\n"
            "mlstrat.compute_metrics({'split': ['dev', 'dev'], 'y_true': [0, 1], 'y_pred': [0, 0]})\n"
            "mlstrat.split({'id': [str(i) for i in range(40)]}, dev_size=4, test_size=4)\n"
            "print('pyspark' in sys.modules, 'duckdb' in sys.modules)")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


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
    assert "mlstrat.integrations.sklearn._bridge" in loaded and "sklearn" not in loaded


@pytest.mark.parametrize("command", [["metrics"], ["diagnose", "--no-record"]])
def test_table_commands_keep_pandas_off_their_path(tmp_path, command):
    """A table command on a small file reads and computes through DuckDB and Arrow: pandas
    (a third of a second to import) is not loaded (see benchmarks/startup_bench.py)."""
    pred = tmp_path / "pred.csv"
    pred.write_text("id,split,y_true,y_pred\n1,train,a,a\n2,train,b,b\n3,dev,a,b\n4,dev,b,b\n")
    loaded = top_packages(modules_of_command([command[0], str(pred), *command[1:]], tmp_path))
    assert {"duckdb", "ibis", "pyarrow"} <= loaded
    assert "pandas" not in loaded
