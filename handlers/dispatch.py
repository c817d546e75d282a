"""From a Telegram update to one handler: the mapping tables, read top to bottom.

Each component module declares what it answers as plain tables — `COMMANDS` (name →
function), `CALLBACKS` (callback prefix, or `prefix:action`, → function), `GROUP_COMMANDS` and
`GROUP_CALLBACKS` (what also counts in groups), `DEEP_LINKS` (`/start <prefix>…`), `CONTACT`,
`CHAT_MEMBER` and `ON_REGISTERED` — and `MODULES` below lists the modules once; no handler
module imports this one. A plain message goes to the reader the dialogue table
(`bot.services.shared.dialogue`) names for the person's state. Anything else a person can
send has a defined answer here.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from types import ModuleType
from typing import Any

from telegram import Update

from bot.bounds import telegram_id
from bot.services.cases.lifecycle import CaseActionError
from bot.services.cases.lifecycle import staff_role as case_role
from bot.services.cases.reachability import questions_resent, reachable_again
from bot.services.participation.consultations import ConsultError
from bot.services.participation.proposals import ProposalError
from bot.services.people.residents import ensure_user, get_user, is_registered
from bot.services.shared import dialogue
from bot.services.shared.dialogue import Prompt
from bot.services.shared.domain import NoGridMap, UnitOfWork
from handlers import dialogue as chat_dialogue
from handlers.cases import card, intake, queues, resident
from handlers.context import Ctx, Registered, status_label
from handlers.message import message_image, message_point
from handlers.participation import announcements, ballots, consultations, proposals, volunteers
from handlers.people import household, onboarding, staff
from handlers.reports import drafts

log = logging.getLogger(__name__)

Handler = Callable[[Ctx], Awaitable[None]]
# A dialogue state's reader: True when it used the message; False passes it on as if no
# prompt were armed (the reader has ended its prompt first).
PromptHandler = Callable[[Ctx], Awaitable[bool]]

# Every module whose tables the dispatcher reads, by component.
MODULES: tuple[ModuleType, ...] = (
    onboarding,
    staff,
    household,
    drafts,
    card,
    queues,
    resident,
    intake,
    consultations,
    ballots,
    proposals,
    announcements,
    volunteers,
    chat_dialogue,
)


def resolve_handler(path: str) -> PromptHandler:
    """`"module:function"` from the dialogue table to the function (once, at start-up)."""
    module_name, _, name = path.partition(":")
    handler = getattr(importlib.import_module(module_name), name)
    if not callable(handler):
        raise TypeError(f"{path} is not a function")
    return handler  # type: ignore[no-any-return]


def addressed_elsewhere(ctx: Ctx, head: str) -> bool:
    """`/help@other_bot`: a command for another bot in the same chat is not ours to answer."""
    _, at, addressee = head.partition("@")
    own = (ctx.uow.domain.bot_username or "").lower()
    return bool(at) and bool(own) and addressee.lower() != own


def command_of(ctx: Ctx, text: str) -> tuple[str, str, list[str]] | None:
    """A command's head as typed, its name and its arguments; None when it is addressed to
    another bot."""
    head, _, rest = text.partition(" ")
    if addressed_elsewhere(ctx, head):
        return None
    return head, head[1:].split("@", 1)[0].lower(), rest.split()


UNSUPPORTED = (
    "sticker",
    "voice",
    "video",
    "video_note",
    "audio",
    "document",
    "animation",
    "dice",
    "game",
    "poll",
    "story",
)
# A venue is a place (its location, title and address); an image sent as a file is a photo
# (handlers/message.py `message_point`, `message_image`).

# Commands that show a case (its timeline, a live card): only in private and the staff groups.
CASE_COMMANDS = ("case", "queue")
# Commands a group gets a short hint for: the bot works in private chats.
GROUP_HELP = ("help", "start")


def _merged(modules: Iterable[ModuleType], table: str) -> dict[str, Any]:
    """One table from every module's; a name two modules claim is a mistake found at start-up."""
    merged: dict[str, Any] = {}
    for module in modules:
        for key, value in getattr(module, table, {}).items():
            if key in merged:
                raise ValueError(f"{table} {key!r} is declared twice ({module.__name__})")
            merged[key] = value
    return merged


def _one(modules: Iterable[ModuleType], name: str) -> Any:
    """The handler one module declares under `name` (None when none does)."""
    found = [getattr(m, name) for m in modules if hasattr(m, name)]
    if len(found) > 1:
        raise ValueError(f"{name} is declared by more than one module")
    return found[0] if found else None


def well_formed(update: Update) -> bool:
    """Whether an update names someone to answer: its sender a Telegram user id (positive,
    bounded), its chat, if any, a chat id; a private chat is the sender's own."""
    user = update.effective_user
    if user is None or telegram_id(user.id, low=1) is None:
        return False
    chat = update.effective_chat
    if chat is None:
        return True
    if telegram_id(chat.id) is None:
        return False
    return chat.type != "private" or chat.id == user.id


class Dispatcher:
    """Routes updates through the tables the handler modules declare."""

    def __init__(self, modules: Iterable[ModuleType] = MODULES) -> None:
        modules = tuple(modules)
        self.commands: dict[str, Handler] = _merged(modules, "COMMANDS")
        self.callbacks: dict[str, Handler] = _merged(modules, "CALLBACKS")
        self.deep_links: dict[str, Any] = _merged(modules, "DEEP_LINKS")
        self.group_commands = {n for m in modules for n in getattr(m, "GROUP_COMMANDS", ())}
        self.group_callbacks = {p for m in modules for p in getattr(m, "GROUP_CALLBACKS", ())}
        self.contact: Handler | None = _one(modules, "CONTACT")
        self.chat_member: Handler | None = _one(modules, "CHAT_MEMBER")
        self.inline: Handler | None = _one(modules, "INLINE")
        self.on_registered: tuple[Registered, ...] = tuple(
            m.ON_REGISTERED for m in modules if hasattr(m, "ON_REGISTERED")
        )
        unknown = self.group_commands - set(self.commands)
        if unknown:
            raise ValueError(f"GROUP_COMMANDS without a command: {sorted(unknown)}")
        # What reads the next plain message in each dialogue state, from the dialogue table.
        self.prompt_handlers: dict[Prompt, PromptHandler] = {
            prompt: resolve_handler(rule.handler) for prompt, rule in dialogue.TABLE.items()
        }

    def callback_handler(self, data: str) -> Handler | None:
        """The function for a button's data: `prefix:action` where a module declares one
        (the announcement's `k:a…`), else the prefix alone."""
        parts = data.split(":")
        return self.callbacks.get(":".join(parts[:2])) or self.callbacks.get(parts[0])

    async def handle(self, uow: UnitOfWork, update: Update, payload: dict[str, Any]) -> None:
        tg_user = update.effective_user
        ctx = Ctx(
            uow=uow,
            update=update,
            payload=payload,
            tg_user=tg_user,
            deep_links=self.deep_links,
            on_registered=self.on_registered,
        )
        if tg_user is None or tg_user.is_bot:
            return  # channel posts and the like: nobody to answer
        if not well_formed(update):
            return  # a malformed sender or chat: nobody to answer
        if not uow.domain.has_routing:
            await uow.domain.reload_routing()
        if update.my_chat_member is not None:
            if self.chat_member is not None:
                await self.chat_member(ctx)
            return
        ctx.user = await get_user(uow, tg_user.id)
        ctx.lang = ctx.user.language if ctx.user else ctx.default_language()
        resent: list[int] = []
        if ctx.user is not None and ctx.user.unreachable:
            # Any update from them (a message, a press, a vote) means they can be reached:
            # what they missed is sent again before the answer to this update.
            resent = await reachable_again(uow, ctx.user)
        await self._route(ctx)
        if resent and ctx.user is not None:
            # The update that brought them back was theirs; a question sent again takes
            # the next message (or waits for a report being written).
            await questions_resent(uow, ctx.user, resent)

    async def _route(self, ctx: Ctx) -> None:
        uow, update = ctx.uow, ctx.update
        if update.poll_answer is not None:
            return  # ballots are buttons: an answer to a Telegram poll is not ours
        if update.inline_query is not None:
            # Inline mode: only someone already known gets results (nobody is created here).
            if self.inline is not None:
                await self.inline(ctx)
            return
        chat = update.effective_chat
        if chat is not None and chat.type != "private":
            await self._group(ctx)
            return
        if ctx.user is None:
            ctx.user = await ensure_user(uow, ctx.person, ctx.lang)
        if update.callback_query is not None:
            await self._callback(ctx)
            return
        if update.edited_message is not None:
            ctx.reply("edit_not_applied")
            return
        if update.message is not None:
            await self._message(ctx)

    async def _callback(self, ctx: Ctx) -> None:
        query = ctx.update.callback_query
        assert query is not None
        data = query.data or ""
        handler = self.callback_handler(data)
        if handler is None:
            ctx.answer("not_allowed", alert=True)
            return
        ctx.args = data.split(":")[1:]
        try:
            await handler(ctx)
        except NoGridMap:
            ctx.answer("service_not_ready", alert=True)
        except CaseActionError as exc:  # a refusal the person caused: answer it, never retry
            ctx.answer(exc.key, alert=True, **status_label(ctx, exc.data))
        except ConsultError as exc:
            ctx.answer(exc.key, alert=True)
        except ProposalError as exc:
            ctx.answer(exc.key, alert=True, **exc.data)

    async def _message(self, ctx: Ctx) -> None:
        message = ctx.update.message
        assert message is not None
        text = message.text or ""
        if text.startswith("/"):
            command = command_of(ctx, text)
            if command is None:
                return
            head, name, ctx.args = command
            handler = self.commands.get(name)
            if ctx.user is not None:
                await dialogue.read(ctx.uow, ctx.user)  # a lapsed prompt ends (and says so)
            if name != "cancel":
                # A command leaves any staff prompt: the next free text is not a reason.
                await chat_dialogue.leave_prompt(ctx, command=True)
            if handler is None:
                ctx.reply("unknown_command", command=head[:64])
                return
            try:
                await handler(ctx)
            except NoGridMap:
                ctx.reply("service_not_ready")
            except CaseActionError as exc:
                ctx.reply("action_refused", key=exc.key, **status_label(ctx, exc.data))
            except ConsultError as exc:
                ctx.reply("consult_refused", key=exc.key)
            except ProposalError as exc:
                ctx.reply("proposal_refused", key=exc.key, data=exc.data)
            return
        if message.contact is not None and self.contact is not None:
            await self.contact(ctx)
            return
        image = message_image(message)
        if image is None and any(getattr(message, kind, None) for kind in UNSUPPORTED):
            ctx.reply("unsupported_content")
            return
        if not (text or image or message_point(message) or message.caption):
            ctx.reply("unsupported_content")
            return
        try:
            if await self._prompted(ctx):
                return
            # No prompt armed: a reply to a card from staff, else a resident's message — for
            # the report draft once registered, for onboarding before.
            if await card.staff_input(ctx):
                return
            if is_registered(ctx.user):
                await drafts.resident_message(ctx)
            else:
                await onboarding.content(ctx)
        except NoGridMap:
            ctx.reply("service_not_ready")

    async def _prompted(self, ctx: Ctx) -> bool:
        """The armed prompt's reader takes the message (a lapsed prompt ends first)."""
        user = ctx.user
        assert user is not None
        prompt = await dialogue.read(ctx.uow, user)
        if prompt is None:
            return False
        if dialogue.rule(prompt).audience == "staff" and not self._still_staff(ctx):
            # Deactivated mid-prompt: the prompt ends, nothing was sent, and the message
            # is not used (never a report draft without consent).
            await chat_dialogue.leave_prompt(ctx, command=False, not_staff=True)
            return True
        return await self.prompt_handlers[prompt](ctx)

    @staticmethod
    def _still_staff(ctx: Ctx) -> bool:
        user_id = ctx.user.id if ctx.user else 0
        return ctx.uow.domain.has_routing and case_role(ctx.uow, user_id) is not None

    async def _group(self, ctx: Ctx) -> None:
        """In groups (party and staff chats) only buttons and a few commands count."""
        if ctx.update.callback_query is not None:
            data = ctx.update.callback_query.data or ""
            if data.split(":", 1)[0] in self.group_callbacks:
                await self._callback(ctx)
            else:
                ctx.answer("not_allowed", alert=True)
            return
        message = ctx.update.message
        if (
            message is not None
            and message.reply_to_message is not None
            and (message.text or message.caption or message.photo)
        ):
            # A reply to a case card in a party's group goes to the resident, like in private.
            if not (message.text or "").startswith("/") and ctx.uow.domain.has_routing:
                if case_role(ctx.uow, ctx.tg_user.id if ctx.tg_user else 0):
                    ctx.user = await ensure_user(ctx.uow, ctx.person, ctx.lang)
                    await card.staff_input(ctx)
                return
        if message is None or not message.text or not message.text.startswith("/"):
            return
        command = command_of(ctx, message.text)
        if command is None:
            return
        _, name, args = command
        if name in GROUP_HELP:
            ctx.reply("group_help", bot=ctx.uow.domain.bot_username or "")
            return
        if name in self.group_commands:
            if name in CASE_COMMANDS and not self._staff_chat(ctx):
                # Timelines and live cards stay out of groups the map does not name.
                ctx.reply("group_case_refused")
                return
            ctx.args = args
            await self.commands[name](ctx)

    @staticmethod
    def _staff_chat(ctx: Ctx) -> bool:
        chat = ctx.update.effective_chat
        return (
            chat is not None
            and ctx.uow.domain.has_routing
            and chat.id in ctx.uow.routing.gridmap.staff_chats()
        )

    async def apologise(self, uow: UnitOfWork, update: Update) -> None:
        """After repeated failures: tell the person, who can try again; the update is kept."""
        chat = update.effective_chat
        user = update.effective_user
        if chat is None or user is None or not well_formed(update):
            return
        row = await get_user(uow, user.id)
        lang = row.language if row else "en"
        if update.callback_query is not None:
            uow.outbox.answer_callback(update.callback_query.id, lang, "error_try_again", True)
        else:
            uow.outbox.send(chat.id, lang, "error_try_again")
