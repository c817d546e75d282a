"""Telegram files kept in the database once fetched, so pages do not call getFile again."""

from __future__ import annotations

from bot.services.shared.domain import UnitOfWork
from bot.store.models import TelegramFile


async def cached(uow: UnitOfWork, file_id: str) -> TelegramFile | None:
    return await uow.session.get(TelegramFile, file_id)


async def keep(uow: UnitOfWork, file_id: str, data: bytes, content_type: str) -> None:
    if await uow.session.get(TelegramFile, file_id) is None:
        uow.session.add(
            TelegramFile(file_id=file_id, content_type=content_type, data=data, fetched_at=uow.now)
        )


def content_type_of(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"GIF8"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"
