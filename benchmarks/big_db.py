"""Big-database benchmark: intake and `/my` latency on an empty PostgreSQL database and on one
with 1,000 grids, 100,000 residents and 1,000,000 cases; prints both and the ratios (aim: <= 1.5x).

The real bot (`bot.runtime.app.Gridvoice`, pacing raised) runs in-process against the in-process
Telegram Bot API emulator. Latencies are taken on the emulator's clock, not by client polling:

* intake: from the resident's Send press (the callback update queued) to the bot's
  `sendMessage` of the staff card naming the new case;
* `/my`: from the `/my` message queued to the bot's `sendMessage` answering it.

Samples run one at a time (a quiet system), each intake sample by a different resident in a
different grid. The bulk data is written with asyncpg COPY, then ANALYZE.

Run: ``python benchmarks/big_db.py [--cases 1000000] [--residents 100000] [--grids 1000]
[--samples 50] [--database-url ...] [--yes]``. It DROPS the public schema of the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from routing_bench import CATEGORIES, synthetic  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.clock import ManualClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.services.people.residents import pseudonym_for  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/gv_big"
# A Tuesday morning in Beijing: grid members are on duty.
START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
CASE_ID = re.compile(r"GV-\d{4}-\d+")
PROBLEMS = [
    "The street light outside my building has been broken for a week",
    "Water is leaking from the ceiling in the stairwell",
    "Garbage has not been collected for three days and it smells",
    "The lift is stuck between floors again",
    "Loud construction noise after 10 pm next door",
    "The pavement is broken and an old man fell",
    "Stray dogs are barking all night near the gate",
]
# Bulk case texts share no words with PROBLEMS: the similar-case lookup reads them but files anew.
BULK_TEXT = "Archived note {n} kept for record about {cat}"
OPEN_STATUSES = (
    ["assigned"] * 40
    + ["accepted"] * 35
    + ["needs_info"] * 8
    + ["escalated"] * 7
    + ["transferred"] * 3
    + ["reopened"] * 4
    + ["triage"] * 3
)
AWAITING = {"assigned", "transferred", "escalated", "reopened"}
SMALL_RESIDENT0 = 90_000_000  # residents of the empty-database phase
BULK_RESIDENT0 = 100_000_000  # the bulk residents


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def ensure_database(url: str) -> None:
    """Create the benchmark's own database when it does not exist yet."""
    import asyncpg

    parsed = make_url(url)
    admin = asyncpg_dsn(str(parsed.set(database="postgres")))
    conn = await asyncpg.connect(admin)
    try:
        exists = await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", parsed.database
        )
        if not exists:
            await conn.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await conn.close()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


# --- bulk data ---------------------------------------------------------------------------------


class Loader:
    """Writes residents, cases and case events with COPY; keeps the next free case/event ids."""

    def __init__(self, n_grids: int, seed: int = 7) -> None:
        self.n_grids = n_grids
        self.rng = random.Random(seed)
        self.next_case = 1
        self.next_event = 1

    @staticmethod
    def home(uid: int, grid: int) -> tuple[str, str]:
        return f"g{grid}", f"g{grid}-b{1 + uid % 10}"

    def user_row(self, uid: int, grid: int) -> tuple[Any, ...]:
        g, b = self.home(uid, grid)
        at = START - timedelta(days=800)
        return (
            uid,
            "en",
            f"Resident{uid}",
            at,
            b,
            g,
            None,
            False,
            None,
            pseudonym_for(uid),
            False,
            False,
            None,
            "{}",
            at,
            None,
        )

    def case_rows(
        self, resident: int, grid: int, rng: random.Random
    ) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
        cid = self.next_case
        self.next_case += 1
        cat = CATEGORIES[rng.randrange(len(CATEGORIES))]
        member = (1_000_000 if rng.random() < 0.5 else 2_000_000) + grid
        leader = 3_000_000 + grid // 10
        r = rng.random()
        accept_by = resolve_by = accepted_at = resolved_at = closed_at = None
        reminded = note = rating = None
        owner, rung = member, "member"
        if r < 0.03:  # open: filed within the last 30 days, deadlines ahead
            status = OPEN_STATUSES[rng.randrange(len(OPEN_STATUSES))]
            created = START - timedelta(seconds=rng.randrange(30 * 86400))
            if status == "escalated":
                owner, rung = leader, "leader"
            if status == "triage":
                cat, owner, rung = None, None, "member"
            if status in AWAITING:
                accept_by = START + timedelta(hours=rng.randrange(2, 240))
            if status in ("accepted", "needs_info"):
                accepted_at = created + timedelta(hours=1)
                resolve_by = START + timedelta(hours=rng.randrange(2, 240))
        elif r < 0.04:  # resolved in the last two days, not yet auto-closed
            status = "resolved"
            resolved_at = START - timedelta(seconds=rng.randrange(2 * 86400))
            created = resolved_at - timedelta(hours=rng.randrange(1, 72))
            accepted_at = created + timedelta(hours=1)
            note = "done"
        else:  # closed, over the last two years; follow-up already done
            status = "closed"
            created = START - timedelta(seconds=rng.randrange(31 * 86400, 730 * 86400))
            accepted_at = created + timedelta(hours=1)
            resolved_at = created + timedelta(hours=rng.randrange(2, 96))
            closed_at = resolved_at + timedelta(days=3)
            reminded, note = "followup", "done"
            rating = rng.randint(1, 5) if rng.random() < 0.6 else None
        updated = closed_at or resolved_at or accepted_at or created
        public_updated = resolved_at or accepted_at or created  # closing is not public
        text = BULK_TEXT.format(n=cid, cat=cat or "something")
        g, b = self.home(resident, grid)
        case = (
            cid,
            f"GV-{created.year}-{cid:06d}",
            resident,
            "en",
            text,
            cat,
            0.9,
            "[]",
            "normal",
            g,
            b,
            None,
            None,
            None,
            status,
            owner,
            owner,
            None,
            None,
            rung,
            "{}",
            accept_by,
            resolve_by,
            reminded,
            created,
            updated,
            accepted_at,
            resolved_at,
            closed_at,
            note,
            rating,
            None,
            0,
            1 if rung == "leader" else 0,
            0,
            None,
            public_updated,
        )
        events = [
            (
                self.next_event,
                cid,
                created,
                resident,
                "resident",
                "created",
                None,
                "triage" if cat is None else "assigned",
                None,
                "{}",
            )
        ]
        self.next_event += 1
        if status == "closed":
            events.append(
                (
                    self.next_event,
                    cid,
                    closed_at,
                    None,
                    "system",
                    "closed",
                    "resolved",
                    "closed",
                    None,
                    "{}",
                )
            )
            self.next_event += 1
        return case, events


USER_COLS = [
    "id",
    "language",
    "first_name",
    "consent_at",
    "home_building_id",
    "home_grid_id",
    "home_address",
    "verified",
    "phone",
    "pseudonym",
    "muted_announcements",
    "unreachable",
    "state",
    "state_data",
    "created_at",
    "erased_at",
]
CASE_COLS = [
    "id",
    "human_id",
    "resident_id",
    "language",
    "text",
    "category",
    "confidence",
    "matched",
    "priority",
    "grid_id",
    "building_id",
    "place_text",
    "latitude",
    "longitude",
    "status",
    "owner_id",
    "owner_chat_id",
    "party_id",
    "follow_up_id",
    "rung",
    "assignment",
    "accept_by",
    "resolve_by",
    "reminded",
    "created_at",
    "updated_at",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "resolution_note",
    "rating",
    "rating_comment",
    "reopen_count",
    "escalation_count",
    "version",
    "source_update_id",
    "public_updated_at",
]
EVENT_COLS = [
    "id",
    "case_id",
    "at",
    "actor_id",
    "actor_role",
    "kind",
    "from_status",
    "to_status",
    "note",
    "data",
]


async def bulk_load(
    dsn: str,
    loader: Loader,
    residents: list[tuple[int, int]],
    cases_per: list[int],
    *,
    chunk: int = 100_000,
) -> dict[str, float]:
    """COPY `residents` (id, grid) and cases_per[i] cases of each; then fix sequences, ANALYZE."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    timings: dict[str, float] = {}
    try:
        # The bot may have filed cases since the last load: continue after the highest ids.
        loader.next_case = max(
            loader.next_case, 1 + await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM cases")
        )
        loader.next_event = max(
            loader.next_event,
            1 + await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM case_events"),
        )
        t0 = time.perf_counter()
        for i in range(0, len(residents), chunk):
            rows = [loader.user_row(uid, g) for uid, g in residents[i : i + chunk]]
            await conn.copy_records_to_table("users", records=rows, columns=USER_COLS)
        timings["users"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        rng = loader.rng
        cases: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []

        async def flush() -> None:
            await conn.copy_records_to_table("cases", records=cases, columns=CASE_COLS)
            await conn.copy_records_to_table("case_events", records=events, columns=EVENT_COLS)
            cases.clear()
            events.clear()

        total = sum(cases_per)
        written = 0
        for (uid, g), n in zip(residents, cases_per, strict=True):
            for _ in range(n):
                # Mostly in the resident's home grid, sometimes elsewhere.
                grid = g if rng.random() < 0.8 else rng.randrange(loader.n_grids)
                case, evs = loader.case_rows(uid, grid, rng)
                cases.append(case)
                events.extend(evs)
            if len(cases) >= chunk:
                written += len(cases)
                await flush()
                if total >= 200_000:
                    print(
                        f"    {written:,} / {total:,} cases ({time.perf_counter() - t0:.0f}s)",
                        flush=True,
                    )
        if cases:
            await flush()
        timings["cases+events"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for table in ("cases", "case_events"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
        await conn.execute("ANALYZE")
        timings["analyze"] = time.perf_counter() - t0
    finally:
        await conn.close()
    return timings


async def explain(dsn: str, resident: int, grid: int) -> None:
    """EXPLAIN ANALYZE the queries on the intake and /my paths, as the services issue them."""
    import asyncpg

    open_list = "'triage','assigned','accepted','needs_info','transferred','escalated','reopened'"
    owners = ", ".join(
        str(x) for x in (1_000_000 + grid, 2_000_000 + grid, 3_000_000 + grid // 10, 9, 8)
    )
    queries = {
        "similar_open_case (reports.py)": f"SELECT * FROM cases WHERE grid_id = 'g{grid}' AND category = 'facilities' AND status IN ({open_list})"
        f" AND created_at >= '{(START - timedelta(days=30)).isoformat()}' ORDER BY id DESC LIMIT 50",
        "grid_counts/open_counts (cases.py)": f"SELECT owner_id, count(*) FROM cases WHERE status IN ({open_list}) AND owner_id IS NOT NULL"
        f" AND owner_id IN ({owners}) GROUP BY owner_id",
        "my_cases (residents.py)": f"SELECT * FROM cases WHERE resident_id = {resident} ORDER BY id DESC LIMIT 20",
        "scheduler follow_up (scheduler.py)": "SELECT id FROM cases WHERE status = 'closed' AND (rating IS NOT NULL OR resolved_at IS NOT NULL)"
        f" AND closed_at <= '{(START - timedelta(days=14)).isoformat()}' AND reminded IS NULL ORDER BY id LIMIT 500",
    }
    conn = await asyncpg.connect(dsn)
    try:
        print("\nEXPLAIN ANALYZE on the big database:")
        for name, sql in queries.items():
            await conn.fetch(sql)  # warm
            plan = [r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql)]
            print(f"  {name}:")
            for line in plan:
                if "Planning" in line or "Execution" in line or "Scan" in line or "Sort" in line:
                    print(f"    {line.strip()}")
    finally:
        await conn.close()


# --- the bot and the measurements ----------------------------------------------------------------


def bench_settings(db_url: str, api_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        api_url=api_url,
        token="123456:TEST",
        listen_host="127.0.0.1",
        listen_port=0,
        send_rate_global=10_000.0,
        send_rate_private=10_000.0,
        send_burst_private=10_000,
        send_rate_group=10_000.0,
        scheduler_interval=5.0,
        poll_timeout=1,
    )


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row
    ]


async def last_id(sim: Any, chat: int) -> int:
    messages = await sim.messages(chat)
    return messages[-1]["message_id"] if messages else 0


def first_call(world: Any, since: float, pred: Any) -> float | None:
    found = None
    for call in world.calls:
        if call["time"] >= since and call.get("method", "").lower() == "sendmessage" and pred(call):
            found = call["time"] if found is None else min(found, call["time"])
    return found


async def wait_call(world: Any, since: float, pred: Any, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while True:
        found = first_call(world, since, pred)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("the bot never sent the expected message")
        await asyncio.sleep(0.01)


def params_of(call: dict[str, Any]) -> dict[str, Any]:
    return call.get("params") or {}


async def intake_sample(sim: Any, world: Any, user: int, text: str) -> tuple[float, bool]:
    """One report end to end; returns Send press -> staff card (s) and whether 'similar' was shown."""
    after = await last_id(sim, user)
    await sim.send_text(user, text)
    draft = await sim.wait_for(user, lambda m: bool(buttons(m)), timeout=30, after=after)
    send = next(b for b in buttons(draft) if "✅" in b["text"])
    answer = await sim.press(user, draft["message_id"], data=send["callback_data"])
    reply = await sim.wait_for(
        user, lambda m: "GV-" in (m.get("text") or ""), timeout=30, after=draft["message_id"]
    )
    similar = any(b["callback_data"] == "d:new" for b in buttons(reply))
    if similar:
        answer = await sim.press(user, reply["message_id"], data="d:new")
        reply = await sim.wait_for(
            user, lambda m: "GV-" in (m.get("text") or ""), timeout=30, after=reply["message_id"]
        )
    case_id = CASE_ID.findall(reply["text"])[-1]
    pressed = world.callbacks[answer["callback_query_id"]]["time"]

    def is_card(call: dict[str, Any]) -> bool:
        p = params_of(call)
        return str(p.get("chat_id")) != str(user) and case_id in str(
            p.get("text") or p.get("caption") or ""
        )

    card = await wait_call(world, pressed, is_card)
    return card - pressed, similar


async def my_sample(sim: Any, world: Any, user: int) -> float:
    after = await last_id(sim, user)
    t0 = world.now()
    await sim.send_text(user, "/my")
    await sim.wait_for(user, lambda m: True, timeout=30, after=after)
    return await wait_call(world, t0, lambda c: str(params_of(c).get("chat_id")) == str(user)) - t0


async def measure(
    sim: Any, world: Any, reporters: list[int], my_users: list[int], label: str
) -> dict[str, Any]:
    # Warm up (first-use costs: classifier, templates, connection pool), not counted.
    await my_sample(sim, world, my_users[-1])
    intake, my, similar = [], [], 0
    t0 = time.perf_counter()
    for i, user in enumerate(reporters):
        latency, was_similar = await intake_sample(
            sim, world, user, f"{PROBLEMS[i % len(PROBLEMS)]} (flat {i + 1})"
        )
        intake.append(latency)
        similar += was_similar
    for user in my_users:
        my.append(await my_sample(sim, world, user))
    result = {
        "intake_p50": pct(intake, 50),
        "intake_p95": pct(intake, 95),
        "my_p50": pct(my, 50),
        "my_p95": pct(my, 95),
        "similar": similar,
    }
    print(
        f"  {label}: intake p50 {result['intake_p50']:.0f} ms p95 {result['intake_p95']:.0f} ms "
        f"({len(intake)} reports, {similar} shown 'similar'); /my p50 {result['my_p50']:.0f} ms "
        f"p95 {result['my_p95']:.0f} ms ({len(my)} calls); {time.perf_counter() - t0:.1f}s",
        flush=True,
    )
    return result


async def run(args: argparse.Namespace) -> None:
    from bot.emulator.client import SimClient
    from bot.emulator.server import WORLD, start_emulator
    from bot.runtime.app import Gridvoice
    from bot.services.shared.gridmap_store import load_document
    from bot.store.db import create_engine, upgrade

    started = time.perf_counter()
    url, dsn = args.database_url, asyncpg_dsn(args.database_url)
    from sqlalchemy import text

    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    await upgrade(url)

    n = args.samples
    rng = random.Random(1)
    sample_grids = rng.sample(range(args.grids), min(args.grids, n))
    gridmap = synthetic(args.grids)
    emu = await start_emulator()
    world = emu.app[WORLD]
    clock = ManualClock(START)
    app: Gridvoice | None = None
    try:
        async with SimClient(emu.url) as sim:
            for s in gridmap["staff"]:
                await sim.create_user(s["telegram_id"], s["name"], language_code="en")
            await sim.create_chat(-1, "Police", [], type="group")
            app = Gridvoice(bench_settings(url, emu.url), clock=clock)
            await app.start(migrate=False, serve_http=False)
            await load_document(app.domain, json.dumps(gridmap), "synthetic")
            print(
                f"map: {args.grids} grids, {args.grids * 10} buildings, {len(gridmap['staff'])} staff "
                f"({time.perf_counter() - started:.1f}s)",
                flush=True,
            )

            # Phase 1: empty database (map only, plus the sample residents; /my residents have 10 cases).
            loader = Loader(args.grids)
            reporters = [SMALL_RESIDENT0 + i for i in range(len(sample_grids))]
            my_users = [SMALL_RESIDENT0 + 50_000 + i for i in range(n)]
            residents = [(u, g) for u, g in zip(reporters, sample_grids, strict=True)]
            residents += [(u, sample_grids[i % len(sample_grids)]) for i, u in enumerate(my_users)]
            await bulk_load(dsn, loader, residents, [0] * len(reporters) + [10] * len(my_users))
            for u, _ in residents:
                await sim.create_user(u, f"Resident{u}", language_code="en")
            empty = await measure(sim, world, reporters, my_users, "empty database")

            # Phase 2: the big database. The bot is stopped while loading.
            await app.stop()
            app = None
            t0 = time.perf_counter()
            per = args.cases // args.residents
            extra = args.cases - per * args.residents
            bulk = [(BULK_RESIDENT0 + i, rng.randrange(args.grids)) for i in range(args.residents)]
            counts = [per + (1 if i < extra else 0) for i in range(args.residents)]
            print(f"bulk load: {args.residents:,} residents, {args.cases:,} cases ...", flush=True)
            timings = await bulk_load(dsn, loader, bulk, counts)
            print(
                f"  loaded in {time.perf_counter() - t0:.1f}s ("
                + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
                + ")",
                flush=True,
            )
            # Reporters: bulk residents living in the sample grids; /my: bulk residents with ~10 cases.
            # Other grids than phase 1 used: its sample cases are open and would read as 'similar'.
            by_grid: dict[int, int] = {}
            for uid, g in bulk:
                by_grid.setdefault(g, uid)
            used = set(sample_grids)
            big_reporters = [uid for g, uid in sorted(by_grid.items()) if g not in used][:n]
            big_my = [uid for (uid, _), c in zip(bulk, counts, strict=True) if c >= per][-n:]
            for u in {*big_reporters, *big_my}:
                await sim.create_user(u, f"Resident{u}", language_code="en")
            app = Gridvoice(bench_settings(url, emu.url), clock=clock)
            await app.start(migrate=False, serve_http=False)
            big = await measure(sim, world, big_reporters, big_my, f"{args.cases:,} cases")
            await explain(dsn, big_my[0], sorted(by_grid)[0])
    finally:
        if app is not None:
            await app.stop()
        await emu.runner.cleanup()

    print()
    print(f"{'':<18}{'empty':>10}{f'{args.cases:,} cases':>18}{'ratio':>8}   aim <= 1.5x")
    for key, name in (
        ("intake_p50", "intake p50"),
        ("intake_p95", "intake p95"),
        ("my_p50", "/my p50"),
        ("my_p95", "/my p95"),
    ):
        ratio = big[key] / empty[key] if empty[key] else float("nan")
        print(
            f"{name:<18}{empty[key]:>7.0f} ms{big[key]:>15.0f} ms{ratio:>8.2f}   "
            f"{'ok' if ratio <= 1.5 else 'OVER'}"
        )
    print(f"total runtime {time.perf_counter() - started:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--grids", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument(
        "--yes", action="store_true", help="allow dropping a database not named gv_big/*bench*"
    )
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("PostgreSQL only (postgresql+asyncpg://...)")
    name = make_url(args.database_url).database or ""
    if name != "gv_big" and "bench" not in name and not args.yes:
        print(
            f"WARNING: this drops every table in database {name!r}. Re-run with --yes to proceed.",
            file=sys.stderr,
        )
        sys.exit(2)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
