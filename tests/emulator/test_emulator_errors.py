"""Every bad call answers exactly as Telegram does."""

from __future__ import annotations

import json

from bot.emulator.client import SimClient
from tests.emulator.emulator_helpers import USER, ApiCaller

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


def _err(status: int, body: dict, code: int, description: str) -> None:
    assert status == code, body
    assert body == {"ok": False, "error_code": code, "description": description} or (
        body["ok"] is False and body["error_code"] == code and body["description"] == description
    )


async def test_unknown_method_404(api: ApiCaller) -> None:
    status, body = await api("sendTelepathy", chat_id=USER)
    _err(status, body, 404, "Not Found")


async def test_method_names_are_case_insensitive(api: ApiCaller, sim: SimClient) -> None:
    status, body = await api("SENDMESSAGE", chat_id=USER, text="hi")
    assert status == 200 and body["result"]["text"] == "hi"


async def test_missing_chat_id(api: ApiCaller) -> None:
    status, body = await api("sendMessage", text="hi")
    _err(status, body, 400, "Bad Request: chat_id is empty")


async def test_missing_generic_required_parameter(api: ApiCaller, sim: SimClient) -> None:
    status, body = await api("sendLocation", chat_id=USER, latitude=1)
    _err(status, body, 400, "Bad Request: parameter longitude is required")


async def test_empty_text(api: ApiCaller, sim: SimClient) -> None:
    status, body = await api("sendMessage", chat_id=USER, text="")
    _err(status, body, 400, "Bad Request: message text is empty")
    status, body = await api("sendMessage", chat_id=USER, text="  <b></b> ", parse_mode="HTML")
    _err(status, body, 400, "Bad Request: message text is empty")


async def test_text_over_4096(api: ApiCaller, sim: SimClient) -> None:
    status, body = await api("sendMessage", chat_id=USER, text="x" * 4097)
    _err(status, body, 400, "Bad Request: message is too long")
    # length counts characters after entity parsing
    text = "<b>" + "x" * 4096 + "</b>"
    status, body = await api("sendMessage", chat_id=USER, text=text, parse_mode="HTML")
    assert status == 200, body


async def test_caption_over_1024(api: ApiCaller, sim: SimClient, http) -> None:
    status, body = await api(
        "sendPhoto", chat_id=USER, photo="https://example.org/a.jpg", caption="c" * 1025
    )
    _err(status, body, 400, "Bad Request: message caption is too long")


async def test_callback_data_over_64_bytes(api: ApiCaller, sim: SimClient) -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "é" * 33}]]}  # 66 bytes
    status, body = await api("sendMessage", chat_id=USER, text="x", reply_markup=json.dumps(markup))
    _err(status, body, 400, "Bad Request: BUTTON_DATA_INVALID")
    markup["inline_keyboard"][0][0]["callback_data"] = "é" * 32  # 64 bytes is fine
    status, body = await api("sendMessage", chat_id=USER, text="x", reply_markup=json.dumps(markup))
    assert status == 200, body


async def test_malformed_html(api: ApiCaller, sim: SimClient) -> None:
    for text in ("<b>bold", "<foo>x</foo>", "a < b", "<b>x</i>", "x </b>", "fish & chips"):
        status, body = await api("sendMessage", chat_id=USER, text=text, parse_mode="HTML")
        assert status == 400, (text, body)
        assert body["description"].startswith("Bad Request: can't parse entities: "), body


async def test_unknown_chat(api: ApiCaller) -> None:
    status, body = await api("sendMessage", chat_id=999999, text="hi")
    _err(status, body, 400, "Bad Request: chat not found")


async def test_blocked_user_403(api: ApiCaller, sim: SimClient) -> None:
    await sim.block(USER)
    status, body = await api("sendMessage", chat_id=USER, text="hi")
    _err(status, body, 403, "Forbidden: bot was blocked by the user")
    await sim.block(USER, blocked=False)
    status, body = await api("sendMessage", chat_id=USER, text="hi")
    assert status == 200


async def test_edit_not_modified(api: ApiCaller, sim: SimClient) -> None:
    markup = json.dumps({"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]})
    _, sent = await api("sendMessage", chat_id=USER, text="same", reply_markup=markup)
    mid = sent["result"]["message_id"]
    status, body = await api(
        "editMessageText", chat_id=USER, message_id=mid, text="same", reply_markup=markup
    )
    _err(status, body, 400, NOT_MODIFIED)
    status, body = await api(
        "editMessageReplyMarkup", chat_id=USER, message_id=mid, reply_markup=markup
    )
    _err(status, body, 400, NOT_MODIFIED)
    status, body = await api("editMessageText", chat_id=USER, message_id=mid, text="same")
    assert status == 200 and "reply_markup" not in body["result"]


async def test_edit_and_delete_missing_message(api: ApiCaller, sim: SimClient) -> None:
    status, body = await api("editMessageText", chat_id=USER, message_id=77, text="x")
    _err(status, body, 400, "Bad Request: message to edit not found")
    status, body = await api("deleteMessage", chat_id=USER, message_id=77)
    _err(status, body, 400, "Bad Request: message to delete not found")
    _, sent = await api("sendMessage", chat_id=USER, text="bye")
    mid = sent["result"]["message_id"]
    assert (await api("deleteMessage", chat_id=USER, message_id=mid))[0] == 200
    status, body = await api("editMessageText", chat_id=USER, message_id=mid, text="x")
    _err(status, body, 400, "Bad Request: message to edit not found")


async def test_answer_unknown_callback(api: ApiCaller) -> None:
    status, body = await api("answerCallbackQuery", callback_query_id="nope")
    _err(
        status,
        body,
        400,
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
    )


async def test_json_body_and_query_string(api: ApiCaller, sim: SimClient, emu, http) -> None:
    status, body = await api("sendMessage", _json=True, chat_id=USER, text="json")
    assert status == 200 and body["result"]["text"] == "json"
    async with http.get(
        f"{emu.url}/bot1:x/sendMessage", params={"chat_id": USER, "text": "q"}
    ) as r:
        assert (await r.json())["result"]["text"] == "q"
