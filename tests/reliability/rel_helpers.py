"""Helpers for reliability tests: the e2e world with knobs (flood mode, pacing), a flaky proxy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web
from sqlalchemy import func, select

from bot.emulator.client import SimClient
from bot.emulator.server import start_emulator
from tests.support.world import SPEC_PATH, World, database_url

ROOT = Path(__file__).resolve().parents[2]


def run_benchmark(
    tmp_path: Path, script: str, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `benchmarks/<script>` on the test database (its temporary files under
    `tmp_path`), as an operator would; its output is captured."""
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / script),
            "--database-url",
            database_url(tmp_path),
            *args,
        ],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


async def open_world(
    tmp_path: Path, *, flood: bool = False, start: bool = True, **overrides: Any
) -> World:
    spec = str(SPEC_PATH) if SPEC_PATH.exists() else None
    emu = await start_emulator(spec_path=spec, flood=flood)
    world = World(emu, SimClient(emu.url), database_url(tmp_path), tmp_path)
    world.settings_overrides.update(overrides)
    await world.setup()
    if not start:
        await world.stop_bot()
    return world


async def close_world(world: World) -> None:
    try:
        await world.close()
    finally:
        await world.sim.close()
        await world.emu.stop()


async def count(world: World, model: Any, *where: Any) -> int:
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        return (
            await session.execute(select(func.count()).select_from(model).where(*where))
        ).scalar_one()


class FlakyProxy:
    """A reverse proxy to the emulator that can answer 502 or refuse connections (an outage)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.mode = "ok"  # ok | 502 | close
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.failed = 0
        self.http: ClientSession | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        self.http = ClientSession()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.mode != "ok" and "getUpdates" not in request.path:
            self.failed += 1
            if self.mode == "502":
                return web.Response(status=502, text="bad gateway")
            assert request.transport is not None
            request.transport.close()  # a network error: the connection just drops
            return web.Response(status=500)
        assert self.http is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type",)}
        async with self.http.request(
            request.method, self.target + request.path_qs, data=body, headers=headers
        ) as resp:
            data = await resp.read()
            return web.Response(status=resp.status, body=data, content_type=resp.content_type)

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self.runner is not None:
            await self.runner.cleanup()


async def file_report(world: World, user: int, text: str) -> tuple[str, dict[str, Any]]:
    """Report and send; if the bot finds a similar open case, file a new one anyway."""
    from tests.support.world import CASE_ID

    after = await world.last_id(user)
    await world.say(user, text)
    draft = await world.wait_bot(user, after=after, buttons=True)
    await world.press(user, draft, "✅")
    reply = await world.wait_bot(user, "GV-", after=draft["message_id"], timeout=20)
    new = [
        b
        for row in (reply.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
        if b["callback_data"] == "d:new"
    ]
    if new:
        await world.sim.press(user, reply["message_id"], data="d:new")
        reply = await world.wait_bot(user, "GV-", after=reply["message_id"], timeout=20)
    match = CASE_ID.search(reply["text"])
    assert match, reply
    return match.group(0), reply


async def confirmations(world: World, user: int, case_id: str) -> int:
    return sum(
        1
        for m in await world.sim.bot_messages(user)
        if case_id in (m.get("text") or "") and "d:new" not in str(m.get("reply_markup"))
    )
