"""Internal notes: what staff write on a case for each other.

A note is written by staff who may work on the case (the action table's `note` row, from the
card or the desk) and read only by staff who may see it (`access.reader_of` is "staff"): on
the staff timeline in the chat (`/case`) and on the desk's case page. It is kept in its own
table (`case_notes`), which nothing shown to a resident, a follower, a public page, Open311,
open data or an export reads.

A note may name colleagues: `@username` in its words (the grid map's `username` of a staff
member), or a member picked at the desk. Each one named is told in their chat, with the case
id to open. A note naming someone who may not see the case, or a name no staff member has,
is refused as a whole: nothing is stored, nobody is told.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.services.cases.feed import case_changed
from bot.services.people import access
from bot.services.people.access import CaseActionError
from bot.services.shared.domain import UnitOfWork
from bot.services.shared.languages import chat_language
from bot.store.models import Case, CaseNote
from routing.gridmap import Staff

# `@name` where a Telegram username may start: not inside an e-mail address or a word.
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z][A-Za-z0-9_]{3,31})\b")
MAX_MENTIONS = 10


@dataclass(frozen=True)
class NoteEntry:
    """A note as a staff timeline shows it beside the case's audit rows."""

    at: datetime
    actor_id: int
    note: str
    mentions: tuple[int, ...]
    kind: str = "internal_note"
    from_status: str | None = None
    to_status: str | None = None


def _by_username(uow: UnitOfWork) -> dict[str, Staff]:
    return {s.username: s for s in uow.routing.gridmap.staff.values() if s.username}


def reads_notes(uow: UnitOfWork, user_id: int, case: Case) -> bool:
    """Whether this person reads the case's notes: staff who may see the case, and not as its
    reporter (a member who reported a problem reads their case as a resident): the "staff"
    reader of `access.reader_of`."""
    return (
        case.resident_id != user_id
        and access.staff_role(uow, user_id) is not None
        and access.may_view(uow, user_id, case)
    )


async def may_read(uow: UnitOfWork, user_id: int, case: Case) -> bool:
    return reads_notes(uow, user_id, case)


def colleagues(uow: UnitOfWork, case: Case) -> list[Staff]:
    """Who a note on this case may name: active staff who read its notes, by name."""
    people = [
        s
        for s in uow.routing.gridmap.staff.values()
        if s.active and reads_notes(uow, s.telegram_id, case)
    ]
    return sorted(people, key=lambda s: (s.name, s.telegram_id))


async def named(uow: UnitOfWork, case: Case, text: str, picked: int | None) -> list[Staff]:
    """The staff a note names, checked: each must exist, be active and see the case."""
    gridmap = uow.routing.gridmap
    people: dict[int, Staff] = {}
    handles = _by_username(uow)
    for handle in MENTION.findall(text):
        person = handles.get(handle.lower())
        if person is None:
            raise CaseActionError("note_mention_unknown", who="@" + handle[:32])
        people[person.telegram_id] = person
    if picked is not None:
        person = gridmap.staff.get(picked)
        if person is None:
            raise CaseActionError("note_mention_unknown", who=str(picked)[:20])
        people[person.telegram_id] = person
    if len(people) > MAX_MENTIONS:
        raise CaseActionError("note_mention_many", days=MAX_MENTIONS)
    for person in people.values():
        if not person.active or not await may_read(uow, person.telegram_id, case):
            raise CaseActionError("note_mention_refused", who=person.name)
    return list(people.values())


async def write_note(
    uow: UnitOfWork, user_id: int, case: Case, text: str, mention: int | None = None
) -> CaseNote:
    """Keep a note on the case and tell each colleague it names (not the writer)."""
    text = text.strip()
    if not text:
        raise CaseActionError("note_empty")
    if not await may_read(uow, user_id, case):
        raise CaseActionError("not_allowed")
    people = await named(uow, case, text, mention)
    note = CaseNote(
        case_id=case.id,
        at=uow.now,
        author_id=user_id,
        text=text[: uow.settings.max_text_length],
        mentions=[p.telegram_id for p in people],
    )
    uow.session.add(note)
    author = uow.routing.gridmap.staff.get(user_id)
    for person in people:
        if person.telegram_id == user_id:
            continue
        uow.outbox.send(
            person.telegram_id,
            await chat_language(uow, person.telegram_id),
            "note_mention",
            case=case,
            case_id=case.id,
            author=author.name if author is not None else "",
            note=note.text,
            desk=desk_link(uow, case),
        )
    case_changed(uow, case.id)
    return note


def desk_link(uow: UnitOfWork, case: Case) -> str | None:
    """The case's desk page, where the deployment has a public address."""
    base = uow.settings.public_url
    return f"{base.rstrip('/')}/desk/cases/{case.human_id}" if base and case.human_id else None


async def notes_for(uow: UnitOfWork, user_id: int, case: Case) -> list[NoteEntry]:
    """The case's notes, oldest first, for a person who may read them (else none)."""
    if not await may_read(uow, user_id, case):
        return []
    rows = await uow.session.execute(
        select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id)
    )
    return [NoteEntry(n.at, n.author_id, n.text, tuple(n.mentions or ())) for n in rows.scalars()]


async def staff_timeline(uow: UnitOfWork, user_id: int, case: Case, events: list) -> list:  # type: ignore[type-arg]
    """The audit rows with the notes this person may read, in time order."""
    notes = await notes_for(uow, user_id, case)
    if not notes:
        return list(events)
    return sorted([*events, *notes], key=lambda e: e.at)
