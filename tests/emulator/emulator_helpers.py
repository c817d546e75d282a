"""Shared constants and types for the emulator tests (a uniquely named module, not conftest)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).resolve().parents[2] / ".." / "shared" / "telegram-bot-api" / "api.json"
TOKEN = "123456:TEST-token"
USER = 1001
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    + (320).to_bytes(4, "big")
    + (200).to_bytes(4, "big")
    + b"\x08\x02\x00\x00\x00"
    + b"\x00" * 16
)

ApiCaller = Callable[..., Awaitable[tuple[int, dict[str, Any]]]]
