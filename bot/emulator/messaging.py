"""Bot API methods that create, change or remove messages."""

from __future__ import annotations

import json
from typing import Any

from bot.emulator.call import Call, photo_sizes
from bot.emulator.flood import FloodWait
from bot.emulator.state import MessageRecord
from bot.emulator.validation import (
    ApiError,
    bad_request,
    check_caption,
    check_reply_markup,
    check_text,
)


def _bot_user(call: Call) -> dict[str, Any]:
    bot = call.world.bot
    return {k: bot[k] for k in ("id", "is_bot", "first_name", "username")}


def _reply_to(call: Call, chat_id: int) -> dict[str, Any] | None:
    params = call.json("reply_parameters")
    mid = params.get("message_id") if isinstance(params, dict) else None
    if mid is None:
        mid = call.int("reply_to_message_id")
    if mid is None:
        return None
    record = call.world.get_message(chat_id, int(mid))
    if record is None:
        if isinstance(params, dict) and params.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")
    return {k: v for k, v in record.msg.items() if k != "reply_to_message"}


def _flood(call: Call, chat: dict[str, Any], count: int = 1) -> None:
    try:
        paid = call.bool("allow_paid_broadcast")
        call.flood.check(chat["id"], chat["type"], call.world.now(), count, paid)
    except FloodWait as wait:
        call.flood.rejected_429 += 1
        raise ApiError(
            429,
            f"Too Many Requests: retry after {wait.retry_after}",
            {"retry_after": wait.retry_after},
        ) from None


def _send(
    call: Call, chat: dict[str, Any], content: dict[str, Any], source: str | None = None
) -> MessageRecord:
    """Common tail of every sending method: reply, markup, flood, store."""
    content = dict(content)
    content["reply_to_message"] = _reply_to(call, chat["id"])
    markup = check_reply_markup(call.json("reply_markup"))
    if markup is not None and "inline_keyboard" in markup:
        content["reply_markup"] = markup
    _flood(call, chat)
    paid = call.bool("allow_paid_broadcast")
    call.flood.record(chat["id"], chat["type"], call.world.now(), paid=paid)
    record = call.world.add_message(chat["id"], _bot_user(call), True, content)
    record.source = source
    if markup is not None and "inline_keyboard" not in markup:
        record.keyboard = markup
    return record


async def send_message(call: Call) -> Any:
    chat = call.chat()
    if not call.has("text"):
        raise bad_request("message text is empty")
    text = call.str("text") or ""
    plain = check_text(text, call.str("parse_mode"))
    return _send(call, chat, {"text": plain}, source=text).msg


async def send_photo(call: Call) -> Any:
    chat = call.chat()
    caption = check_caption(call.str("caption"), call.str("parse_mode"))
    stored, _ = call.file("photo", "photo", "jpg")
    content = {"photo": photo_sizes(call.world, stored), "caption": caption}
    return _send(call, chat, content, source=call.str("caption")).msg


async def send_document(call: Call) -> Any:
    chat = call.chat()
    caption = check_caption(call.str("caption"), call.str("parse_mode"))
    stored, upload = call.file("document", "document", "bin")
    document = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
        "file_name": upload.filename if upload else stored.file_path.rsplit("/", 1)[-1],
        "mime_type": upload.content_type if upload else "application/octet-stream",
    }
    content = {"document": document, "caption": caption}
    return _send(call, chat, content, source=call.str("caption")).msg


async def send_location(call: Call) -> Any:
    chat = call.chat()
    lat, lon = call.float("latitude"), call.float("longitude")
    if not -90 <= lat <= 90 or not -180 <= lon <= 180:
        raise bad_request("wrong latitude or longitude")
    return _send(call, chat, {"location": {"latitude": lat, "longitude": lon}}).msg


async def send_media_group(call: Call) -> Any:
    chat = call.chat()
    media = call.json("media")
    if not isinstance(media, list) or not 2 <= len(media) <= 10:
        raise bad_request("media group must contain 2-10 items")
    _reply_to(call, chat["id"])
    group_id = str(10**12 + call.world.new_id())
    prepared = []
    for item in media:
        if not isinstance(item, dict) or item.get("type") not in ("photo", "document"):
            raise bad_request("unsupported media type in the media group")
        caption = check_caption(item.get("caption"), item.get("parse_mode"))
        value = item.get("media")
        upload = None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = call.uploads.get(value[len("attach://") :])
            if upload is None:
                raise bad_request(f"file for {value} not found in the request")
        ext = "jpg" if item["type"] == "photo" else "bin"
        stored, _ = call.resolve_media(value, upload, item["type"], ext, "media")
        if item["type"] == "photo":
            body: Any = photo_sizes(call.world, stored)
        else:
            body = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        prepared.append({item["type"]: body, "caption": caption, "media_group_id": group_id})
    _flood(call, chat, len(prepared))
    results = []
    reply = _reply_to(call, chat["id"])
    for content in prepared:
        call.flood.record(
            chat["id"], chat["type"], call.world.now(), paid=call.bool("allow_paid_broadcast")
        )
        content["reply_to_message"] = reply
        record = call.world.add_message(chat["id"], _bot_user(call), True, content)
        results.append(record.msg)
    return results


async def send_poll(call: Call) -> Any:
    chat = call.chat()
    question = call.str("question")
    if not question:
        raise bad_request("poll question must be non-empty")
    options = call.json("options")
    if not isinstance(options, list) or len(options) < 2:
        raise bad_request("poll must have at least 2 option")
    if len(options) > 12:
        raise bad_request("poll can't have more than 12 options")
    texts = [o.get("text") if isinstance(o, dict) else o for o in options]
    if any(not isinstance(t, str) or not t for t in texts):
        raise bad_request("poll options must be non-empty")
    poll_id = str(5 * 10**18 + call.world.new_id())
    poll = {
        "id": poll_id,
        "question": question,
        "options": [
            {"persistent_id": str(i), "text": t, "voter_count": 0} for i, t in enumerate(texts)
        ],
        "total_voter_count": 0,
        "is_closed": call.bool("is_closed"),
        "is_anonymous": call.bool("is_anonymous", True),
        "type": call.str("type", "regular"),
        "allows_multiple_answers": call.bool("allows_multiple_answers"),
        "allows_revoting": True,
        "members_only": False,
    }
    record = _send(call, chat, {"poll": poll})
    call.world.polls[poll_id] = poll
    call.world.poll_messages[poll_id] = (chat["id"], record.msg["message_id"])
    return record.msg


async def stop_poll(call: Call) -> Any:
    chat = call.chat(sending=False)
    record = call.world.get_message(chat["id"], call.int("message_id") or 0)
    if record is None or "poll" not in record.msg:
        raise bad_request("message with poll to stop not found")
    poll = record.msg["poll"]
    if poll["is_closed"]:
        raise bad_request("poll has already been closed")
    poll["is_closed"] = True
    markup = check_reply_markup(call.json("reply_markup"))
    if markup is not None:
        record.msg["reply_markup"] = markup
    return poll


async def copy_message(call: Call) -> Any:
    chat = call.chat()
    source_chat = call.chat("from_chat_id", sending=False)
    source = call.world.get_message(source_chat["id"], call.int("message_id") or 0)
    if source is None:
        raise bad_request("message to copy not found")
    keys = ("text", "photo", "document", "location", "poll", "caption", "contact", "sticker")
    content = {k: source.msg[k] for k in keys if k in source.msg}
    if call.has("caption"):
        if "text" in content or "location" in content:
            raise bad_request("can't add caption to this message")
        content["caption"] = check_caption(call.str("caption"), call.str("parse_mode"))
    record = _send(call, chat, content, source=source.source)
    return {"message_id": record.msg["message_id"]}


def _message_to_edit(call: Call) -> MessageRecord:
    if call.has("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    chat = call.chat(sending=False)
    if not call.has("message_id"):
        raise bad_request("message identifier is not specified")
    record = call.world.get_message(chat["id"], call.int("message_id") or 0)
    if record is None:
        raise bad_request("message to edit not found")
    if not record.from_bot:
        raise bad_request("message can't be edited")
    return record


def _same_markup(a: Any, b: Any) -> bool:
    return json.dumps(a or None, sort_keys=True) == json.dumps(b or None, sort_keys=True)


_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


async def edit_message_text(call: Call) -> Any:
    record = _message_to_edit(call)
    if "text" not in record.msg:
        raise bad_request("there is no text in the message to edit")
    text = call.str("text")
    plain = check_text(text, call.str("parse_mode"))
    markup = check_reply_markup(call.json("reply_markup"))
    if (
        plain == record.msg["text"]
        and text == (record.source or record.msg["text"])
        and _same_markup(markup, record.msg.get("reply_markup"))
    ):
        raise bad_request(_NOT_MODIFIED)
    record.msg["text"] = plain
    record.source = text
    _apply_markup(record, markup)
    return _edited(call, record)


async def edit_message_reply_markup(call: Call) -> Any:
    record = _message_to_edit(call)
    markup = check_reply_markup(call.json("reply_markup"))
    if _same_markup(markup, record.msg.get("reply_markup")):
        raise bad_request(_NOT_MODIFIED)
    _apply_markup(record, markup)
    return _edited(call, record)


def _apply_markup(record: MessageRecord, markup: dict[str, Any] | None) -> None:
    if markup and markup.get("inline_keyboard"):
        record.msg["reply_markup"] = markup
    else:
        record.msg.pop("reply_markup", None)


def _edited(call: Call, record: MessageRecord) -> dict[str, Any]:
    record.edited = True
    record.msg["edit_date"] = call.world.unix()
    return record.msg


async def delete_message(call: Call) -> Any:
    chat = call.chat(sending=False)
    record = call.world.get_message(chat["id"], call.int("message_id") or 0)
    if record is None:
        raise bad_request("message to delete not found")
    record.deleted = True
    return True
