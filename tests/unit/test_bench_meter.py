"""`gridvoice bench` splits the bot's CPU between its event loop and its worker threads, and
counts its courier (a child process) too."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from bot.cli.bench import child_cpu_seconds, cpu_seconds, loop_cpu_seconds


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_the_event_loops_thread_is_read_apart_from_the_worker_threads() -> None:
    pid = os.getpid()  # the main thread, where an event loop runs, has the process's id
    total, loop = cpu_seconds(pid), loop_cpu_seconds(pid)
    worker = threading.Thread(target=_spin, args=(0.3,))
    worker.start()
    worker.join()
    total_w, loop_w = cpu_seconds(pid), loop_cpu_seconds(pid)
    assert total_w - total >= 0.25  # the worker's time is the process's
    assert loop_w - loop < 0.1  # and not the main thread's
    _spin(0.3)
    total_m, loop_m = cpu_seconds(pid), loop_cpu_seconds(pid)
    assert loop_m - loop_w >= 0.25 and total_m - total_w >= 0.25
    assert loop_m <= total_m


def test_a_child_process_cpu_is_read_while_it_runs() -> None:
    pid = os.getpid()
    before = child_cpu_seconds(pid)
    spin = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
    child = subprocess.Popen(
        [sys.executable, "-c", spin + "import sys; print(1, flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"1\n"  # spun, waiting
        assert child_cpu_seconds(pid) - before >= 0.25
        assert child_cpu_seconds(child.pid) == 0.0  # it started nothing
    finally:
        child.communicate(b"")
