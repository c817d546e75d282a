"""The crash test (benchmarks/crash_test.py) with a small N: SIGKILL mid-burst loses and doubles nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_crash_test(tmp_path: Path, *args: str) -> str:
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "crash_test.py"),
            "--n",
            "8",
            "--database-url",
            url,
            "--log",
            str(tmp_path / "bot.log"),
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, (
        proc.stdout + proc.stderr + (tmp_path / "bot.log").read_text()[-3000:]
    )
    return proc.stdout


def test_sigkill_mid_burst_every_report_one_case_one_confirmation(tmp_path: Path) -> None:
    out = run_crash_test(tmp_path, "--kills", "2")
    assert "cases: 8" in out and "confirmations: 8" in out and "ok: True" in out


def test_graceful_stop_mid_burst_repeats_nothing(tmp_path: Path) -> None:
    out = run_crash_test(tmp_path, "--kills", "1", "--signal", "TERM")
    assert "ok: True" in out and "messages_repeated: 0" in out, out
