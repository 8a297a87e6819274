"""scripts/gpu-check.sh on a machine without CUDA (or with CUDA hidden) stops at the check."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_script_stops_cleanly_without_cuda():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHON": sys.executable}
    out = subprocess.run(["bash", str(ROOT / "scripts" / "gpu-check.sh")], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 3, out.stderr
    assert "gpu-check: no CUDA device visible to torch" in out.stderr
    assert "nothing checked" in out.stderr
