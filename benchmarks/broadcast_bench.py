"""Broadcast benchmark: an announcement to N opted-in residents through the emulator.

    python benchmarks/broadcast_bench.py [--recipients 100000] [--free-recipients N]
        [--modes free,paid] [--free-rate 25] [--paid-rate 1000] [--memory-small 10000]
        [--database-url URL] [--no-memory] [--no-courier]

For each mode (free: paced within the bulk limit; paid: `allow_paid_broadcast`) the emulator
(with Telegram's flood limits) and the bot (`gridvoice run`) run as subprocesses. N residents
who asked for announcements are seeded with bulk inserts (and in the emulator in one call), a
channel is linked through the chat (`/channel @…`, checked by the bot), and the committee sends
one announcement through the chat. Half-way the bot is SIGKILLed and started again. At the end
every resident must have exactly one message and the channel exactly one post.

Printed per mode: the measured rate (messages a second between the first and the kill, and
after the restart) against the configured one, lost and duplicated recipients, 429s, the
channel's calls, and the projected time for 1,000,000 recipients. The memory check runs the
paid mode without a kill for `--memory-small` and N recipients and prints the bot's peak
resident memory (VmHWM) for each and the growth.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import (  # noqa: E402
    free_port,
    kill,
    last_id,
    reset_database,
    start_bot,
    start_emulator,
    wait_bot,
    wait_http,
)

from bot.cli.bench import cpu_seconds  # noqa: E402
from bot.emulator.client import SimClient  # noqa: E402

FIRST = 3_000_001
COMMITTEE = 10040  # the demo map's committee of xingfu
CHANNEL = -1001777
CHANNEL_NAME = "bench_news"
GRIDS = ["xingfu-1", "xingfu-2", "xingfu-3", "xingfu-4"]
TEXT = "Benchmark notice: water off on Saturday 9:00-12:00"


def children(pid: int) -> list[int]:
    """The processes `pid` started (the bot's courier)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def bot_cpu(pid: int) -> float:
    """The bot's CPU seconds so far (user + system, all threads, and its courier's), 0 when
    it is gone."""
    total = 0.0
    for p in [pid, *children(pid)]:
        try:
            total += cpu_seconds(p)
        except (OSError, IndexError, ValueError):
            continue
    return total


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MB, 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def seed(database_url: str, n: int) -> float:
    """N opted-in residents spread over the four grids, inserted in bulk; returns seconds."""
    from sqlalchemy import insert

    from bot.clock import wall_now
    from bot.services.people.residents import pseudonym_for
    from bot.store.db import create_engine
    from bot.store.models import User

    started = time.monotonic()
    engine = create_engine(database_url)
    now = wall_now()
    async with engine.begin() as conn:
        for start in range(0, n, 5000):
            await conn.execute(
                insert(User),
                [
                    {
                        "id": FIRST + i,
                        "language": "en" if i % 3 else "zh",
                        "pseudonym": pseudonym_for(FIRST + i),
                        "created_at": now,
                        "consent_at": now,
                        "home_grid_id": GRIDS[i % 4],
                        "verified": False,
                        "state_data": {},
                        "muted_announcements": False,
                        "announcements_dm": True,
                        "unreachable": False,
                    }
                    for i in range(start, min(n, start + 5000))
                ],
            )
    await engine.dispose()
    return time.monotonic() - started


async def announce(sim: SimClient) -> None:
    """The committee writes /announce, the text, picks all grids and sends."""
    after = await last_id(sim, COMMITTEE)
    await sim.send_text(COMMITTEE, "/announce")
    asked = await wait_bot(sim, COMMITTEE, after)
    await sim.send_text(COMMITTEE, TEXT)
    grids = await wait_bot(sim, COMMITTEE, asked["message_id"], with_buttons=True)
    await sim.press(COMMITTEE, grids["message_id"], data="k:aall")
    grids = await wait_bot(sim, COMMITTEE, grids["message_id"], with_buttons=True)
    await sim.press(COMMITTEE, grids["message_id"], data="k:asend")
    await wait_bot(sim, COMMITTEE, grids["message_id"], contains="#")


async def link_channel(sim: SimClient) -> None:
    await sim.create_channel(CHANNEL, "Benchmark news", username=CHANNEL_NAME)
    await sim.create_user(COMMITTEE, "Committee", language_code="en")
    after = await last_id(sim, COMMITTEE)
    await sim.send_text(COMMITTEE, f"/channel @{CHANNEL_NAME}")
    await wait_bot(sim, COMMITTEE, after, contains="✅", timeout=60)


async def run(
    mode: str,
    n: int,
    rate: float,
    database_url: str,
    log_path: Path,
    kill_half_way: bool,
    concurrency: int,
    courier: bool = True,
) -> dict[str, Any]:
    from bot.store.db import upgrade

    await reset_database(database_url)
    await upgrade(database_url)
    seeded = await seed(database_url, n)
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    emu = start_emulator(port, flood=True)
    env = {
        "GRIDVOICE_INBOX_LEASE": "3",
        "GRIDVOICE_OUTBOX_LEASE": "3",
        "GRIDVOICE_SEND_CONCURRENCY": str(concurrency),
        "GRIDVOICE_COURIER": "on" if courier else "off",
        "GRIDVOICE_COURIER_DIR": str(log_path.parent / "courier"),
    }
    if mode == "paid":
        env.update(GRIDVOICE_BROADCAST_PAID="true", GRIDVOICE_BROADCAST_PAID_RATE=str(rate))
    else:
        env["GRIDVOICE_SEND_RATE"] = str(rate)
    bot = None
    peaks: list[float] = []
    courier_peaks: list[float] = []
    try:
        await wait_http(api)
        async with SimClient(api) as sim:
            await sim.create_users(FIRST, n)
            bot = start_bot(api, database_url, env=env, log_path=log_path)
            await link_channel(sim)
            # counted from before the announcement: its dialogue's few messages and the channel
            # post are in the count too, so all N direct messages are out once it passes N
            base = (await sim.stats())["sent_total"]
            await announce(sim)
            samples: list[tuple[float, int]] = []  # (time, DMs sent)
            cpu: list[float] = []  # the running bot's CPU seconds at each sample
            emu_cpu: list[float] = []  # the emulator's
            killed_at: tuple[float, int] | None = None
            killed_index: int | None = None
            restarted_at: float | None = None
            last_progress = time.monotonic()
            done_at = 0
            while True:
                await asyncio.sleep(0.5)
                stats = await sim.stats()
                sent = stats["sent_total"] - base
                now = time.monotonic()
                if samples and sent > samples[-1][1]:
                    last_progress = now
                samples.append((now, sent))
                cpu.append(bot_cpu(bot.pid) if bot is not None else 0.0)
                emu_cpu.append(bot_cpu(emu.pid))
                if bot is not None:
                    peaks.append(peak_rss_mb(bot.pid))
                    courier_peaks.extend(peak_rss_mb(c) for c in children(bot.pid))
                if len(samples) % 20 == 1:  # every 10 s
                    print(
                        f"  {mode}: {sent:,}/{n:,} sent, {stats['rejected_429']} x 429", flush=True
                    )
                if kill_half_way and killed_at is None and sent >= n // 2:
                    killed_index = len(samples) - 1
                    kill(bot, signal.SIGKILL)
                    killed_at = (now, sent)
                    bot = start_bot(api, database_url, env=env, log_path=log_path)
                    restarted_at = time.monotonic()
                if sent >= n and now - last_progress >= 3:
                    # the last sample that moved: the end of sending
                    done_at = 1 + max(
                        i for i in range(1, len(samples)) if samples[i][1] > samples[i - 1][1]
                    )
                    break
                if now - last_progress > 60:
                    print("\nno progress for 60 s: stopping")
                    break
            counts = await sim.bot_counts()
            stats = await sim.stats()
            channel_calls = [
                c
                for c in await sim.calls("sendMessage")
                if str(c["params"].get("chat_id")) == str(CHANNEL)
            ]
        received = [counts.get(FIRST + i, 0) for i in range(n)]
        lost = sum(1 for c in received if c == 0)
        duplicated = sum(c - 1 for c in received if c > 1)
        channel_posts = counts.get(CHANNEL, 0)

        def rate_between(a: tuple[float, int], b: tuple[float, int]) -> float:
            return (b[1] - a[1]) / (b[0] - a[0]) if b[0] > a[0] else 0.0

        # from when the direct messages flow (past the dialogue and the channel post), 2 s on
        started = next((s for s in samples if s[1] > 10), samples[0])
        steady_from = next((s for s in samples if s[0] >= started[0] + 2), started)
        end = killed_at or samples[done_at - 1 if done_at else -1]
        before = rate_between(steady_from, end) if end[0] > steady_from[0] else 0.0
        after = 0.0
        if restarted_at is not None and done_at:
            # from the first progress of the restarted bot, 2 s on (its start-up left out)
            moving = next(
                (
                    b
                    for a, b in zip(samples, samples[1:], strict=False)
                    if b[0] > restarted_at and b[1] > a[1]
                ),
                None,
            )
            resumed = [s for s in samples if moving is not None and s[0] >= moving[0] + 2]
            finish = samples[done_at - 1]
            if resumed and finish[0] > resumed[0][0]:
                after = rate_between(resumed[0], finish)
        measured = before or after
        # CPU per direct message over the same stretch as the rate before the kill (the first
        # process only: start-up, the dialogue and the restart left out)
        i0 = samples.index(steady_from)
        i1 = killed_index if killed_index is not None else (done_at - 1 if done_at else -1)
        i1 = i1 % len(samples)
        moved = samples[i1][1] - samples[i0][1]
        bot_ms = 1000 * (cpu[i1] - cpu[i0]) / moved if moved > 0 else 0.0
        emu_ms = 1000 * (emu_cpu[i1] - emu_cpu[i0]) / moved if moved > 0 else 0.0
        (log_path.parent / f"samples-{mode}-{n}.txt").write_text(
            "\n".join(f"{t - samples[0][0]:.1f} {v}" for t, v in samples)
            + f"\nkilled {killed_at} restarted {restarted_at} done {done_at}\n"
        )
        return {
            "mode": mode,
            "recipients": n,
            "seed_seconds": round(seeded, 1),
            "configured_rate": rate,
            "rate_before_kill": round(before, 1),
            "rate_after_restart": round(after, 1),
            "within_5_percent": abs(measured - rate) <= 0.05 * rate,
            "bot_cpu_ms_per_message": round(bot_ms, 3),
            "emulator_cpu_ms_per_message": round(emu_ms, 3),
            "killed_at_sent": killed_at[1] if killed_at else None,
            "lost": lost,
            "duplicated": duplicated,
            "rejected_429": stats["rejected_429"],
            "paid_total": stats.get("paid_total", 0),
            "channel_posts": channel_posts,
            "channel_calls": len(channel_calls),
            "peak_rss_mb": round(max(peaks or [0.0]), 1),
            "courier_peak_rss_mb": round(max(courier_peaks or [0.0]), 1),
            "projected_1m_hours": round(1_000_000 / measured / 3600, 2) if measured else None,
        }
    finally:
        if bot is not None:
            kill(bot)
        kill(emu)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipients", type=int, default=100_000)
    p.add_argument("--free-recipients", type=int, default=None)
    p.add_argument("--modes", default="free,paid")
    p.add_argument("--free-rate", type=float, default=25.0)
    p.add_argument("--paid-rate", type=float, default=1000.0)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--memory-small", type=int, default=10_000)
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--database-url", default=None)
    p.add_argument(
        "--no-courier",
        action="store_true",
        help="the bot makes the calls itself (GRIDVOICE_COURIER=off), to compare",
    )
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="gv-broadcast-"))
    log_path = tmp / "bot.log"

    def url(name: str) -> str:
        return args.database_url or f"sqlite+aiosqlite:///{tmp / name}.db"

    results = []
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        n = (args.free_recipients or args.recipients) if mode == "free" else args.recipients
        rate = args.free_rate if mode == "free" else args.paid_rate
        result = asyncio.run(
            run(mode, n, rate, url(mode), log_path, True, args.concurrency, not args.no_courier)
        )
        results.append(result)
        print(" ".join(f"{k}={v}" for k, v in result.items()))
    memory = None
    if not args.no_memory:
        peaks = {}
        for n in (args.memory_small, args.recipients):
            r = asyncio.run(
                run(
                    "paid",
                    n,
                    args.paid_rate,
                    url(f"mem{n}"),
                    log_path,
                    False,
                    args.concurrency,
                    not args.no_courier,
                )
            )
            peaks[n] = r["peak_rss_mb"]
            print(
                f"memory: {n:,} recipients -> bot peak RSS {r['peak_rss_mb']} MB "
                f"(its courier {r['courier_peak_rss_mb']} MB)"
            )
        memory = peaks[args.recipients] - peaks[args.memory_small]
        print(
            f"memory growth {args.memory_small:,} -> {args.recipients:,} recipients: "
            f"{memory:.1f} MB (limit 50 MB)"
        )
    print("\nsummary")
    for r in results:
        print(
            f"  {r['mode']:>4}: {r['recipients']:,} recipients, configured {r['configured_rate']:g}/s, "
            f"measured {r['rate_before_kill']:g}/s before the kill and "
            f"{r['rate_after_restart']:g}/s after (within 5%: {r['within_5_percent']}); "
            f"bot CPU (with its courier) {r['bot_cpu_ms_per_message']:g} ms a message "
            f"(emulator {r['emulator_cpu_ms_per_message']:g} ms); "
            f"lost {r['lost']}, duplicated {r['duplicated']}, 429s {r['rejected_429']}; "
            f"channel: {r['channel_posts']} post in {r['channel_calls']} call(s); "
            f"1,000,000 recipients would take {r['projected_1m_hours']} h"
        )
    print(f"  log: {log_path}")
    ok = all(
        r["lost"] == 0 and r["duplicated"] == 0 and r["channel_posts"] == 1 for r in results
    ) and (memory is None or memory < 50)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
