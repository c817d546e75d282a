"""What a handler gets: the update, the person, their language, and one unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram import Message, Update
from telegram import User as TgUser

from bot.render import pick_language
from bot.services.people import policy
from bot.services.people.policy import Capability
from bot.services.people.residents import Person
from bot.services.shared.domain import UnitOfWork
from bot.services.shared.outbox import Keyboard

if TYPE_CHECKING:
    from bot.store.models import User

#: What a component does once a resident is registered, given the text they wrote meanwhile.
Registered = Callable[["Ctx", str], Awaitable[None]]


@dataclass
class Ctx:
    uow: UnitOfWork
    update: Update
    payload: dict[str, Any]
    tg_user: TgUser | None
    user: User | None = None
    lang: str = "en"
    args: list[str] = field(default_factory=list)
    # Deep-link prefixes (`/start <prefix><rest>`) other modules answer, e.g. consultations.
    deep_links: dict[str, Any] = field(default_factory=dict)
    # Called by onboarding once a resident is registered (the report draft takes the text
    # held meanwhile): components reach one another through these, never by importing.
    on_registered: tuple[Registered, ...] = ()

    @property
    def update_id(self) -> int:
        return self.update.update_id

    @property
    def message(self) -> Message | None:
        return self.update.effective_message

    @property
    def chat_id(self) -> int:
        chat = self.update.effective_chat
        if chat is not None:
            return chat.id
        return self.tg_user.id if self.tg_user else 0

    @property
    def person(self) -> Person:
        u = self.tg_user
        assert u is not None
        return Person(id=u.id, first_name=u.first_name, language_code=u.language_code)

    def default_language(self) -> str:
        code = self.tg_user.language_code if self.tg_user else None
        return pick_language(code, self.uow.settings.default_language)

    def reply(self, template: str, *, keyboard: Keyboard | None = None, **data: Any) -> None:
        """Answer in the chat the update came from, in the person's language."""
        self.uow.outbox.send(self.chat_id, self.lang, template, keyboard=keyboard, **data)

    def tell(
        self,
        chat_id: int,
        lang: str,
        template: str,
        *,
        keyboard: Keyboard | None = None,
        **data: Any,
    ) -> None:
        self.uow.outbox.send(chat_id, lang, template, keyboard=keyboard, **data)

    def answer(self, key: str | None = None, *, alert: bool = False, **data: Any) -> None:
        """Answer the callback query (always, so the button stops spinning)."""
        query = self.update.callback_query
        if query is not None:
            self.uow.outbox.answer_callback(query.id, self.lang, key, alert, **data)


def may(ctx: Ctx, capability: Capability) -> bool:
    """Whether the sender may use `capability` (`bot.services.people.policy`)."""
    return ctx.tg_user is not None and policy.may(ctx.uow, ctx.tg_user.id, capability)


def refused(ctx: Ctx, capability: Capability) -> bool:
    """Answer someone who lacks `capability` (staff of another role are told whose it is)."""
    if may(ctx, capability):
        return False
    key, needed = policy.refusal(ctx.uow, ctx.tg_user.id if ctx.tg_user else 0, capability)
    ctx.reply(key, needed=needed)
    return True


def community_offices(ctx: Ctx) -> dict[str, Any]:
    """The community offices, for answers that point a person to a human."""
    return {"communities": list(ctx.uow.routing.gridmap.communities.values())}


def status_label(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    """Template data with a case status replaced by its label in the person's language."""
    if "status" in data:
        return {
            **data,
            "status": ctx.uow.domain.renderer.label(ctx.lang, f"status_{data['status']}"),
        }
    return data
