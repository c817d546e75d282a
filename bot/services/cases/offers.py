"""A case offered to the community's organisations, and their answers.

`lifecycle.offer_to_organisations` (the action table's `offer_org` row) writes one `CaseOffer`
per organisation and sends its contact the offer: the case id, its category, the description
staff approved for publication and its grid — never the resident, their words or their
address — with *We'll take it* and *Not for us* (`og:<offer>:t`, `og:<offer>:n`). The first
organisation to take it up is the one: a partial unique index on the taken offer of a case
holds it under any race (and the case row is locked while an answer is written, so two
presses never wait on each other); the other offers are marked gone and their messages say so. The one
that took it up reports *Done* (`og:<offer>:d`, then a short note in the `org_done_note`
prompt): the note goes on the case's staff timeline and to the owner, never to the public.

Presses are answered from the offer row alone: only the contact of the organisation it was
made to answers it, once; a forged id, a repeated or a late press changes nothing and gets a
clear answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.services.cases.status import FINISHED
from bot.services.shared.domain import UnitOfWork
from bot.services.shared.languages import chat_language
from bot.services.shared.outbox import Button, Keyboard
from bot.store.models import Case, CaseOffer, Organisation

NOTE_MAX = 500
# What a press answers with (label `org_answer_<outcome>`): only the first two change anything.
TAKEN, DECLINED = "taken", "declined"
# Who the audit trail names for an organisation's answer: the organisation (its name is in the
# event's data), never its contact's Telegram account.
ORGANISATION = "organisation"


@dataclass(frozen=True)
class Status:
    """What staff read of the offers on a case (the card, the desk)."""

    organisation: str | None  # who took it up
    state: str | None  # taken | done
    note: str | None
    declined: int
    waiting: int


def offer_ref(offer: CaseOffer) -> str:
    return f"offer:{offer.id}"


def keyboard(offer: CaseOffer) -> Keyboard:
    if offer.state == "offered":
        return [
            [
                Button.of("btn_org_take", f"og:{offer.id}:t"),
                Button.of("btn_org_decline", f"og:{offer.id}:n"),
            ]
        ]
    if offer.state == "taken":
        return [[Button.of("btn_org_done", f"og:{offer.id}:d")]]
    return []


def offer_data(uow: UnitOfWork, case: Case, org: Organisation, lang: str) -> dict[str, Any]:
    """What the organisation is shown of the case: nothing of the resident."""
    grid = uow.routing.gridmap.grids.get(case.grid_id)
    return {
        "human_id": case.human_id,
        "category": case.category,
        "description": case.public_description,
        "grid_name": grid.name.get(lang) if grid else case.grid_id,
        "org_name": org.name,
    }


async def make(uow: UnitOfWork, case: Case, org: Organisation, lang: str) -> CaseOffer:
    """One offer to one organisation, sent to its contact with its two buttons."""
    offer = CaseOffer(case_id=case.id, organisation_id=org.id, state="offered", offered_at=uow.now)
    uow.session.add(offer)
    await uow.session.flush()
    uow.outbox.send(
        int(org.contact_id or 0),
        lang,
        "org_offer",
        keyboard=keyboard(offer),
        ref=offer_ref(offer),
        state="offered",
        **offer_data(uow, case, org, lang),
    )
    return offer


async def _show(uow: UnitOfWork, offer: CaseOffer, case: Case, org: Organisation) -> None:
    """The offer's message edited to its state (its buttons follow it)."""
    chat = int(org.contact_id or 0)
    if not chat:
        return
    lang = await chat_language(uow, chat)
    uow.outbox.edit(
        offer_ref(offer),
        chat,
        lang,
        "org_offer",
        keyboard=keyboard(offer),
        state=offer.state,
        **offer_data(uow, case, org, lang),
    )


async def _load(
    uow: UnitOfWork, user_id: int, offer_id: int
) -> tuple[CaseOffer, Organisation, Case] | None:
    """The offer, if this person is the contact of the organisation it was made to."""
    offer = await uow.session.get(CaseOffer, offer_id)
    if offer is None:
        return None
    await uow.session.refresh(offer)
    org = await uow.session.get(Organisation, offer.organisation_id)
    if org is None or org.joined_at is None or org.contact_id != user_id:
        return None
    case = await uow.session.get(Case, offer.case_id)
    return None if case is None else (offer, org, case)


async def answer(uow: UnitOfWork, user_id: int, offer_id: int, take: bool) -> str:
    """*We'll take it* or *Not for us*. Answers "taken" or "declined" when it changed the
    offer; otherwise why not, and nothing changes: "not_allowed" (not theirs, or no such
    offer), "closed" (the case is finished), "already_taken" (another organisation was
    first), "already" (they answered before)."""
    from bot.services.cases import lifecycle

    found = await _load(uow, user_id, offer_id)
    if found is None:
        return "not_allowed"
    offer, org, case = found
    # One answer at a time per case: the others wait here, then read the offer as it is now
    # (a press that lost the race finds its offer gone). Without it two organisations taking
    # the case up at once would each wait for the other's row.
    await uow.session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    await uow.session.refresh(offer)
    if offer.state == "gone":
        return "already_taken"
    if offer.state != "offered":
        return "already"
    if case.status in FINISHED:
        return "closed"
    actor = lifecycle.Actor(None, ORGANISATION)
    if not take:
        if not await _move(uow, offer, "offered", "declined"):
            return "already"
        await lifecycle.record(uow, case, actor, "org_declined", organisation=org.name)
        await _show(uow, offer, case, org)
        await lifecycle.refresh_owner_card(uow, case)
        return DECLINED
    try:
        async with uow.session.begin_nested():
            moved = await _move(uow, offer, "offered", "taken")
    except IntegrityError:  # another organisation's press was first
        return "already_taken"
    if not moved:
        await uow.session.refresh(offer)
        return "already_taken" if offer.state == "gone" else "already"
    await lifecycle.record(uow, case, actor, "org_took", organisation=org.name)
    await _show(uow, offer, case, org)
    for other, other_org in await _others(uow, case, offer):
        other.state = "gone"
        await _show(uow, other, case, other_org)
    await uow.session.flush()
    await lifecycle.refresh_owner_card(uow, case)
    await _tell_owner(uow, case, "took", org.name)
    return TAKEN


async def _move(uow: UnitOfWork, offer: CaseOffer, old: str, new: str) -> bool:
    """The offer from `old` to `new` by one conditional UPDATE: a repeated press finds it
    moved already."""
    done = await uow.session.execute(
        update(CaseOffer)
        .where(CaseOffer.id == offer.id, CaseOffer.state == old)
        .values(state=new, answered_at=uow.now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await uow.session.refresh(offer)
    return True


async def _others(
    uow: UnitOfWork, case: Case, offer: CaseOffer
) -> list[tuple[CaseOffer, Organisation]]:
    rows = await uow.session.execute(
        select(CaseOffer, Organisation)
        .join(Organisation, Organisation.id == CaseOffer.organisation_id)
        .where(
            CaseOffer.case_id == case.id,
            CaseOffer.id != offer.id,
            CaseOffer.state == "offered",
        )
    )
    return [(o, org) for o, org in rows.all()]


async def may_report(uow: UnitOfWork, user_id: int, offer_id: int) -> str:
    """Whether this contact may report the offer done now: "ok", or why not."""
    found = await _load(uow, user_id, offer_id)
    if found is None:
        return "not_allowed"
    offer = found[0]
    if offer.state == "done":
        return "already"
    return "ok" if offer.state == "taken" else "not_taken"


async def report_done(uow: UnitOfWork, user_id: int, offer_id: int, note: str) -> str:
    """The organisation that took the case up says it did its part, with a short note: on the
    staff's timeline (never published by itself: staff decide what is) and to the owner.
    Answers "done", or why not (`may_report`)."""
    from bot.services.cases import lifecycle

    outcome = await may_report(uow, user_id, offer_id)
    if outcome != "ok":
        return outcome
    found = await _load(uow, user_id, offer_id)
    assert found is not None
    offer, org, case = found
    note = note.strip()[:NOTE_MAX]
    done = await uow.session.execute(
        update(CaseOffer)
        .where(CaseOffer.id == offer.id, CaseOffer.state == "taken")
        .values(state="done", done_at=uow.now, done_note=note)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return "already"
    await uow.session.refresh(offer)
    actor = lifecycle.Actor(None, ORGANISATION)
    await lifecycle.record(uow, case, actor, "org_done", note=note, organisation=org.name)
    await _show(uow, offer, case, org)
    await lifecycle.refresh_owner_card(uow, case)
    await _tell_owner(uow, case, "done", org.name, note=note)
    return "done"


async def _tell_owner(uow: UnitOfWork, case: Case, what: str, org_name: str, **data: Any) -> None:
    chat = case.owner_chat_id
    if chat is None:
        return
    uow.outbox.send(
        chat,
        await chat_language(uow, chat),
        "org_to_owner",
        case_id=case.id,
        reply_to_ref=f"card:{case.id}:{chat}",
        case=case,
        what=what,
        org_name=org_name,
        **data,
    )


async def status(uow: UnitOfWork, case: Case) -> Status | None:
    """The organisations' answers on a case, for staff; None when it was never offered."""
    if uow.none_yet(case.id, "case_offers"):
        return None
    rows = (
        await uow.session.execute(
            select(CaseOffer.state, CaseOffer.done_note, Organisation.name)
            .join(Organisation, Organisation.id == CaseOffer.organisation_id)
            .where(CaseOffer.case_id == case.id)
            .order_by(CaseOffer.id)
        )
    ).all()
    if not rows:
        return None
    took = next((r for r in rows if r[0] in ("taken", "done")), None)
    return Status(
        organisation=took[2] if took else None,
        state=took[0] if took else None,
        note=took[1] if took else None,
        declined=sum(1 for r in rows if r[0] == "declined"),
        waiting=sum(1 for r in rows if r[0] == "offered"),
    )


async def human_id_of(uow: UnitOfWork, offer_id: int) -> str:
    """The case id an offer names (what its organisation was shown already)."""
    offer = await uow.session.get(CaseOffer, offer_id)
    case = await uow.session.get(Case, offer.case_id) if offer is not None else None
    return case.human_id if case is not None and case.human_id else ""
