"""The crash test (benchmarks/crash_test.py) with a small N: SIGKILL mid-burst loses and doubles nothing."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.rel_helpers import run_benchmark


def run_crash_test(tmp_path: Path, *args: str) -> str:
    proc = run_benchmark(
        tmp_path,
        "crash_test.py",
        "--n",
        "8",
        "--log",
        str(tmp_path / "bot.log"),
        *args,
        timeout=240,
    )
    assert proc.returncode == 0, (
        proc.stdout + proc.stderr + (tmp_path / "bot.log").read_text()[-3000:]
    )
    return proc.stdout


def test_sigkill_mid_burst_every_report_one_case_one_confirmation(tmp_path: Path) -> None:
    out = run_crash_test(tmp_path, "--kills", "2")
    assert "cases: 8" in out and "confirmations: 8" in out and "ok: True" in out
    # the calls in flight at each kill were the courier's: finished, journalled, marked sent
    assert "messages_repeated: 0" in out, out


def test_graceful_stop_mid_burst_repeats_nothing(tmp_path: Path) -> None:
    out = run_crash_test(tmp_path, "--kills", "1", "--signal", "TERM")
    assert "ok: True" in out and "messages_repeated: 0" in out, out
