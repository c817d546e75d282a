"""Two gridvoice deployments on loopback — a community and its district — linked as
docs/federation.md says: each its own database, its own Telegram (emulator), the district's
Open311 on a real port. A case escalated past the top of the community's ladder reaches the
district; the district's accept and resolve reach the community's resident once each; the
acknowledgement deadline fires; a cut link and restarts lose and double nothing."""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.emulator.client import SimClient
from bot.emulator.server import start_emulator
from bot.services.cases import lifecycle
from bot.services.public import api_keys
from bot.services.shared.gridmap_store import load_document
from bot.store.models import Case, CaseEvent, Handoff
from tests.support.world import DEMO_MAP, LEADER, SPEC_PATH, World

POLL = 0.5  # the community's polling interval in these tests (seconds)
RESOLVED = re.compile(r"GV-\d{4}-\d{6} is resolved\.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def pg_database(name: str) -> str:
    """A fresh PostgreSQL database of its own, next to the test database."""
    import asyncpg

    base = make_url(os.environ["TEST_DATABASE_URL"])
    admin = await asyncpg.connect(
        host=base.host, port=base.port or 5432, user=base.username, database=base.database
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return base.set(database=name).render_as_string(hide_password=False)


async def drop_pg_databases(urls: tuple[str | None, str | None]) -> None:
    import asyncpg

    base = make_url(os.environ["TEST_DATABASE_URL"])
    admin = await asyncpg.connect(
        host=base.host, port=base.port or 5432, user=base.username, database=base.database
    )
    try:
        for url in urls:
            if url:
                await admin.execute(
                    f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'
                )
    finally:
        await admin.close()


async def new_world(path: Path, db_url: str | None = None, **overrides: Any) -> World:
    path.mkdir(parents=True, exist_ok=True)
    spec = str(SPEC_PATH) if SPEC_PATH.exists() else None
    emu = await start_emulator(spec_path=spec)
    url = db_url or f"sqlite+aiosqlite:///{path / 'gridvoice.db'}"
    world = World(emu, SimClient(emu.url), url, path)
    world.settings_overrides.update(overrides)
    world.serve_http = True
    await world.setup()
    return world


async def close(world: World) -> None:
    try:
        await world.close()
    finally:
        await world.sim.close()
        await world.emu.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
async def pair(tmp_path: Path, request: Any) -> AsyncIterator[tuple[World, World]]:
    urls: tuple[str | None, str | None] = (None, None)
    if request.param == "postgresql":  # both deployments on PostgreSQL, a database each
        if not os.environ.get("TEST_DATABASE_URL"):
            pytest.skip("PostgreSQL: set TEST_DATABASE_URL")
        tag = f"{os.getpid()}"
        urls = (await pg_database(f"gv_district_{tag}"), await pg_database(f"gv_community_{tag}"))
    district = await new_world(tmp_path / "district", urls[0], listen_port=free_port())
    community = await new_world(tmp_path / "community", urls[1], link_poll_interval=POLL)
    try:
        assert district.app is not None and community.app is not None
        async with district.app.domain.sessions() as s, s.begin():
            issued = await api_keys.create_key(
                s, "xingfu community", district.clock.now(), link="xingfu", level="community"
            )
        links = f"""
links:
  - id: district
    kind: gridvoice
    name: {{en: District centre, zh: 区网格中心}}
    url: {district.app.web_url}/open311/v2
    api_key: "{issued.key}"
    level: superior
    ack_within_minutes: 60
superior: district
"""
        await load_document(
            community.app.domain, DEMO_MAP.read_text(encoding="utf-8") + links, "linked"
        )
        await community.app.domain.reload_routing(force=True)
        yield community, district
    finally:
        await close(community)
        await close(district)
        if request.param == "postgresql":
            await drop_pg_databases(urls)


async def escalate_past_top(world: World, human_id: str) -> None:
    """The case went up the whole local ladder unanswered: the next miss is past the top."""
    assert world.app is not None
    async with world.app.domain.unit() as uow:
        case = (
            await uow.session.execute(select(Case).where(Case.human_id == human_id))
        ).scalar_one()
        case.rung = "street"
        case.accept_by = uow.now - timedelta(minutes=1)
    world.app.domain.schedule_changed.set()


async def wait_for(check: Any, timeout: float = 15.0, step: float = 0.05) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached in {timeout} s")
        await asyncio.sleep(step)


async def district_cases(district: World) -> list[Case]:
    assert district.app is not None
    async with district.app.domain.sessions() as s:
        return list(
            (await s.execute(select(Case).where(Case.source == "link").order_by(Case.id)))
            .scalars()
            .all()
        )


async def act_at_district(district: World, case_id: int, what: str) -> None:
    assert district.app is not None
    async with district.app.domain.unit() as uow:
        case = await uow.session.get(Case, case_id)
        assert case is not None
        who = case.owner_id
        if who is None:  # a party's case: one of the party's staff acts
            who = uow.routing.gridmap.parties[case.party_id or ""].staff_ids[0]
        if what == "accept":
            await lifecycle.accept(uow, who, case)
        else:
            await lifecycle.resolve(uow, who, case, "Fixed")


async def texts(world: World, chat_id: int) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in await world.sim.messages(chat_id)]


async def remote_steps(world: World, human_id: str) -> list[str]:
    assert world.app is not None
    async with world.app.domain.sessions() as s:
        case_id = (await s.execute(select(Case.id).where(Case.human_id == human_id))).scalar_one()
        return [
            k
            for k in (
                await s.execute(
                    select(CaseEvent.kind)
                    .where(CaseEvent.case_id == case_id)
                    .order_by(CaseEvent.id)
                )
            ).scalars()
            if k.startswith("remote_") or k == "handoff_sent"
        ]


async def test_escalated_case_reaches_the_district_and_its_answers_reach_the_resident_once(
    pair: tuple[World, World],
) -> None:
    community, district = pair
    resident = 700001
    await community.resident(resident)
    human_id, _ = await community.report(resident, "The street lamp outside my building is broken")
    await escalate_past_top(community, human_id)
    loop = asyncio.get_running_loop()
    queued = await wait_for(lambda: _handoff_status(community, human_id))
    t0 = loop.time()
    arrived = await wait_for(lambda: district_cases(district))
    assert loop.time() - t0 <= POLL + 5.0  # within one polling interval (and the send)
    assert len(arrived) == 1 and queued
    remote = arrived[0]
    assert remote.resident_id is None and "Resident" not in remote.text
    assert human_id in remote.text  # our reference travels, the resident does not

    await act_at_district(district, remote.id, "accept")
    await wait_for(lambda: _says(community, resident, "taken up by District centre"))
    await act_at_district(district, remote.id, "resolve")
    await wait_for(lambda: _resolved_told(community, resident))
    await asyncio.sleep(POLL * 4)  # more polls: nothing more is said
    said = await texts(community, resident)
    assert sum("taken up by District centre" in t for t in said) == 1
    assert sum(bool(RESOLVED.search(t)) for t in said) == 1
    assert await remote_steps(community, human_id) == [
        "handoff_sent",
        "remote_accepted",
        "remote_resolved",
    ]


async def test_the_acknowledgement_deadline_fires_when_the_district_does_not_sign(
    pair: tuple[World, World],
) -> None:
    community, district = pair
    resident = 700002
    await community.resident(resident)
    human_id, _ = await community.report(resident, "The street lamp outside my building is broken")
    await escalate_past_top(community, human_id)
    await wait_for(lambda: district_cases(district))
    await wait_for(lambda: _is_sent(community, human_id))
    before = len(await texts(community, LEADER))
    community.clock.advance(timedelta(minutes=61))
    await wait_for(lambda: _says(community, LEADER, "未按时签收"))
    assert "handoff_ack_missed" in await _kinds(community, human_id)
    after = await texts(community, LEADER)
    assert sum("未按时签收" in t for t in after[before:]) == 1


async def test_a_cut_link_and_restarts_lose_and_double_nothing(
    pair: tuple[World, World],
) -> None:
    community, district = pair
    residents = [700011, 700012, 700013]
    await district.stop_bot()  # the link is cut: connections refused
    cases = []
    problems = [
        "The street lamp outside my building is broken",
        "Garbage has not been collected for three days",
        "Water is leaking from the pipe in the stairwell",
    ]
    for r, problem in zip(residents, problems, strict=True):
        await community.resident(r)
        human_id, _ = await community.report(r, problem)
        await escalate_past_top(community, human_id)
        cases.append(human_id)
    await wait_for(lambda: _all_tried(community, cases))
    await community.restart_bot()  # the community restarts while the link is down
    await community.app.domain.reload_routing(force=True)  # type: ignore[union-attr]
    await district.start_bot()  # the link is back (same port, same database)
    community.clock.advance(timedelta(minutes=2))  # backoff over
    community.app.domain.links_wake.set()  # type: ignore[union-attr]
    await wait_for(lambda: _count(district, 3), timeout=20)
    remote = await district_cases(district)
    for case in remote:
        await act_at_district(district, case.id, "accept")
    await community.restart_bot()  # restarted mid-sync
    await district.restart_bot()
    for case in remote:
        await act_at_district(district, case.id, "resolve")
    for r in residents:
        await wait_for(lambda r=r: _resolved_told(community, r), timeout=20)
    await asyncio.sleep(POLL * 4)
    assert len(await district_cases(district)) == 3  # every case arrived once
    for r, human_id in zip(residents, cases, strict=True):
        said = await texts(community, r)
        assert sum("taken up by District centre" in t for t in said) == 1
        assert sum(bool(RESOLVED.search(t)) for t in said) == 1
        steps = await remote_steps(community, human_id)
        assert steps == ["handoff_sent", "remote_accepted", "remote_resolved"], steps


async def _handoff_status(world: World, human_id: str) -> str | None:
    assert world.app is not None
    async with world.app.domain.sessions() as s:
        return (
            await s.execute(
                select(Handoff.status)
                .join(Case, Case.id == Handoff.case_id)
                .where(Case.human_id == human_id)
            )
        ).scalar_one_or_none()


async def _is_sent(world: World, human_id: str) -> bool:
    return await _handoff_status(world, human_id) == "sent"


async def _says(world: World, chat_id: int, words: str) -> bool:
    return any(words in t for t in await texts(world, chat_id))


async def _resolved_told(world: World, chat_id: int) -> bool:
    return any(RESOLVED.search(t) for t in await texts(world, chat_id))


async def _kinds(world: World, human_id: str) -> list[str]:
    assert world.app is not None
    async with world.app.domain.sessions() as s:
        case_id = (await s.execute(select(Case.id).where(Case.human_id == human_id))).scalar_one()
        return list(
            (await s.execute(select(CaseEvent.kind).where(CaseEvent.case_id == case_id))).scalars()
        )


async def _all_tried(world: World, human_ids: list[str]) -> bool:
    assert world.app is not None
    async with world.app.domain.sessions() as s:
        n = (
            await s.execute(
                select(func.count())
                .select_from(Handoff)
                .where(Handoff.error_kind.in_(("connect", "link_down")))
            )
        ).scalar_one()
    return n == len(human_ids)


async def _count(world: World, n: int) -> bool:
    return len(await district_cases(world)) >= n
