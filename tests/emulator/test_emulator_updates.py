"""getUpdates: offsets, long polling, allowed_updates, raw and re-delivered updates."""

from __future__ import annotations

import asyncio
import json
import time

from bot.emulator.client import SimClient
from tests.emulator.emulator_helpers import USER, ApiCaller


async def test_offset_confirms_earlier_updates(api: ApiCaller, sim: SimClient) -> None:
    first = await sim.send_text(USER, "one")
    second = await sim.send_text(USER, "two")
    assert second["update_id"] == first["update_id"] + 1
    _, body = await api("getUpdates")
    assert [u["message"]["text"] for u in body["result"]] == ["one", "two"]
    assert await sim.pending_updates() == 0
    _, body = await api("getUpdates", offset=second["update_id"])
    assert [u["update_id"] for u in body["result"]] == [second["update_id"]]
    _, body = await api("getUpdates", offset=second["update_id"] + 1)
    assert body["result"] == []


async def test_limit(api: ApiCaller, sim: SimClient) -> None:
    for i in range(5):
        await sim.send_text(USER, f"m{i}")
    _, body = await api("getUpdates", limit=2)
    assert len(body["result"]) == 2


async def test_long_poll_returns_as_soon_as_update_arrives(api: ApiCaller, sim: SimClient) -> None:
    async def later() -> None:
        await asyncio.sleep(0.2)
        await sim.send_text(USER, "late")

    task = asyncio.create_task(later())
    started = time.monotonic()
    _, body = await api("getUpdates", timeout=10)
    elapsed = time.monotonic() - started
    await task
    assert [u["message"]["text"] for u in body["result"]] == ["late"]
    assert 0.15 < elapsed < 2


async def test_long_poll_times_out_empty(api: ApiCaller, sim: SimClient) -> None:
    started = time.monotonic()
    _, body = await api("getUpdates", timeout=1)
    assert body["result"] == [] and time.monotonic() - started >= 0.9


async def test_allowed_updates_filters(api: ApiCaller, sim: SimClient) -> None:
    await sim.send_text(USER, "text")
    await sim.raw_update({"poll_answer": {"poll_id": "1", "option_ids": [0]}})
    _, body = await api("getUpdates", allowed_updates=json.dumps(["poll_answer"]))
    assert [list(u)[1] for u in body["result"]] == ["poll_answer"]


async def test_command_gets_bot_command_entity(api: ApiCaller, sim: SimClient) -> None:
    await sim.send_text(USER, "/start ref42")
    _, body = await api("getUpdates")
    message = body["result"][0]["message"]
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert message["chat"] == {"id": USER, "type": "private", "first_name": "Ann"}
    assert message["from"]["language_code"] == "en"


async def test_raw_update_and_redeliver(api: ApiCaller, sim: SimClient) -> None:
    raw = await sim.raw_update({"message": {"garbage": True}})
    _, body = await api("getUpdates")
    assert body["result"] == [{"update_id": raw["update_id"], "message": {"garbage": True}}]
    _, body = await api("getUpdates", offset=raw["update_id"] + 1)
    assert body["result"] == []
    await sim.redeliver(raw["update_id"])
    _, body = await api("getUpdates", offset=raw["update_id"] + 1)
    assert [u["update_id"] for u in body["result"]] == [raw["update_id"]]
    _, body = await api("getUpdates", offset=raw["update_id"] + 1)
    assert body["result"] == []


async def test_get_updates_conflicts_with_webhook(api: ApiCaller) -> None:
    await api("setWebhook", url="http://127.0.0.1:9/hook")
    status, body = await api("getUpdates")
    assert status == 409
    assert body["description"] == (
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first"
    )
    await api("deleteWebhook")
    assert (await api("getUpdates"))[0] == 200


async def test_webhook_info_pending_count(api: ApiCaller, sim: SimClient) -> None:
    await sim.send_text(USER, "a")
    await sim.send_text(USER, "b")
    _, body = await api("getWebhookInfo")
    assert body["result"]["pending_update_count"] == 2 and body["result"]["url"] == ""
    await api("deleteWebhook", drop_pending_updates="true")
    _, body = await api("getWebhookInfo")
    assert body["result"]["pending_update_count"] == 0
