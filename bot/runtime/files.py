"""Files between the desk and Telegram: photos fetched with getFile (cached), and uploads.

The web edge never talks to Telegram itself; it asks the running bot through these helpers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram import InputFile
from telegram.error import TelegramError

from bot.services.shared import file_cache
from bot.store.models import TelegramFile

if TYPE_CHECKING:
    from bot.runtime.app import Gridvoice


class FileUnavailable(Exception):
    """Telegram no longer has the file, or it is too large to show."""


async def telegram_file(gv: Gridvoice, file_id: str) -> tuple[bytes, str]:
    """A file's bytes and type: from the cache, else fetched once with getFile and kept."""
    domain = gv.domain
    async with domain.sessions() as session:  # a read: no writer lock needed
        row = await session.get(TelegramFile, file_id)
        if row is not None:
            return bytes(row.data), row.content_type
    try:
        remote = await gv.bot.get_file(file_id)
        if remote.file_size and remote.file_size > domain.settings.max_photo_bytes:
            raise FileUnavailable(file_id)
        data = bytes(await remote.download_as_bytearray())
    except TelegramError as exc:
        raise FileUnavailable(file_id) from exc
    kind = file_cache.content_type_of(data)
    async with domain.unit() as uow:
        await file_cache.keep(uow, file_id, data, kind)
    return data, kind


async def upload_photo(gv: Gridvoice, chat_id: int, data: bytes, filename: str) -> str:
    """Send a photo to a staff member's own chat to get a Telegram file id for it."""
    try:
        message = await gv.bot.send_photo(chat_id, photo=InputFile(data, filename=filename))
    except TelegramError as exc:
        raise FileUnavailable(filename) from exc
    return message.photo[-1].file_id
