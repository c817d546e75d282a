"""What a person's message carries: its words, the place it names, the image it holds.

Every component reads messages the same way (a report draft, an address, an answer to staff),
so these readers live beside `Ctx`, not in one component's module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.bounds import clean_text
from bot.services.shared.outbox import as_document

if TYPE_CHECKING:
    from telegram import Message

    from handlers.context import Ctx

#: Image files Telegram shows as photos; sent as a file ("document"), they count as photos.
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


def message_text(ctx: Ctx) -> tuple[str, bool]:
    """The message's words (text or caption) as they may be stored (`bounds.clean_text`: no
    control or bidirectional-control characters), cut to the limit, and whether they were cut."""
    message = ctx.message
    text = clean_text((message.text or message.caption or "") if message else "").strip()
    limit = ctx.uow.settings.max_text_length
    return text[:limit], len(text) > limit


def message_point(message: Message) -> tuple[float, float] | None:
    """The point a message names: a location pin, or a venue (a named place on the map)."""
    location = message.location or (message.venue.location if message.venue else None)
    if location is None:
        return None
    return location.latitude, location.longitude


def venue_name(message: Message) -> str | None:
    """A venue's title and address, as the place's words (None for a plain pin)."""
    venue = message.venue
    if venue is None:
        return None
    words = ", ".join(p.strip() for p in (venue.title, venue.address) if p and p.strip())
    return words[:256] or None


def message_image(message: Message) -> tuple[str, int | None] | None:
    """The photo a message carries (its photo id and size): a photo, or an image sent as a
    file — kept as a document's id (`outbox.as_document`), which Telegram sends back only as a
    document."""
    if message.photo:
        photo = message.photo[-1]
        return photo.file_id, photo.file_size
    document = message.document
    if document is not None and (document.mime_type or "").lower() in IMAGE_TYPES:
        return as_document(document.file_id), document.file_size
    return None
