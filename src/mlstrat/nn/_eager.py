"""Overlap torch._dynamo's import with reading the data.

Every ``torch.optim`` optimizer imports ``torch._dynamo`` in its first ``step()`` (to place a
graph break for ``torch.compile``), even in eager mode. The import costs 1-2 s per process
(sympy, the FX symbolic-shape machinery; docs/benchmarks/train.md), a large share of a short
run. :func:`preload_dynamo` starts that import in a background thread while the main thread
reads and checks the manifest, which is mostly engine work outside the GIL; the first
``step()`` then finds the module loaded, or waits on Python's import lock for the rest.
"""

from __future__ import annotations

import importlib
import sys
import threading

__all__ = ["preload_dynamo"]


def _import() -> None:
    try:
        importlib.import_module("torch._dynamo")
    except Exception:  # the first step() imports it again and reports any real error there
        pass


def preload_dynamo() -> threading.Thread | None:
    """Start importing torch._dynamo in the background (once per process); the thread, or None."""
    if "torch._dynamo" in sys.modules or any(t.name == "mlstrat-preload-dynamo" for t in threading.enumerate()):
        return None
    thread = threading.Thread(target=_import, name="mlstrat-preload-dynamo", daemon=True)
    thread.start()
    return thread
