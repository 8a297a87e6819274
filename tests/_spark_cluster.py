"""A Spark standalone cluster (a master and workers) started from the pyspark package on loopback.

The pyspark wheel ships ``bin/spark-class`` and the master's and worker's classes, but not
``sbin/start-master.sh``; each daemon runs through ``spark-class`` in a session of its own.
Every port is chosen by the kernel (``--port 0``): the master's URL and web UI port are read
from its log, and the workers are counted through the master's JSON status, so nothing waits
on the clock. Every process carries a marker in its environment (executors inherit the
worker's), so :meth:`Cluster.survivors` finds any JVM of the cluster still running after
:func:`standalone_cluster` tore it down, executors included.

Used by tests/spark/test_standalone.py and benchmarks/cluster_bench.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.processes import alive, descendants, identity, kill_session, wait_gone, wait_until

_MASTER = "org.apache.spark.deploy.master.Master"
_WORKER = "org.apache.spark.deploy.worker.Worker"
_MARKER = "MLSTRAT_TEST_CLUSTER"


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


@dataclass
class Cluster:
    """A running standalone cluster: ``url`` (``spark://127.0.0.1:PORT``), the master's web UI
    ``ui`` (``http://127.0.0.1:PORT``), its processes and the folder holding logs and work dirs."""

    folder: Path
    marker: str
    url: str = ""
    ui: str = ""
    daemons: list[subprocess.Popen] = field(default_factory=list)

    def status(self) -> dict:
        """The master's JSON status (workers, applications)."""
        with urllib.request.urlopen(f"{self.ui}/json/", timeout=30) as reply:
            return json.load(reply)

    def survivors(self) -> list[int]:
        """Pids of every process on this machine that carries the cluster's marker."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:  # gone, or not ours to read
                continue
            if f"{_MARKER}={self.marker}".encode() in environ.split(b"\0"):
                found.append(int(entry.name))
        return found

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _daemon(cluster: Cluster, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """``spark-class ARGS`` in its own session, its output in ``FOLDER/NAME.log``."""
    with open(cluster.folder / f"{name}.log", "wb") as log:
        proc = subprocess.Popen([str(spark_home() / "bin" / "spark-class"), *args], env=env, cwd=cluster.folder,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    cluster.daemons.append(proc)
    return proc


def _found(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text)
    return match.group(1) if match else None


def _in_log(cluster: Cluster, master: subprocess.Popen, pattern: str) -> str | None:
    """What ``pattern`` captures in the master's log; an error when the master ended first."""
    found = _found(pattern, cluster.log("master"))
    if found is None and master.poll() is not None:
        raise AssertionError(f"the Spark master ended ({master.returncode}): {cluster.log('master')[-3000:]}")
    return found


def _alive_workers(cluster: Cluster) -> int:
    try:
        return int(cluster.status().get("aliveworkers", 0))
    except OSError:  # the UI is not serving yet
        return 0


def daemon_env(marker: str) -> dict[str, str]:
    """The daemons' environment: the pyspark package as Spark's home, loopback only, this Python
    for any Python worker, and the cluster's marker."""
    env = dict(os.environ, SPARK_HOME=str(spark_home()), SPARK_LOCAL_IP="127.0.0.1",
               PYSPARK_PYTHON=sys.executable, **{_MARKER: marker})
    for key in ("SPARK_MASTER", "MASTER", "PYSPARK_SUBMIT_ARGS", "SPARK_CONF_DIR"):
        env.pop(key, None)
    return env


@contextlib.contextmanager
def standalone_cluster(folder: Path, *, workers: int = 1, cores: int = 1, memory: str = "1g") -> Iterator[Cluster]:
    """A master and ``workers`` workers of ``cores`` cores and ``memory`` each; every process of
    it (executors included) is killed and waited for on exit, whatever happened inside."""
    folder.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(folder=folder, marker=uuid.uuid4().hex)
    env = daemon_env(cluster.marker)
    try:
        master = _daemon(cluster, "master", [_MASTER, "--host", "127.0.0.1", "--port", "0", "--webui-port", "0"], env)
        cluster.url = str(wait_until(lambda: _in_log(cluster, master, r"Starting Spark master at (spark://\S+)"),
                                     "the master is up"))
        port = wait_until(lambda: _in_log(cluster, master, r"'MasterUI' on port (\d+)"), "the master's web UI is up")
        cluster.ui = f"http://127.0.0.1:{port}"
        for i in range(workers):
            _daemon(cluster, f"worker-{i}", [_WORKER, "--host", "127.0.0.1", "--port", "0", "--webui-port", "0",
                                             "--cores", str(cores), "--memory", memory,
                                             "--work-dir", str(folder / f"work-{i}"), cluster.url], env)
        wait_until(lambda: _alive_workers(cluster) == workers, f"{workers} worker(s) registered with the master")
        yield cluster
    finally:
        tear_down(cluster)


def tear_down(cluster: Cluster) -> None:
    """SIGKILL every daemon's session and everything it started; wait until all are gone."""
    started = [i for i in (identity(p) for d in cluster.daemons for p in [d.pid, *descendants(d.pid)])
               if i is not None]
    started += [i for i in (identity(p) for p in cluster.survivors()) if i is not None]
    for proc in reversed(cluster.daemons):  # workers first: the master would not restart them anyway
        kill_session(proc)
    for ident in started:
        if alive(ident):
            with contextlib.suppress(ProcessLookupError):
                os.kill(ident[0], 9)
    wait_gone(started)
