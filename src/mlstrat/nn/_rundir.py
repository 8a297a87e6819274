"""A run directory appears whole or not at all.

The run's files are written into a hidden sibling (``.<name>.partial-<pid>-<random>``) and the
folder is renamed into place when every file is there. Over an existing folder (``--force``, or
a folder that holds the user's own config), the files the run does not own are carried over by
hard link first, the old folder is moved aside, the new one renamed in, and the old one
removed: a reader sees the old run or the new run, never a mix. A killed run leaves only its
hidden partial folder, which the next run removes. A worker process whose command has ended
(``MLSTRAT_OWNER_PID`` no longer its parent) removes its partial folder and publishes nothing.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlstrat._processes import check_owner
from mlstrat.tables._outputs import reporting_full_disk

__all__ = ["RUN_FILES", "staged_run_dir"]

#: the files a run writes; everything else in a run directory belongs to the user and is kept
RUN_FILES = frozenset({"model.pt", "config.resolved.toml", "history.json", "metrics.json",
                       "predictions.parquet"})


def _remove_dead_partials(final: Path) -> None:
    """Clean up after a killed run: its partial folder goes; a folder it had moved aside (killed
    between the two renames of the swap) goes back into place."""
    from mlstrat.tables._files import pid_alive as _pid_alive

    for entry in sorted(final.parent.iterdir()):
        for kind in ("partial", "old"):
            prefix = f".{final.name}.{kind}-"
            if not entry.name.startswith(prefix):
                continue
            pid = entry.name[len(prefix):].split("-", 1)[0]
            if not pid.isdigit() or _pid_alive(int(pid)):
                continue
            if kind == "old" and not final.exists():
                os.rename(entry, final)
            else:
                shutil.rmtree(entry, ignore_errors=True)


def _carry_over(old: Path, new: Path) -> None:
    """Hard-link (copy across file systems) what the user keeps in the run directory."""
    for entry in old.iterdir():
        if entry.name in RUN_FILES:
            continue
        target = new / entry.name
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, target, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, target)


def _link_or_copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    if os.path.islink(src):
        os.symlink(os.readlink(src), dst)
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _commit(stage: Path, final: Path) -> None:
    if not final.exists():
        os.rename(stage, final)
        return
    _carry_over(final, stage)
    aside = final.with_name(f".{final.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.rename(final, aside)
    os.rename(stage, final)
    shutil.rmtree(aside, ignore_errors=True)


@contextmanager
def staged_run_dir(final: Path) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``final``; on a clean exit it becomes ``final``.

    On an exception the partial folder is removed and ``final`` is left as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_partials(final)
    stage = final.with_name(f".{final.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with reporting_full_disk(final, fix="choose another -o folder"):
            stage.mkdir()
            yield stage
            check_owner(str(final))  # a worker whose command is gone publishes nothing
            _commit(stage, final)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
