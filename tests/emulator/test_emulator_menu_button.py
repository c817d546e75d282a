"""setChatMenuButton / getChatMenuButton: a private chat's menu button, as Telegram takes it."""

from __future__ import annotations

import json

from bot.emulator.client import SimClient
from tests.emulator.emulator_helpers import USER, ApiCaller

WEB_APP = {"type": "web_app", "text": "Desk", "web_app": {"url": "https://desk.example.org/app"}}


async def test_a_web_app_menu_button_is_kept_per_chat(api: ApiCaller, sim: SimClient) -> None:
    status, body = await api("getChatMenuButton", chat_id=USER)
    assert status == 200 and body["result"] == {"type": "commands"}
    status, body = await api("setChatMenuButton", chat_id=USER, menu_button=json.dumps(WEB_APP))
    assert status == 200 and body["result"] is True
    _, body = await api("getChatMenuButton", chat_id=USER)
    assert body["result"] == WEB_APP
    _, body = await api("getChatMenuButton")
    assert body["result"] == {"type": "commands"}  # the default button is untouched
    await api("setChatMenuButton", chat_id=USER)
    _, body = await api("getChatMenuButton", chat_id=USER)
    assert body["result"] == {"type": "default"}


async def test_bad_menu_buttons_are_refused_like_telegram_does(
    api: ApiCaller, sim: SimClient
) -> None:
    plain = {**WEB_APP, "web_app": {"url": "http://desk.example.org/app"}}
    for button, error in [
        (plain, "BUTTON_URL_INVALID"),
        ({**WEB_APP, "text": ""}, "BUTTON_TEXT_INVALID"),
        ({"type": "link"}, "can't parse menu button JSON object"),
    ]:
        status, body = await api("setChatMenuButton", chat_id=USER, menu_button=json.dumps(button))
        assert status == 400 and error in body["description"], body
    await sim.create_chat(-100777, "Group", [USER], type="group")
    status, body = await api("setChatMenuButton", chat_id=-100777, menu_button=json.dumps(WEB_APP))
    assert status == 400
