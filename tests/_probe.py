"""What a real ``python -m mlstrat ...`` process imports: the start-up tests' one probe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_PROBE = """
import runpy, sys
sys.argv = ["mlstrat", *sys.argv[1:]]
try:
    runpy.run_module("mlstrat", run_name="__main__")
except SystemExit as exc:
    assert not exc.code, exc.code
print("MODULES", " ".join(sorted(sys.modules)))
"""


def modules_of_command(args: list[str], cwd: Path) -> set[str]:
    """The modules loaded by ``python -m mlstrat ARGS`` in a fresh process (run store in ``cwd``);
    asserts that the command succeeded."""
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", _PROBE, *args], capture_output=True,
                         text=True, cwd=cwd, env={**os.environ, "MLSTRAT_STORE": str(cwd / "runs.db")})
    assert out.returncode == 0, out.stderr[-2000:]
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("MODULES ")][-1]
    return set(line.split()[1:])


def top_packages(modules: set[str]) -> set[str]:
    """``{"ibis", ...}`` of ``{"ibis.expr.types", ...}``."""
    return {m.split(".")[0] for m in modules}
