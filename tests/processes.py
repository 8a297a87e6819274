"""Start a command in its own session, wait for what the command itself shows, signal it, and
check that every process it started is gone: the tools of the kill / SIGTERM / Ctrl-C tests.

Nothing here waits on the clock: :func:`wait_until` polls a condition the code under test
makes true (a process exists, a signal disposition changed, a file appeared) and fails after
a generous deadline instead of hanging the suite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_S = 240.0  # a bound on waits, never a synchronisation: 2 shared cores can be very slow
_POLL_S = 0.05


def env(**extra: str) -> dict[str, str]:
    """The suite's environment for a child command: this checkout first, one thread, no launcher."""
    out = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]), OMP_NUM_THREADS="1",
               **extra)
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MLSTRAT_OWNER_PID"):
        out.pop(key, None)
    return out


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    """``python -m mlstrat ARGS`` in a new session (its own process group, as a shell job)."""
    return subprocess.Popen([sys.executable, "-m", "mlstrat", *args], cwd=cwd, env=env(), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class Commands:
    """The commands one test started, each in its own session: :meth:`close` (the ``commands``
    fixture calls it at teardown, the test passed or not) kills whatever of them still runs, so a
    test that fails half-way never leaves a training of 100000 epochs behind it."""

    def __init__(self) -> None:
        self._started: list[subprocess.Popen] = []

    def start(self, args: list[str], cwd: Path) -> subprocess.Popen:
        """:func:`start`, remembered for :meth:`close`."""
        return self.track(start(args, cwd))

    def track(self, proc: subprocess.Popen) -> subprocess.Popen:
        """Remember ``proc`` (started with ``start_new_session=True``) for :meth:`close`."""
        self._started.append(proc)
        return proc

    def close(self) -> None:
        for proc in self._started:
            kill_session(proc)


def kill_session(proc: subprocess.Popen) -> None:
    """SIGKILL what is left of ``proc``'s session: the processes it started (those in sessions of
    their own too, as torch's ranks), then its process group; reap it and close its pipes."""
    if proc.poll() is None:
        started = [i for i in (identity(p) for p in descendants(proc.pid)) if i is not None]
        _kill_group(proc.pid)
        for ident in started:
            if alive(ident) and own_group(ident[0]):
                _kill_group(ident[0])
            elif alive(ident):
                _signal(ident[0], signal.SIGKILL)
    elif _group_members(proc.pid):  # the command is gone, processes of its group are not
        _kill_group(proc.pid)
    try:
        proc.communicate(timeout=DEADLINE_S)  # a bound, in case a process outside the session holds a pipe
    except subprocess.TimeoutExpired:
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # already gone
        pass


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def wait_until(condition: Callable[[], object], what: str, *, proc: subprocess.Popen | None = None) -> object:
    """Poll ``condition`` until it is truthy; fail (with the command's stderr) past the deadline
    or when ``proc`` ended first."""
    end = time.monotonic() + DEADLINE_S
    while True:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the command ended ({proc.returncode}) before {what}: {proc.stderr.read()[-3000:]}")
        if time.monotonic() > end:
            raise AssertionError(f"not within {DEADLINE_S:.0f} s: {what}")
        time.sleep(_POLL_S)


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields after "pid (comm) "


def identity(pid: int) -> tuple[int, str] | None:
    """(pid, start time): tells a process apart from a later one given the same pid."""
    fields = _stat(pid)
    return None if fields is None else (pid, fields[19])


def alive(ident: tuple[int, str]) -> bool:
    """Whether that very process still runs (a zombie, already dead, does not count)."""
    fields = _stat(ident[0])
    return fields is not None and fields[19] == ident[1] and fields[0] != "Z"


def own_group(pid: int) -> bool:
    """Whether ``pid`` leads its own process group (a Ctrl-C to its parent's group misses it)."""
    fields = _stat(pid)
    return fields is not None and fields[2] == str(pid)


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[1] == str(pid):
                out.append(int(entry.name))
    return out


def descendants(pid: int) -> list[int]:
    """Children of ``pid``, their children, and so on (from /proc)."""
    out, todo = [], [pid]
    while todo:
        found = children(todo.pop())
        out.extend(found)
        todo.extend(found)
    return out


def _group_members(pgid: int) -> list[int]:
    return [int(e.name) for e in Path("/proc").iterdir()
            if e.name.isdigit() and (fields := _stat(int(e.name))) is not None and fields[2] == str(pgid)]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def handles(pid: int, sig: int, field: str = "SigCgt") -> bool:
    """Whether ``pid`` catches (``SigCgt``), ignores (``SigIgn``) or blocks (``SigBlk``) ``sig``."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith(field + ":"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False


def wait_gone(idents: list[tuple[int, str]]) -> None:
    """Wait until none of these processes runs any more."""
    wait_until(lambda: not any(alive(i) for i in idents),
               "every process of the command is gone: " + ", ".join(cmdline(i[0]) for i in idents if alive(i)))


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    """(exit code, stderr) of a command that was told to stop; killed past the deadline."""
    try:
        _, err = proc.communicate(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        raise AssertionError(f"the command did not stop: {err[-3000:]}") from None
    return proc.returncode, err
