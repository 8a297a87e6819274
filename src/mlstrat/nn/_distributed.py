"""Data-parallel training over several processes with torch DistributedDataParallel (DDP).

One process per device (a GPU, or a share of the CPU cores), started by torchrun
(``torch.distributed.run``): ``mlstrat train CONFIG --nproc N`` launches it on this machine, and
``torchrun ... -m mlstrat train CONFIG`` (or any launcher that sets ``RANK``/``WORLD_SIZE``, such
as pyspark's TorchDistributor) works on several nodes. The trainer keeps its meaning:

- ``batch_size`` is the global mini-batch: every rank draws the same permutation of the train
  rows and takes its share of each global batch (sizes differ by at most one row when the batch
  does not divide), and the loss is weighted so that the averaged gradient is the mean over the
  global batch: the same update as one process, up to the order of floating-point sums;
- dropout and augmentation draw from ``seed + rank``; initialization and shuffling from ``seed``;
- epoch statistics and the dev cost are sums over the ranks, totalled on rank 0 and broadcast,
  so the early-stopping decision is bitwise the same on every rank;
- rank 0 alone writes the run directory and records the run;
- the streaming loader gives each rank fixed blocks of rows and pads with empty steps, so every
  rank runs the same number of steps (a collective that one rank skips would hang the others).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from mlstrat._exceptions import ConfigError

__all__ = ["Dist", "PEER_LOST_EXIT", "StreamShards", "check_cpus", "distributed", "failure_code", "launch",
           "launched_by_torchrun", "peer_lost"]

# a rank that stops answering (a crashed peer the launcher has not yet reaped) fails after this
_TIMEOUT = datetime.timedelta(minutes=10)
_ELASTIC_LOGGERS = ("torch.distributed.elastic", "torch.distributed.run", "torch.distributed.launcher")
_HANDLED_ENV = "TORCHELASTIC_SIGNALS_TO_HANDLE"  # torch's launcher sets it from --signals-to-handle


def launched_by_torchrun() -> bool:
    """Whether this process is a worker that a launcher (torchrun, TorchDistributor) started."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


@dataclass(frozen=True)
class Dist:
    """This process's place in the group: rank, world size, device; and the few collectives the
    trainer needs."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def seed(self, seed: int) -> int:
        """Seed of the streams that must differ per rank (dropout masks, augmentation)."""
        return seed + self.rank

    def share(self, n: int, *, rank: int | None = None) -> slice:
        """This rank's contiguous share of ``n`` rows: the first ``n % world`` ranks take one more."""
        r = self.rank if rank is None else rank
        q, rem = divmod(n, self.world)
        start = r * q + min(r, rem)
        return slice(start, start + q + (1 if r < rem else 0))

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The DDP wrapper: gradients all-reduced (averaged) across ranks during backward."""
        from torch.nn.parallel import DistributedDataParallel

        if self.device.type != "cuda":
            return DistributedDataParallel(model)
        # batch norm statistics over the global batch, as on one process (CUDA only in PyTorch);
        # the converted layers keep the same parameter objects, so the optimizer still holds them
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[self.device.index])

    def count(self, local: torch.Tensor) -> torch.Tensor:
        """The sum over ranks of a per-rank count (a 0-d tensor on the device)."""
        import torch.distributed as dist

        total = local.detach().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total

    def total(self, values: Sequence[float]) -> list[float]:
        """Sums over ranks, added on rank 0 and broadcast: every rank gets the same bits, so
        decisions taken from them (best epoch, early stop) agree."""
        import torch.distributed as dist

        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self._comm_device())
        dist.reduce(t, dst=0, op=dist.ReduceOp.SUM)
        dist.broadcast(t, src=0)
        return t.cpu().tolist()

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (picklable), in rank order, on every rank."""
        import torch.distributed as dist

        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, value)
        return out

    def _comm_device(self) -> torch.device:
        # NCCL moves CUDA tensors only; gloo takes CPU tensors
        return self.device if self.device.type == "cuda" else torch.device("cpu")


def check_batch(batch_size: int, world: int) -> None:
    """A global batch smaller than the number of processes would leave a rank without rows."""
    if batch_size and batch_size < world:
        raise ConfigError(f"[optim] batch_size = {batch_size} is smaller than the {world} training "
                          f"processes; every process needs rows in each step: use batch_size >= {world} "
                          "(it is the global batch, split across the processes) or fewer processes")


def check_gpus(per_node: int) -> None:
    """One GPU per process: NCCL refuses two ranks on one device. Every rank checks the node's
    process count (not only its own index), so all of them stop with the same message."""
    gpus = torch.cuda.device_count()
    if per_node > gpus:
        raise ConfigError(f"{per_node} training processes per node but this node has {gpus} GPU(s); start at "
                          "most one process per GPU (--nproc / --nproc-per-node) or train on the CPU "
                          "([optim] device = 'cpu')")


@contextlib.contextmanager
def distributed(device: torch.device) -> Iterator[Dist | None]:
    """The process group for a worker started by a launcher, else ``None`` (one process).

    Joins an existing group (the caller's own script or TorchDistributor) or initializes one from
    the launcher's environment (``env://``): NCCL when training on CUDA, gloo on the CPU. A group
    created here is destroyed on exit.
    """
    import torch.distributed as dist

    if not (dist.is_available() and (dist.is_initialized() or launched_by_torchrun())):
        yield None
        return
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        check_gpus(int(os.environ.get("LOCAL_WORLD_SIZE", local_rank + 1)))
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    created = not dist.is_initialized()
    if created:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=_TIMEOUT)
    try:
        yield Dist(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=local_rank, device=device)
    finally:
        if created:
            dist.destroy_process_group()


# -- the streaming loader's shards -----------------------------------------------------------------


@dataclass(frozen=True)
class StreamShards:
    """Which train rows each rank streams, and the step schedule that keeps the ranks in step.

    Rows are numbered in the engine's order; block ``k`` (``block`` rows) belongs to rank
    ``k % world``. Rank ``r`` takes local batches of ``batch_size // world`` rows (one more for
    the first ``batch_size % world`` ranks); every rank runs :meth:`steps` steps per epoch, the
    ones whose rows ran out with empty batches.
    """

    rank: int
    world: int
    block: int  # rows per block (the loader's chunk_size)
    m: int  # train rows over all ranks
    batch_size: int  # the global batch

    def rows(self, rank: int) -> int:
        full, rem = divmod(self.m, self.block)
        n = len(range(rank, full, self.world)) * self.block
        return n + (rem if rem and full % self.world == rank else 0)

    def local_batch(self, rank: int) -> int:
        q, rem = divmod(self.batch_size, self.world)
        return q + (1 if rank < rem else 0)

    def _batches(self, rank: int) -> int:
        b = self.local_batch(rank)
        return -(-self.rows(rank) // b) if b else 0

    def steps(self) -> int:
        return max(self._batches(r) for r in range(self.world))

    def global_rows(self, step: int) -> int:
        """Rows of the global batch at ``step``: full local batches, then each rank's remainder."""
        total = 0
        for r in range(self.world):
            b, n = self.local_batch(r), self.rows(r)
            total += max(0, min(b, n - step * b))
        return total

    def select(self, batches: Iterator[Any]) -> Iterator[Any]:
        """This rank's blocks of a stream of record batches (zero-copy slices)."""
        return select_blocks(batches, rank=self.rank, world=self.world, block=self.block)


def select_blocks(batches: Iterator[Any], *, rank: int, world: int, block: int) -> Iterator[Any]:
    """The rows of blocks ``rank, rank + world, ...`` (``block`` rows each, numbered in stream
    order) of a stream of record batches, whatever sizes the engine gave the batches."""
    offset = 0  # stream index of the first row of the current batch
    for batch in batches:
        start, n = 0, batch.num_rows
        while start < n:
            k = (offset + start) // block
            end = min(n, (k + 1) * block - offset)
            if k % world == rank:
                yield batch.slice(start, end - start)
            start = end
        offset += n


# -- the launcher ----------------------------------------------------------------------------------


#: the exit code of a rank whose collective failed because another rank died: not a cause
PEER_LOST_EXIT = 86


def peer_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective that failed because another process of the group is gone
    (gloo: "Connection reset by peer"; NCCL: a communicator error)."""
    import torch.distributed as dist

    if isinstance(exc, getattr(dist, "DistError", ())):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("gloo" in text or "NCCL" in text or "Connection reset" in text)


def check_cpus(nproc: int) -> None:
    """Warn when more processes than cores train on the CPU: they take turns, slower than fewer."""
    import warnings

    from mlstrat._exceptions import MlstratWarning

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if nproc > cores:
        warnings.warn(f"--nproc {nproc} is more than the {cores} CPU core(s) this process may use; the processes "
                      f"will take turns on them (slower than --nproc {cores})", MlstratWarning, stacklevel=2)


def launch(nproc: int, args: list[str]) -> tuple[int, int | None]:
    """Run ``python -m mlstrat ARGS`` in ``nproc`` processes through torchrun's elastic launcher
    (a standalone rendezvous on 127.0.0.1); returns (the exit code, the rank that caused it):
    0, a rank's own error code, or 128 + N for a rank killed by signal N (as a shell reports
    it); see :func:`failure_code`.

    The ranks learn this process's pid (``MLSTRAT_OWNER_PID``): they die with it and publish
    nothing once it is gone. Under :func:`~mlstrat._processes.stop_on_signals`, SIGINT and
    SIGTERM stop every rank and raise :class:`~mlstrat._processes.Stopped`. The launcher's own log lines (including its failure
    summary, which repeats what rank 0 already said) are silenced.
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    from mlstrat._processes import OWNER_ENV, Stopped

    if nproc < 1:
        raise ConfigError(f"--nproc {nproc}: give at least 1 process")
    # torchrun would set 1 thread per worker and warn about it; share the cores out instead
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    parsed = get_args_parser().parse_args([
        "--nnodes", "1", "--nproc-per-node", str(nproc), "--rdzv-backend", "c10d",
        "--rdzv-endpoint", "127.0.0.1:0", "--rdzv-id", f"mlstrat-{os.getpid()}",
        "--max-restarts", "0", "--signals-to-handle", "SIGHUP,SIGQUIT", "--module", "mlstrat", *args,
    ])
    # the ranks learn who owns them; SIGINT and SIGTERM stay with the caller's handlers (torch
    # would forward a SIGINT to the ranks, whose start-up could print a KeyboardInterrupt): the
    # exception they raise makes the launcher stop every rank with SIGTERM, which ends them at once
    saved = {key: os.environ.get(key) for key in (OWNER_ENV, _HANDLED_ENV)}
    os.environ[OWNER_ENV] = str(os.getpid())
    with _silenced(_ELASTIC_LOGGERS):
        try:
            run(parsed)
        except ChildFailedError as exc:
            return failure_code({rank: f.exitcode for rank, f in exc.failures.items()})
        except SignalException as exc:
            raise Stopped(int(exc.sigval)) from None
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return 0, None


def failure_code(codes: dict[int, int]) -> tuple[int, int]:
    """(exit code, rank) of the cause among the ranks' exit codes (rank -> code; negative:
    killed by that signal): a rank's own error first (it printed it); then a signal other than
    the SIGTERM the launcher sends to stop the others (e.g. the out-of-memory killer's SIGKILL);
    then SIGTERM; a rank that only lost its peers is the cause only when nothing else is."""
    import signal

    def rank_of_cause(rank: int) -> tuple[int, int, int]:
        code = codes[rank]
        if code > 0 and code != PEER_LOST_EXIT:
            return (0, 0, rank)
        if code < 0:
            return (1 if -code != signal.SIGTERM else 2, -code, rank)
        return (3, 0, rank)

    rank = min(codes, key=rank_of_cause)
    code = codes[rank]
    return (128 - code if code < 0 else code or 1), rank


@contextlib.contextmanager
def _silenced(prefixes: Sequence[str]) -> Iterator[None]:
    """torch's elastic loggers (each has its own level) above CRITICAL while inside."""
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name.startswith(tuple(prefixes))]
    loggers += [logging.getLogger(name) for name in prefixes]
    levels = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in levels:
            lg.setLevel(level)
