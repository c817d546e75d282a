"""Files between the desk and Telegram: photos fetched with getFile (cached), and uploads.

The web edge never talks to Telegram itself: it asks the running bot through the
`bot.web.keys.TelegramFiles` protocol, which `BotFiles` implements here.
"""

from __future__ import annotations

from telegram import Bot, InputFile
from telegram.error import TelegramError

from bot.services.shared import file_cache
from bot.services.shared.domain import Domain
from bot.services.shared.outbox import document_file_id
from bot.store.models import TelegramFile
from bot.web.keys import FileUnavailable

__all__ = ["BotFiles", "FileUnavailable"]


class BotFiles:
    """The running bot's Telegram files: what the desk shows and uploads."""

    def __init__(self, domain: Domain, bot: Bot) -> None:
        self.domain = domain
        self.bot = bot

    async def fetch(self, file_id: str) -> tuple[bytes, str]:
        """A file's bytes and type: from the cache, else fetched once with getFile and kept."""
        domain = self.domain
        async with domain.sessions() as session:  # a read: no writer lock needed
            row = await session.get(TelegramFile, file_id)
            if row is not None:
                return bytes(row.data), row.content_type
        try:
            remote = await self.bot.get_file(document_file_id(file_id))
            if remote.file_size and remote.file_size > domain.settings.max_photo_bytes:
                raise FileUnavailable(file_id)
            data = bytes(await remote.download_as_bytearray())
        except TelegramError as exc:
            raise FileUnavailable(file_id) from exc
        kind = file_cache.content_type_of(data)
        async with domain.unit() as uow:
            await file_cache.keep(uow, file_id, data, kind)
        return data, kind

    async def upload_photo(self, chat_id: int, data: bytes, filename: str) -> str:
        """Send a photo to a staff member's own chat to get a Telegram file id for it."""
        try:
            message = await self.bot.send_photo(chat_id, photo=InputFile(data, filename=filename))
        except TelegramError as exc:
            raise FileUnavailable(filename) from exc
        return message.photo[-1].file_id
