"""The executor watchdog's rule on a stand-in SparkContext: jobs active with no executor for the
timeout get cancelled, once, with a one-line reason; anything else resets the count."""

from __future__ import annotations

import pytest

from mlstrat._exceptions import ConfigError
from mlstrat.tables import _spark_watchdog
from mlstrat.tables._spark_watchdog import POLL_SECONDS, ExecutorWatchdog, stall_failure


class _Ids:
    def __init__(self, n: int) -> None:
        self.n = n

    def size(self) -> int:
        return self.n


class _Context:
    """What the watchdog reads of a SparkContext: active job ids and executor ids."""

    def __init__(self) -> None:
        self.jobs: list[int] = []
        self.executors = 0
        self.cancelled = 0
        self._jsc = self

    def sc(self):
        return self

    def getExecutorIds(self):
        return _Ids(self.executors)

    def statusTracker(self):
        return self

    def getActiveJobsIds(self):
        return self.jobs

    def cancelAllJobs(self) -> None:
        self.cancelled += 1


REASON = ("engine spark://h:7077: a Spark job waited 3 s with no executor to run it (the cluster's master "
          "or workers are gone, or it has no free cores), so it was cancelled; check the cluster, or allow "
          "more time with --timeout or MLSTRAT_SPARK_TIMEOUT (now 3 s)")


def _watchdog(context: _Context, seconds: float = 3 * POLL_SECONDS) -> ExecutorWatchdog:
    return ExecutorWatchdog(context, "spark://h:7077", seconds)  # never started: look() is called by hand


def test_jobs_without_executors_for_the_timeout_are_cancelled_once():
    context = _Context()
    dog = _watchdog(context)
    context.jobs = [7]
    dog.look()
    dog.look()
    assert (context.cancelled, dog.fired) == (0, None)
    dog.look()
    assert (context.cancelled, dog.fired) == (1, REASON)
    dog.look()  # the count starts again after a cancel
    assert context.cancelled == 1


@pytest.mark.parametrize("interruption", ["an executor came", "no job active"])
def test_an_executor_or_an_idle_moment_resets_the_count(interruption):
    context = _Context()
    dog = _watchdog(context)
    context.jobs = [1]
    dog.look()
    dog.look()
    if interruption == "an executor came":
        context.executors = 1
    else:
        context.jobs = []
    dog.look()
    context.executors, context.jobs = 0, [1]
    dog.look()
    dog.look()
    assert context.cancelled == 0
    dog.look()
    assert context.cancelled == 1


def test_idle_without_executors_is_no_stall():
    context = _Context()
    dog = _watchdog(context, seconds=POLL_SECONDS)
    for _ in range(5):
        dog.look()
    assert context.cancelled == 0


def test_a_stopped_context_ends_the_watch():
    context = _Context()
    context._jsc = None
    with pytest.raises(RuntimeError):
        _watchdog(context).look()


def test_the_reason_is_reported_once(monkeypatch):
    context = _Context()
    dog = _watchdog(context, seconds=POLL_SECONDS)
    monkeypatch.setattr(_spark_watchdog, "_WATCHDOGS", {id(context): dog})
    assert stall_failure() is None
    context.jobs = [3]
    dog.look()
    failure = stall_failure()
    assert isinstance(failure, ConfigError) and str(failure).startswith("engine spark://h:7077: a Spark job waited 1 s")
    assert stall_failure() is None
