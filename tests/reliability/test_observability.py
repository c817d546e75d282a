"""/healthz and Prometheus /metrics (behind its token), scraped over HTTP; JSON log lines carry
update and case ids."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path

import aiohttp

from bot.logs import JsonFormatter
from bot.runtime.app import Gridvoice
from bot.runtime.processor import log_context
from bot.store.models import InboxUpdate
from tests.reliability.rel_helpers import close_world, file_report, open_world


def parse(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


async def test_healthz_and_metrics_scrape(tmp_path: Path) -> None:
    world = await open_world(tmp_path, start=False)
    gv = Gridvoice(world.settings.with_(metrics_token="scrape-secret"), clock=world.clock)
    await gv.start(migrate=False, serve_http=True)
    world.app = gv
    try:
        await world.resident(90001)
        await file_report(
            world, 90001, "The street light outside building 1 has been broken for a week"
        )
        await world.settle()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{gv.web_url}/healthz") as resp:
                assert resp.status == 200
                assert (await resp.json()) == {"ok": True, "grid_map": True}
            for refused in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer ¿"}):
                async with http.get(f"{gv.web_url}/metrics", headers=refused) as resp:
                    assert resp.status == 401 and "gridvoice_" not in await resp.text()
                    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            scraper = {"Authorization": "Bearer scrape-secret"}
            async with http.get(f"{gv.web_url}/metrics", headers=scraper) as resp:
                assert resp.status == 200
                assert resp.content_type == "text/plain"
                metrics = parse(await resp.text())
        assert metrics["gridvoice_updates_handled_total"] >= 6
        assert metrics["gridvoice_updates_received_total"] >= 6
        assert metrics["gridvoice_messages_sent_total"] >= 6
        assert metrics["gridvoice_outbox_backlog"] == 0
        assert metrics["gridvoice_inbox_backlog"] == 0
        assert (
            metrics['gridvoice_send_latency_seconds_bucket{le="+Inf"}']
            == metrics["gridvoice_send_latency_seconds_count"]
        )
        assert metrics["gridvoice_send_latency_seconds_count"] >= 6
        assert metrics["gridvoice_update_seconds_count"] >= 6
        assert metrics.get("gridvoice_update_errors_total", 0) == 0
    finally:
        await gv.stop()
        world.app = None
        await close_world(world)


async def test_healthz_reports_a_dead_database(tmp_path: Path) -> None:
    world = await open_world(tmp_path, start=False)
    gv = Gridvoice(
        world.settings.with_(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none"),
        clock=world.clock,
    )
    from aiohttp.test_utils import TestClient, TestServer

    from bot.runtime.web import build_web_app

    client = TestClient(TestServer(build_web_app(gv, None)))
    await client.start_server()
    try:
        resp = await client.get("/healthz")
        assert resp.status == 503
        assert (await resp.json()) == {"ok": False}  # no database address or error text
    finally:
        await client.close()
        await gv.domain.dispose()
        await close_world(world)


def test_json_log_line_carries_update_and_case_id() -> None:
    row = InboxUpdate(
        update_id=77,
        user_id=5,
        payload={
            "update_id": 77,
            "callback_query": {"id": "1", "data": "c:acc:42:3", "from": {"id": 5}},
        },
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.error("update failed", exc_info=True, extra=log_context(row))
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["update_id"] == 77 and line["case_id"] == 42 and line["user_id"] == 5
    assert line["update_kind"] == "callback_query" and "RuntimeError: boom" in line["exc"]


async def test_metrics_are_off_without_a_token_and_health_is_cheap(tmp_path: Path) -> None:
    """No token: /metrics is not there. /healthz asked a hundred times at once checks the
    database once."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot.runtime.web import HEALTH, build_web_app

    world = await open_world(tmp_path, start=False)
    gv = Gridvoice(world.settings, clock=world.clock)
    app = build_web_app(gv, None)
    checks = []
    original = app[HEALTH].check

    async def counted() -> object:
        checks.append(1)
        return await original()

    app[HEALTH].check = counted
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        resp = await client.get("/metrics")
        assert resp.status == 404 and "gridvoice_" not in await resp.text()
        answers = await asyncio.gather(*(client.get("/healthz") for _ in range(100)))
        assert {r.status for r in answers} == {200}
        assert len(checks) == 1
    finally:
        await client.close()
        await gv.domain.dispose()
        await close_world(world)
