"""The broadcast benchmark (benchmarks/broadcast_bench.py) with a small N: a paid broadcast
whose bot is SIGKILLed half-way reaches every resident exactly once, one channel post."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.rel_helpers import run_benchmark


def test_a_broadcast_killed_half_way_reaches_everyone_exactly_once(tmp_path: Path) -> None:
    proc = run_benchmark(
        tmp_path, "broadcast_bench.py", "--modes", "paid", "--recipients", "4000", "--no-memory"
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "killed_at_sent=None" not in out  # it was killed
    assert "lost=0 duplicated=0" in out and "channel_posts=1" in out, out[-2000:]
