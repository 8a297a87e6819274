"""Imported at start-up by the interpreters of tests/nn/test_resume.py (first on PYTHONPATH).

With ``MLSTRAT_TEST_KILL_AFTER_EPOCH=N``, the process that writes the epoch checkpoint (the only
process, or rank 0 under DDP) kills itself with SIGKILL when epoch N ends, after its checkpoint
is saved: an interruption at a known point, as a crash or ``kill -9`` would leave it, with no
timing involved.
"""

import os

_EPOCH = os.environ.get("MLSTRAT_TEST_KILL_AFTER_EPOCH")

if _EPOCH and os.environ.get("RANK", "0") == "0":
    import signal

    from mlstrat.nn._hooks import on_epoch

    def _kill_after(stats):
        if stats.epoch == int(_EPOCH):
            os.kill(os.getpid(), signal.SIGKILL)

    _REGISTERED = on_epoch(_kill_after)  # kept: a collected context manager would unregister it
    _REGISTERED.__enter__()  # for the whole life of the process
