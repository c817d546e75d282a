"""Links benchmark: the hand-off queue draining 1,000 cases into an Open311 peer that answers in
50 ms, then one polling pass over those 1,000 cases pending at the remote — by
`requests.json?service_request_id=` (50 ids a call) and by `servicerequestupdates`. Prints wall
time, requests made, CPU time and the process's peak resident memory (and its growth) of each part.

Run: ``python benchmarks/links_bench.py [--cases 1000] [--delay 0.05]`` (SQLite in a scratch
directory; the peer is tests/support/open311_peer.py in process).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from bot.clock import ManualClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.runtime.links import LinkWorker, PassResult  # noqa: E402
from bot.services.cases import handoffs  # noqa: E402
from bot.services.cases.lifecycle import create_case  # noqa: E402
from bot.services.shared.domain import Domain  # noqa: E402
from bot.services.shared.gridmap_store import load_document  # noqa: E402
from bot.store.db import upgrade  # noqa: E402
from bot.store.models import Handoff  # noqa: E402
from routing.classifier import Classification  # noqa: E402
from tests.support.open311_peer import Open311Peer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "bot" / "examples" / "demo-community.yaml"


def link_map(url: str, updates: bool) -> str:
    doc = DEMO.read_text(encoding="utf-8")
    return (
        doc
        + f"""
links:
  - id: dept
    url: {url}
    api_key: bench
    level: department
    updates: {"servicerequestupdates" if updates else "none"}
superior: dept
"""
    )


class Meter:
    def __init__(self, label: str) -> None:
        self.label = label

    def __enter__(self) -> Meter:
        self.rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.peak = rss  # the process's peak resident set (MiB)
        self.growth = rss - self.rss0


async def main(cases: int, delay: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="links-bench-"))
    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await upgrade(url)
    clock = ManualClock(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))
    domain = Domain(
        Settings(database_url=url, model_path=str(tmp / "none.npz"), link_timeout=30.0),
        clock=clock,
    )
    peer = Open311Peer(api_key="bench", services=("facilities",), delay=delay, now=clock.now)
    await peer.start()
    await load_document(domain, link_map(peer.url, updates=False), "bench")
    await domain.reload_routing(force=True)
    print(f"filing {cases} cases and queueing their hand-offs …", flush=True)
    done = 0
    while done < cases:
        async with domain.unit() as uow:
            for _ in range(min(100, cases - done)):
                case = await create_case(
                    uow,
                    None,
                    text="street lamp",
                    grid_id="xingfu-1",
                    building_id="xf-1",
                    place_text=None,
                    location=None,
                    photos=[],
                    source_update_id=None,
                    classification=Classification("facilities", 1.0, (), {}),
                    source="bench",
                )
                await handoffs.queue(uow, case, "dept", "escalate")
                done += 1
        clock.advance(timedelta(seconds=60))
    worker = LinkWorker(domain)

    async def pacing_clock() -> None:  # the remote's and our time move on as in life
        while True:
            await asyncio.sleep(0.05)
            clock.advance(timedelta(seconds=1))

    ticking = asyncio.create_task(pacing_clock())
    with Meter("drain") as drain:
        while True:
            result = PassResult()
            await worker.send_due(result)
            async with domain.sessions() as s:
                left = (
                    await s.execute(
                        select(func.count()).where(Handoff.status.in_(handoffs.WAITING))
                    )
                ).scalar_one()
            if not left:
                break
    posts = peer.hits.get("post", 0)
    print(
        f"drain: {cases} hand-offs into a peer answering in {delay * 1000:.0f} ms: "
        f"{drain.wall:.2f} s wall ({cases / drain.wall:.0f}/s), {posts} POSTs, "
        f"CPU {drain.cpu:.2f} s, peak RSS {drain.peak:.0f} MiB (+{drain.growth:.0f})"
    )
    assert posts == cases and len(peer.requests) == cases, "each case posted once"
    for i, rid in enumerate(list(peer.requests)):
        peer.set_status(rid, "open", "in_progress", at=clock.now() + timedelta(seconds=i))
    clock.advance(timedelta(seconds=cases + 1))
    peer.delay = 0.0
    link = domain.routing.gridmap.links.links["dept"]
    with Meter("poll") as poll:
        result = PassResult()
        await worker.poll(link, result)
    print(
        f"poll by id: {cases} cases pending at the remote: {poll.wall:.2f} s wall, "
        f"{result.requests} requests, {result.updates} updates, CPU {poll.cpu:.2f} s, "
        f"peak RSS {poll.peak:.0f} MiB (+{poll.growth:.0f})"
    )
    await load_document(domain, link_map(peer.url, updates=True), "bench-updates")
    await domain.reload_routing(force=True)
    link = domain.routing.gridmap.links.links["dept"]
    for i, rid in enumerate(list(peer.requests)):
        peer.set_status(rid, "closed", "resolved", at=clock.now() + timedelta(seconds=i))
    clock.advance(timedelta(seconds=cases + 1))
    with Meter("updates") as upd:
        result = PassResult()
        await worker.poll(link, result)
    print(
        f"poll by servicerequestupdates: {upd.wall:.2f} s wall, {result.requests} request(s), "
        f"{result.updates} updates, CPU {upd.cpu:.2f} s, peak RSS {upd.peak:.0f} MiB (+{upd.growth:.0f})"
    )
    ticking.cancel()
    await worker.aclose()
    await peer.stop()
    await domain.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.05)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.delay))
