"""Which claims a starting bot may take back at once: those of its own machine's dead."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from bootstrap import worker_name
from bot.outbox import _LIVE, abandoned_here

HOST = socket.gethostname()


def test_an_earlier_life_of_this_pid_is_gone():
    assert abandoned_here(f"{HOST}:{os.getpid()}:0ld11fe0")


def test_a_dispatcher_running_in_this_process_is_not():
    me = worker_name()
    _LIVE.add(me)
    try:
        assert not abandoned_here(me)
    finally:
        _LIVE.discard(me)


def test_a_process_that_exited_is_gone_and_a_running_one_is_not():
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    assert abandoned_here(f"{HOST}:{finished.stdout.strip()}:abcdef01")
    assert not abandoned_here(f"{HOST}:{os.getppid()}:abcdef01")


def test_another_machines_claims_wait_for_their_lease():
    assert not abandoned_here(f"not-{HOST}:1:abcdef01")
    assert not abandoned_here("a-name-without-a-pid")
