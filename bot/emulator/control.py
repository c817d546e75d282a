"""The /sim control API: the people (and programs) playing Telegram users drive it."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aiohttp import web

from bot.emulator.call import photo_sizes
from bot.emulator.flood import FloodControl
from bot.emulator.state import MessageRecord, World
from bot.emulator.views import message_view


class ControlError(Exception):
    """An error answer of the control API."""

    def __init__(self, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.description = description
        self.status = status


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _int(body: dict[str, Any], key: str, default: Any = ...) -> int:
    value = body.get(key, default)
    if value is ... or value is None:
        raise ControlError(f"{key} is required")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ControlError(f"{key} must be an integer") from None


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise ControlError("file data must be base64") from None


class Control:
    """Handlers of the control API bound to one world."""

    def __init__(self, world: World, flood: FloodControl) -> None:
        self.world = world
        self.flood = flood

    # -- helpers ------------------------------------------------------------------
    def _user(self, uid: int) -> dict[str, Any]:
        user = self.world.users.get(uid)
        if user is None:
            user = self.world.add_user({"id": uid, "first_name": f"User {uid}"})
        return user

    def _chat(self, body: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        cid = body.get("chat")
        if cid is None:
            return self.world.chats[user["id"]]
        chat = self.world.resolve_chat(cid)
        if chat is None:
            raise ControlError("chat not found", 404)
        members = self.world.members.setdefault(chat["id"], [])
        if user["id"] not in members:
            members.append(user["id"])
        return chat

    def _photo(self, data: bytes) -> list[dict[str, Any]]:
        return photo_sizes(self.world, self.world.store_file(data, "photo", "jpg"))

    def _content(self, body: dict[str, Any]) -> dict[str, Any]:
        w = self.world
        if "text" in body:
            text = str(body["text"])
            content: dict[str, Any] = {"text": text}
            if text.startswith("/"):
                length = len(text.split()[0]) if text.split() else 1
                content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
            return content
        if "photo" in body:
            return {"photo": self._photo(_b64(body["photo"])), "caption": body.get("caption")}
        if "location" in body:
            loc = body["location"]
            return {
                "location": {
                    "latitude": float(loc["latitude"]),
                    "longitude": float(loc["longitude"]),
                }
            }
        if "contact" in body:
            contact = dict(body["contact"])
            contact.setdefault("phone_number", "+10000000000")
            contact.setdefault("first_name", "Contact")
            return {"contact": contact}
        kinds = {
            "sticker": {"type": "regular", "width": 512, "height": 512, "is_animated": False,
                        "is_video": False, "emoji": "🙂"},
            "voice": {"duration": 1, "mime_type": "audio/ogg"},
            "document": {"file_name": "file.bin", "mime_type": "application/octet-stream"},
        }  # fmt: skip
        for kind, defaults in kinds.items():
            if kind in body:
                value = body[kind]
                raw = _b64(value) if isinstance(value, str) and value else b"\0"
                stored = w.store_file(raw, kind, "bin")
                obj = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                       "file_size": len(raw), **defaults}  # fmt: skip
                if isinstance(value, dict):
                    obj.update(value)
                return {kind: obj, "caption": body.get("caption")}
        raise ControlError(
            "message needs text, photo, photos, location, contact, sticker, voice or document"
        )

    def _user_message(
        self, user: dict[str, Any], chat: dict[str, Any], content: dict[str, Any], reply_to: Any
    ) -> tuple[MessageRecord, dict[str, Any]]:
        if reply_to is not None:
            target = self.world.get_message(chat["id"], int(reply_to))
            if target is None:
                raise ControlError("message to be replied not found")
            content["reply_to_message"] = {
                k: v for k, v in target.msg.items() if k != "reply_to_message"
            }
        record = self.world.add_message(chat["id"], user, False, content)
        update = self.world.enqueue({"message": record.msg})
        return record, update

    # -- endpoints -------------------------------------------------------------------
    async def users(self, body: dict[str, Any]) -> Any:
        _int(body, "id")
        return self.world.add_user(body)

    async def users_bulk(self, body: dict[str, Any]) -> Any:
        """`count` users with ids from `first` (for benchmarks: a district in one call)."""
        first, count = _int(body, "first"), _int(body, "count")
        if not 0 < count <= 2_000_000 or first <= 0:
            raise ControlError("first must be positive and count 1..2000000")
        lang = str(body.get("language_code") or "en")
        for uid in range(first, first + count):
            self.world.add_user({"id": uid, "first_name": f"User {uid}", "language_code": lang})
        return {"first": first, "count": count}

    async def chats(self, body: dict[str, Any]) -> Any:
        _int(body, "id")
        if body.get("type", "group") not in ("group", "supergroup", "channel"):
            raise ControlError("type must be group or supergroup")
        for member in body.get("members", []):
            self._user(int(member))
        return self.world.add_chat(body)

    async def channel_admin(self, body: dict[str, Any]) -> Any:
        """Make a user (the bot by default) an administrator of a channel, with or without the
        right to post, or (admin false) no longer one."""
        chat_id = _int(body, "chat")
        chat = self.world.chats.get(chat_id)
        if chat is None or chat["type"] != "channel":
            raise ControlError("no such channel", 404)
        user = _int(body, "user", self.world.bot["id"])
        can_post = bool(body.get("can_post_messages", True)) if body.get("admin", True) else None
        self.world.set_admin(chat_id, user, can_post)
        return self.world.chat_member(chat_id, user)

    async def messages(self, body: dict[str, Any]) -> Any:
        user = self._user(_int(body, "from"))
        chat = self._chat(body, user)
        reply_to = body.get("reply_to_message_id")
        if "photos" in body:
            photos = body["photos"]
            if not isinstance(photos, list) or not photos:
                raise ControlError("photos must be a non-empty list")
            group = str(10**12 + self.world.new_id())
            ids, mids = [], []
            for i, data in enumerate(photos):
                content = {"photo": self._photo(_b64(data)), "media_group_id": group}
                if i == 0 and body.get("caption"):
                    content["caption"] = body["caption"]
                record, update = self._user_message(user, chat, content, reply_to)
                ids.append(update["update_id"])
                mids.append(record.msg["message_id"])
            return {"update_id": ids, "message_id": mids, "media_group_id": group}
        if "texts" in body:
            # a burst: texts that reach the server together, in order (a client sending what
            # it queued while offline), so one getUpdates can carry them all
            texts = body["texts"]
            if not isinstance(texts, list) or not texts or len(texts) > 1000:
                raise ControlError("texts must be a list of 1..1000 texts")
            ids, mids = [], []
            for text in texts:
                record, update = self._user_message(
                    user, chat, self._content({"text": text}), reply_to
                )
                ids.append(update["update_id"])
                mids.append(record.msg["message_id"])
            return {"update_id": ids, "message_id": mids}
        record, update = self._user_message(user, chat, self._content(body), reply_to)
        return {"update_id": update["update_id"], "message_id": record.msg["message_id"]}

    async def edit_message(self, body: dict[str, Any]) -> Any:
        user = self._user(_int(body, "from"))
        chat = self._chat(body, user)
        record = self.world.get_message(chat["id"], _int(body, "message_id"))
        if record is None or record.from_bot or record.msg["from"]["id"] != user["id"]:
            raise ControlError("message to edit not found")
        if "text" not in record.msg:
            raise ControlError("there is no text in the message to edit")
        record.msg["text"] = str(body.get("text", ""))
        record.msg["edit_date"] = self.world.unix()
        record.edited = True
        update = self.world.enqueue({"edited_message": dict(record.msg)})
        return {"update_id": update["update_id"], "message_id": record.msg["message_id"]}

    async def callbacks(self, body: dict[str, Any]) -> Any:
        user = self._user(_int(body, "from"))
        chat = self._chat(body, user)
        mid = _int(body, "message_id")
        forge = bool(body.get("forge"))
        record = self.world.get_message(chat["id"], mid)
        data = body.get("data")
        if not forge:
            if record is None or not record.from_bot:
                raise ControlError("message not found")
            rows = (record.msg.get("reply_markup") or {}).get("inline_keyboard", [])
            buttons = [b for row in rows for b in row if "callback_data" in b]
            if "button" in body:
                match = [b for b in buttons if b["text"] == body["button"]]
                if not match:
                    raise ControlError(f"no button labelled {body['button']!r} on that message")
                data = match[0]["callback_data"]
            elif not any(b["callback_data"] == data for b in buttons):
                raise ControlError("no button with that callback_data on that message")
        if data is None:
            raise ControlError("data or button is required")
        message = (
            record.msg if record is not None else {"chat": dict(chat), "message_id": mid, "date": 0}
        )
        qid = str(4 * 10**18 + self.world.new_id())
        query = {
            "id": qid,
            "from": user,
            "message": message,
            "chat_instance": str(abs(hash((chat["id"], "instance"))) % 10**18),
            "data": data,
        }
        update = self.world.enqueue({"callback_query": query})
        self.world.callbacks[qid] = {
            "callback_query_id": qid,
            "answered": False,
            "text": None,
            "show_alert": False,
            "time": self.world.now(),
            "data": data,
            "chat_id": chat["id"],
            "message_id": mid,
        }
        return {"update_id": update["update_id"], "callback_query_id": qid}

    async def inline_queries(self, body: dict[str, Any]) -> Any:
        """A person types `@bot words` in a chat: an inline_query update."""
        user = self._user(_int(body, "from"))
        text = body.get("query", "")
        if not isinstance(text, str) or len(text) > 256:
            raise ControlError("query must be text of at most 256 characters")
        qid = str(5 * 10**18 + self.world.new_id())
        query = {
            "id": qid,
            "from": user,
            "query": text,
            "offset": str(body.get("offset", "")),
            "chat_type": str(body.get("chat_type", "group")),
        }
        update = self.world.enqueue({"inline_query": query})
        self.world.inline_queries[qid] = {
            "inline_query_id": qid,
            "query": text,
            "answered": False,
            "results": None,
            "time": self.world.now(),
        }
        return {"update_id": update["update_id"], "inline_query_id": qid}

    async def poll_answers(self, body: dict[str, Any]) -> Any:
        user = self._user(_int(body, "from"))
        poll = self.world.polls.get(str(body.get("poll_id")))
        if poll is None:
            raise ControlError("poll not found", 404)
        if poll["is_closed"]:
            raise ControlError("poll is closed")
        options = [int(o) for o in body.get("option_ids", [])]
        if any(not 0 <= o < len(poll["options"]) for o in options):
            raise ControlError("option_ids out of range")
        for o in options:
            poll["options"][o]["voter_count"] += 1
        poll["total_voter_count"] += 1 if options else 0
        answer = {
            "poll_id": poll["id"],
            "user": user,
            "option_ids": options,
            "option_persistent_ids": [poll["options"][o]["persistent_id"] for o in options],
        }
        update = self.world.enqueue({"poll_answer": answer})
        return {"update_id": update["update_id"]}

    async def block(self, body: dict[str, Any]) -> Any:
        uid = _int(body, "user")
        self._user(uid)
        if body.get("blocked", True):
            self.world.blocked.add(uid)
        else:
            self.world.blocked.discard(uid)
        return {"user": uid, "blocked": uid in self.world.blocked}

    async def raw_update(self, body: dict[str, Any]) -> Any:
        update = body.get("update")
        if not isinstance(update, dict):
            raise ControlError("update must be an object")
        return {"update_id": self.world.enqueue(dict(update))["update_id"]}

    async def redeliver(self, body: dict[str, Any]) -> Any:
        uid = _int(body, "update_id")
        update = self.world.history.get(uid)
        if update is None:
            raise ControlError("update not found", 404)
        self.world.enqueue(update, forced=True)
        return {"update_id": uid}

    async def webhook(self, body: dict[str, Any]) -> Any:
        urls = body.get("urls", [])
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ControlError("urls must be a list of strings")
        hook = self.world.webhook
        hook.targets = list(urls)
        if "secret_token" in body:
            hook.secret_token = body["secret_token"]
        if urls and not hook.url:
            hook.url = urls[0]
        self.world.notify()
        return {"url": hook.url, "targets": hook.targets}

    async def clock(self, body: dict[str, Any]) -> Any:
        self.world.set_now(float(body.get("now", self.world.now())))
        return {"now": self.world.now()}

    async def reset(self, body: dict[str, Any]) -> Any:
        self.world.reset()
        self.flood.reset()
        return True


def setup_control(app: web.Application, world: World, flood: FloodControl) -> None:
    """Add the /sim routes to ``app``."""
    control = Control(world, flood)

    def post(handler: Any) -> Any:
        async def route(request: web.Request) -> web.Response:
            try:
                body = await request.json() if request.can_read_body else {}
            except (ValueError, json.JSONDecodeError):
                return web.json_response(
                    {"ok": False, "description": "body must be JSON"}, status=400
                )
            if not isinstance(body, dict):
                body = {}
            try:
                return _ok(await handler(body))
            except ControlError as err:
                return web.json_response(
                    {"ok": False, "description": err.description}, status=err.status
                )
            except (KeyError, TypeError, ValueError) as err:
                return web.json_response(
                    {"ok": False, "description": f"bad request: {err!r}"}, status=400
                )

        return route

    async def chat_messages(request: web.Request) -> web.Response:
        try:
            chat_id = int(request.match_info["chat_id"])
            after = int(request.query.get("after", 0))
        except ValueError:
            return web.json_response({"ok": False, "description": "bad chat id"}, status=400)
        if chat_id not in world.chats:
            return web.json_response({"ok": False, "description": "chat not found"}, status=404)
        records = world.messages.get(chat_id, {})
        return _ok([message_view(r) for mid, r in sorted(records.items()) if mid > after])

    async def bot_counts(request: web.Request) -> web.Response:
        """How many messages the bot has in each chat where it has any (chat id -> count)."""
        counts = {}
        for chat_id, records in world.messages.items():
            n = sum(1 for r in records.values() if r.from_bot)
            if n:
                counts[str(chat_id)] = n
        return _ok(counts)

    async def calls(request: web.Request) -> web.Response:
        method = request.query.get("method")
        found = [c for c in world.calls if not method or c["method"].lower() == method.lower()]
        return _ok(found)

    async def callback(request: web.Request) -> web.Response:
        found = world.callbacks.get(request.match_info["qid"])
        if found is None:
            return web.json_response({"ok": False, "description": "callback not found"}, status=404)
        return _ok(found)

    async def inline_answer(request: web.Request) -> web.Response:
        found = world.inline_queries.get(request.match_info["qid"])
        if found is None:
            return web.json_response({"ok": False, "description": "query not found"}, status=404)
        return _ok(found)

    async def stats(request: web.Request) -> web.Response:
        result = dict(flood.stats())
        result.update(
            calls_total=len(world.calls),
            errors_total=sum(1 for c in world.calls if c.get("status", 200) != 200),
            updates_total=world.next_update_id - 1,
            pending_updates=world.unfetched_count(),
            webhook_deliveries=len(world.webhook_deliveries),
        )
        return _ok(result)

    async def pending(request: web.Request) -> web.Response:
        return _ok(world.unfetched_count())

    async def webhook_info(request: web.Request) -> web.Response:
        hook = world.webhook
        return _ok(
            {"url": hook.url, "targets": hook.targets, "deliveries": world.webhook_deliveries}
        )

    r = app.router
    for path, handler in {
        "/sim/users": control.users,
        "/sim/chats": control.chats,
        "/sim/messages": control.messages,
        "/sim/channel_admin": control.channel_admin,
        "/sim/users_bulk": control.users_bulk,
        "/sim/edit_message": control.edit_message,
        "/sim/callbacks": control.callbacks,
        "/sim/inline_queries": control.inline_queries,
        "/sim/poll_answers": control.poll_answers,
        "/sim/block": control.block,
        "/sim/raw_update": control.raw_update,
        "/sim/redeliver": control.redeliver,
        "/sim/webhook": control.webhook,
        "/sim/clock": control.clock,
        "/sim/reset": control.reset,
    }.items():
        r.add_post(path, post(handler))
    r.add_get("/sim/chats/{chat_id}/messages", chat_messages)
    r.add_get("/sim/calls", calls)
    r.add_get("/sim/bot_counts", bot_counts)
    r.add_get("/sim/callbacks/{qid}", callback)
    r.add_get("/sim/inline_queries/{qid}", inline_answer)
    r.add_get("/sim/stats", stats)
    r.add_get("/sim/updates/pending", pending)
    r.add_get("/sim/webhook", webhook_info)
