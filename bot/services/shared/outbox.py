"""Writing messages to the outbox, inside the caller's transaction.

Nothing here talks to Telegram: rows are rendered Bot API calls that the sender
(`bot.delivery.sender`) delivers after the transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import wall_now
from bot.render import Renderer, split_text
from bot.store.db import QUEUED


@dataclass(frozen=True)
class Button:
    """An inline button: a label key (rendered per language) or a literal text, and its data."""

    data: str
    key: str | None = None
    text: str | None = None
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, key: str, data: str, **params: Any) -> Button:
        return cls(data=data, key=key, params=tuple(sorted(params.items())))

    @classmethod
    def literal(cls, text: str, data: str) -> Button:
        return cls(data=data, text=text)


Keyboard = list[list[Button]]

#: How a photo that came as an image file (a Telegram "document") is kept among a case's photo
#: ids: Telegram sends it back only as a document, never with sendPhoto.
DOCUMENT_PREFIX = "doc:"


def as_document(file_id: str) -> str:
    """The photo id of an image that was sent as a file."""
    return DOCUMENT_PREFIX + file_id


def is_document(photo_id: str) -> bool:
    return photo_id.startswith(DOCUMENT_PREFIX)


def document_file_id(photo_id: str) -> str:
    """Telegram's file id behind a photo id (the same id for a photo)."""
    return photo_id[len(DOCUMENT_PREFIX) :] if is_document(photo_id) else photo_id


class Outbox:
    """Collects outgoing messages for one transaction.

    The rows are written together, in the order they were queued: in one statement when the
    transaction commits, or earlier when a statement reads or changes the outbox meanwhile
    (see `bot.store.db.write_queued_outbox`)."""

    def __init__(self, session: AsyncSession, renderer: Renderer, now: datetime) -> None:
        self.session = session
        self.renderer = renderer
        self.now = now
        self.written = 0
        self.rows: list[dict[str, Any]] = session.info.setdefault(QUEUED, [])

    def markup(self, lang: str, keyboard: Keyboard | None) -> dict[str, Any] | None:
        if not keyboard:
            return None
        rows = []
        for row in keyboard:
            rows.append(
                [
                    {
                        "text": b.text
                        if b.text is not None
                        else self.renderer.label(lang, b.key or "", **dict(b.params)),
                        "callback_data": b.data,
                    }
                    for b in row
                ]
            )
        return {"inline_keyboard": rows}

    def _add(self, chat_id: int, method: str, payload: dict[str, Any], **fields: Any) -> None:
        self.rows.append(
            {
                "created_at": self.now,
                "chat_id": chat_id,
                "method": method,
                "payload": payload,
                "next_attempt_at": wall_now(),
                "status": "pending",
                "attempts": 0,
                "ref": fields.get("ref"),
                "edit_ref": fields.get("edit_ref"),
                "case_id": fields.get("case_id"),
                "campaign": fields.get("campaign"),
            }
        )
        self.written += 1

    def send(
        self,
        chat_id: int,
        lang: str,
        template: str,
        *,
        keyboard: Keyboard | None = None,
        ref: str | None = None,
        case_id: int | None = None,
        campaign: str | None = None,
        reply_to_ref: str | None = None,
        **data: Any,
    ) -> None:
        """Render `template` in `lang` and queue it; long texts become several messages."""
        text = self.renderer.render(lang, template, **data)
        self.send_text(
            chat_id,
            text,
            markup=self.markup(lang, keyboard),
            ref=ref,
            case_id=case_id,
            campaign=campaign,
            reply_to_ref=reply_to_ref,
        )

    def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        markup: dict[str, Any] | None = None,
        ref: str | None = None,
        case_id: int | None = None,
        campaign: str | None = None,
        reply_to_ref: str | None = None,
    ) -> None:
        parts = split_text(text)
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            payload: dict[str, Any] = {"chat_id": chat_id, "text": part, "parse_mode": "HTML"}
            if last and markup:
                payload["reply_markup"] = markup
            if reply_to_ref and i == 0:
                payload["reply_to_ref"] = reply_to_ref
            self._add(
                chat_id,
                "sendMessage",
                payload,
                ref=ref if last else None,
                case_id=case_id,
                campaign=campaign,
            )

    def edit(
        self,
        ref: str,
        chat_id: int,
        lang: str,
        template: str,
        *,
        keyboard: Keyboard | None = None,
        case_id: int | None = None,
        **data: Any,
    ) -> None:
        """Edit the remembered message `ref` in place (sent anew if it was never delivered)."""
        text = split_text(self.renderer.render(lang, template, **data))[0]
        payload: dict[str, Any] = {"chat_id": chat_id, "text": text, "parse_mode": "HTML"}
        markup = self.markup(lang, keyboard)
        payload["reply_markup"] = markup or {"inline_keyboard": []}
        self._add(chat_id, "editMessageText", payload, edit_ref=ref, ref=ref, case_id=case_id)

    def edit_markup(
        self,
        chat_id: int,
        message_id: int,
        lang: str = "en",
        keyboard: Keyboard | None = None,
    ) -> None:
        """Replace (or, with no keyboard, remove) the buttons of a message known by its id."""
        payload: dict[str, Any] = {
            "chat_id": chat_id,
            "message_id": message_id,
            "reply_markup": self.markup(lang, keyboard) or {"inline_keyboard": []},
        }
        self._add(chat_id, "editMessageReplyMarkup", payload)

    def photos(
        self,
        chat_id: int,
        file_ids: list[str],
        *,
        caption: str | None = None,
        case_id: int | None = None,
        campaign: str | None = None,
    ) -> None:
        """Send a case's photos: pictures as photos, images sent to us as files as documents.

        Telegram refuses a document's file id in sendPhoto ("type of file mismatch") and an
        album may not mix the two, so each kind goes in its own messages, photos first; the
        caption goes with the first message."""
        if not file_ids:
            return
        pictures = [f for f in file_ids if not is_document(f)]
        documents = [document_file_id(f) for f in file_ids if is_document(f)]
        for kind, ids in (("photo", pictures), ("document", documents)):
            for start in range(0, len(ids), 10):
                chunk = ids[start : start + 10]
                media: list[dict[str, Any]] = [{"type": kind, "media": f} for f in chunk]
                if caption:
                    media[0]["caption"] = caption[:1024]
                    media[0]["parse_mode"] = "HTML"
                    caption = None
                if len(chunk) == 1:
                    single = {k: v for k, v in media[0].items() if k not in ("type", "media")}
                    method = "sendPhoto" if kind == "photo" else "sendDocument"
                    self._add(
                        chat_id,
                        method,
                        {"chat_id": chat_id, kind: chunk[0], **single},
                        case_id=case_id,
                        campaign=campaign,
                    )
                else:
                    self._add(
                        chat_id,
                        "sendMediaGroup",
                        {"chat_id": chat_id, "media": media},
                        case_id=case_id,
                        campaign=campaign,
                    )

    def upload(
        self,
        chat_id: int,
        method: str,
        field: str,
        data: bytes,
        filename: str,
        *,
        caption: str | None = None,
        campaign: str | None = None,
    ) -> None:
        """Queue a file given as bytes (sendPhoto/sendDocument); the sender uploads it."""
        import base64

        payload: dict[str, Any] = {
            "chat_id": chat_id,
            "upload": {
                "field": field,
                "b64": base64.b64encode(data).decode(),
                "filename": filename,
            },
        }
        if caption:
            payload["caption"] = caption[:1024]
            payload["parse_mode"] = "HTML"
        self._add(chat_id, method, payload, campaign=campaign)

    def menu_button(self, chat_id: int, text: str, web_app_url: str) -> None:
        """A private chat's menu button that opens a Web App (the staff desk)."""
        button = {"type": "web_app", "text": text[:64], "web_app": {"url": web_app_url}}
        self._add(chat_id, "setChatMenuButton", {"chat_id": chat_id, "menu_button": button})

    def answer_callback(
        self,
        callback_query_id: str,
        lang: str,
        key: str | None = None,
        alert: bool = False,
        **data: Any,
    ) -> None:
        payload: dict[str, Any] = {"callback_query_id": callback_query_id}
        if key:
            payload["text"] = self.renderer.label(lang, key, **data)[:200]
            payload["show_alert"] = alert
        self._add(0, "answerCallbackQuery", payload)

    def answer_inline(self, inline_query_id: str, results: list[dict[str, Any]]) -> None:
        """Answer an inline query with ready result objects (personal: never cached for others)."""
        payload: dict[str, Any] = {
            "inline_query_id": inline_query_id,
            "results": results[:50],
            "cache_time": 0,
            "is_personal": True,
        }
        self._add(0, "answerInlineQuery", payload)
