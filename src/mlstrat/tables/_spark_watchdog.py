"""A Spark job on a cluster that no executor is left to run waits without end: Spark's
standalone client waits for its master to come back, YARN and Kubernetes for resources. The
watchdog of a session mlstrat started on a cluster ends that wait: while a job is active and
the driver has no executor, a stall clock runs; past the timeout (``--timeout``,
``MLSTRAT_SPARK_TIMEOUT``, else 300 s) it cancels the session's jobs and the command fails
with one line naming the master (:func:`stall_failure`), not a traceback or a hang.

It watches only sessions mlstrat started itself: cancelling every job of a notebook's or a
spark-submit's session would reach jobs that are not mlstrat's.
"""

from __future__ import annotations

import threading
from typing import Any

from mlstrat._exceptions import ConfigError
from mlstrat.tables._spark_connect import spark_timeout

__all__ = ["ExecutorWatchdog", "stall_failure", "watch"]

#: seconds between two looks at the driver (one Py4J round trip each)
POLL_SECONDS = 1.0
_WATCHDOGS: dict[int, ExecutorWatchdog] = {}  # id(SparkContext) -> its watchdog
_LOCK = threading.Lock()


class ExecutorWatchdog:
    """Cancels the jobs of ``context`` (a SparkContext on ``master``) once jobs have been active
    with no executor for ``seconds``; :attr:`fired` then holds the one-line reason."""

    def __init__(self, context: Any, master: str, seconds: float) -> None:
        self.context = context
        self.master = master
        self.seconds = seconds
        self.fired: str | None = None
        self._stop = threading.Event()
        self._stalled_polls = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name="mlstrat-spark-watchdog")

    def start(self) -> ExecutorWatchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.look()
            except Exception:  # the JVM is gone or the context stopped: nothing left to watch
                return

    def look(self) -> None:
        """One look at the driver: count a poll with jobs waiting and no executor, reset the
        count otherwise, and cancel the jobs once the count covers the timeout."""
        if not self._waiting_without_executors():
            self._stalled_polls = 0
            return
        self._stalled_polls += 1
        if self._stalled_polls * POLL_SECONDS < self.seconds:
            return
        self.fired = (f"engine {self.master}: a Spark job waited {self.seconds:g} s with no executor "
                      "to run it (the cluster's master or workers are gone, or it has no free cores), "
                      "so it was cancelled; check the cluster, or allow more time with --timeout or "
                      f"MLSTRAT_SPARK_TIMEOUT (now {self.seconds:g} s)")
        self._stalled_polls = 0
        self.context.cancelAllJobs()

    def _waiting_without_executors(self) -> bool:
        if self.context._jsc is None:  # stopped
            raise RuntimeError("the Spark context stopped")
        if not self.context.statusTracker().getActiveJobsIds():
            return False
        return self.context._jsc.sc().getExecutorIds().size() == 0


def watch(session: Any, timeout: float | None = None, *, started_here: bool) -> None:
    """Watch ``session``'s jobs when mlstrat started it (``started_here``) on a cluster (not
    ``local``); a session already watched takes the new timeout (``--timeout`` of a later
    command in the same process)."""
    context = getattr(session, "sparkContext", None)
    master = getattr(context, "master", None)
    if not isinstance(master, str) or master.startswith("local"):  # no cluster (or a stand-in session)
        return
    seconds = spark_timeout(timeout)
    with _LOCK:
        watchdog = _WATCHDOGS.get(id(context))
        if watchdog is not None and watchdog.context is context:
            watchdog.seconds = seconds
        elif started_here:
            _WATCHDOGS[id(context)] = ExecutorWatchdog(context, master, seconds).start()


def stall_failure() -> ConfigError | None:
    """The error of a watchdog that cancelled jobs since the last call (then cleared), else
    ``None``: whatever exception the cancelled job raised, this is why it ended."""
    with _LOCK:
        for watchdog in _WATCHDOGS.values():
            if watchdog.fired is not None:
                reason, watchdog.fired = watchdog.fired, None
                return ConfigError(reason)
    return None
