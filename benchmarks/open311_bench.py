"""Open311 and open data benchmark: `requests.json` latency and a streamed month export, on an
empty PostgreSQL database and on one with 1,000 grids and 1,000,000 cases; prints both and the
ratio (aim: requests.json p95 < 100 ms; the export's memory does not grow with the data).

The real bot (`bot.runtime.app.Gridvoice`) serves its HTTP edge; requests are plain HTTP from a
client in the same process, one at a time. The bulk data comes from benchmarks/big_db.py's
loader (asyncpg COPY, then ANALYZE). The month export is measured twice: over HTTP
(/data/cases-YYYY-MM.csv, the server's RSS sampled during the download) and as
`gridvoice export --month` in a child process (its peak RSS).

Run: ``python benchmarks/open311_bench.py [--cases 1000000] [--grids 1000] [--samples 50]
[--database-url ...]``. It DROPS the public schema of its databases (gv_open311_bench and
gv_open311_bench_empty by default, created when missing); ``--reuse`` keeps the big one when it
already holds the cases (measure again without loading again).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/gv_open311_bench"
MONTH = "2026-10"  # a whole month of the bulk data (about 1/24 of the cases)
V2 = "/open311/v2"


def variants(ids: list[str]) -> dict[str, str]:
    """The requests a city system or a journalist would make."""
    return {
        "default window": f"{V2}/requests.json",
        "default, XML": f"{V2}/requests.xml",
        "service_code": f"{V2}/requests.json?service_code=facilities",
        "status=open": f"{V2}/requests.json?status=open",
        "30 days last year": f"{V2}/requests.json?start_date=2025-06-01T00:00:00Z"
        "&end_date=2025-06-30T23:59:59Z",
        "page 5 of 100": f"{V2}/requests.json?page=5&page_size=100",
        "updated_after 7d": f"{V2}/requests.json?updated_after=2026-11-17T00:00:00Z",
        "10 ids": f"{V2}/requests.json?service_request_id={','.join(ids[:10])}",
        "one by id": f"{V2}/requests/{ids[0]}.json" if ids else f"{V2}/requests.json",
    }


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def timed_get(http: Any, url: str) -> tuple[float, float, int, int]:
    """Wall time and CPU time of this process (server and client both live here)."""
    t0, c0 = time.perf_counter(), time.process_time()
    async with http.get(url) as r:
        body = await r.read()
    return time.perf_counter() - t0, time.process_time() - c0, r.status, len(body)


async def measure(base: str, ids: list[str], samples: int, label: str) -> dict[str, Any]:
    import aiohttp

    results: dict[str, Any] = {}
    print(f"\n{label}:")
    async with aiohttp.ClientSession() as http:
        for name, path in variants(ids).items():
            await timed_get(http, base + path)  # warm
            times, cpu, rows = [], [], 0
            for _ in range(samples):
                t, c, status, size = await timed_get(http, base + path)
                assert status == 200, (path, status)
                times.append(t)
                cpu.append(c)
                rows = size
            results[name] = (pct(times, 50), pct(times, 95), pct(cpu, 95))
            print(
                f"  {name:<20} p50 {results[name][0]:6.1f} ms  p95 {results[name][1]:6.1f} ms"
                f"  cpu p95 {results[name][2]:6.1f} ms  ({rows:,} bytes)"
            )
        results["export_http"] = await export_over_http(http, base)
    results["export_cli"] = export_in_child()
    return results


async def export_over_http(http: Any, base: str) -> tuple[float, int, int, int]:
    """Download a month's CSV, sampling this process's RSS: (seconds, bytes, rows, RSS growth)."""
    baseline = peak = rss_kb()
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kb())
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    t0 = time.perf_counter()
    size = rows = 0
    async with http.get(base + f"/data/cases-{MONTH}.csv") as r:
        assert r.status == 200
        async for chunk in r.content.iter_chunked(64 * 1024):
            size += len(chunk)
            rows += chunk.count(b"\n")
    seconds = time.perf_counter() - t0
    done.set()
    await sampler
    print(
        f"  export {MONTH} over HTTP: {rows - 1:,} cases, {size / 1e6:.1f} MB in {seconds:.2f}s; "
        f"server RSS +{(peak - baseline) / 1024:.1f} MB (peak {peak / 1024:.0f} MB)"
    )
    return seconds, size, rows - 1, peak - baseline


def export_in_child() -> tuple[float, int]:
    """`gridvoice export --month` in its own process: (seconds, peak RSS in KB)."""
    code = (
        "import resource, sys; from bot.cli import main; "
        f"rc = main(['export', '--out', sys.argv[1], '--month', '{MONTH}']); "
        "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)"
    )
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code, out],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            cwd=str(Path(__file__).resolve().parents[1]),
            check=False,
        )
        seconds = time.perf_counter() - t0
    if done.returncode != 0:
        print(done.stdout, done.stderr)
        raise SystemExit("export failed")
    peak = int(done.stdout.split("PEAK")[-1].split()[0])
    lines = [line for line in done.stdout.splitlines() if f"cases-{MONTH}" in line]
    print(
        f"  gridvoice export --month {MONTH}: {seconds:.1f}s, peak RSS {peak / 1024:.0f} MB  {lines}"
    )
    return seconds, peak


async def explain(dsn: str) -> None:
    """Plans of the public list queries on the big database (the indexes of 0004_open311)."""
    import asyncpg

    cols = "id, human_id, category, grid_id, status, created_at"
    since = f"'{START.isoformat()}'::timestamptz - interval '90 days'"
    queries = {
        "default window": f"SELECT {cols} FROM cases WHERE human_id IS NOT NULL AND created_at >= {since} ORDER BY created_at DESC, id DESC LIMIT 1000",
        "service_code": f"SELECT {cols} FROM cases WHERE human_id IS NOT NULL AND category IN ('facilities') AND created_at >= {since} ORDER BY created_at DESC, id DESC LIMIT 1000",
        "updated_after": f"SELECT {cols} FROM cases WHERE human_id IS NOT NULL AND public_updated_at >= '{START.isoformat()}'::timestamptz - interval '7 days' ORDER BY created_at DESC, id DESC LIMIT 1000",
    }
    conn = await asyncpg.connect(dsn)
    try:
        print("\nEXPLAIN ANALYZE (big database):")
        for name, sql in queries.items():
            plan = [r[0] for r in await conn.fetch("EXPLAIN (ANALYZE) " + sql)]
            print(f"  {name}:")
            for line in plan:
                if any(w in line for w in ("Scan", "Sort", "Execution")):
                    print(f"    {line.strip()}")
    finally:
        await conn.close()


async def prepare(url: str, gridmap: dict[str, Any], settings: Any, bulk: Any = None) -> None:
    """A fresh schema with the map loaded, then (optionally) the bulk data."""
    from sqlalchemy import text

    from bot.runtime.app import Gridvoice
    from bot.services.shared.gridmap_store import load_document
    from bot.store.db import create_engine, upgrade

    await ensure_database(url)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    await upgrade(url)
    gv = Gridvoice(settings.with_(database_url=url), clock=ManualClock(START))
    await gv.start(migrate=False, serve_http=False)
    try:
        await load_document(gv.domain, json.dumps(gridmap), "synthetic")
    finally:
        await gv.stop()
    if bulk is not None:
        await bulk()


async def case_count(url: str) -> int:
    import asyncpg

    await ensure_database(url)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM cases") or 0)
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def run(args: argparse.Namespace) -> None:
    from bot.emulator.server import start_emulator
    from bot.runtime.app import Gridvoice

    started = time.perf_counter()
    big_url = args.database_url
    empty_url = str(make_url(big_url).set(database=(make_url(big_url).database or "") + "_empty"))
    gridmap = synthetic(args.grids)
    emu = await start_emulator()
    settings = bench_settings(big_url, emu.url).with_(
        web_rate_per_ip=1e9, web_burst_per_ip=10**9, scheduler_interval=3600.0
    )
    loader = Loader(args.grids)
    try:
        # The empty district: the map and 20 cases (its own database, rebuilt every run).
        await prepare(
            empty_url,
            gridmap,
            settings,
            lambda: bulk_load(asyncpg_dsn(empty_url), loader, [(100, 0)], [20]),
        )
        if args.reuse and await case_count(big_url) >= args.cases:
            from bot.store.db import upgrade

            await upgrade(big_url)  # a migration may have come since it was loaded
            print(f"reusing {big_url}: {await case_count(big_url):,} cases already loaded")
        else:
            per = args.cases // args.residents
            bulk = [
                (100_000_000 + i, loader.rng.randrange(args.grids)) for i in range(args.residents)
            ]
            print(f"bulk load: {args.residents:,} residents, {args.cases:,} cases ...", flush=True)
            t0 = time.perf_counter()
            await prepare(
                big_url,
                gridmap,
                settings,
                lambda: bulk_load(
                    asyncpg_dsn(big_url), Loader(args.grids), bulk, [per] * args.residents
                ),
            )
            print(f"  loaded in {time.perf_counter() - t0:.0f}s", flush=True)
        results = {}
        for label, url in (
            ("empty database (20 cases)", empty_url),
            (f"{args.cases:,} cases", big_url),
        ):
            os.environ["DATABASE_URL"] = url  # for the export child process
            gv = Gridvoice(settings.with_(database_url=url), clock=ManualClock(START))
            await gv.start(migrate=False, serve_http=True)
            try:
                ids = await sample_ids(asyncpg_dsn(url), 20)
                print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
                results[url] = await measure(gv.web_url or "", ids, args.samples, label)
            finally:
                await gv.stop()
        await explain(asyncpg_dsn(big_url))
    finally:
        await emu.runner.cleanup()
    empty, big = results[empty_url], results[big_url]

    print(
        f"\n{'requests':<22}{'empty p95':>11}{'big p95':>11}{'ratio':>8}{'big cpu p95':>14}"
        "   aim p95 < 100 ms"
    )
    for name in variants([]):
        e, b, c = empty[name][1], big[name][1], big[name][2]
        ratio = b / e if e else float("nan")
        verdict = "ok" if b < 100 else "OVER"
        print(f"{name:<22}{e:>8.1f} ms{b:>8.1f} ms{ratio:>8.2f}{c:>11.1f} ms   {verdict}")
    eh, bh = empty["export_http"], big["export_http"]
    ec, bc = empty["export_cli"], big["export_cli"]
    print(
        f"export {MONTH} over HTTP: {eh[2]:,} -> {bh[2]:,} cases; server RSS growth "
        f"{eh[3] / 1024:.1f} -> {bh[3] / 1024:.1f} MB"
    )
    print(
        f"gridvoice export --month {MONTH}: peak RSS {ec[1] / 1024:.0f} -> {bc[1] / 1024:.0f} MB "
        f"(ratio {bc[1] / ec[1]:.2f}), {ec[0]:.1f}s -> {bc[0]:.1f}s"
    )
    print(f"total runtime {time.perf_counter() - started:.0f}s")


async def sample_ids(dsn: str, n: int) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT human_id FROM cases ORDER BY created_at DESC LIMIT $1", n)
    finally:
        await conn.close()
    return [r[0] for r in rows]


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
        "--reuse", action="store_true", help="keep the big database when it is already loaded"
    )
    args = parser.parse_args()
    name = make_url(args.database_url).database or ""
    if not args.database_url.startswith("postgresql") or "bench" not in name:
        parser.error("a PostgreSQL database whose name contains 'bench' (its schema is dropped)")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
