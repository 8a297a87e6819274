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
#: ``prepare(number, finished) -> objective or None``: see :meth:`Pool.map`
Prepare = Callable[[int, Mapping[int, Mapping[str, Any]]], "Objective | None"]
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


class _Run:
    """One ``map`` call's state: the trials still to start (last first), the results not yet
    yielded, every result so far, and whether ``prepare`` refused a trial (no more start)."""

    def __init__(self, fn: Objective, tasks: list[tuple[int, dict[str, float]]], prepare: Prepare | None,
                 ordered: bool = True) -> None:
        self.fn, self.prepare, self.ordered = fn, prepare, ordered
        self.order = [number for number, _ in tasks]
        self.pending = list(reversed(tasks))
        self.done: dict[int, dict] = {}
        self.finished: dict[int, dict] = {}
        self.stopped = False

    def finish(self, number: int, result: dict) -> None:
        self.done[number] = self.finished[number] = result

    def next_task(self, jobs: int) -> Objective | None:
        """The function for the next pending trial, or None when it cannot start (yet)."""
        if self.prepare is None:
            return self.fn
        if self.stopped:
            self.pending.clear()
            return None
        position = len(self.order) - len(self.pending)
        if self.ordered and any(n not in self.finished for n in self.order[:max(position - jobs + 1, 0)]):
            return None  # a trial jobs places before it still runs: wait for it
        task = self.prepare(self.pending[-1][0], self.finished)
        if task is None:
            self.stopped = True
            self.pending.clear()
        return task


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

    def map(self, fn: Objective, numbers: Sequence[int], points: Sequence[dict[str, float]], *,
            prepare: Prepare | None = None, ordered: bool = True) -> Iterator[dict | None]:
        """``fn(number, params)`` for each pair, yielded in the given order as each is ready.

        With ``prepare``, each trial's function is ``prepare(number, finished)`` at the moment it
        starts (``finished``: the results of this call so far, by number), or ``None`` when it is
        not to start: that trial and every later one then yield ``None``. With ``ordered``, a
        trial then starts only once every trial ``jobs`` or more places before it has finished,
        so ``finished`` holds at least those, whichever process finished first.
        """
        if self.jobs == 1:
            return self._serial(fn, numbers, points, prepare)  # lazily: each trial seen as it ends
        return self._map(fn, list(zip(numbers, points)), prepare, ordered)

    @staticmethod
    def _serial(fn: Objective, numbers: Sequence[int], points: Sequence[dict[str, float]],
                prepare: Prepare | None) -> Iterator[dict | None]:
        finished: dict[int, dict] = {}
        stopped = False
        for number, params in zip(numbers, points):
            task = None if stopped else (fn if prepare is None else prepare(number, finished))
            if task is None:
                stopped = True
                yield None
                continue
            finished[number] = dict(task(number, params))
            yield finished[number]

    def _map(self, fn: Objective, tasks: list[tuple[int, dict[str, float]]],
             prepare: Prepare | None, ordered: bool) -> Iterator[dict | None]:
        from multiprocessing.connection import wait

        run = _Run(fn, tasks, prepare, ordered)
        for number, _ in tasks:
            while number not in run.done:
                self._dispatch(run)
                busy = [w for w in self.workers if w.task is not None]
                if not busy:  # nothing runs and this trial will not start: the search stops here
                    break
                wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
                for w in busy:
                    self._collect(w, run)
            yield run.done.pop(number, None)

    def _dispatch(self, run: _Run) -> None:
        while run.pending:
            idle = [w for w in self.workers if w.task is None]
            if not idle and len(self.workers) >= self.jobs:
                return
            task = run.next_task(self.jobs)
            if task is None:
                return
            worker = idle[0] if idle else self._start()
            worker.task = run.pending.pop()
            if not _send(worker, (task, *worker.task)):  # it died idle: its trial goes to another
                run.pending.append(worker.task)
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

    def _collect(self, w: _Worker, run: _Run) -> None:
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
                run.finish(number, payload)
                w.task = None
                return
        if w.process.is_alive():
            return
        self._drop(w)
        run.finish(number, {"value": None, "error": f"its worker process {exit_description(w.process.exitcode)}"})

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
