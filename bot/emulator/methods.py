"""The emulator's Bot API method table and the methods that do not create messages.

``METHODS`` maps the lower-cased method name to a :class:`MethodDef` that names the
parameters the emulator understands (``True`` = required, as in the official spec) and
the coroutine implementing it. tests/emulator/test_conformance.py checks this table
against the official api.json.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.emulator import messaging
from bot.emulator.call import Call
from bot.emulator.validation import ApiError, bad_request

Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class MethodDef:
    """A Bot API method the emulator implements."""

    name: str
    params: dict[str, bool]
    handler: Handler


# -- updates and webhooks -------------------------------------------------------------
def _update_type(update: dict[str, Any]) -> str:
    return next((k for k in update if k != "update_id"), "")


async def get_updates(call: Call) -> Any:
    world = call.world
    if world.webhook.url:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    offset = call.int("offset")
    limit = max(1, min(100, call.int("limit", 100) or 100))
    timeout = max(0, call.int("timeout", 0) or 0)
    allowed = call.json("allowed_updates")
    if isinstance(allowed, list):
        world.webhook.allowed_updates = allowed or None
    if offset is not None:
        if offset < 0:
            keep = world.pending[offset:]
            world.pending = [p for p in world.pending if p in keep or p.forced]
        else:
            world.confirmed_offset = max(world.confirmed_offset, offset)
            world.pending = [
                p
                for p in world.pending
                if p.update["update_id"] >= offset or (p.forced and not p.fetched)
            ]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        _drop_disallowed(call)
        if world.pending or loop.time() >= deadline or world.webhook.url or world.closing:
            break
        await world.wait_changed(deadline - loop.time())
    batch = world.pending[:limit]
    for item in batch:
        item.fetched = True
    world.pending = [p for p in world.pending if not (p.forced and p.fetched)]
    return [p.update for p in batch]


def _drop_disallowed(call: Call) -> None:
    allowed = call.world.webhook.allowed_updates
    if allowed:
        call.world.pending = [
            p for p in call.world.pending if _update_type(p.update) in allowed or p.forced
        ]


async def set_webhook(call: Call) -> Any:
    hook = call.world.webhook
    url = call.str("url") or ""
    hook.url = url
    hook.secret_token = call.str("secret_token") or None
    hook.max_connections = max(1, min(100, call.int("max_connections", 10) or 10))
    allowed = call.json("allowed_updates")
    if isinstance(allowed, list):
        hook.allowed_updates = allowed or None
    if call.bool("drop_pending_updates"):
        call.world.pending.clear()
    call.world.notify()
    return True


async def delete_webhook(call: Call) -> Any:
    call.world.webhook.url = ""
    call.world.webhook.secret_token = None
    if call.bool("drop_pending_updates"):
        call.world.pending.clear()
    call.world.notify()
    return True


async def get_webhook_info(call: Call) -> Any:
    hook = call.world.webhook
    info: dict[str, Any] = {
        "url": hook.url,
        "has_custom_certificate": False,
        "pending_update_count": len(call.world.pending),
    }
    if hook.url:
        info["max_connections"] = hook.max_connections
        if hook.allowed_updates:
            info["allowed_updates"] = hook.allowed_updates
        if hook.last_error_date:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
    return info


# -- misc -----------------------------------------------------------------------------
async def get_me(call: Call) -> Any:
    return dict(call.world.bot)


async def get_chat(call: Call) -> Any:
    chat = dict(call.chat(sending=False))
    chat.update(
        accent_color_id=0,
        max_reaction_count=11,
        accepted_gift_types={
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    )
    return chat


async def get_chat_member(call: Call) -> Any:
    chat = call.chat(sending=False)
    user_id = call.int("user_id")
    if user_id is None or user_id <= 0:
        raise bad_request("invalid user_id specified")
    if chat["type"] == "channel" and call.world.bot["id"] not in call.world.admins.get(
        chat["id"], {}
    ):
        raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
    return call.world.chat_member(chat["id"], user_id)


async def get_chat_administrators(call: Call) -> Any:
    chat = call.chat(sending=False)
    if chat["type"] == "private":
        raise bad_request("there are no administrators in the private chat")
    admins = call.world.admins.get(chat["id"], {})
    if chat["type"] == "channel" and call.world.bot["id"] not in admins:
        raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
    bots = call.bool("return_bots", True)
    found = [call.world.chat_member(chat["id"], uid) for uid in sorted(admins)]
    return [m for m in found if bots or not m["user"].get("is_bot")]


async def get_file(call: Call) -> Any:
    file_id = call.str("file_id") or ""
    stored = call.world.files.get(file_id)
    if stored is None:
        raise bad_request("invalid file_id")
    return {
        "file_id": file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
        "file_path": stored.file_path,
    }


async def send_chat_action(call: Call) -> Any:
    call.chat()
    action = call.str("action")
    valid = {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }  # fmt: skip
    if action not in valid:
        raise bad_request("wrong parameter action in request")
    return True


async def answer_callback_query(call: Call) -> Any:
    query = call.world.callbacks.get(call.str("callback_query_id") or "")
    too_old = "query is too old and response timeout expired or query ID is invalid"
    if query is None or query["answered"] or call.world.now() - query["time"] > 900:
        raise bad_request(too_old)
    text = call.str("text")
    if text is not None and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    query.update(
        answered=True,
        text=text,
        show_alert=call.bool("show_alert"),
        url=call.str("url"),
        answered_at=call.world.now(),
    )
    return True


# The result types whose required fields the emulator checks (others pass on their type alone).
_INLINE_REQUIRED = {
    "article": ("title", "input_message_content"),
    "photo": ("photo_url", "thumbnail_url"),
    "cachedphoto": ("photo_file_id",),
}


async def answer_inline_query(call: Call) -> Any:
    """An inline query's results: at most 50, each with a type and an id unique among them of
    at most 64 bytes, and what its type needs; answered once, within the query's lifetime."""
    query = call.world.inline_queries.get(call.str("inline_query_id") or "")
    too_old = "query is too old and response timeout expired or query ID is invalid"
    if query is None or query["answered"] or call.world.now() - query["time"] > 30:
        raise bad_request(too_old)
    results = call.json("results")
    if not isinstance(results, list):
        raise bad_request("can't parse inline query results")
    if len(results) > 50:
        raise bad_request("RESULTS_TOO_MUCH")
    seen: set[str] = set()
    for result in results:
        if not isinstance(result, dict) or not isinstance(result.get("type"), str):
            raise bad_request("can't parse inline query result")
        rid = result.get("id")
        if not isinstance(rid, str) or not rid or len(rid.encode()) > 64:
            raise bad_request("RESULT_ID_INVALID")
        if rid in seen:
            raise bad_request("RESULT_ID_DUPLICATE")
        seen.add(rid)
        for field in _INLINE_REQUIRED.get(result["type"].lower(), ()):
            if not result.get(field):
                raise bad_request(f"can't parse inline query result: {field} is required")
        content = result.get("input_message_content")
        if content is not None:
            text = content.get("message_text") if isinstance(content, dict) else None
            if not isinstance(text, str) or not 1 <= len(text) <= 4096:
                raise bad_request("MESSAGE_TEXT_INVALID")
        markup = result.get("reply_markup")
        if markup is not None and not (
            isinstance(markup, dict) and isinstance(markup.get("inline_keyboard"), list)
        ):
            raise bad_request("REPLY_MARKUP_INVALID")
    query.update(answered=True, results=results, answered_at=call.world.now())
    return True


def _commands_key(call: Call) -> str:
    scope = call.json("scope") or {"type": "default"}
    return json.dumps([scope, call.str("language_code") or ""], sort_keys=True)


async def set_my_commands(call: Call) -> Any:
    commands = call.json("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for cmd in commands:
        if not isinstance(cmd, dict) or not cmd.get("command") or not cmd.get("description"):
            raise bad_request("BOT_COMMAND_INVALID")
        name = str(cmd["command"])
        if len(name) > 32 or not all(c.islower() or c.isdigit() or c == "_" for c in name):
            raise bad_request("BOT_COMMAND_INVALID")
        if len(str(cmd["description"])) > 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    call.world.commands[_commands_key(call)] = [
        {"command": c["command"], "description": c["description"]} for c in commands
    ]
    return True


async def get_my_commands(call: Call) -> Any:
    return call.world.commands.get(_commands_key(call), [])


def _menu_key(call: Call) -> str:
    chat_id = call.int("chat_id")
    if chat_id is None:
        return "default"
    chat = call.chat(sending=False)
    if chat.get("type") != "private":
        raise bad_request("chat_id must be a private chat")
    return str(chat_id)


def _check_menu_button(button: Any) -> dict[str, Any]:
    """A MenuButton as Telegram accepts it: commands, default, or web_app with an HTTPS url."""
    if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
        raise bad_request("can't parse menu button JSON object")
    if button["type"] != "web_app":
        return {"type": button["type"]}
    text = button.get("text")
    web_app = button.get("web_app")
    if not isinstance(text, str) or not text.strip() or len(text) > 64:
        raise bad_request("BUTTON_TEXT_INVALID")
    url = web_app.get("url") if isinstance(web_app, dict) else None
    if not isinstance(url, str) or not url.startswith("https://"):
        raise bad_request("BUTTON_URL_INVALID")
    return {"type": "web_app", "text": text, "web_app": {"url": url}}


async def set_chat_menu_button(call: Call) -> Any:
    button = call.json("menu_button") if call.has("menu_button") else {"type": "default"}
    call.world.menu_buttons[_menu_key(call)] = _check_menu_button(button)
    return True


async def get_chat_menu_button(call: Call) -> Any:
    buttons = call.world.menu_buttons
    return buttons.get(_menu_key(call)) or buttons.get("default") or {"type": "commands"}


# -- the table ------------------------------------------------------------------------
_SEND_COMMON = {
    "message_thread_id": False,
    "disable_notification": False,
    "protect_content": False,
    "allow_paid_broadcast": False,
    "reply_parameters": False,
}
_MARKUP = {"reply_markup": False}
_EDIT_TARGET = {"chat_id": False, "message_id": False, "inline_message_id": False}

_TABLE = [
    MethodDef("getMe", {}, get_me),
    MethodDef(
        "getUpdates",
        {"offset": False, "limit": False, "timeout": False, "allowed_updates": False},
        get_updates,
    ),
    MethodDef(
        "setWebhook",
        {
            "url": True,
            "certificate": False,
            "ip_address": False,
            "max_connections": False,
            "allowed_updates": False,
            "drop_pending_updates": False,
            "secret_token": False,
        },
        set_webhook,
    ),
    MethodDef("deleteWebhook", {"drop_pending_updates": False}, delete_webhook),
    MethodDef("getWebhookInfo", {}, get_webhook_info),
    MethodDef(
        "sendMessage",
        {
            "chat_id": True,
            "text": True,
            "parse_mode": False,
            "entities": False,
            "link_preview_options": False,
            **_SEND_COMMON,
            **_MARKUP,
        },
        messaging.send_message,
    ),
    MethodDef(
        "editMessageText",
        {
            **_EDIT_TARGET,
            "text": False,
            "parse_mode": False,
            "entities": False,
            "link_preview_options": False,
            **_MARKUP,
        },
        messaging.edit_message_text,
    ),
    MethodDef(
        "editMessageReplyMarkup", {**_EDIT_TARGET, **_MARKUP}, messaging.edit_message_reply_markup
    ),
    MethodDef("deleteMessage", {"chat_id": True, "message_id": True}, messaging.delete_message),
    MethodDef(
        "answerCallbackQuery",
        {
            "callback_query_id": True,
            "text": False,
            "show_alert": False,
            "url": False,
            "cache_time": False,
        },
        answer_callback_query,
    ),
    MethodDef(
        "sendPhoto",
        {
            "chat_id": True,
            "photo": True,
            "caption": False,
            "parse_mode": False,
            "caption_entities": False,
            "has_spoiler": False,
            **_SEND_COMMON,
            **_MARKUP,
        },
        messaging.send_photo,
    ),
    MethodDef(
        "sendMediaGroup",
        {"chat_id": True, "media": True, **_SEND_COMMON},
        messaging.send_media_group,
    ),
    MethodDef("getFile", {"file_id": True}, get_file),
    MethodDef(
        "sendLocation",
        {
            "chat_id": True,
            "latitude": True,
            "longitude": True,
            "horizontal_accuracy": False,
            "live_period": False,
            "heading": False,
            "proximity_alert_radius": False,
            **_SEND_COMMON,
            **_MARKUP,
        },
        messaging.send_location,
    ),
    MethodDef(
        "sendPoll",
        {
            "chat_id": True,
            "question": True,
            "options": True,
            "is_anonymous": False,
            "type": False,
            "allows_multiple_answers": False,
            "correct_option_ids": False,
            "explanation": False,
            "explanation_parse_mode": False,
            "open_period": False,
            "close_date": False,
            "is_closed": False,
            **_SEND_COMMON,
            **_MARKUP,
        },
        messaging.send_poll,
    ),
    MethodDef("stopPoll", {"chat_id": True, "message_id": True, **_MARKUP}, messaging.stop_poll),
    MethodDef(
        "copyMessage",
        {
            "chat_id": True,
            "from_chat_id": True,
            "message_id": True,
            "caption": False,
            "parse_mode": False,
            "caption_entities": False,
            **_SEND_COMMON,
            **_MARKUP,
        },
        messaging.copy_message,
    ),
    MethodDef(
        "sendChatAction",
        {"chat_id": True, "message_thread_id": False, "action": True},
        send_chat_action,
    ),
    MethodDef(
        "setMyCommands",
        {"commands": True, "scope": False, "language_code": False},
        set_my_commands,
    ),
    MethodDef("getMyCommands", {"scope": False, "language_code": False}, get_my_commands),
    MethodDef("setChatMenuButton", {"chat_id": False, "menu_button": False}, set_chat_menu_button),
    MethodDef("getChatMenuButton", {"chat_id": False}, get_chat_menu_button),
    MethodDef("getChat", {"chat_id": True}, get_chat),
    MethodDef("getChatMember", {"chat_id": True, "user_id": True}, get_chat_member),
    MethodDef(
        "getChatAdministrators",
        {"chat_id": True, "return_bots": False},
        get_chat_administrators,
    ),
    MethodDef(
        "answerInlineQuery",
        {
            "inline_query_id": True,
            "results": True,
            "cache_time": False,
            "is_personal": False,
            "next_offset": False,
            "button": False,
        },
        answer_inline_query,
    ),
    MethodDef(
        "sendDocument",
        {
            "chat_id": True,
            "document": True,
            "thumbnail": False,
            "caption": False,
            "parse_mode": False,
            "caption_entities": False,
            "disable_content_type_detection": False,
            **_SEND_COMMON,
            **_MARKUP,
        },
        messaging.send_document,
    ),
]

METHODS: dict[str, MethodDef] = {m.name.lower(): m for m in _TABLE}

# Telegram's wording for a few missing required parameters.
MISSING_WORDING = {
    "chat_id": "chat_id is empty",
    "text": "message text is empty",
    "photo": "there is no photo in the request",
    "document": "there is no document in the request",
    "callback_query_id": "query is too old and response timeout expired or query ID is invalid",
}


def missing_parameter(name: str) -> ApiError:
    """The 400 answer for a missing required parameter."""
    return bad_request(MISSING_WORDING.get(name, f"parameter {name} is required"))
