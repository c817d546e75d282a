"""Crash test: SIGKILL the bot mid-burst, restart it, prove nothing was lost or doubled.

    python benchmarks/crash_test.py --n 30 [--database-url URL] [--kills 2]

The emulator and the bot (`gridvoice run`) run as subprocesses. N residents onboard, then all
report at once; the bot is SIGKILLed while the reports are in flight and restarted. At the
end every report must be exactly one case and every resident must have exactly one
confirmation. Messages repeated (Telegram accepted the call and the row was not marked sent:
the window the bot's courier closes, open where the courier is off or killed too) are counted
and printed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import (  # noqa: E402
    ADDRESSES,
    PROBLEMS,
    free_port,
    kill,
    onboard,
    report,
    reset_database,
    start_bot,
    start_emulator,
    wait_http,
)

from bot.emulator.client import SimClient  # noqa: E402

LEASES = {"GRIDVOICE_INBOX_LEASE": "3", "GRIDVOICE_OUTBOX_LEASE": "3"}


async def run(
    n: int, database_url: str, kills: int, log_path: Path, sig: int = signal.SIGKILL
) -> dict[str, object]:
    from sqlalchemy import func, select

    from bot.store.db import create_engine, upgrade
    from bot.store.models import Case

    await reset_database(database_url)
    await upgrade(database_url)
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    emu = start_emulator(port)
    bot = None
    try:
        await wait_http(api)
        bot = start_bot(api, database_url, env=LEASES, log_path=log_path)
        async with SimClient(api) as sim:
            residents = list(range(200001, 200001 + n))
            await asyncio.gather(
                *(onboard(sim, r, ADDRESSES[i % len(ADDRESSES)]) for i, r in enumerate(residents))
            )
            presses: list[int] = []
            tasks = [
                asyncio.create_task(
                    report(
                        sim,
                        r,
                        f"{PROBLEMS[i % len(PROBLEMS)]} (flat {r})",
                        timeout=120,
                        on_send=lambda u, t: presses.append(u),
                    )
                )
                for i, r in enumerate(residents)
            ]
            for k in range(kills):
                # kill once part of the burst is in: some reports filed, some drafts, some not yet read
                target = max(1, n * (k + 1) // (kills + 2))
                while len(presses) < target:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
                kill(bot, sig)
                await asyncio.sleep(0.3)
                bot = start_bot(api, database_url, env=LEASES, log_path=log_path)
            results = await asyncio.gather(*tasks)
            # let the last messages out, then count
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and await sim.pending_updates():  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            await asyncio.sleep(2)
            case_ids = [c for c, _ in results]
            confirmations = 0
            wrong = []
            for r, case_id in zip(residents, case_ids, strict=True):
                got = [
                    m
                    for m in await sim.bot_messages(r)
                    if case_id in (m.get("text") or "")
                    and "d:new" not in str(m.get("reply_markup"))
                ]
                confirmations += len(got)
                if len(got) != 1:
                    wrong.append((r, case_id, len(got)))
            calls = [c for c in await sim.calls("sendMessage") if c.get("status") == 200]
            seen = collections.Counter(
                (str(c["params"].get("chat_id")), c["params"].get("text")) for c in calls
            )
            repeated = sum(v - 1 for v in seen.values() if v > 1)
            examples = [
                f"{chat}: {(text or '')[:50]}" for (chat, text), v in seen.items() if v > 1
            ][:5]
        engine = create_engine(database_url)
        async with engine.connect() as conn:
            cases = (await conn.execute(select(func.count()).select_from(Case))).scalar_one()
        await engine.dispose()
        return {
            "residents": n,
            "kills": kills,
            "signal": signal.Signals(sig).name,
            "cases": cases,
            "distinct_case_ids": len(set(case_ids)),
            "confirmations": confirmations,
            "wrong": wrong,
            "messages_sent": len(calls),
            "messages_repeated": repeated,
            "repeated_examples": examples,
            "ok": cases == n and len(set(case_ids)) == n and not wrong,
        }
    finally:
        if bot is not None:
            kill(bot)
        kill(emu)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=30)
    p.add_argument("--kills", type=int, default=2)
    p.add_argument("--database-url")
    p.add_argument("--log", help="bot log file")
    p.add_argument(
        "--signal", choices=["KILL", "TERM"], default="KILL", help="TERM: graceful stop (drains)"
    )
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/crash.db"
        log_path = Path(args.log or Path(tmp) / "bot.log")
        result = asyncio.run(
            run(args.n, url, args.kills, log_path, getattr(signal, f"SIG{args.signal}"))
        )
    for key, value in result.items():
        print(f"{key}: {value}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
