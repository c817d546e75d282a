"""What the web edge is handed by the process that mounts it: the aiohttp app keys.

A leaf module: it imports nothing of gridvoice at run time (only types), so the runtime that
builds the aiohttp application and every view can both import it without a circle. The running
bot appears here only as the small `RunningBot` protocol — its domain and its Telegram files —
which is all a view may use of it; views never import `bot.runtime` or `telegram`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from aiohttp import web

if TYPE_CHECKING:
    from bot.services.shared.domain import Domain
    from bot.web.pages import PageRenderer


class FileUnavailable(Exception):
    """Telegram no longer has the file, it is too large to show, or an upload failed."""


class TelegramFiles(Protocol):
    """Photos between the desk and Telegram, done by the running bot (getFile, sendPhoto)."""

    async def fetch(self, file_id: str) -> tuple[bytes, str]:
        """A file's bytes and content type; raises FileUnavailable."""
        ...

    async def upload_photo(self, chat_id: int, data: bytes, filename: str) -> str:
        """Send a photo to a staff member's own chat; its Telegram file id. FileUnavailable."""
        ...


class RunningBot(Protocol):
    """The running bot as a view sees it."""

    @property
    def domain(self) -> Domain: ...

    @property
    def files(self) -> TelegramFiles: ...


# The running bot: request.app[GRIDVOICE].domain is the domain both edges share.
GRIDVOICE: web.AppKey[RunningBot] = web.AppKey("gridvoice")
# Pages, their texts and the reader's language (bot/web/pages.py).
PAGES_KEY: web.AppKey[PageRenderer] = web.AppKey("gridvoice_pages")


async def telegram_file(gv: RunningBot, file_id: str) -> tuple[bytes, str]:
    """A Telegram file's bytes and type, through the running bot (cached after the first)."""
    return await gv.files.fetch(file_id)


async def upload_photo(gv: RunningBot, chat_id: int, data: bytes, filename: str) -> str:
    """Upload a photo through the running bot; the Telegram file id to attach to a case."""
    return await gv.files.upload_photo(chat_id, data, filename)
