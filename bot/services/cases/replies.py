"""Reply templates offered to staff wherever they write text the resident reads: the chat's
text prompts (as buttons) and the desk's forms (as a select that fills the text box).

The templates themselves are the deployment's (the grid map's `replies:`) on top of the ones
gridvoice ships (`templates/<lang>/replies.yaml`); `routing/replies.py` parses and fills them.
A template is offered for the case's category and the action's name, its title in the
member's language and its text in the case's (the resident reads it), with its placeholders
filled from what the member sees on the card anyway: never anything about the resident.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.render import TEMPLATES_DIR
from bot.services.people.access import CaseActionError
from bot.services.shared.domain import UnitOfWork
from bot.store.models import Case
from routing.gridmap import DEFAULT_CATEGORIES
from routing.replies import FOR_ACTIONS, Reply, fill, merged, parse_replies

LANGS = ("en", "zh")


@dataclass(frozen=True)
class Offered:
    """One template as a member sees it: its place in the list, title and filled text."""

    index: int
    id: str
    title: str
    text: str


@functools.cache
def shipped(directory: Path = TEMPLATES_DIR) -> dict[str, tuple[Reply, ...]]:
    """The templates gridvoice ships, both languages of each id merged into one."""
    out: dict[str, dict[str, Reply]] = {}
    for lang in LANGS:
        path = directory / lang / "replies.yaml"
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
        parsed = parse_replies(
            raw, (*DEFAULT_CATEGORIES,), langs=(lang,), where=f"templates/{lang}/replies.yaml"
        )
        for category, replies in parsed.items():
            for r in replies:
                have = out.setdefault(category, {}).get(r.id)
                if have is not None:
                    r = Reply(r.id, {**have.title, **r.title}, {**have.text, **r.text}, r.actions)
                out[category][r.id] = r
    return {c: tuple(rs.values()) for c, rs in out.items()}


def values(uow: UnitOfWork, case: Case, user_id: int, lang: str) -> dict[str, str]:
    """The placeholders' values: what the card shows the member anyway."""
    gridmap = uow.routing.gridmap
    grid = gridmap.grids.get(case.grid_id)
    staff = gridmap.staff.get(user_id)
    party = gridmap.parties.get(staff.party_id or "") if staff is not None else None
    renderer = uow.domain.renderer
    return {
        "case": case.human_id or "",
        "category": renderer.label(lang, f"cat_{case.category}") if case.category else "",
        "grid": grid.name.get(lang) if grid is not None else "",
        "member": party.name.get(lang) if party is not None else (staff.name if staff else ""),
    }


def offered(
    uow: UnitOfWork, case: Case, action: str, user_id: int, title_lang: str
) -> list[Offered]:
    """The templates for this case and action, filled for this member (none for an action
    that is not written to the resident)."""
    if action not in FOR_ACTIONS:
        return []
    lang = case.language or uow.settings.default_language
    given = values(uow, case, user_id, lang)
    limit = uow.settings.max_text_length
    return [
        Offered(i, r.id, r.get(r.title, title_lang), fill(r.get(r.text, lang), given, limit))
        for i, r in enumerate(merged(shipped(), uow.routing.gridmap.replies, case.category, action))
    ]


def pick(
    uow: UnitOfWork, case: Case, action: str, user_id: int, index: int | None, title_lang: str
) -> Offered:
    """One offered template by its place in the list (from a press or a form: checked)."""
    choices = offered(uow, case, action, user_id, title_lang)
    if index is None or not 0 <= index < len(choices):
        raise CaseActionError("reply_gone")
    return choices[index]
