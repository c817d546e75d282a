"""Support taps on a proposal: `python benchmarks/support_bench.py [--rate 8] [--seconds 60]`.

Starts the emulator and the bot as processes (as `benchmarks/run.py` does) on a fresh SQLite
file (or `--database-url`), puts verified residents and one proposal in the store, sends each
resident the proposal's card through its shared link (`/start support_<id>`), then presses
«Support» at `--rate` presses a second for `--seconds`, every tenth resident pressing twice at
once. Prints the time from a press to the updated count — the answer to the press (which states
the count) and the card's button edited to show it — as p50/p95/p99/max, and the supports lost
(a resident who pressed and has no support) and doubled (more supports than residents who
pressed). Progress is printed every ten seconds; the last line is the summary.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    free_port,
    kill,
    last_id,
    reset_database,
    start_bot,
    start_emulator,
    wait_bot,
    wait_http,
)
from bot.emulator.client import SimClient  # noqa: E402

FIRST = 700_001
GRID = "xingfu-1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def seed(database_url: str, residents: list[int]) -> int:
    """Verified residents and one proposal, written straight into the store the bot migrated."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from bot.services.people.residents import pseudonym_for
    from bot.store.db import create_engine
    from bot.store.models import Proposal, User

    engine = create_engine(database_url)
    from sqlalchemy.ext.asyncio import async_sessionmaker

    sessions = async_sessionmaker(engine, expire_on_commit=False)
    now = datetime.now(UTC)
    for _ in range(100):  # the bot creates the schema as it starts
        try:
            async with sessions() as session:
                await session.execute(select(User.id).limit(1))
            break
        except Exception:
            await asyncio.sleep(0.2)
    async with sessions() as session, session.begin():
        for i in residents:
            session.add(
                User(
                    id=i,
                    language="en",
                    pseudonym=pseudonym_for(i),
                    created_at=now,
                    consent_at=now,
                    home_grid_id=GRID,
                    verified=True,
                    state_data={},
                    muted_announcements=False,
                    unreachable=False,
                )
            )
        p = Proposal(
            author_id=residents[0],
            community_id="xingfu",
            grid_id=GRID,
            language="en",
            title="Motion-sensor lights in the stairwells",
            text="The stairwells are dark at night; please fit motion-sensor lights.",
            cited_case_ids=[],
            status="open",
            threshold=100_000,  # the taps measure supports, not reaching
            supports=0,
            created_at=now,
            window_ends_at=now + timedelta(days=30),
            answered_late=False,
        )
        session.add(p)
        await session.flush()
        pid = p.id
    await engine.dispose()
    return pid


async def count(database_url: str, pid: int) -> tuple[int, set[int], int]:
    from sqlalchemy import select

    from bot.store.db import create_engine
    from bot.store.models import Proposal, ProposalSupport

    engine = create_engine(database_url)
    async with engine.connect() as conn:
        users = (
            (
                await conn.execute(
                    select(ProposalSupport.user_id).where(ProposalSupport.proposal_id == pid)
                )
            )
            .scalars()
            .all()
        )
        shown = (
            await conn.execute(select(Proposal.supports).where(Proposal.id == pid))
        ).scalar_one()
    await engine.dispose()
    return len(users), {u for u in users if u is not None}, int(shown)


async def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="support-bench-"))
    database_url = args.database_url or f"sqlite+aiosqlite:///{work / 'bench.db'}"
    await reset_database(database_url)
    port = free_port()
    emu = start_emulator(port)
    api = f"http://127.0.0.1:{port}"
    bot = None
    try:
        await wait_http(api)
        bot = start_bot(api, database_url, log_path=work / "bot.log")
        total = int(args.rate * args.seconds)
        residents = list(range(FIRST, FIRST + total))
        async with SimClient(api) as sim:
            for start in range(0, total, 100):
                await asyncio.gather(
                    *(
                        sim.create_user(i, f"R{i}", language_code="en")
                        for i in residents[start : start + 100]
                    )
                )
            pid = await seed(database_url, residents)
            print(
                f"seeded {total} verified residents and proposal #{pid}; sending the cards",
                flush=True,
            )
            cards: dict[int, dict[str, Any]] = {}

            async def card_for(user: int) -> None:
                after = await last_id(sim, user)
                await sim.send_text(user, f"/start support_{pid}")
                cards[user] = await wait_bot(sim, user, after, with_buttons=True, timeout=120)

            for start in range(0, total, 40):
                await asyncio.gather(*(card_for(u) for u in residents[start : start + 40]))
            print(
                f"{len(cards)} cards delivered; pressing at {args.rate}/s for {args.seconds}s",
                flush=True,
            )

            answer_latency: list[float] = []
            edit_latency: list[float] = []
            pressed: set[int] = set()
            qids: list[str] = []
            doubles = 0

            async def tap(user: int) -> None:
                nonlocal doubles
                card = cards[user]
                data = f"pr:{pid}:s"
                t0 = time.monotonic()
                presses = [sim.press(user, card["message_id"], data=data)]
                if user % 10 == 0:
                    presses.append(sim.press(user, card["message_id"], data=data))
                    doubles += 1
                results = await asyncio.gather(*presses)
                pressed.add(user)
                qids.append(results[0]["callback_query_id"])
                # the card: looked at every 20 ms (the answer's time is the emulator's own)
                deadline = t0 + 30
                while time.monotonic() < deadline:
                    for m in await sim.messages(user, card["message_id"] - 1):
                        if m["message_id"] == card["message_id"] and "✅" in str(m.get("buttons")):
                            edit_latency.append((time.monotonic() - t0) * 1000)
                            return
                    await asyncio.sleep(0.02)

            tasks = []
            begun = time.monotonic()
            next_report = begun + 10
            for n, user in enumerate(residents):
                at = begun + n / args.rate
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                tasks.append(asyncio.create_task(tap(user)))
                if time.monotonic() >= next_report:
                    next_report += 10
                    print(
                        f"  {n + 1}/{total} pressed, {len(edit_latency)} counts seen, "
                        f"p99 so far {percentile(edit_latency, 0.99):.0f} ms",
                        flush=True,
                    )
            await asyncio.gather(*tasks)
            await asyncio.sleep(1.0)
            for qid in qids:  # press -> answer on the emulator's clock: no polling needed
                a = await sim.callback_answer(qid)
                if a.get("answered"):
                    answer_latency.append((a["answered_at"] - a["time"]) * 1000)
        rows, users, shown = await count(database_url, pid)
        lost = len(pressed - users)
        doubled = rows - len(pressed)
        print(
            f"answer with the count: p50 {percentile(answer_latency, 0.5):.0f} ms, "
            f"p95 {percentile(answer_latency, 0.95):.0f} ms, p99 {percentile(answer_latency, 0.99):.0f} ms"
        )
        print(
            f"card edited to the count: p50 {percentile(edit_latency, 0.5):.0f} ms, "
            f"p95 {percentile(edit_latency, 0.95):.0f} ms, p99 {percentile(edit_latency, 0.99):.0f} ms, "
            f"max {max(edit_latency or [float('nan')]):.0f} ms ({len(edit_latency)}/{total} seen)"
        )
        mean = statistics.mean(edit_latency) if edit_latency else float("nan")
        print(
            f"summary: {total} residents pressed ({doubles} twice at once) at {args.rate}/s for "
            f"{args.seconds}s on {'SQLite' if database_url.startswith('sqlite') else 'PostgreSQL'}: "
            f"p99 press->count {percentile(edit_latency, 0.99):.0f} ms (mean {mean:.0f} ms); "
            f"supports stored {rows}, shown {shown}; lost {lost}, doubled {doubled}"
        )
        return 0 if lost == 0 and doubled == 0 and shown == rows else 1
    finally:
        if bot is not None:
            kill(bot)
        kill(emu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=8.0, help="presses a second (8)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to press (60)")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
