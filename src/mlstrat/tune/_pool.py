"""Trials in worker processes that fail one at a time.

A ``concurrent.futures`` pool breaks as a whole when one worker dies (the out-of-memory killer's
SIGKILL): every pending trial then fails with ``BrokenProcessPool``. Here each worker holds one
trial at a time over its own pipe, so a dead worker fails exactly the trial it held and a fresh
worker takes the next one. Workers are spawned (a forked process would inherit torch's thread
pools), die with this process (``PR_SET_PDEATHSIG``), ignore Ctrl-C from birth (the terminal
sends it to the whole process group; this process stops them) and are killed when the search
stops.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlstrat._exceptions import MlstratError
from mlstrat._processes import die_with_parent, exit_description

__all__ = ["Pool"]

Objective = Callable[[int, dict[str, float]], Mapping[str, Any]]
_JOIN_S = 10.0  # how long a stopped worker may take to exit before SIGKILL


def _serve(conn: Any, initializer: Callable[[], None] | None, parent: int) -> None:
    """A worker's loop: (objective, number, params) in, ("ok", info) or ("raise", error) out."""
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C is for the search to handle
    failed = None
    if initializer is not None:
        try:
            initializer()
        except Exception as exc:  # every trial sent here fails with the cause
            failed = f"the worker process could not start: {first_line(exc)}"
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        fn, number, params = task
        if failed is not None:
            conn.send(("ok", {"value": None, "error": failed}))
            continue
        try:
            conn.send(("ok", dict(fn(number, params))))
        except MlstratError as exc:  # a bad config or data: the search stops with its message
            conn.send(("raise", exc))
        except Exception as exc:  # this trial's own failure: the search goes on
            conn.send(("ok", {"value": None, "error": first_line(exc)}))


def first_line(exc: BaseException) -> str:
    """``TypeName: the message's first line``: a trial's failure in one line."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"


@dataclass
class _Worker:
    process: Any
    conn: Any
    task: tuple[int, dict[str, float]] | None = None


class Pool:
    """``map`` in order over ``jobs`` spawned worker processes, or in this process for one job."""

    def __init__(self, jobs: int, initializer: Callable[[], None] | None = None) -> None:
        self.jobs, self.initializer = jobs, initializer
        self.workers: list[_Worker] = []

    def __enter__(self) -> Pool:
        if self.jobs == 1 and self.initializer is not None:
            self.initializer()
        return self

    def __exit__(self, *exc: Any) -> None:
        stopping = exc[0] is not None
        for w in self.workers:
            if stopping or w.task is not None:
                w.process.terminate()  # SIGTERM: a worker keeps its default action (exit at once)
            else:
                _send(w, None)
        for w in self.workers:
            w.process.join(_JOIN_S)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.conn.close()
        self.workers = []

    def map(self, fn: Objective, numbers: Sequence[int], points: Sequence[dict[str, float]]) -> Iterator[dict]:
        """``fn(number, params)`` for each pair, yielded in the given order as each is ready."""
        if self.jobs == 1:
            return (dict(fn(i, p)) for i, p in zip(numbers, points))  # lazily: each trial seen as it ends
        return self._map(fn, list(zip(numbers, points)))

    def _map(self, fn: Objective, tasks: list[tuple[int, dict[str, float]]]) -> Iterator[dict]:
        from multiprocessing.connection import wait

        pending, done = list(reversed(tasks)), {}
        for number, _ in tasks:
            while number not in done:
                self._dispatch(fn, pending)
                busy = [w for w in self.workers if w.task is not None]
                wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
                for w in busy:
                    self._collect(w, done)
            yield done.pop(number)

    def _dispatch(self, fn: Objective, pending: list[tuple[int, dict[str, float]]]) -> None:
        while pending:
            idle = [w for w in self.workers if w.task is None]
            if not idle and len(self.workers) >= self.jobs:
                return
            worker = idle[0] if idle else self._start()
            worker.task = pending.pop()
            if not _send(worker, (fn, *worker.task)):  # it died idle: its trial goes to another
                pending.append(worker.task)
                self._drop(worker)

    def _start(self) -> _Worker:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe()
        process = ctx.Process(target=_serve, args=(theirs, self.initializer, os.getpid()), daemon=True,
                              name="mlstrat-tune-worker")
        # born with SIGINT blocked (the mask survives exec): a Ctrl-C while the worker starts up
        # cannot print its traceback; this process gets the signal once it is unblocked. The
        # resource tracker first: starting it unblocks SIGINT in this thread
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        theirs.close()
        worker = _Worker(process, ours)
        self.workers.append(worker)
        return worker

    def _collect(self, w: _Worker, done: dict[int, dict]) -> None:
        """Take ``w``'s answer if it has one; a worker that died fails its trial and leaves."""
        if w.task is None:
            return
        number = w.task[0]
        if w.conn.poll():
            try:
                kind, payload = w.conn.recv()
            except (EOFError, OSError):
                kind, payload = "died", None
            if kind == "raise":
                raise payload
            if kind == "ok":
                done[number], w.task = payload, None
                return
        if w.process.is_alive():
            return
        self._drop(w)
        done[number] = {"value": None, "error": f"its worker process {exit_description(w.process.exitcode)}"}

    def _drop(self, w: _Worker) -> None:
        w.process.join()
        w.conn.close()
        self.workers.remove(w)


def _send(w: _Worker, message: Any) -> bool:
    try:
        w.conn.send(message)
    except (BrokenPipeError, OSError):
        return False
    return True
