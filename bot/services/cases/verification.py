"""Independent verification of closures: a random sample of closed cases is checked by
someone other than the person who handled it.

* **The sample** is drawn when a case closes (`sample`, called by the scheduler's auto-close
  in the same transaction): a case is in it when the first 64 bits of
  SHA-256(`seed`:case id), read as a fraction of 2^64, fall below `settings.verify_share`
  (default 10 %). Nothing about the case (its grid, handler, category, rating, speed) enters
  the draw, so the sample is unbiased; the seed is `settings.verify_seed`, else the bot token,
  which staff never see, so nobody can tell in advance which closure will be checked; the
  same seed draws the same sample (tests, audits).
* **The check** is asked `settings.verify_after` after closing (default 3 days; `ask`): the
  resident, when they can be reached, is asked neutrally "Is the problem still fixed?" with
  Yes/No buttons (`r:vf:`, handlers/cases/resident.py). With no reachable resident (an
  Open311 request, a resident who used /forget or blocked the bot) a member of ANOTHER grid of
  the same community, never the handler, is asked to look on site and answer with a photo
  (`vp:` buttons and the `verify_photo` prompt, handlers/cases/card.py). With nobody to ask the
  check ends at once as unverified.
* **The outcome** is written once: `passed` (verified), `failed` (the case is reopened as
  rework: `lifecycle.rework`, counted against the closure and its handler in the assessment),
  or `expired` when nobody answered within `settings.verify_within` (default 7 days) or nobody
  could be asked — unverified, never counted as passed. A press on a check that is answered,
  expired, or not the presser's changes nothing.

The draw and the pending check are kept in the `verifications` row only, never on the case's
timeline: its handler (who reads the timeline at the desk) must not learn that this closure
will be checked and fix it in time, or the sample would stop standing for every closure. The
outcome is written on the timeline once it is known.

The published verified-fix rate is passed ÷ (passed + failed + expired) over the checks of
closures in the dashboard's period, with its 95 % Wilson interval (`public/figures.py`).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from bot.services.cases import lifecycle
from bot.services.cases.views import case_place
from bot.services.people.access import CaseActionError
from bot.services.shared.domain import UnitOfWork
from bot.services.shared.languages import chat_language
from bot.services.shared.outbox import Button
from bot.store.models import Case, CaseEvent, CasePhoto, User, Verification

PASSED, FAILED, EXPIRED = "passed", "failed", "expired"
RESIDENT, PEER, NOBODY = "resident", "peer", "none"


def seed_of(settings: object) -> str:
    return str(getattr(settings, "verify_seed", None) or getattr(settings, "token", ""))


def _fraction(seed: str, *parts: object) -> float:
    text = ":".join([seed, *(str(p) for p in parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def drawn(seed: str, case_id: int, share: float) -> bool:
    """Whether the case is in the sample: decided by its id and the seed alone."""
    return _fraction(seed, case_id) < share


async def handler_of(uow: UnitOfWork, case: Case) -> int | None:
    """Who resolved the closure being checked (the last `resolved` event's actor)."""
    stmt = (
        select(CaseEvent.actor_id)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == "resolved")
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )
    return (await uow.session.execute(stmt)).scalar_one_or_none()


async def sample(uow: UnitOfWork, case: Case) -> Verification | None:
    """At closing: draw the case or not; a drawn case gets its check, asked later. A case is
    checked once (a closure after rework is not drawn again)."""
    s = uow.settings
    if case.status != "closed" or not drawn(seed_of(s), case.id, s.verify_share):
        return None
    existing = (
        await uow.session.execute(select(Verification.id).where(Verification.case_id == case.id))
    ).scalar_one_or_none()
    if existing is not None:
        return None
    v = Verification(
        case_id=case.id,
        grid_id=case.grid_id,
        handler_id=await handler_of(uow, case),
        closed_at=uow.now,
        ask_at=uow.now + s.verify_after,
    )
    uow.session.add(v)
    await uow.session.flush()
    return v


def peers(uow: UnitOfWork, case: Case, exclude: set[int]) -> list[int]:
    """Members of the case's community who work none of its grid (never its handler)."""
    gridmap = uow.routing.gridmap
    grid = gridmap.grids.get(case.grid_id)
    if grid is None:
        return []
    community = grid.community_id
    return sorted(
        s.telegram_id
        for s in gridmap.staff.values()
        if s.active
        and s.role == "member"
        and s.telegram_id not in exclude
        and case.grid_id not in s.grid_ids
        and any(
            gridmap.grids[g].community_id == community for g in s.grid_ids if g in gridmap.grids
        )
    )


async def _reachable_resident(uow: UnitOfWork, case: Case) -> User | None:
    if case.resident_id is None:
        return None
    resident = await uow.session.get(User, case.resident_id)
    if resident is None or resident.erased_at is not None or resident.unreachable:
        return None
    return resident


async def ask(uow: UnitOfWork, v: Verification) -> bool:
    """Ask the check (the scheduler, under the row's lock, once `ask_at` has come)."""
    if v.outcome is not None or v.asked_at is not None or v.ask_at > uow.now:
        return False
    case = await uow.session.get(Case, v.case_id)
    if case is None:
        return False
    v.asked_at = uow.now
    v.expires_at = uow.now + uow.settings.verify_within
    resident = await _reachable_resident(uow, case)
    if resident is not None:
        v.way, v.checker_id = RESIDENT, resident.id
        uow.outbox.send(
            resident.id,
            resident.language,
            "verify_question",
            case_id=case.id,
            case=case,
            keyboard=[
                [
                    Button.of("btn_still_fixed_yes", f"r:vf:{case.id}:{v.id}:y"),
                    Button.of("btn_still_fixed_no", f"r:vf:{case.id}:{v.id}:n"),
                ]
            ],
        )
    else:
        exclude = {i for i in (v.handler_id, case.owner_id) if i is not None}
        candidates = peers(uow, case, exclude)
        if candidates:
            pick = candidates[
                int(_fraction(seed_of(uow.settings), "peer", case.id) * len(candidates))
            ]
            v.way, v.checker_id = PEER, pick
            lang = await chat_language(uow, pick)
            uow.outbox.send(
                pick,
                lang,
                "verify_peer",
                case_id=case.id,
                case=case,
                place=case_place(uow, case, lang),
                grid=uow.routing.gridmap.grids.get(case.grid_id),
                expires_at=v.expires_at,
                keyboard=[
                    [
                        Button.of("btn_verify_fixed", f"vp:{v.id}:y"),
                        Button.of("btn_verify_not_fixed", f"vp:{v.id}:n"),
                    ]
                ],
            )
        else:
            v.way, v.outcome = NOBODY, EXPIRED  # nobody to ask: unverified
            await lifecycle.record(
                uow, case, lifecycle.SYSTEM, "verification_expired", verification=v.id
            )
    return True


async def expire(uow: UnitOfWork, v: Verification) -> bool:
    """Nobody answered in time: unverified (the scheduler, under the row's lock)."""
    if v.outcome is not None or v.expires_at is None or v.expires_at > uow.now:
        return False
    v.outcome = EXPIRED
    case = await uow.session.get(Case, v.case_id)
    if case is not None:
        await lifecycle.record(
            uow, case, lifecycle.SYSTEM, "verification_expired", verification=v.id
        )
    return True


async def open_check(uow: UnitOfWork, checker_id: int, v_id: int, way: str) -> Verification:
    """The check this person was asked, still waiting for them; refused otherwise (a forged
    id, someone else's check, an answered or expired one)."""
    v = await uow.session.get(Verification, v_id)
    if v is None or v.way != way or v.checker_id != checker_id:
        raise CaseActionError("not_allowed")
    if v.outcome == EXPIRED:
        raise CaseActionError("verify_expired")
    if v.outcome is not None:
        raise CaseActionError("verify_answered")
    if v.expires_at is None or v.expires_at <= uow.now:
        raise CaseActionError("verify_expired")
    return v


async def answer(
    uow: UnitOfWork,
    checker_id: int,
    v_id: int,
    way: str,
    fixed: bool,
    *,
    case_id: int | None = None,
    photo: str | None = None,
) -> Verification:
    """The checker's answer, written once: passed, or failed and the case reopened as rework."""
    v = await open_check(uow, checker_id, v_id, way)
    if case_id is not None and v.case_id != case_id:
        raise CaseActionError("not_allowed")
    if way == PEER and not photo:
        raise CaseActionError("verify_photo_needed")
    case = await uow.session.get(Case, v.case_id)
    if case is None:
        raise CaseActionError("not_allowed")
    v.outcome = PASSED if fixed else FAILED
    v.answered_at = uow.now
    v.photo = photo
    if photo:
        uow.session.add(CasePhoto(case_id=case.id, file_id=photo, kind="check"))
    actor = lifecycle.Actor(checker_id, "resident" if way == RESIDENT else "member")
    await lifecycle.record(
        uow,
        case,
        actor,
        "verified" if fixed else "verification_failed",
        verification=v.id,
        way=way,
        handler=v.handler_id,
    )
    if not fixed and case.status == "closed":
        await lifecycle.rework(uow, case, actor, way)
    return v
