"""The courier (bot/runtime/courier.py): a broadcast's calls in flight when the bot dies are
finished, journalled and marked sent on restart, so a SIGKILL neither loses nor repeats them."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from telegram.error import Forbidden, NetworkError

from bot.runtime import courier as courier_module
from bot.runtime.courier import Courier, Delivered

ROOT = Path(__file__).resolve().parents[2]
DB = "sqlite+aiosqlite:///test-courier.db"  # names the journal only


class Api:
    """A Bot API that answers each sendMessage after `delay` seconds with the next id."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.received: list[dict[str, Any]] = []
        self.answered: list[int] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        await asyncio.sleep(self.delay)
        if body.get("chat_id") == 403:
            return web.json_response(
                {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"},
                status=403,
            )
        message_id = 1000 + len(self.answered)
        self.answered.append(body["chat_id"])
        return web.json_response({"ok": True, "result": {"message_id": message_id}})

    async def __aenter__(self) -> Api:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.handle)
        self.runner = web.AppRunner(app, handler_cancellation=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/botTOKEN"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def _recover(directory: Path) -> list[Delivered]:
    found: list[Delivered] = []

    async def mark(batch: list[Delivered]) -> None:
        found.extend(batch)

    await Courier("http://unused/bot", 1, directory, DB).recover(mark)
    return found


BOT = """
import asyncio, sys
from pathlib import Path
from bot.runtime.courier import Courier

async def main():
    c = Courier(sys.argv[1], 8, Path(sys.argv[2]), sys.argv[3])
    calls = [c.call(i, 7000 + i, "sendMessage", {"chat_id": 7000 + i, "text": "notice"})
             for i in range(1, 6)]
    print("calling", flush=True)
    await asyncio.gather(*calls)
    print("answered", flush=True)

asyncio.run(main())
"""


async def test_calls_in_flight_when_the_bot_is_killed_are_marked_sent_on_restart(
    tmp_path: Path,
) -> None:
    async with Api(delay=1.0) as api:
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-c", BOT, api.url, str(tmp_path), DB, cwd=ROOT
        )
        try:
            deadline = time.monotonic() + 30
            while len(api.received) < 5:  # all five calls reached Telegram, none answered
                assert time.monotonic() < deadline and bot.returncode is None
                await asyncio.sleep(0.02)
            assert api.answered == []
            bot.send_signal(signal.SIGKILL)
            await asyncio.wait_for(bot.wait(), 10)
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
        # the restarted bot waits for the courier to finish the calls, then marks them
        started = time.monotonic()
        found = await _recover(tmp_path)
        assert time.monotonic() - started > 0.5  # it waited for the answers
    assert sorted((row_id, chat) for row_id, chat, _ in found) == [
        (i, 7000 + i) for i in range(1, 6)
    ]
    assert sorted(api.answered) == [7000 + i for i in range(1, 6)]  # each sent once
    assert sorted(mid for _, _, mid in found) == list(range(1000, 1005))
    assert await _recover(tmp_path) == []  # marked once: the journal is empty


async def test_answers_and_errors_pass_back_like_the_bots_own_calls(tmp_path: Path) -> None:
    async with Api() as api:
        c = Courier(api.url, 4, tmp_path, DB)
        try:
            result = await c.call(1, 5, "sendMessage", {"chat_id": 5, "text": "hello"})
            assert result == {"message_id": 1000}
            with pytest.raises(Forbidden):
                await c.call(2, 403, "sendMessage", {"chat_id": 403, "text": "hello"})
            c.settled(1)
        finally:
            await c.close()
    assert await _recover(tmp_path) == []  # everything it delivered was settled


async def test_a_delivered_call_not_yet_marked_is_recovered_after_a_clean_stop(
    tmp_path: Path,
) -> None:
    async with Api() as api:
        c = Courier(api.url, 4, tmp_path, DB)
        try:
            await c.call(11, 5, "sendMessage", {"chat_id": 5, "text": "hello"})
            # the mark's commit never came (the store was down): not settled
        finally:
            await c.close()
    assert await _recover(tmp_path) == [(11, 5, 1000)]


def _journalled(directory: Path) -> list[Delivered]:
    fd = os.open(next(directory.glob("courier-*.journal")), os.O_RDONLY)
    try:
        return courier_module.read_journal(fd)
    finally:
        os.close(fd)


async def test_the_journal_empties_once_every_answer_is_marked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(courier_module, "ROTATE_EVERY", 3)
    async with Api() as api:
        c = Courier(api.url, 4, tmp_path, DB)
        try:
            for row_id in range(1, 4):
                await c.call(row_id, 5, "sendMessage", {"chat_id": 5, "text": "x"})
            assert [row for row, _, _ in _journalled(tmp_path)] == [1, 2, 3]
            for row_id in range(1, 4):
                c.settled(row_id)
            await c.call(4, 5, "sendMessage", {"chat_id": 5, "text": "x"})  # after the rotate
            assert _journalled(tmp_path) == [(4, 5, 1003)]
        finally:
            await c.close()
    assert await _recover(tmp_path) == [(4, 5, 1003)]


async def test_the_journal_stays_small_while_answers_keep_coming_and_keeps_the_unmarked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under constant traffic some answer always waits for its mark: the journal is rewritten
    to those all the same, so it holds the unmarked answers and no more."""
    monkeypatch.setattr(courier_module, "ROTATE_EVERY", 3)
    async with Api() as api:
        c = Courier(api.url, 4, tmp_path, DB)
        try:
            row = 0
            for _ in range(20):
                for _ in range(3):
                    row += 1
                    await c.call(row, 5, "sendMessage", {"chat_id": 5, "text": "x"})
                c.settled(row - 2)  # one answered row marked now, one later, one never
                c.settled(row - 4)
            row += 1
            await c.call(row, 5, "sendMessage", {"chat_id": 5, "text": "x"})  # after the rotate
            kept = _journalled(tmp_path)
        finally:
            await c.close()
    unmarked = {*range(3, 61, 3), 59, 61}  # never marked; 59's mark is still to come
    rows = [r for r, _, _ in kept]
    assert unmarked <= set(rows)
    assert len(rows) < len(unmarked) + 2 * 3  # not the 61 answers it journalled
    assert all(mid == 999 + r for r, _, mid in kept)  # each with its own message's id
    assert {r for r, _, _ in await _recover(tmp_path)} == set(rows)


async def test_a_journal_of_another_database_is_not_read(tmp_path: Path) -> None:
    async with Api() as api:
        c = Courier(api.url, 4, tmp_path, "postgresql+asyncpg://elsewhere/other")
        try:
            await c.call(21, 5, "sendMessage", {"chat_id": 5, "text": "hello"})
        finally:
            await c.close()
    assert await _recover(tmp_path) == []
    assert os.listdir(tmp_path)  # left for the process of that database


async def test_a_courier_killed_mid_call_fails_its_calls_and_the_next_call_starts_another(
    tmp_path: Path,
) -> None:
    async with Api(delay=1.0) as api:
        c = Courier(api.url, 4, tmp_path, DB)
        try:
            calls = [
                asyncio.create_task(c.call(i, 5, "sendMessage", {"chat_id": 5, "text": "x"}))
                for i in (1, 2)
            ]
            deadline = time.monotonic() + 30
            while len(api.received) < 2:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            assert c._proc is not None
            c._proc.kill()  # the courier itself dies: its calls in flight are uncertain
            for outcome in await asyncio.gather(*calls, return_exceptions=True):
                assert isinstance(outcome, NetworkError)  # retried by the sender, never hung
            api.delay = 0.0
            assert await c.call(3, 5, "sendMessage", {"chat_id": 5, "text": "x"})
        finally:
            await c.close()


async def test_a_folder_it_cannot_write_leaves_broadcasts_to_the_bot(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    c = Courier("http://unused/bot", 1, blocker / "courier", DB)
    assert await c.recover(lambda found: asyncio.sleep(0)) == 0
    assert not c.usable  # the sender makes the calls itself
    with pytest.raises(NetworkError):  # a call already on its way is retried
        await Courier("http://unused/bot", 1, blocker / "courier", DB).call(1, 5, "x", {})
