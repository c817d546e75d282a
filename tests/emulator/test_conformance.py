"""The emulator's method table agrees with the official Bot API description (api.json)."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from bot.emulator.client import SimClient
from bot.emulator.methods import METHODS
from bot.emulator.server import start_emulator
from tests.emulator.emulator_helpers import TOKEN, USER


def _spec(spec_path: Path) -> dict[str, dict[str, bool]]:
    data = json.loads(spec_path.read_text(encoding="utf-8"))
    methods = data["methods"]
    items = methods.values() if isinstance(methods, dict) else methods
    return {m["name"]: {f["name"]: f["required"] for f in m.get("fields", [])} for m in items}


def test_every_method_exists_with_matching_params(spec_path: Path) -> None:
    spec = _spec(spec_path)
    problems = []
    for method in METHODS.values():
        fields = spec.get(method.name)
        if fields is None:
            problems.append(f"{method.name}: not in api.json")
            continue
        for name, required in method.params.items():
            if name not in fields:
                problems.append(f"{method.name}.{name}: not a field in api.json")
            elif fields[name] != required:
                problems.append(
                    f"{method.name}.{name}: required={required}, spec says {fields[name]}"
                )
        for name, required in fields.items():
            if required and name not in method.params:
                problems.append(f"{method.name}.{name}: required by the spec, not declared")
    assert not problems, "\n".join(problems)


def test_required_methods_are_implemented() -> None:
    wanted = """getMe getUpdates setWebhook deleteWebhook getWebhookInfo sendMessage editMessageText
    editMessageReplyMarkup deleteMessage answerCallbackQuery sendPhoto sendMediaGroup getFile
    sendLocation sendPoll stopPoll copyMessage sendChatAction setMyCommands getMyCommands getChat
    sendDocument setChatMenuButton getChatMenuButton answerInlineQuery getChatMember
    getChatAdministrators""".split()
    assert sorted(m.lower() for m in wanted) == sorted(METHODS)


async def test_spec_violations_are_rejected_and_recorded(spec_path: Path) -> None:
    emu = await start_emulator(spec_path=str(spec_path))
    try:
        async with SimClient(emu.url) as sim, aiohttp.ClientSession() as http:
            await sim.create_user(USER, "Ann")
            url = f"{emu.url}/bot{TOKEN}/sendMessage"
            async with http.post(url, data={"chat_id": USER, "text": "x", "colour": "red"}) as r:
                body = await r.json()
            assert r.status == 400 and body["description"].startswith("Bad Request: ")
            assert "colour" in body["description"]
            calls = await sim.calls("sendMessage")
            assert "colour" in calls[0]["spec_violation"]
            async with http.post(url, data={"chat_id": USER, "text": "x"}) as r:
                assert r.status == 200
    finally:
        await emu.stop()


async def test_spec_from_environment(spec_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDVOICE_BOTAPI_SPEC", str(spec_path))
    emu = await start_emulator()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{emu.url}/bot{TOKEN}/getMe", data={"bogus": 1}) as r:
                assert r.status == 400
    finally:
        await emu.stop()
