"""Processes that belong to one command: children die with it, signals stop it in one line.

- :func:`die_with_parent` (in a child): the kernel kills this process when its parent exits
  (Linux ``prctl(PR_SET_PDEATHSIG)``; elsewhere a thread that watches the parent's pid), so a
  ``kill -9`` of the command leaves no worker writing behind it;
- :func:`check_owner` (before publishing an output or recording a run): refuses when the
  process that started this one is gone, so an orphan never publishes;
- :func:`stop_on_signals` (in the command): SIGINT and SIGTERM raise :class:`Stopped`, which the
  CLI turns into one line and the shell's exit code (128 + the signal number).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

from mlstrat._exceptions import MlstratError

__all__ = ["OWNER_ENV", "OrphanedError", "Stopped", "check_owner", "die_with_parent", "exit_description",
           "signal_label", "signal_name", "stop_on_signals"]

#: the pid of the process that owns the command, set in the environment of its workers
OWNER_ENV = "MLSTRAT_OWNER_PID"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_WATCH_INTERVAL_S = 0.5  # how often the fallback watchdog looks at the parent's pid
_WHY = {signal.SIGKILL: "sent by the out-of-memory killer or kill -9", signal.SIGINT: "Ctrl-C"}


class Stopped(KeyboardInterrupt):
    """The command was stopped by a signal (SIGINT: Ctrl-C; SIGTERM: ``kill``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        """What a shell reports for a process killed by this signal."""
        return 128 + self.signum


class OrphanedError(MlstratError):
    """This worker's command is gone: what it would publish now belongs to nobody."""


def signal_name(signum: int) -> str:
    """``SIGKILL`` for 9; ``signal 64`` for a number without a name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def signal_label(signum: int) -> str:
    """``SIGINT (Ctrl-C)``, ``SIGTERM``: a signal as a user knows it."""
    return f"{signal_name(signum)} (Ctrl-C)" if signum == signal.SIGINT else signal_name(signum)


def exit_description(code: int) -> str:
    """A child's exit status in words: "was killed by signal 9 (SIGKILL; the out-of-memory
    killer sends it)" for a negative status (Python's convention), "exited with code N" otherwise."""
    if code >= 0:
        return f"exited with code {code}"
    why = _WHY.get(-code)
    return f"was killed by signal {-code} ({signal_name(-code)}{'; ' + why if why else ''})"


def die_with_parent(parent_pid: int) -> None:
    """Make this process die when its parent ``parent_pid`` does (call it first thing in a child).

    Linux: the kernel sends SIGKILL on the parent's exit; elsewhere a daemon thread exits this
    process within half a second. If the parent is already gone, exit now.
    """
    os.environ[OWNER_ENV] = str(parent_pid)
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    else:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the kernel was asked
        os._exit(128 + signal.SIGKILL)


def _watch_parent(parent_pid: int) -> None:
    import time

    while os.getppid() == parent_pid:
        time.sleep(_WATCH_INTERVAL_S)
    os._exit(128 + signal.SIGKILL)


def check_owner(what: str) -> None:
    """Raise :class:`OrphanedError` when this process is a worker whose command has ended.

    ``what`` names the output about to be published (for the message). A process that no
    command started (no ``MLSTRAT_OWNER_PID``) owns itself.
    """
    owner = os.environ.get(OWNER_ENV, "")
    if owner.isdigit() and os.getppid() != int(owner):
        raise OrphanedError(f"{what}: not written: the command that started this process (pid {owner}) "
                            "has ended")


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside: SIGINT and SIGTERM raise :class:`Stopped` in the main thread (elsewhere: no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        for sig in previous:  # a second Ctrl-C must not interrupt the clean-up of the first
            signal.signal(sig, signal.SIG_IGN)
        raise Stopped(signum)

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
