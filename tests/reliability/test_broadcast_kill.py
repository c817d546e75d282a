"""The broadcast benchmark (benchmarks/broadcast_bench.py) with a small N: a paid broadcast
whose bot is SIGKILLed half-way reaches every resident exactly once, one channel post."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_broadcast_killed_half_way_reaches_everyone_exactly_once(tmp_path: Path) -> None:
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "broadcast_bench.py"),
            "--modes",
            "paid",
            "--recipients",
            "4000",
            "--no-memory",
            "--database-url",
            url,
        ],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "killed_at_sent=None" not in out  # it was killed
    assert "lost=0 duplicated=0" in out and "channel_posts=1" in out, out[-2000:]
