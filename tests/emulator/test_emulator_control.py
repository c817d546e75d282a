"""The /sim control API: users, groups, buttons, albums, polls, transcripts, calls, reset."""

from __future__ import annotations

import json

import pytest

from bot.emulator.client import SimClient, SimError
from tests.emulator.emulator_helpers import PNG, USER, ApiCaller

KEYBOARD = json.dumps(
    {
        "inline_keyboard": [
            [{"text": "Yes", "callback_data": "v:yes"}, {"text": "Docs", "url": "https://x.org"}]
        ]
    }
)


async def _bot_message(api: ApiCaller, text: str = "Vote?", markup: str = KEYBOARD) -> int:
    status, body = await api("sendMessage", chat_id=USER, text=text, reply_markup=markup)
    assert status == 200, body
    return body["result"]["message_id"]


async def test_press_real_button(api: ApiCaller, sim: SimClient) -> None:
    mid = await _bot_message(api)
    pressed = await sim.press(USER, mid, button="Yes")
    _, body = await api("getUpdates")
    query = body["result"][0]["callback_query"]
    assert query["id"] == pressed["callback_query_id"] and query["data"] == "v:yes"
    assert query["message"]["message_id"] == mid and query["from"]["id"] == USER
    assert (await sim.callback_answer(pressed["callback_query_id"]))["answered"] is False
    status, _ = await api(
        "answerCallbackQuery", callback_query_id=query["id"], text="Thanks", show_alert="true"
    )
    assert status == 200
    answer = await sim.callback_answer(pressed["callback_query_id"])
    assert answer["answered"] and answer["text"] == "Thanks" and answer["show_alert"] is True
    again = await sim.press(USER, mid, data="v:yes")
    assert again["callback_query_id"] != pressed["callback_query_id"]


async def test_press_fake_button_is_400(api: ApiCaller, sim: SimClient) -> None:
    mid = await _bot_message(api)
    with pytest.raises(SimError) as err:
        await sim.press(USER, mid, data="v:admin")
    assert err.value.status == 400
    with pytest.raises(SimError):
        await sim.press(USER, mid, button="No")
    with pytest.raises(SimError):
        await sim.press(USER, mid + 5, data="v:yes")
    forged = await sim.press(USER, mid, data="v:admin", forge=True)
    assert forged["callback_query_id"]


async def test_button_gone_after_markup_edit(api: ApiCaller, sim: SimClient) -> None:
    mid = await _bot_message(api)
    await api("editMessageReplyMarkup", chat_id=USER, message_id=mid)
    with pytest.raises(SimError):
        await sim.press(USER, mid, data="v:yes")


async def test_transcript(api: ApiCaller, sim: SimClient) -> None:
    sent = await sim.send_text(USER, "hello")
    mid = await _bot_message(api, "<b>Hi</b>", KEYBOARD)
    await api("editMessageText", chat_id=USER, message_id=mid, text="Hi!")
    await sim.send_location(USER, 52.5, 13.4)
    messages = await sim.messages(USER)
    assert [m["message_id"] for m in messages] == [1, 2, 3]
    user_msg, bot_msg, loc = messages
    assert user_msg["message_id"] == sent["message_id"] and not user_msg["from_bot"]
    assert user_msg["from"] == USER and user_msg["text"] == "hello"
    assert bot_msg["from_bot"] and bot_msg["edited"] and bot_msg["text"] == "Hi!"
    assert bot_msg["reply_markup"] is None
    assert loc["location"] == {"latitude": 52.5, "longitude": 13.4}
    assert [m["message_id"] for m in await sim.messages(USER, after=2)] == [3]
    assert [m["message_id"] for m in await sim.bot_messages(USER)] == [2]


async def test_wait_for_and_timeout_transcript(api: ApiCaller, sim: SimClient) -> None:
    await _bot_message(api, "Welcome!")
    found = await sim.wait_for(USER, lambda m: "Welcome" in m["text"], timeout=1)
    assert found["buttons"] == ["Yes", "Docs"]
    with pytest.raises(AssertionError, match="Welcome!"):
        await sim.wait_for(USER, lambda m: m["text"] == "nope", timeout=0.2)


async def test_album_and_photo(api: ApiCaller, sim: SimClient) -> None:
    album = await sim.send_album(USER, [PNG, PNG, PNG], caption="outage")
    assert len(album["message_id"]) == 3 and len(album["update_id"]) == 3
    _, body = await api("getUpdates")
    messages = [u["message"] for u in body["result"]]
    assert len({m["media_group_id"] for m in messages}) == 1
    assert messages[0]["caption"] == "outage"
    size = messages[0]["photo"][-1]
    assert (size["width"], size["height"]) == (320, 200)
    status, file = await api("getFile", file_id=size["file_id"])
    assert status == 200 and file["result"]["file_size"] == len(PNG)


async def test_group_chat_and_reply(api: ApiCaller, sim: SimClient) -> None:
    await sim.create_user(1002, "Bob")
    await sim.create_chat(-100, "Street 5", [USER, 1002])
    first = await sim.send_text(1002, "lights out?", chat=-100)
    await sim.send_text(USER, "yes", chat=-100, reply_to=first["message_id"])
    _, body = await api("getUpdates")
    msg = body["result"][1]["message"]
    assert msg["chat"]["type"] == "group" and msg["reply_to_message"]["text"] == "lights out?"
    status, _ = await api("sendMessage", chat_id=-100, text="ack")
    assert status == 200


async def test_contact_sticker_voice_document(api: ApiCaller, sim: SimClient) -> None:
    await sim.send_contact(USER, "+4912345", "Ann")
    for kind in ("sticker", "voice", "document"):
        await sim.send_raw(kind, USER)
    _, body = await api("getUpdates")
    kinds = [
        next(k for k in ("contact", "sticker", "voice", "document") if k in u["message"])
        for u in body["result"]
    ]
    assert kinds == ["contact", "sticker", "voice", "document"]


async def test_user_edit_produces_edited_message(api: ApiCaller, sim: SimClient) -> None:
    sent = await sim.send_text(USER, "typo")
    await sim.edit_text(USER, sent["message_id"], "fixed")
    _, body = await api("getUpdates")
    assert body["result"][1]["edited_message"]["text"] == "fixed"


async def test_poll_answers(api: ApiCaller, sim: SimClient) -> None:
    status, body = await api(
        "sendPoll",
        chat_id=USER,
        question="When?",
        options=json.dumps(["am", "pm"]),
        is_anonymous="false",
    )
    poll = body["result"]["poll"]
    await sim.answer_poll(USER, poll["id"], [1])
    _, updates = await api("getUpdates")
    answer = updates["result"][0]["poll_answer"]
    assert answer["option_ids"] == [1] and answer["user"]["id"] == USER
    _, stopped = await api("stopPoll", chat_id=USER, message_id=body["result"]["message_id"])
    assert stopped["result"]["is_closed"] and stopped["result"]["options"][1]["voter_count"] == 1


async def test_calls_log_and_reset(api: ApiCaller, sim: SimClient) -> None:
    await api("sendMessage", chat_id=USER, text="one")
    await api("sendMessage", chat_id=424242, text="two")
    await api("getMe")
    calls = await sim.calls("sendMessage")
    assert [c["status"] for c in calls] == [200, 400]
    assert (
        calls[1]["error"] == "Bad Request: chat not found" and calls[1]["params"]["text"] == "two"
    )
    stats = await sim.stats()
    assert stats["sent_total"] == 1 and stats["calls_total"] == 3
    await sim.reset()
    assert await sim.calls() == []
    with pytest.raises(SimError):
        await sim.messages(USER)


async def test_a_burst_of_texts_arrives_in_one_batch_in_order(
    api: ApiCaller, sim: SimClient
) -> None:
    sent = await sim.send_texts(USER, [f"part {i}" for i in range(5)])
    _, body = await api("getUpdates")
    texts = [u["message"]["text"] for u in body["result"]]
    assert texts == [f"part {i}" for i in range(5)]
    assert [u["update_id"] for u in body["result"]] == sent["update_id"]
    for bad in ([], "not a list", ["x"] * 1001):
        with pytest.raises(SimError):
            await sim._post("/sim/messages", {"from": USER, "texts": bad})
