import doctest
import subprocess
import sys

import pyarrow as pa

from mlstrat.splits import _allocate, _hashing, split
from tests._probe import modules_of_command, top_packages


def test_docstring_examples():
    for module in (_allocate, _hashing):
        failed, attempted = doctest.testmod(module)
        assert attempted > 0 and failed == 0


def test_import_is_light():
    code = "import sys, mlstrat.splits; print(' '.join(sys.modules))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    for heavy in ("torch", "sklearn", "matplotlib", "duckdb", "ibis"):
        assert heavy not in loaded, heavy


def test_progress_bar_path_runs(capsys):
    res = split(pa.table({"id": [f"r{i}" for i in range(50)]}), dev_size=5, test_size=5, progress=True)
    assert res.sizes["dev"] == 5
    assert capsys.readouterr().out == ""  # the bar goes to stderr only


def test_split_command_keeps_pandas_off_its_path(tmp_path):
    """The plan and the drawn units reach DuckDB as bound lists: building Arrow tables in
    Python would import pandas (pyarrow's conversion checks for pandas objects)."""
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,label,grp,domain\n" + "".join(
        f"{i},{'ab'[i % 2]},g{i // 3},{'app' if i % 5 else 'web'}\n" for i in range(60)))
    lock = tmp_path / "lock.csv"
    for _run in ("creates the lock", "reads it"):
        loaded = top_packages(modules_of_command(
            ["split", str(manifest), "-o", str(tmp_path / "out.csv"), "--force", "--label", "label",
             "--group", "grp", "--domain", "domain", "--target", "app", "--dev-size", "6",
             "--test-size", "6", "--lock", str(lock)], tmp_path))
        assert {"duckdb", "ibis", "pyarrow"} <= loaded
        assert "pandas" not in loaded
