"""Fixtures for end-to-end tests: a world with the emulator and the real bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.world import World, make_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w, emu = await make_world(tmp_path)
    try:
        yield w
        violations = await w.spec_violations()
        assert not violations, f"requests Telegram would refuse: {violations[:3]}"
    finally:
        await w.close()
        await w.sim.close()
        await emu.stop()
