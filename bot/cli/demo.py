"""`gridvoice demo`: the emulator, the bot and a scripted story, with no token and no network.

Starts the Telegram Bot API emulator and the bot on free local ports with a temporary
SQLite database and the example community, plays a resident and a grid member through
the control API, prints the transcript, and exits 0 (``--keep`` leaves both running).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import re
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

from bot import examples

RESIDENT = 7001
MEMBER = 10001  # 王芳, grid member of xingfu-1 (Xingfu Garden south) in the example community
STAFF = {
    10001: "王芳",
    10002: "刘洋",
    10003: "陈刚",
    10004: "杨丽",
    10010: "李强",
    10020: "张敏",
    10030: "赵磊",
    10040: "陈静",
    10050: "Admin",
}
EXAMPLE = Path(examples.__file__).parent / "demo-community.yaml"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("demo", help="run a scripted story against the built-in emulator")
    p.add_argument("--keep", action="store_true", help="leave the emulator and the bot running")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="the resident's language")
    p.add_argument(
        "--grid-map", default=None, help="grid map YAML (default: the example community)"
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_demo(args))
    except KeyboardInterrupt:
        return 0


def free_port() -> int:
    """A free local TCP port, so the public address is known before the bot starts."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text or ""))


class Transcript:
    """Prints every message in the watched chats once, with its buttons."""

    def __init__(self, sim: Any, names: dict[int, str]) -> None:
        self.sim = sim
        self.names = names
        self.seen: dict[int, dict[int, str]] = {}

    async def flush(self) -> None:
        for chat_id, name in self.names.items():
            seen = self.seen.setdefault(chat_id, {})
            for m in await self.sim.messages(chat_id):
                body = _plain(
                    m.get("text") or m.get("caption") or ("[photo]" if m.get("photo") else "")
                )
                buttons = [
                    b["text"]
                    for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
                    for b in row
                ]
                state = body + "|" + "|".join(buttons)
                if seen.get(m["message_id"]) == state:
                    continue
                edited = m["message_id"] in seen
                seen[m["message_id"]] = state
                who = "bot" if m.get("from_bot") else name
                arrow = f"  bot → {name}" if m.get("from_bot") else f"{who}"
                tag = " (edited)" if edited else ""
                print(f"\n{arrow}{tag}:")
                for line in body.splitlines():
                    print(f"    {line}")
                if buttons:
                    print("    " + "  ".join(f"[{b}]" for b in buttons))


async def _demo(args: argparse.Namespace) -> int:
    from bot import logs
    from bot.cli.bootstrap import start_bot
    from bot.config import Settings
    from bot.emulator.client import SimClient
    from bot.emulator.server import start_emulator
    from bot.runtime.app import Gridvoice

    map_path = Path(args.grid_map) if args.grid_map else EXAMPLE
    if not map_path.exists():
        print(f"grid map not found: {map_path}", file=sys.stderr)
        return 2
    logs.setup("WARNING", json_lines=False)
    workdir = Path(tempfile.mkdtemp(prefix="gridvoice-demo-"))
    db_url = f"sqlite+aiosqlite:///{workdir / 'demo.db'}"
    emu = await start_emulator()
    port = free_port()
    settings = Settings(
        database_url=db_url,
        api_url=emu.url,
        token="123456:DEMO",
        listen_host="127.0.0.1",
        listen_port=port,
        # The resident's "filed" message links the case's public page on the bot's own web edge.
        public_url=f"http://127.0.0.1:{port}",
        poll_timeout=1,
        send_rate_private=20,
        send_burst_private=20,
        metrics_token=secrets.token_urlsafe(16),
    )
    sim = SimClient(emu.url)
    app: Gridvoice | None = None
    try:
        for user_id, name in STAFF.items():
            await sim.create_user(user_id, name, language_code="zh")
        for chat_id, title in (
            (-100501, "幸福物业"),
            (-100502, "和平派出所"),
            (-100503, "城管中队"),
            (-100504, "幸福居委会"),
            (-100900, "和平街道办事处"),
        ):
            await sim.create_chat(chat_id, title, [], type="group")
        await sim.create_user(
            RESIDENT, "Mei" if args.lang == "en" else "梅", language_code=args.lang
        )
        app = await start_bot(settings, str(map_path))
        print(
            f"gridvoice demo — emulator {emu.url}, bot {app.web_url}, database {workdir / 'demo.db'}"
        )
        story = Story(
            sim, Transcript(sim, {RESIDENT: "resident", MEMBER: "grid member 王芳"}), args.lang
        )
        case_id = await story.play()
        print("\n✔ demo finished: report filed, accepted, resolved, rated.")
        print(
            f"\nPublic dashboard: {app.web_url}/  (中文: {app.web_url}/?lang=zh)\n"
            f"The demo's case:  {app.web_url}/cases/{case_id}\n"
            f"What the numbers mean: {app.web_url}/about/numbers"
        )
        if args.keep:
            print(
                f"\nStill running. Emulator: {emu.url}  (control API under /sim, messages: "
                f"{emu.url}/sim/chats/{RESIDENT}/messages)\nBot health: {app.web_url}/healthz  "
                f"metrics: curl -H 'Authorization: Bearer {settings.metrics_token}' "
                f"{app.web_url}/metrics\nCtrl-C to stop."
            )
            await asyncio.Event().wait()
        return 0
    finally:
        if app is not None:
            await app.stop()
        await sim.close()
        await emu.stop()


class Story:
    """The scripted story, step by step, through the emulator's control API."""

    TEXT = {
        "en": {
            "address": "Xingfu Garden bldg 3",
            "report": "The street lamp at the east gate of "
            "building 3 has been out for a week, it is pitch dark at night",
            "note": "Replaced the lamp; it works again.",
            "comment": "Quick and kind, thank you!",
        },
        "zh": {
            "address": "幸福小区3号楼",
            "report": "3号楼东门口的路灯坏了一个星期了，晚上黑乎乎的",
            "note": "已更换灯泡，恢复照明。",
            "comment": "很快就修好了，谢谢！",
        },
    }

    def __init__(self, sim: Any, transcript: Transcript, lang: str) -> None:
        self.sim = sim
        self.t = transcript
        self.text = self.TEXT[lang]

    async def step(self, title: str) -> None:
        print(f"\n── {title} " + "─" * max(0, 60 - len(title)))

    async def wait(self, chat: int, predicate: Any, after: int = 0) -> dict[str, Any]:
        message = await self.sim.wait_for(chat, predicate, timeout=15, after=after)
        await asyncio.sleep(0.2)
        await self.t.flush()
        return message

    async def press(
        self, user: int, message: dict[str, Any], index: int = 0, contains: str | None = None
    ) -> None:
        buttons = [
            b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row
        ]
        if contains is not None:
            buttons = [b for b in buttons if contains in b["text"]]
        button = buttons[index]
        print(f"\n  (taps [{button['text']}])")
        await self.sim.press(user, message["message_id"], data=button["callback_data"])

    async def say(self, user: int, text: str) -> int:
        messages = await self.sim.messages(user)
        last = messages[-1]["message_id"] if messages else 0
        await self.sim.send_text(user, text)
        await asyncio.sleep(0.1)
        await self.t.flush()
        return last

    async def play(self) -> str:
        """Play the story; returns the human id of the case it filed."""

        def has_buttons(m: dict[str, Any]) -> bool:
            return bool(m.get("from_bot") and (m.get("reply_markup") or {}).get("inline_keyboard"))

        def from_bot(m: dict[str, Any]) -> bool:
            return bool(m.get("from_bot"))

        await self.step("1. The resident starts the bot and agrees")
        last = await self.say(RESIDENT, "/start")
        welcome = await self.wait(RESIDENT, has_buttons, last)
        await self.press(RESIDENT, welcome, 0)
        asked = await self.wait(RESIDENT, from_bot, welcome["message_id"])
        await self.step("2. The resident types a home address; the bot matches buildings")
        await self.say(RESIDENT, self.text["address"])
        choose = await self.wait(RESIDENT, has_buttons, asked["message_id"])
        await self.press(RESIDENT, choose, 0)
        registered = await self.wait(RESIDENT, from_bot, choose["message_id"])
        await self.step("3. The resident reports a problem in plain words")
        await self.say(RESIDENT, self.text["report"])
        draft = await self.wait(RESIDENT, has_buttons, registered["message_id"])
        await self.press(RESIDENT, draft, 0)
        filed = await self.wait(
            RESIDENT,
            lambda m: m.get("from_bot") and "GV-" in (m.get("text") or ""),
            draft["message_id"],
        )
        case_id = re.search(r"GV-\d{4}-\d{6,}", filed["text"]).group(0)  # type: ignore[union-attr]
        await self.step(f"4. The grid member gets the case card for {case_id}")
        card = await self.wait(
            MEMBER, lambda m: has_buttons(m) and case_id in (m.get("text") or "")
        )
        await self.press(MEMBER, card, 0)
        await self.wait(
            RESIDENT,
            lambda m: m.get("from_bot") and case_id in (m.get("text") or ""),
            filed["message_id"],
        )
        await self.step("5. The member resolves it with a note")
        card = await self.wait(
            MEMBER,
            lambda m: m["message_id"] == card["message_id"] and has_buttons(m) and m.get("edited"),
        )
        await self.press(MEMBER, card, 0, contains="✅")
        prompt = await self.wait(MEMBER, from_bot, card["message_id"])
        await self.say(MEMBER, self.text["note"])
        skip = await self.wait(MEMBER, has_buttons, prompt["message_id"])
        last_resident = (await self.sim.messages(RESIDENT))[-1]["message_id"]
        await self.press(MEMBER, skip, 0)
        resolved = await self.wait(RESIDENT, has_buttons, last_resident)
        await self.step("6. The resident rates the result")
        await self.press(RESIDENT, resolved, 4)
        thanks = await self.wait(RESIDENT, from_bot, resolved["message_id"])
        await self.say(RESIDENT, self.text["comment"])
        await self.wait(RESIDENT, from_bot, thanks["message_id"])
        await asyncio.sleep(0.3)
        await self.t.flush()
        return case_id
