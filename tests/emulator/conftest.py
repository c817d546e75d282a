"""Fixtures for the emulator tests: a running emulator, a SimClient and a raw Bot API caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.emulator.client import SimClient
from bot.emulator.server import RunningEmulator, start_emulator
from tests.emulator.emulator_helpers import SPEC_PATH, TOKEN, USER, ApiCaller


@pytest.fixture
def spec_path() -> Path:
    if not SPEC_PATH.exists():
        pytest.skip(f"Bot API spec not found at {SPEC_PATH} (../shared/telegram-bot-api/api.json)")
    return SPEC_PATH


@pytest.fixture
async def emu() -> AsyncIterator[RunningEmulator]:
    running = await start_emulator()
    yield running
    await running.stop()


@pytest.fixture
async def sim(emu: RunningEmulator) -> AsyncIterator[SimClient]:
    async with SimClient(emu.url) as client:
        await client.create_user(USER, "Ann", language_code="en")
        yield client


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def api(emu: RunningEmulator, http: aiohttp.ClientSession) -> ApiCaller:
    """Call a Bot API method with form-encoded params; returns (HTTP status, JSON body)."""

    async def call(method: str, _json: bool = False, **params: Any) -> tuple[int, dict[str, Any]]:
        url = f"{emu.url}/bot{TOKEN}/{method}"
        kw: dict[str, Any] = {"json": params} if _json else {"data": params}
        async with http.post(url, **kw) as resp:
            return resp.status, await resp.json()

    return call
