"""Control-API views of emulator objects."""

from __future__ import annotations

from typing import Any

from bot.emulator.state import MessageRecord


def message_view(record: MessageRecord) -> dict[str, Any]:
    """The control-API view of a message."""
    msg = record.msg
    photo = msg.get("photo")
    view: dict[str, Any] = {
        "message_id": msg["message_id"],
        "chat_id": msg["chat"]["id"],
        "from_bot": record.from_bot,
        "from": msg["from"]["id"],
        "date": msg["date"],
        "text": msg.get("text"),
        "caption": msg.get("caption"),
        "reply_markup": msg.get("reply_markup"),
        "buttons": [
            b["text"]
            for row in (msg.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row
        ],
        "keyboard": record.keyboard,
        "photo": dict(photo[-1]) if photo else False,
        "document": msg.get("document"),
        "poll": msg.get("poll"),
        "location": msg.get("location"),
        "contact": msg.get("contact"),
        "media_group_id": msg.get("media_group_id"),
        "edited": record.edited,
        "deleted": record.deleted,
        "reply_to_message_id": (msg.get("reply_to_message") or {}).get("message_id"),
    }
    return view
