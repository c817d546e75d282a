"""The emulator's in-memory world: users, chats, messages, files, callbacks and updates."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_BOT_ID = 7000000001
BOT_USERNAME = "gridvoice_sim_bot"


@dataclass
class StoredFile:
    """An uploaded or user-sent file kept in memory."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    kind: str = "photo"  # what it was sent as: photo, document, sticker, voice…


@dataclass
class MessageRecord:
    """A message as Telegram would return it, plus emulator bookkeeping."""

    msg: dict[str, Any]
    from_bot: bool
    edited: bool = False
    deleted: bool = False
    source: str | None = None  # text/caption as sent, before parse_mode rendering
    keyboard: dict[str, Any] | None = None  # a reply keyboard (not part of the message)


@dataclass
class PendingUpdate:
    """An update waiting to be fetched by getUpdates or delivered to the webhook."""

    update: dict[str, Any]
    fetched: bool = False
    forced: bool = False  # re-delivered: returned once regardless of offset
    attempts: int = 0
    next_try: float = 0.0
    in_flight: bool = False


@dataclass
class WebhookConfig:
    """setWebhook settings plus the load-balancer targets set through /sim/webhook."""

    url: str = ""
    secret_token: str | None = None
    max_connections: int = 10
    allowed_updates: list[str] | None = None
    targets: list[str] = field(default_factory=list)
    last_error_date: int | None = None
    last_error_message: str | None = None
    rr: int = 0


class World:
    """Everything the emulator knows. One instance per application."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._base_clock: Callable[[], float] = clock or time.time
        self.clock_offset = 0.0
        self.closing = False  # the server is stopping: long polls answer now
        self.reset()

    def reset(self) -> None:
        self.bot: dict[str, Any] = {
            "id": DEFAULT_BOT_ID,
            "is_bot": True,
            "first_name": "GridVoice (sim)",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
        }
        self.users: dict[int, dict[str, Any]] = {}
        self.blocked: set[int] = set()
        self.chats: dict[int, dict[str, Any]] = {}
        self.members: dict[int, list[int]] = {}
        # Administrators of a chat (a channel's: who may post): chat id -> user id -> rights.
        self.admins: dict[int, dict[int, dict[str, Any]]] = {}
        self.messages: dict[int, dict[int, MessageRecord]] = {}
        self.next_message_id: dict[int, int] = {}
        self.pending: list[PendingUpdate] = []
        self.history: dict[int, dict[str, Any]] = {}
        self.next_update_id = 1
        self.confirmed_offset = 0
        self.callbacks: dict[str, dict[str, Any]] = {}
        # inline queries by id: what was asked and how the bot answered (answerInlineQuery)
        self.inline_queries: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, dict[str, Any]] = {}
        self.poll_messages: dict[str, tuple[int, int]] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.calls: list[dict[str, Any]] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.menu_buttons: dict[str, dict[str, Any]] = {}  # chat id (or "default") -> MenuButton
        self.webhook = WebhookConfig()
        self.webhook_deliveries: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        old = getattr(self, "_changed", None)
        self._changed = asyncio.Event()
        if old is not None:
            old.set()

    # -- time ------------------------------------------------------------------
    def now(self) -> float:
        return self._base_clock() + self.clock_offset

    def unix(self) -> int:
        return int(self.now())

    def set_now(self, now: float) -> None:
        self.clock_offset = now - self._base_clock()

    # -- identities ------------------------------------------------------------
    def bot_from_token(self, token: str) -> None:
        prefix = token.split(":", 1)[0]
        if prefix.isdigit() and int(prefix) > 0 and int(prefix) != self.bot["id"]:
            old, self.bot["id"] = self.bot["id"], int(prefix)
            for admins in self.admins.values():  # a channel made before the bot's first call
                if old in admins:
                    admins[self.bot["id"]] = admins.pop(old)

    def add_user(self, user: dict[str, Any]) -> dict[str, Any]:
        uid = int(user["id"])
        record = {"id": uid, "is_bot": False, "first_name": str(user.get("first_name") or "User")}
        for key in ("last_name", "username", "language_code"):
            if user.get(key):
                record[key] = user[key]
        self.users[uid] = record
        if uid not in self.chats:
            chat = {"id": uid, "type": "private", "first_name": record["first_name"]}
            for key in ("last_name", "username"):
                if key in record:
                    chat[key] = record[key]
            self.chats[uid] = chat
            self.members[uid] = [uid]
        return record

    def add_chat(self, chat: dict[str, Any]) -> dict[str, Any]:
        cid = int(chat["id"])
        record = {"id": cid, "type": chat.get("type", "group"), "title": chat.get("title", "Group")}
        if chat.get("username"):
            record["username"] = chat["username"]
        self.chats[cid] = record
        self.members[cid] = [int(m) for m in chat.get("members", [])]
        if record["type"] == "channel" and chat.get("bot_admin"):
            self.set_admin(cid, self.bot["id"], bool(chat.get("can_post_messages", True)))
        return record

    def set_admin(self, chat_id: int, user_id: int, can_post: bool | None) -> None:
        """Make `user_id` an administrator of the chat (None: no longer one)."""
        admins = self.admins.setdefault(chat_id, {})
        if can_post is None:
            admins.pop(user_id, None)
        else:
            admins[user_id] = {"can_post_messages": can_post}

    def chat_member(self, chat_id: int, user_id: int) -> dict[str, Any]:
        """A ChatMember as getChatMember answers it."""
        user = self.bot if user_id == self.bot["id"] else self.users.get(user_id)
        person = (
            {k: user[k] for k in ("id", "is_bot", "first_name") if k in user}
            if user
            else {
                "id": user_id,
                "is_bot": False,
                "first_name": "User",
            }
        )
        rights = self.admins.get(chat_id, {}).get(user_id)
        if rights is not None:
            return {
                "status": "administrator",
                "user": person,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": False,
                "can_manage_video_chats": False,
                "can_restrict_members": False,
                "can_promote_members": False,
                "can_change_info": False,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_post_messages": bool(rights.get("can_post_messages")),
                "can_edit_messages": False,
            }
        if user_id in self.members.get(chat_id, []):
            return {"status": "member", "user": person}
        return {"status": "left", "user": person}

    def resolve_chat(self, chat_id: Any) -> dict[str, Any] | None:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            name = chat_id[1:].lower()
            return next(
                (c for c in self.chats.values() if str(c.get("username", "")).lower() == name),
                None,
            )
        try:
            return self.chats.get(int(chat_id))
        except (TypeError, ValueError):
            return None

    # -- messages --------------------------------------------------------------
    def add_message(
        self, chat_id: int, sender: dict[str, Any], from_bot: bool, content: dict[str, Any]
    ) -> MessageRecord:
        mid = self.next_message_id.get(chat_id, 1)
        self.next_message_id[chat_id] = mid + 1
        msg: dict[str, Any] = {
            "message_id": mid,
            "from": dict(sender),
            "chat": dict(self.chats[chat_id]),
            "date": self.unix(),
        }
        msg.update({k: v for k, v in content.items() if v is not None})
        record = MessageRecord(msg=msg, from_bot=from_bot)
        self.messages.setdefault(chat_id, {})[mid] = record
        return record

    def get_message(self, chat_id: int, message_id: int) -> MessageRecord | None:
        record = self.messages.get(chat_id, {}).get(message_id)
        if record is None or record.deleted:
            return None
        return record

    # -- files -----------------------------------------------------------------
    def store_file(self, data: bytes, kind: str, ext: str) -> StoredFile:
        n = next(self._ids)
        digest = hashlib.sha1(data + str(n).encode()).hexdigest()
        stored = StoredFile(
            file_id=f"sim-{kind}-{n}-{digest[:16]}",
            file_unique_id=f"u{digest[:12]}",
            file_path=f"{kind}s/file_{n}.{ext}",
            data=data,
            kind=kind,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def new_id(self) -> int:
        return next(self._ids)

    # -- updates ---------------------------------------------------------------
    def enqueue(self, update: dict[str, Any], *, forced: bool = False) -> dict[str, Any]:
        if "update_id" not in update:
            update = {"update_id": self.next_update_id, **update}
        self.next_update_id = max(self.next_update_id, int(update["update_id"]) + 1)
        self.history[int(update["update_id"])] = update
        self.pending.append(PendingUpdate(update=update, forced=forced))
        self.notify()
        return update

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_changed(self, seconds: float) -> None:
        event = self._changed
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # comes as the event is set, and a stopping server would wait for that task forever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, seconds)):
                await event.wait()

    def unfetched_count(self) -> int:
        return sum(1 for p in self.pending if not p.fetched)
