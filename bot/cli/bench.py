"""`gridvoice bench`: end-to-end cost, throughput and latency through the emulator over real HTTP.

The emulator and the bot each run in their own process; this process plays residents.
Reported per database, after onboarding (not measured):

- reports/s in a closed loop (classified, routed, stored, member card sent, resident confirmed);
- two open-loop phases at a fixed rate (default 8 reports/s): the common path (every text
  distinct: no "similar open case" prompt) and the similar path (texts repeat: each report
  meets the prompt and is filed with "file a new one anyway"). For each: latency from the Send
  press to the member's card (p50/p95/p99, on the emulator's clock), the bot's CPU time per
  report (user + system of the bot process, all threads, and of its courier, the child process
  that makes its Bot API calls; read from /proc before and after the phase), SQL statements
  and commits per report (counted in the bot process), Bot API calls per report (counted by
  the emulator) and CPU per Bot API call;
- idle CPU per second: the bot with no traffic at all;
- the bot's peak RSS;

and the same CPU per Bot API call for a bare python-telegram-bot echo bot against the same
emulator, as a ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.config import poll_interval

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = (10001, 10002, 10003, 10004, 10010, 10020, 10030)  # grid members and those above them
PARTY_CHATS = (
    -100501,
    -100502,
    -100503,
    -100504,
    -100900,
)  # property company, police, ... (groups)
WATCHED = MEMBERS + PARTY_CHATS
CASE = re.compile(r"GV-\d{4}-\d{6}")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("bench", help="end-to-end benchmark through the emulator")
    p.add_argument("--residents", type=int, default=60)
    p.add_argument(
        "--reports",
        type=int,
        default=1,
        help="reports per resident in the closed-loop phase (0: none)",
    )
    p.add_argument("--rate", type=float, default=8.0, help="open-loop reports/s")
    p.add_argument("--seconds", type=float, default=15.0, help="duration of each open-loop phase")
    p.add_argument("--idle", type=float, default=30.0, help="seconds of the idle measurement")
    p.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument(
        "--pg",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/gridvoice_bench"
        ),
        help="PostgreSQL URL ('' to skip); created if missing; its schema is DROPPED",
    )
    p.add_argument(
        "--poll-interval",
        type=poll_interval,
        help="the bot's GRIDVOICE_POLL_INTERVAL, 0 to 1 s (default: the bot's own, 0.1)",
    )
    p.add_argument("--echo", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--json", help="also write the numbers to this file")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if not (ROOT / "benchmarks" / "common.py").exists():
        print(
            "gridvoice bench needs the source checkout: run `python benchmarks/run.py` from it "
            "(or install with `pip install -e .`)",
            file=sys.stderr,
        )
        return 2
    results = asyncio.run(run_all(args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


# --- processes -----------------------------------------------------------------------


def bench_settings(api: str, db: str, poll_interval: float | None = None) -> dict[str, Any]:
    return {
        "api_url": api,
        "database_url": db,
        "token": "123456:BENCH",
        "listen_host": "127.0.0.1",
        "listen_port": 0,
        "send_rate_global": 100_000.0,
        "send_rate_private": 100_000.0,
        "send_burst_private": 100_000,
        "send_rate_group": 100_000.0,
        "user_rate_per_minute": 100_000,
        "poll_timeout": 10,
        "send_concurrency": 32,
        **({} if poll_interval is None else {"poll_interval": poll_interval}),
    }


def serve_bot(settings_json: str, stats_path: str = "") -> None:
    """Child process: the real bot with raised pacing (the emulator is not in flood mode).

    On SIGUSR1 it writes its SQL counters (statements, commits, rollbacks) to `stats_path`.
    """
    import logging

    from bot.cli.bootstrap import freeze_when_warm, start_bot
    from bot.config import Settings
    from bot.store.db import SQL_STATS

    logging.basicConfig(level=logging.WARNING)
    settings = Settings(**json.loads(settings_json))
    asked = iter(range(1, 10**9))

    def dump() -> None:
        tmp = stats_path + ".tmp"
        Path(tmp).write_text(json.dumps({**SQL_STATS, "seq": next(asked)}))
        os.replace(tmp, stats_path)

    async def main() -> None:
        gv = await start_bot(settings, str(ROOT / "bot" / "examples" / "demo-community.yaml"))
        await freeze_when_warm(gv)  # as `gridvoice run` does
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        if stats_path:
            loop.add_signal_handler(signal.SIGUSR1, dump)
            dump()  # ready
        await stop.wait()
        await gv.stop()

    asyncio.run(main())


def serve_echo(api: str) -> None:
    """Child process: a bare python-telegram-bot echo bot (Application, long polling, MessageHandler)."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, MessageHandler, filters

    async def echo(update: Update, context: Any) -> None:
        assert update.message is not None
        await update.message.reply_text(update.message.text or "")

    app = (
        ApplicationBuilder()
        .token("123456:ECHO")
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .concurrent_updates(True)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(poll_interval=0.0, timeout=10, drop_pending_updates=False)


def child(code: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stat_fields(text: str) -> list[str]:
    """The fields of a /proc `stat` file after the command's name (state, ppid, ...)."""
    return text.rsplit(")", 1)[1].split()


def _cpu_of(fields: list[str]) -> float:
    """User + system CPU seconds of `_stat_fields`."""
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stat_cpu(path: str) -> float:
    """User + system CPU seconds of a /proc `stat` file."""
    return _cpu_of(_stat_fields(Path(path).read_text()))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (/proc/<pid>/stat)."""
    return _stat_cpu(f"/proc/{pid}/stat")


def child_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the processes `pid` started and that still run (the bot's
    courier, which makes its Bot API calls: bot/runtime/courier.py)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = _stat_fields(stat.read_text())
            if int(fields[1]) == pid:
                total += _cpu_of(fields)
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
    return total


def loop_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process's main thread, where its event loop runs; the rest
    of `cpu_seconds` is its worker threads (the classifier's, the SQLite driver's)."""
    return _stat_cpu(f"/proc/{pid}/task/{pid}/stat")


async def sql_stats(pid: int, path: Path, timeout: float = 10.0) -> dict[str, int]:
    """Ask the bot (SIGUSR1) for its SQL counters and read them from `path`."""
    before = json.loads(path.read_text())["seq"] if path.exists() else 0
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = json.loads(path.read_text())
            if found["seq"] > before:
                return found
        except (OSError, ValueError, KeyError):
            pass
        await asyncio.sleep(0.02)
    raise TimeoutError("the bot did not write its SQL counters")


class Meter:
    """CPU, SQL and Bot API counters of the bot around one phase."""

    def __init__(self, pid: int, stats: Path | None, sim: Any) -> None:
        self.pid, self.stats, self.sim = pid, stats, sim

    async def read(self) -> dict[str, Any]:
        sql = await sql_stats(self.pid, self.stats) if self.stats else {}
        calls = await self.sim.calls()
        by_method: dict[str, int] = {}
        for call in calls:
            by_method[call["method"]] = by_method.get(call["method"], 0) + 1
        return {
            "cpu": cpu_seconds(self.pid) + (child := child_cpu_seconds(self.pid)),
            "loop_cpu": loop_cpu_seconds(self.pid),
            "child_cpu": child,
            "sql": sql,
            "calls": by_method,
            "t": time.monotonic(),
        }

    @staticmethod
    def per(before: dict[str, Any], after: dict[str, Any], units: int) -> dict[str, Any]:
        """What the phase between two readings cost, per unit (report) of work."""
        n = max(1, units)
        cpu_ms = (after["cpu"] - before["cpu"]) * 1000
        calls = {
            m: after["calls"].get(m, 0) - before["calls"].get(m, 0)
            for m in after["calls"]
            if after["calls"].get(m, 0) - before["calls"].get(m, 0)
        }
        total_calls = sum(calls.values())
        loop_ms = (after["loop_cpu"] - before["loop_cpu"]) * 1000
        child_ms = (after["child_cpu"] - before["child_cpu"]) * 1000
        out: dict[str, Any] = {
            "cpu_ms": cpu_ms / n,
            "loop_cpu_ms": loop_ms / n,
            "worker_cpu_ms": (cpu_ms - loop_ms - child_ms) / n,
            "courier_cpu_ms": child_ms / n,
            "api_calls": total_calls / n,
            "api_calls_by_method": {m: c / n for m, c in sorted(calls.items())},
            "cpu_ms_per_api_call": cpu_ms / total_calls if total_calls else float("nan"),
            "seconds": after["t"] - before["t"],
        }
        if after["sql"]:
            for key in ("statements", "commits", "rollbacks"):
                out[key] = (after["sql"][key] - before["sql"][key]) / n
        return out


def distinct_text(rng: random.Random, n: int) -> str:
    """A report no open case resembles: a problem in few words and a long tail of unique ones."""
    words = " ".join(
        "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 9)))
        for _ in range(24)
    )
    return f"{SHORT_PROBLEMS[n % len(SHORT_PROBLEMS)]}: {words}"


SHORT_PROBLEMS = (
    "street light broken",
    "water leaking ceiling",
    "garbage not collected",
    "lift stuck",
    "car parked on fire lane",
    "loud construction noise",
    "pavement broken",
    "stray dogs barking",
)


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def progress(text: str) -> None:
    """What the benchmark is doing now, on stderr, so a long run shows where it is."""
    print(f"… {text}", file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


# --- the runs ------------------------------------------------------------------------


async def card_latencies(
    sim: Any, presses: list[tuple[str, str]], timeout: float = 60.0
) -> list[float]:
    """Send press -> member card, on the emulator's clock (no client polling in the measurement).

    `presses` are (case id, callback_query_id). The press time is when the emulator queued the
    callback update; the card time is when the bot's first `sendMessage` to a grid member or
    party chat naming the case reached the emulator. Waits until every card has been sent.
    """
    deadline = time.monotonic() + timeout
    while True:
        cards: dict[str, float] = {}
        for call in await sim.calls("sendMessage"):
            params = call.get("params") or {}
            try:
                chat = int(params.get("chat_id"))
            except (TypeError, ValueError):
                continue
            if chat not in WATCHED or call.get("status") != 200:
                continue
            for case_id in CASE.findall(str(params.get("text") or "")):
                cards.setdefault(case_id, call["time"])
        if all(case_id in cards for case_id, _ in presses) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    latencies = []
    for case_id, qid in presses:
        if case_id in cards:
            pressed = (await sim.callback_answer(qid))["time"]
            latencies.append(cards[case_id] - pressed)
    return latencies


async def bench_gridvoice(db: str, args: argparse.Namespace) -> dict[str, Any]:
    from common import (
        ADDRESSES,
        PROBLEMS,
        free_port,
        kill,
        onboard,
        report,
        reset_database,
        start_emulator,
        wait_http,
    )

    from bot.emulator.client import SimClient

    await reset_database(db)
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    emu = start_emulator(port)
    bot = None
    stats = Path(tempfile.mkdtemp(prefix="gv-bench-")) / "sql.json"
    try:
        await wait_http(api)
        bot = child(
            "from bot.cli.bench import serve_bot; "
            f"serve_bot({json.dumps(json.dumps(bench_settings(api, db, args.poll_interval)))}, {str(stats)!r})",
            env={"GRIDVOICE_SQL_STATS": "1"},
        )
        async with SimClient(api) as sim:
            for member in MEMBERS:
                await sim.create_user(member, f"M{member}", language_code="zh")
            for chat in PARTY_CHATS:
                await sim.create_chat(chat, f"Party {chat}", [], type="group")
            deadline = time.monotonic() + 120
            while not stats.exists():
                if time.monotonic() > deadline or bot.poll() is not None:
                    raise RuntimeError("the bot did not start")
                await asyncio.sleep(0.1)
            meter = Meter(bot.pid, stats, sim)
            residents = list(range(300001, 300001 + args.residents))
            sem = asyncio.Semaphore(30)

            async def ob(i: int, r: int) -> None:
                async with sem:
                    await onboard(sim, r, ADDRESSES[i % len(ADDRESSES)], timeout=120)

            progress(f"onboarding {len(residents)} residents")
            await asyncio.gather(*(ob(i, r) for i, r in enumerate(residents)))
            presses: list[tuple[str, str]] = []
            prompts: list[str] = []
            counter = iter(range(10**9))
            rng = random.Random(24)

            def similar_text(n: int, r: int) -> str:
                return f"{PROBLEMS[n % len(PROBLEMS)]} #{n} flat {r}"

            def common_text(n: int, r: int) -> str:
                return distinct_text(rng, n)

            async def one(r: int, text: Any) -> None:
                n = next(counter)
                ids: list[str] = []
                case_id, _ = await report(
                    sim, r, text(n, r), timeout=120, pressed_ids=ids, prompts=prompts
                )
                presses.append((case_id, ids[-1]))

            async def open_loop(text: Any) -> dict[str, Any]:
                """A new report every 1/rate s, from whichever resident is free."""
                free: asyncio.Queue[int] = asyncio.Queue()
                for r in residents:
                    free.put_nowait(r)
                presses.clear()
                prompts.clear()
                tasks = []

                async def open_one() -> None:
                    r = await free.get()
                    try:
                        await one(r, text)
                    finally:
                        free.put_nowait(r)

                await asyncio.sleep(1.0)  # let the bot settle after the last phase
                before = await meter.read()
                t0 = time.monotonic()
                total = int(args.rate * args.seconds)
                for i in range(total):
                    delay = t0 + i / args.rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(open_one()))
                await asyncio.gather(*tasks)
                latencies = await card_latencies(sim, presses)
                elapsed = time.monotonic() - t0
                await asyncio.sleep(0.5)  # the last marks and answers
                after = await meter.read()
                return {
                    "rate": args.rate,
                    "reports": len(latencies),
                    "similar_prompts": len(prompts),
                    "achieved_per_s": len(latencies) / elapsed,
                    "p50_ms": pct(latencies, 50),
                    "p95_ms": pct(latencies, 95),
                    "p99_ms": pct(latencies, 99),
                    **Meter.per(before, after, len(latencies)),
                }

            progress(f"common path: {int(args.rate * args.seconds)} reports at {args.rate:g}/s")
            common = await open_loop(common_text)
            progress(f"similar path: {int(args.rate * args.seconds)} reports at {args.rate:g}/s")
            similar = await open_loop(similar_text)
            progress(f"idle: {args.idle:g} s")

            # idle: no traffic at all
            await asyncio.sleep(2.0)
            before = await meter.read()
            await asyncio.sleep(args.idle)
            after = await meter.read()
            idle_s = after["t"] - before["t"]
            idle = {
                "seconds": idle_s,
                "cpu_ms_per_s": (after["cpu"] - before["cpu"]) * 1000 / idle_s,
                "api_calls_per_s": sum(after["calls"].values()) / idle_s
                - sum(before["calls"].values()) / idle_s,
                "statements_per_s": (after["sql"]["statements"] - before["sql"]["statements"])
                / idle_s,
                "commits_per_s": (after["sql"]["commits"] - before["sql"]["commits"]) / idle_s,
            }

            closed: dict[str, Any] = {}
            if args.reports > 0:
                presses.clear()

                async def resident_loop(r: int) -> None:
                    for _ in range(args.reports):
                        await one(r, common_text)

                started = time.monotonic()
                await asyncio.gather(*(resident_loop(r) for r in residents))
                latencies = await card_latencies(sim, presses)  # also waits for the last cards
                elapsed = time.monotonic() - started
                closed = {
                    "reports": len(latencies),
                    "reports_per_s": len(latencies) / elapsed,
                    "p50_ms": pct(latencies, 50),
                    "p95_ms": pct(latencies, 95),
                    "p99_ms": pct(latencies, 99),
                }
        return {
            "common": common,
            "similar": similar,
            "idle": idle,
            "closed_loop": closed,
            "bot_peak_rss_mb": peak_rss_mb(bot.pid),
        }
    finally:
        if bot is not None:
            kill(bot, 15)
        kill(emu)


async def bench_echo(args: argparse.Namespace) -> dict[str, Any]:
    from common import free_port, kill, start_emulator, wait_http

    from bot.emulator.client import SimClient

    port = free_port()
    api = f"http://127.0.0.1:{port}"
    emu = start_emulator(port)
    bot = None
    try:
        await wait_http(api)
        bot = child(f"from bot.cli.bench import serve_echo; serve_echo({api!r})")
        async with SimClient(api) as sim:
            users = list(range(400001, 400001 + args.residents))
            for u in users:
                await sim.create_user(u, f"E{u}")
            await sim.send_text(users[0], "warm up")
            await sim.wait_for(users[0], lambda m: m["from_bot"], timeout=30)
            latencies: list[float] = []
            free: asyncio.Queue[int] = asyncio.Queue()
            for u in users:
                free.put_nowait(u)

            async def one(n: int) -> None:
                u = await free.get()
                try:
                    msgs = await sim.messages(u)
                    after = msgs[-1]["message_id"] if msgs else 0
                    t = time.monotonic()
                    await sim.send_text(u, f"echo {n}")
                    await sim.wait_for(
                        u,
                        lambda m: m["from_bot"] and m["text"] == f"echo {n}",
                        after=after,
                        timeout=30,
                    )
                    latencies.append(time.monotonic() - t)
                finally:
                    free.put_nowait(u)

            # the same open loop as the bot's: a message every 1/rate s
            await asyncio.sleep(1.0)
            meter = Meter(bot.pid, None, sim)
            before = await meter.read()
            started = time.monotonic()
            tasks = []
            for i in range(int(args.rate * args.seconds)):
                delay = started + i / args.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(i)))
            await asyncio.gather(*tasks)
            elapsed = time.monotonic() - started
            await asyncio.sleep(0.5)
            after = await meter.read()
            cost = Meter.per(before, after, len(latencies))
        return {
            "messages": len(latencies),
            "cpu_ms_per_message": cost["cpu_ms"],
            "api_calls_per_message": cost["api_calls"],
            "cpu_ms_per_api_call": cost["cpu_ms_per_api_call"],
            "messages_per_s": len(latencies) / elapsed,
            "p50_ms": pct(latencies, 50),
            "p95_ms": pct(latencies, 95),
            "p99_ms": pct(latencies, 99),
            "bot_peak_rss_mb": peak_rss_mb(bot.pid),
        }
    finally:
        if bot is not None:
            kill(bot, 15)
        kill(emu)


async def pg_reachable(url: str) -> bool:
    if not url:
        return False
    await create_database(url)
    from sqlalchemy import text

    from bot.store.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("select 1"))
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


async def create_database(url: str) -> None:
    """Create the benchmark's own database on the server if it does not exist yet."""
    import asyncpg
    from sqlalchemy.engine import make_url

    target = make_url(url)
    try:
        conn = await asyncpg.connect(
            host=target.host,
            port=target.port or 5432,
            user=target.username,
            password=target.password,
            database="postgres",
            timeout=5,
        )
    except Exception:
        return
    try:
        exists = await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", target.database
        )
        if not exists:
            await conn.execute(f'CREATE DATABASE "{target.database}"')
    except Exception:
        pass
    finally:
        await conn.close()


async def run_all(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        targets = []
        if args.sqlite:
            targets.append(("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db"))
        if await pg_reachable(args.pg):
            targets.append(("postgresql", args.pg))
        for name, url in targets:
            results[name] = await bench_gridvoice(url, args)
            show(name, results[name])
    if args.echo:
        results["echo"] = await bench_echo(args)
        e = results["echo"]
        print(
            f"[echo PTB] {e['messages_per_s']:.1f} round trips/s  p50 {e['p50_ms']:.1f} ms"
            f"  p99 {e['p99_ms']:.1f} ms  CPU {e['cpu_ms_per_message']:.2f} ms/message,"
            f" {e['cpu_ms_per_api_call']:.2f} ms per Bot API call  peak RSS {e['bot_peak_rss_mb']:.0f} MB"
        )
        for name in ("sqlite", "postgresql"):
            if name in results:
                for path in ("common", "similar"):
                    ratio = results[name][path]["cpu_ms_per_api_call"] / e["cpu_ms_per_api_call"]
                    results[name][path]["echo_cpu_ratio"] = ratio
                    print(
                        f"[{name}] {path} path: CPU per Bot API call {ratio:.1f}x the echo bot's"
                        " (aim <= 2)"
                    )
    return results


def show(name: str, r: dict[str, Any]) -> None:
    for path in ("common", "similar"):
        o = r[path]
        print(
            f"[{name}] {path} path at {o['rate']:g} reports/s: {o['reports']} reports"
            f" ({o['achieved_per_s']:.1f}/s, {o['similar_prompts']} similar-case prompts);"
            f" Send->member card p50 {o['p50_ms']:.1f} ms p95 {o['p95_ms']:.1f} ms"
            f" p99 {o['p99_ms']:.1f} ms (aim p99 < 250 ms)"
        )
        calls = ", ".join(f"{c:.1f} {m}" for m, c in o["api_calls_by_method"].items())
        print(
            f"[{name}] {path} path per report: bot CPU {o['cpu_ms']:.1f} ms (aim <= 20;"
            f" event loop {o['loop_cpu_ms']:.1f}, worker threads {o['worker_cpu_ms']:.1f},"
            f" courier {o['courier_cpu_ms']:.1f}),"
            f" {o['statements']:.1f} SQL statements, {o['commits']:.1f} commits (aim <= 8)"
            f" + {o['rollbacks']:.1f} rollbacks, {o['api_calls']:.1f} Bot API calls ({calls});"
            f" {o['cpu_ms_per_api_call']:.2f} ms CPU per call"
        )
    i = r["idle"]
    print(
        f"[{name}] idle: {i['cpu_ms_per_s']:.2f} ms CPU per second (aim <= 2),"
        f" {i['statements_per_s']:.2f} statements/s, {i['commits_per_s']:.2f} commits/s,"
        f" {i['api_calls_per_s']:.2f} Bot API calls/s"
    )
    c = r["closed_loop"]
    if c:
        print(
            f"[{name}] closed loop: {c['reports']} reports, {c['reports_per_s']:.1f} reports/s"
            f" end to end; p50 {c['p50_ms']:.1f} ms p99 {c['p99_ms']:.1f} ms"
        )
    print(f"[{name}] bot peak RSS {r['bot_peak_rss_mb']:.0f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gridvoice bench")
    sub = parser.add_subparsers()
    register(sub)
    args = parser.parse_args(["bench", *(argv or sys.argv[1:])])
    return _run(args)
