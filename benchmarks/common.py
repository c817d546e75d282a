"""Helpers shared by the crash test and the benchmark: processes, onboarding, reporting."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bot.emulator.client import SimClient

ROOT = Path(__file__).resolve().parents[1]
DEMO_MAP = ROOT / "bot" / "examples" / "demo-community.yaml"
GRIDVOICE = [sys.executable, "-m", "bot"]

# Addresses in the demo map, spread over the four grids.
ADDRESSES = [
    "Xingfu Garden Building 1",
    "Xingfu Garden Building 7",
    "Heping Rd 6",
    "Ankang Estate Building 3",
    "Xingfu Garden Building 2",
    "Xingfu Garden Building 8",
    "Heping Rd 12",
    "Ankang Estate Building 5",
]
PROBLEMS = [
    "The street light outside my building has been broken for a week",
    "Water is leaking from the ceiling in the stairwell",
    "Garbage has not been collected for three days and it smells",
    "The lift is stuck between floors again",
    "Someone parks a car on the fire lane every night",
    "Loud construction noise after 10 pm next door",
    "The pavement is broken and an old man fell",
    "Stray dogs are barking all night near the gate",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_emulator(port: int, flood: bool = False) -> subprocess.Popen[bytes]:
    cmd = [*GRIDVOICE, "sim", "--port", str(port)] + (["--flood"] if flood else [])
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_bot(
    api_url: str,
    database_url: str,
    *,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    extra: list[str] | None = None,
) -> subprocess.Popen[bytes]:
    cmd = [
        *GRIDVOICE,
        "run",
        "--api-url",
        api_url,
        "--database-url",
        database_url,
        "--grid-map",
        str(DEMO_MAP),
        "--listen",
        "127.0.0.1",
        "--port",
        "0",
        "--log-level",
        "WARNING",
        *(extra or []),
    ]
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out, stderr=out
    )


def kill(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    async with SimClient(url) as sim:
        while True:
            try:
                await sim.stats()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row
    ]


async def wait_bot(
    sim: SimClient,
    user: int,
    after: int,
    *,
    contains: str | None = None,
    with_buttons: bool | None = None,
    timeout: float = 60.0,
) -> dict[str, Any]:
    def ok(m: dict[str, Any]) -> bool:
        if contains is not None and contains not in (m.get("text") or ""):
            return False
        return with_buttons is None or bool(buttons(m)) == with_buttons

    return await sim.wait_for(user, ok, timeout=timeout, after=after)


async def last_id(sim: SimClient, user: int) -> int:
    messages = await sim.messages(user)
    return messages[-1]["message_id"] if messages else 0


async def press(sim: SimClient, user: int, message: dict[str, Any], label: str) -> dict[str, Any]:
    for b in buttons(message):
        if label in b["text"] or b["callback_data"] == label:
            return await sim.press(user, message["message_id"], data=b["callback_data"])
    raise AssertionError(f"no {label!r} on {buttons(message)}")


async def onboard(sim: SimClient, user: int, address: str, timeout: float = 60.0) -> None:
    await sim.create_user(user, f"Resident{user}", language_code="en")
    after = await last_id(sim, user)
    await sim.send_text(user, "/start")
    welcome = await wait_bot(sim, user, after, with_buttons=True, timeout=timeout)
    await press(sim, user, welcome, "✅")
    asked = await wait_bot(sim, user, welcome["message_id"], timeout=timeout)
    await sim.send_text(user, address)
    choose = await wait_bot(sim, user, asked["message_id"], with_buttons=True, timeout=timeout)
    await sim.press(user, choose["message_id"], data=buttons(choose)[0]["callback_data"])
    await wait_bot(sim, user, choose["message_id"], timeout=timeout)


async def report(
    sim: SimClient,
    user: int,
    text: str,
    timeout: float = 60.0,
    on_send: Any = None,
    pressed_ids: list[str] | None = None,
    prompts: list[str] | None = None,
) -> tuple[str, float]:
    """Write, press Send; returns the case id and the monotonic time the Send press was made.

    `pressed_ids`, if given, receives the callback_query_id of the press that created the case
    (the emulator keeps its time: latency can then be measured on the emulator's clock);
    `prompts`, if given, the text of each "similar open case" prompt met on the way.
    """
    import re

    after = await last_id(sim, user)
    await sim.send_text(user, text)
    draft = await wait_bot(sim, user, after, with_buttons=True, timeout=timeout)
    pressed = time.monotonic()
    answer = await press(sim, user, draft, "✅")
    if on_send:
        on_send(user, pressed)
    reply = await wait_bot(sim, user, draft["message_id"], contains="GV-", timeout=timeout)
    if any(b["callback_data"] == "d:new" for b in buttons(reply)):
        if prompts is not None:
            prompts.append(reply["text"])
        pressed = time.monotonic()
        answer = await sim.press(user, reply["message_id"], data="d:new")
        reply = await wait_bot(sim, user, reply["message_id"], contains="GV-", timeout=timeout)
    if pressed_ids is not None:
        pressed_ids.append(answer["callback_query_id"])
    match = re.search(r"GV-\d{4}-\d{6}", reply["text"])
    assert match, reply
    return match.group(0), pressed


async def reset_database(url: str) -> None:
    if url.startswith("sqlite"):
        return
    from sqlalchemy import text

    from bot.store.db import create_engine

    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
