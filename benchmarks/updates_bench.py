"""servicerequestupdates benchmark: the time to list one page of public updates on PostgreSQL
with many cases and their audit trails, for the windows a polling client asks (the last
minutes, a day, the default 90 days, a deep page, one case), and the plan's index use.

Run: ``python benchmarks/updates_bench.py [--cases 200000] [--samples 30]
[--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/gv_updates_bench]``. It DROPS the
public schema of its database (created when missing).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from big_db import START, Loader, asyncpg_dsn, bulk_load, ensure_database, pct  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bot.services.public import updates  # noqa: E402
from bot.store.db import create_engine, upgrade  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/gv_updates_bench"


def w3(at: object) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[attr-defined]


async def run(args: argparse.Namespace) -> None:
    url = args.database_url
    await ensure_database(url)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await upgrade(url)
    rng = random.Random(3)
    residents = [(100_000_000 + i, rng.randrange(100)) for i in range(args.cases // 10)]
    t0 = time.perf_counter()
    await bulk_load(asyncpg_dsn(url), Loader(100), residents, [10] * len(residents))
    async with engine.connect() as conn:
        events = (await conn.execute(text("SELECT count(*) FROM case_events"))).scalar_one()
        some = (
            await conn.execute(text("SELECT human_id FROM cases ORDER BY id DESC LIMIT 1"))
        ).scalar_one()
    print(f"loaded {args.cases:,} cases, {events:,} events in {time.perf_counter() - t0:.0f} s")
    domain = SimpleNamespace(engine=engine)
    windows = {
        "last 10 minutes": {"start_date": w3(START - timedelta(minutes=10)), "end_date": w3(START)},
        "last day": {"start_date": w3(START - timedelta(days=1)), "end_date": w3(START)},
        "default 90 days, page 1": {},
        "default 90 days, page 20": {"page": "20"},
        "one case": {"service_request_id": some},
    }
    print(f"{'query':<26} {'rows':>6} {'p50 ms':>8} {'p95 ms':>8}")
    for name, params in windows.items():
        query = updates.updates_query(params, START)
        times, rows = [], 0
        for _ in range(args.samples):
            t = time.perf_counter()
            rows = len(await updates.list_updates(domain, query))  # type: ignore[arg-type]
            times.append(time.perf_counter() - t)  # seconds: `pct` prints milliseconds
        print(f"{name:<26} {rows:>6} {pct(times, 50):>8.1f} {pct(times, 95):>8.1f}")
    async with engine.connect() as conn:
        plan = (
            await conn.execute(
                text(
                    "EXPLAIN SELECT e.id FROM case_events e JOIN cases c ON c.id = e.case_id "
                    "WHERE e.at >= :a AND e.at <= :b ORDER BY e.at, e.id LIMIT 1000"
                ),
                {"a": START - timedelta(days=1), "b": START},
            )
        ).all()
    uses = "ix_case_events_at_id" in " ".join(r[0] for r in plan)
    print(f"the window query uses ix_case_events_at_id: {uses}")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
