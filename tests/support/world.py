"""The world end-to-end tests play in: the emulator, the real bot, the demo community.

The bot is built by the same factory production uses (`bot.runtime.app.Gridvoice`) and
talks to the emulator over real HTTP; tests play residents and staff through the
emulator's control API and read what the bot sent from the chats.
"""

from __future__ import annotations

import asyncio
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.clock import ManualClock
from bot.config import Settings
from bot.emulator.client import SimClient
from bot.emulator.server import RunningEmulator, start_emulator
from bot.runtime.app import Gridvoice
from bot.services.shared.gridmap_store import load_document
from tests.support.database import drop_schema, fresh_database

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT.parent / "shared" / "telegram-bot-api" / "api.json"
DEMO_MAP = ROOT / "bot" / "examples" / "demo-community.yaml"

MEMBER_1 = 10001  # 王芳, grid xingfu-1
MEMBER_2 = 10002
MEMBER_3 = 10003
MEMBER_4 = 10004
LEADER = 10010
CENTRE = 10020
STREET = 10030
COMMITTEE = 10040
ADMIN = 10050
PROPERTY_CHAT = -100501
PROPERTY_STAFF = 20001
STAFF = {
    MEMBER_1: "王芳",
    MEMBER_2: "刘洋",
    MEMBER_3: "陈刚",
    MEMBER_4: "杨丽",
    LEADER: "李强",
    CENTRE: "张敏",
    STREET: "赵磊",
    COMMITTEE: "陈静",
    ADMIN: "Admin",
    PROPERTY_STAFF: "物业小王",
}
PARTY_CHATS = {
    -100501: "幸福物业",
    -100502: "和平派出所",
    -100503: "城管中队",
    -100504: "幸福居委会",
    -100900: "和平街道办事处",
}
CASE_ID = re.compile(r"GV-\d{4}-\d{6,}")
# A Tuesday morning in Beijing: everyone in the demo map is on duty.
START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


async def reset_database(url: str) -> None:
    """A clean database with no schema: a new SQLite file, or an empty PostgreSQL schema
    (for tests that run the migrations themselves; a world starts from `fresh_database`)."""
    if url.startswith("sqlite"):
        return
    await drop_schema(url)


def database_url(tmp_path: Path) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp_path / 'gridvoice.db'}"


def test_settings(db_url: str, api_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "api_url": api_url,
        "token": "123456:TEST",
        "listen_host": "127.0.0.1",
        "listen_port": 0,
        "send_rate_global": 10_000.0,
        "send_rate_private": 10_000.0,
        "send_burst_private": 10_000,
        "send_rate_group": 10_000.0,
        "scheduler_interval": 0.2,
        "poll_timeout": 1,
        # each step of a played conversation is asked for at once (the pause under load is
        # tests/unit/test_poll_interval.py's)
        "poll_interval": 0.0,
        "dashboard_cache": timedelta(0),  # tests move the clock: figures computed every time
        # the flows, not the classifier's second opinion (tests/routing, tests/unit test it):
        # the same answers from the first message on, and no encoder to load per process
        "classifier_voter": False,
    }
    values.update(overrides)
    return Settings(**values)


class World:
    """The emulator, a bot, a clock, and ways to play residents and staff."""

    def __init__(self, emu: RunningEmulator, sim: SimClient, db_url: str, tmp_path: Path) -> None:
        self.emu = emu
        self.sim = sim
        self.db_url = db_url
        self.tmp_path = tmp_path
        self.clock = ManualClock(START)
        self.app: Gridvoice | None = None
        self.settings_overrides: dict[str, Any] = {}
        self.serve_http = False  # web tests turn on the HTTP edge (pages, Open311, open data)

    @property
    def settings(self) -> Settings:
        return test_settings(self.db_url, self.emu.url, **self.settings_overrides)

    async def setup(self) -> None:
        await fresh_database(self.db_url)
        for user_id, name in STAFF.items():
            await self.sim.create_user(user_id, name, language_code="zh")
        for chat_id, title in PARTY_CHATS.items():
            await self.sim.create_chat(
                chat_id, title, [PROPERTY_STAFF] if chat_id == PROPERTY_CHAT else [], type="group"
            )
        await self.start_bot()
        await load_document(self.app.domain, DEMO_MAP.read_text(encoding="utf-8"), str(DEMO_MAP))  # type: ignore[union-attr]

    async def start_bot(self) -> Gridvoice:
        self.app = Gridvoice(self.settings, clock=self.clock)
        await self.app.start(migrate=False, serve_http=self.serve_http)
        return self.app

    async def restart_bot(self) -> None:
        await self.stop_bot()
        await self.start_bot()

    async def stop_bot(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None

    async def close(self) -> None:
        await self.stop_bot()

    # --- reading the chats -------------------------------------------------

    async def last_id(self, chat_id: int) -> int:
        messages = await self.sim.messages(chat_id)
        return messages[-1]["message_id"] if messages else 0

    async def wait_bot(
        self,
        chat_id: int,
        contains: str | None = None,
        *,
        after: int = 0,
        buttons: bool | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """The first bot message after `after` whose text contains `contains`."""

        def matches(m: dict[str, Any]) -> bool:
            body = (m.get("text") or "") + (m.get("caption") or "")
            if contains is not None and contains not in body:
                return False
            if buttons is not None and bool(button_labels(m)) != buttons:
                return False
            return True

        return await self.sim.wait_for(chat_id, matches, timeout=timeout, after=after)

    async def wait_edited(
        self, chat_id: int, message_id: int, contains: str, timeout: float = 10.0
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for m in await self.sim.messages(chat_id):
                if (
                    m["message_id"] == message_id
                    and m.get("edited")
                    and contains in (m.get("text") or "")
                ):
                    return m
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"message {message_id} in {chat_id} never showed {contains!r}: "
                    f"{[m for m in await self.sim.messages(chat_id) if m['message_id'] == message_id]}"
                )
            await asyncio.sleep(0.05)

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until the bot has processed every update and sent every message."""
        from sqlalchemy import func, select

        from bot.store.models import Announcement, InboxUpdate, OutboxMessage

        assert self.app is not None
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            pending_updates = await self.sim.pending_updates()
            async with self.app.domain.sessions() as session:
                inbox = (
                    await session.execute(
                        select(func.count()).where(InboxUpdate.status == "pending")
                    )
                ).scalar_one()
                outbox = (
                    await session.execute(
                        select(func.count()).where(
                            OutboxMessage.status.in_(("pending", "sending")),
                            OutboxMessage.next_attempt_at
                            <= datetime.now(UTC) + timedelta(seconds=1),
                        )
                    )
                ).scalar_one()
                # announcements whose direct messages the broadcaster has not all queued yet
                outbox += (
                    await session.execute(
                        select(func.count()).where(Announcement.dm_done_at.is_(None))
                    )
                ).scalar_one()
            if pending_updates == 0 and inbox == 0 and outbox == 0:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"not settled: {pending_updates} updates, {inbox} inbox, {outbox} outbox"
                )
            await asyncio.sleep(0.05)

    # --- playing people ----------------------------------------------------

    async def say(self, user: int, text: str, **kw: Any) -> dict[str, Any]:
        return await self.sim.send_text(user, text, **kw)

    async def press(
        self, user: int, message: dict[str, Any], label: str, chat: int | None = None
    ) -> dict[str, Any]:
        """Press the button whose label contains `label` on a message the bot sent."""
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if label in button["text"]:
                    return await self.sim.press(
                        user, message["message_id"], data=button["callback_data"], chat=chat
                    )
        raise AssertionError(f"no button {label!r} on {button_labels(message)}")

    async def act(
        self, user: int, message: dict[str, Any], action: str, chat: int | None = None
    ) -> dict[str, Any]:
        """Press the staff button for `action` (accept: acc, ask, transfer: trf, resolve: res, reject: rej)."""
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if button["callback_data"].startswith(f"c:{action}:"):
                    return await self.sim.press(
                        user, message["message_id"], data=button["callback_data"], chat=chat
                    )
        raise AssertionError(f"no {action!r} button on {button_labels(message)}")

    async def resident(
        self,
        user: int,
        *,
        lang: str = "en",
        address: str = "Xingfu Garden Building 1",
        building: str | None = None,
    ) -> None:
        """A resident who has onboarded: consent and a home building."""
        await self.sim.create_user(user, f"Resident{user}", language_code=lang)
        after = await self.last_id(user)
        await self.say(user, "/start")
        welcome = await self.wait_bot(user, after=after, buttons=True)
        await self.press(user, welcome, "✅")
        asked = await self.wait_bot(user, after=welcome["message_id"])
        await self.say(user, address)
        choose = await self.wait_bot(user, after=asked["message_id"], buttons=True)
        labels = button_labels(choose)
        target = building or labels[0]
        await self.press(user, choose, target)
        await self.wait_bot(user, "GV" if False else None, after=choose["message_id"])

    async def report(self, user: int, text: str) -> tuple[str, dict[str, Any]]:
        """Write a problem and send it; returns the case id and the bot's confirmation."""
        after = await self.last_id(user)
        await self.say(user, text)
        draft = await self.wait_bot(user, after=after, buttons=True)
        await self.press(user, draft, "✅")
        filed = await self.wait_bot(user, "GV-", after=draft["message_id"])
        match = CASE_ID.search(filed["text"])
        assert match, filed
        return match.group(0), filed

    async def card(self, chat_id: int, case_id: str, after: int = 0) -> dict[str, Any]:
        return await self.wait_bot(chat_id, case_id, after=after, buttons=True)

    async def spec_violations(self) -> list[dict[str, Any]]:
        return [c for c in await self.sim.calls() if c.get("spec_violation")]


def button_labels(message: dict[str, Any]) -> list[str]:
    return [
        b["text"]
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    ]


async def make_world(tmp_path: Path, *, serve_http: bool = False) -> tuple[World, RunningEmulator]:
    spec = str(SPEC_PATH) if SPEC_PATH.exists() else None
    emu = await start_emulator(spec_path=spec)
    sim = SimClient(emu.url)
    world = World(emu, sim, database_url(tmp_path), tmp_path)
    world.serve_http = serve_http
    await world.setup()
    return world, emu
