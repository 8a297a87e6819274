import subprocess
import sys

import mlstrat
import mlstrat.mismatch as mm


def test_all_lists_exactly_the_public_names():
    public = {n for n in vars(mm) if not n.startswith("_")} - {"transforms", "annotations"}
    assert set(mm.__all__) == public


def test_package_exposes_the_api_lazily():
    assert mlstrat.analyze_mismatch is mm.analyze_mismatch
    assert mlstrat.synthesize is mm.synthesize


def test_importing_mismatch_loads_nothing_heavy():
    code = "import sys, mlstrat.mismatch; print(' '.join(sys.modules))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    for heavy in (
        "sklearn",
        "scipy",
        "PIL",
        "soundfile",
        "duckdb",
        "ibis",
        "pyarrow",
        "torch",
        "matplotlib",
    ):
        assert heavy not in loaded, heavy
