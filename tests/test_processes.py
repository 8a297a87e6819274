"""mlstrat._processes: children die with their parent, orphans publish nothing, signals become
one exception, exit statuses read as words."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from mlstrat._processes import (
    OWNER_ENV,
    OrphanedError,
    Stopped,
    check_owner,
    exit_description,
    signal_label,
    stop_on_signals,
)
from mlstrat.nn._rundir import staged_run_dir
from tests import processes as P

# a parent that starts a child which asks to die with it, prints the child's pid, then waits
PARENT = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", '''
import os, sys, time
from mlstrat._processes import die_with_parent
die_with_parent(int(sys.argv[1]))
print("ready", flush=True)
while True:
    time.sleep(60)
''', str(__import__("os").getpid())], stdout=subprocess.PIPE, text=True)
assert child.stdout.readline() == "ready\\n"
print(child.pid, flush=True)
child.wait()
"""


def test_a_child_dies_with_its_parent(commands):
    parent = commands.track(subprocess.Popen([sys.executable, "-c", PARENT], env=P.env(), stdout=subprocess.PIPE,
                                             text=True, start_new_session=True))
    child = int(parent.stdout.readline())
    ident = P.identity(child)
    assert ident is not None and P.alive(ident)
    parent.kill()
    parent.communicate()
    P.wait_gone([ident])


def test_an_orphan_publishes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(OWNER_ENV, str(os.getpid()))  # this process is not its own parent
    final = tmp_path / "run"
    with pytest.raises(OrphanedError, match=rf"^{final}: not written: the command that started this process "
                                            rf"\(pid {os.getpid()}\) has ended$"):
        with staged_run_dir(final) as stage:
            (stage / "model.pt").write_bytes(b"x")
    assert list(tmp_path.iterdir()) == []  # neither the run nor its partial folder


def test_a_worker_of_a_live_owner_publishes(tmp_path, monkeypatch):
    monkeypatch.setenv(OWNER_ENV, str(os.getppid()))
    check_owner("anything")
    with staged_run_dir(tmp_path / "run") as stage:
        (stage / "model.pt").write_bytes(b"x")
    assert (tmp_path / "run" / "model.pt").read_bytes() == b"x"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_raise_stopped_and_handlers_come_back(sig):
    before = signal.getsignal(sig)
    with pytest.raises(Stopped) as caught:
        with stop_on_signals():
            os.kill(os.getpid(), sig)  # delivered before kill returns: the handler runs next
    assert caught.value.signum == sig and caught.value.exit_code == 128 + sig
    assert signal.getsignal(sig) is before


@pytest.mark.parametrize("code, text", [
    (-9, "was killed by signal 9 (SIGKILL; sent by the out-of-memory killer or kill -9)"),
    (-15, "was killed by signal 15 (SIGTERM)"),
    (-2, "was killed by signal 2 (SIGINT; Ctrl-C)"),
    (3, "exited with code 3"),
])
def test_exit_description(code, text):
    assert exit_description(code) == text


def test_signal_label():
    assert signal_label(signal.SIGINT) == "SIGINT (Ctrl-C)"
    assert signal_label(signal.SIGTERM) == "SIGTERM"
