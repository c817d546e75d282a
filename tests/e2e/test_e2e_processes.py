"""An outside program that speaks only HTTP: `gridvoice sim` and `gridvoice run` as processes.

It plays a resident and a grid member through the emulator's control API, and kills the bot
with SIGKILL between the report and the member's click: nothing is lost.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.emulator.client import SimClient
from tests.support.world import DEMO_MAP, SPEC_PATH, database_url, reset_database

RESIDENT = 880
MEMBER = 10001


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gridvoice(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def wait_http(url: str, timeout: float = 20.0) -> None:
    import aiohttp

    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{url} never answered")
            await asyncio.sleep(0.1)


@pytest.fixture
async def sim_process() -> AsyncIterator[tuple[str, SimClient]]:
    port = free_port()
    args = ["sim", "--port", str(port)]
    if SPEC_PATH.exists():
        args += ["--spec", str(SPEC_PATH)]
    proc = gridvoice(*args)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_http(f"{url}/sim/calls")
        async with SimClient(url) as sim:
            yield url, sim
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def start_bot(api_url: str, db_url: str, web_port: int) -> subprocess.Popen[bytes]:
    return gridvoice(
        "run",
        "--api-url",
        api_url,
        "--database-url",
        db_url,
        "--grid-map",
        str(DEMO_MAP),
        "--token",
        "123456:PROCESS",
        "--listen",
        "127.0.0.1",
        "--port",
        str(web_port),
    )


async def last_bot(sim: SimClient, chat: int) -> dict:  # type: ignore[type-arg]
    messages = await sim.bot_messages(chat)
    return messages[-1] if messages else {"message_id": 0}


async def test_outside_program_plays_report_accept_resolve_across_a_kill(
    sim_process: tuple[str, SimClient], tmp_path: Path
) -> None:
    api_url, sim = sim_process
    db_url = database_url(tmp_path)
    await reset_database(db_url)
    web_port = free_port()
    await sim.create_user(MEMBER, "王芳", language_code="zh")
    await sim.create_user(RESIDENT, "Ada", language_code="en")
    bot = start_bot(api_url, db_url, web_port)
    try:
        await wait_http(f"http://127.0.0.1:{web_port}/healthz")
        has_buttons = lambda m: bool((m.get("reply_markup") or {}).get("inline_keyboard"))  # noqa: E731

        await sim.send_text(RESIDENT, "/start")
        welcome = await sim.wait_for(RESIDENT, has_buttons, timeout=15)
        await sim.press(RESIDENT, welcome["message_id"], button="✅ I agree")
        asked = await sim.wait_for(RESIDENT, lambda m: True, after=welcome["message_id"])
        await sim.send_text(RESIDENT, "xingfu garden building 2")
        choose = await sim.wait_for(RESIDENT, has_buttons, after=asked["message_id"])
        await sim.press(RESIDENT, choose["message_id"], button="Xingfu Garden Building 2")
        done = await sim.wait_for(
            RESIDENT, lambda m: "王芳" in (m.get("text") or ""), after=choose["message_id"]
        )
        await sim.send_text(RESIDENT, "Overflowing garbage bins next to building 2, it stinks")
        draft = await sim.wait_for(RESIDENT, has_buttons, after=done["message_id"])
        await sim.press(RESIDENT, draft["message_id"], button="✅ Send report")
        filed = await sim.wait_for(
            RESIDENT, lambda m: "GV-" in (m.get("text") or ""), after=draft["message_id"]
        )
        case_id = re.search(r"GV-\d{4}-\d{6,}", filed["text"]).group(0)  # type: ignore[union-attr]
        card = await sim.wait_for(
            MEMBER, lambda m: case_id in (m.get("text") or "") and has_buttons(m)
        )

        bot.send_signal(signal.SIGKILL)  # between the report and the member's click
        bot.wait(timeout=10)
        accept = next(
            b
            for row in card["reply_markup"]["inline_keyboard"]
            for b in row
            if b["callback_data"].startswith("c:acc:")
        )
        await sim.press(
            MEMBER, card["message_id"], data=accept["callback_data"]
        )  # while the bot is down
        bot = start_bot(api_url, db_url, web_port)
        told = await sim.wait_for(
            RESIDENT,
            lambda m: case_id in (m.get("text") or "") and "accepted" in m["text"],
            after=filed["message_id"],
            timeout=20,
        )

        edited = await sim.wait_for(
            MEMBER, lambda m: m["message_id"] == card["message_id"] and m.get("edited"), timeout=10
        )
        resolve = next(
            b
            for row in edited["reply_markup"]["inline_keyboard"]
            for b in row
            if b["callback_data"].startswith("c:res:")
        )
        before = (await last_bot(sim, MEMBER))["message_id"]
        await sim.press(MEMBER, card["message_id"], data=resolve["callback_data"])
        prompt = await sim.wait_for(MEMBER, lambda m: True, after=before)
        await sim.send_text(MEMBER, "清理完毕，已加派清运车")
        skip = await sim.wait_for(MEMBER, has_buttons, after=prompt["message_id"])
        await sim.press(
            MEMBER,
            skip["message_id"],
            data=skip["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        )
        resolved = await sim.wait_for(
            RESIDENT, lambda m: "resolved" in (m.get("text") or ""), after=told["message_id"]
        )
        assert "清理完毕" in resolved["text"]
        confirmations = [
            m for m in await sim.bot_messages(RESIDENT) if "is filed as" in (m.get("text") or "")
        ]
        # Never lost; repeated at most once: a SIGKILL between Telegram accepting a message and
        # its 'sent' mark leaves it uncertain, and the restarted bot sends it again at once
        # (docs/operations.md, "The one known window"), no longer a lease later.
        assert 1 <= len(confirmations) <= 2
        assert len({c["text"] for c in confirmations}) == 1
        assert not [c for c in await sim.calls() if c.get("spec_violation")]
    finally:
        if bot.poll() is None:
            bot.terminate()
            bot.wait(timeout=10)
