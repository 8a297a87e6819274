import doctest
import subprocess
import sys

import pyarrow as pa

from mlstrat.splits import _allocate, _hashing, split


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
