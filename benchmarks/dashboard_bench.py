"""Dashboard benchmark: p50/p95 of the public pages over real HTTP on PostgreSQL, on an (almost)
empty database and on one with 1,000 grids, 100,000 residents and 1,000,000 cases; prints both
and the ratio (aim: p95 under 200 ms on the big database).

The real bot (`bot.runtime.app.Gridvoice`) serves its HTTP edge against the in-process Telegram
Bot API emulator; the pages are fetched one at a time (a quiet system) with aiohttp:

* the community page `/` (every grid: figures, map of 1,000 grids, the grid table);
* a grid page `/grids/<id>` (a different grid each time);
* a case page `/cases/GV-…` (a different case each time).

Each page is measured twice, a reader every 100 ms: "computed" with the cache off (every
request runs its queries and renders its page), and "cached" as deployed but with a 3 s reuse
time instead of 30 s, so refreshes happen during the samples: figures and rendered pages are
reused per page and language, and a page past its reuse time is served while one refresh
runs in the background (only a page nobody asked for recently is computed while its reader
waits — every grid page here, as each sample asks for another grid).
The bulk data comes from benchmarks/big_db.py (asyncpg COPY; each case's first response is
its acceptance), then VACUUM ANALYZE (index-only scans need a fresh visibility map, which
autovacuum keeps in production).

Run: ``python benchmarks/dashboard_bench.py [--cases 1000000] [--residents 100000]
[--grids 1000] [--samples 60] [--database-url ...]``. It DROPS the public schema of the
database (default gv_web_bench, created if missing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import big_db  # noqa: E402
from big_db import (  # noqa: E402
    START,
    Loader,
    asyncpg_dsn,
    bench_settings,
    bulk_load,
    ensure_database,
    pct,
)
from routing_bench import synthetic  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.clock import ManualClock  # noqa: E402
from bot.config import Settings  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/gv_web_bench"
PAGES = ("community", "grid", "case")
CACHED = timedelta(seconds=3)
PAUSE = 0.1  # between samples: a reader every 100 ms
ACCEPTED_AT = big_db.CASE_COLS.index("accepted_at")


class DashboardLoader(Loader):
    """big_db's bulk cases, each with its first response (the acceptance) written by COPY."""

    def case_rows(self, resident: int, grid: int, rng: random.Random) -> Any:
        case, events = super().case_rows(resident, grid, rng)
        return (*case, case[ACCEPTED_AT]), events


def with_first_responses() -> None:
    """The loader's COPY column list, plus the column the dashboard reads."""
    if "first_response_at" not in big_db.CASE_COLS:
        big_db.CASE_COLS = [*big_db.CASE_COLS, "first_response_at"]


async def reset_schema(url: str) -> None:
    from sqlalchemy import text

    from bot.store.db import create_engine, upgrade

    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    await upgrade(url)


async def finish_load(dsn: str) -> float:
    """VACUUM ANALYZE: index-only scans need the visibility map (autovacuum keeps it)."""
    import asyncpg

    t0 = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM ANALYZE cases")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - t0


async def sample_case_ids(dsn: str, n: int, rng: random.Random) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        top = await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM cases")
        ids = [rng.randint(1, top) for _ in range(n)] if top else []
        rows = await conn.fetch("SELECT human_id FROM cases WHERE id = ANY($1::int[])", ids)
    finally:
        await conn.close()
    return [r["human_id"] for r in rows]


async def measure_pages(
    base: str, grids: list[str], cases: list[str], samples: int, label: str
) -> dict[str, dict[str, float]]:
    import aiohttp

    urls = {
        "community": lambda i: f"{base}/",
        "grid": lambda i: f"{base}/grids/{grids[i % len(grids)]}",
        "case": lambda i: f"{base}/cases/{cases[i % len(cases)]}",
    }
    result: dict[str, dict[str, float]] = {}
    async with aiohttp.ClientSession() as http:
        for page in PAGES:
            times: list[float] = []
            size = 0
            for i in range(samples + 3):
                t0 = time.perf_counter()
                async with http.get(urls[page](i), headers={"Accept-Language": "en"}) as r:
                    body = await r.read()
                    assert r.status == 200, (page, r.status, body[:200])
                elapsed = time.perf_counter() - t0
                size = len(body)
                if i >= 3:  # the first requests warm templates and connections
                    times.append(elapsed)
                await asyncio.sleep(PAUSE)
            result[page] = {"p50": pct(times, 50), "p95": pct(times, 95), "kb": size / 1024}
            print(
                f"  {label:<34} {page:<10} p50 {result[page]['p50']:7.1f} ms  "
                f"p95 {result[page]['p95']:7.1f} ms  ({size / 1024:.0f} KB)",
                flush=True,
            )
    return result


async def serve_and_measure(
    settings: Settings,
    clock: ManualClock,
    api_url: str,
    grids: list[str],
    cases: list[str],
    samples: int,
    label: str,
) -> dict[str, dict[str, dict[str, float]]]:
    from bot.runtime.app import Gridvoice

    out: dict[str, dict[str, dict[str, float]]] = {}
    # "cached" with a short reuse time, so refreshes happen while the samples are taken
    for mode, cache in (("computed", timedelta(0)), ("cached", CACHED)):
        app = Gridvoice(replace(settings, api_url=api_url, dashboard_cache=cache), clock=clock)
        await app.start(migrate=False, serve_http=True)
        try:
            assert app.web_url is not None
            out[mode] = await measure_pages(app.web_url, grids, cases, samples, f"{label}, {mode}")
        finally:
            await app.stop()
    return out


async def run(args: argparse.Namespace) -> None:
    from bot.emulator.client import SimClient
    from bot.emulator.server import start_emulator
    from bot.runtime.app import Gridvoice
    from bot.services.shared.gridmap_store import load_document

    started = time.perf_counter()
    url, dsn = args.database_url, asyncpg_dsn(args.database_url)
    await ensure_database(url)
    await reset_schema(url)
    rng = random.Random(3)
    gridmap = synthetic(args.grids)
    grid_ids = [g["id"] for c in gridmap["communities"] for g in c["grids"]]
    sample_grids = [grid_ids[i] for i in rng.sample(range(len(grid_ids)), min(50, len(grid_ids)))]
    emu = await start_emulator()
    clock = ManualClock(START)
    settings = replace(bench_settings(url, emu.url), listen_port=0)
    try:
        async with SimClient(emu.url) as sim:
            await sim.create_user(1, "nobody", language_code="en")
        loader = Gridvoice(settings, clock=clock)
        await loader.start(migrate=False, serve_http=False)
        await load_document(loader.domain, json.dumps(gridmap), "synthetic")
        await loader.stop()
        print(f"map: {args.grids} grids ({time.perf_counter() - started:.1f}s)", flush=True)

        # Phase 1: an almost empty database: 200 cases, so case pages exist.
        with_first_responses()
        bulk = DashboardLoader(args.grids)
        small = [(80_000_000 + i, rng.randrange(args.grids)) for i in range(200)]
        await bulk_load(dsn, bulk, small, [1] * len(small))
        await finish_load(dsn)
        cases = await sample_case_ids(dsn, args.samples, rng)
        empty = await serve_and_measure(
            settings, clock, emu.url, sample_grids, cases, args.samples, "empty (200 cases)"
        )

        # Phase 2: the big database.
        t0 = time.perf_counter()
        per = args.cases // args.residents
        extra = args.cases - per * args.residents
        residents = [(100_000_000 + i, rng.randrange(args.grids)) for i in range(args.residents)]
        counts = [per + (1 if i < extra else 0) for i in range(args.residents)]
        print(f"bulk load: {args.residents:,} residents, {args.cases:,} cases ...", flush=True)
        timings = await bulk_load(dsn, bulk, residents, counts)
        timings["vacuum analyze"] = await finish_load(dsn)
        print(
            f"  loaded in {time.perf_counter() - t0:.0f}s ("
            + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items())
            + ")",
            flush=True,
        )
        cases = await sample_case_ids(dsn, args.samples, rng)
        big = await serve_and_measure(
            settings, clock, emu.url, sample_grids, cases, args.samples, f"{args.cases:,} cases"
        )
    finally:
        await emu.runner.cleanup()

    print()
    print(f"{'':<28}{'empty':>10}{f'{args.cases:,} cases':>18}{'ratio':>8}   aim: p95 < 200 ms")
    for mode in ("computed", "cached"):
        for page in PAGES:
            for q in ("p50", "p95"):
                e, b = empty[mode][page][q], big[mode][page][q]
                ratio = b / e if e else float("nan")
                verdict = ("ok" if b < 200 else "OVER") if q == "p95" else ""
                print(
                    f"{page + ' ' + q + ' (' + mode + ')':<28}{e:>7.1f} ms{b:>15.1f} ms"
                    f"{ratio:>8.2f}   {verdict}"
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
    parser.add_argument("--samples", type=int, default=60)
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("PostgreSQL only (postgresql+asyncpg://...)")
    name = make_url(args.database_url).database or ""
    if "bench" not in name:
        parser.error(f"refusing to drop database {name!r}: use a database named *bench*")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
