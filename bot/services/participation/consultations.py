"""Consultations (议事协商): a question put to the verified residents of an audience.

Lifecycle: `proposals` (residents send proposals; the committee then sets the options)
-> `scheduled` -> `open` (ballots delivered through the outbox, campaign ``consult:<id>``)
-> `closed` (results and a chart to every participant and the committee, exactly once).

Secret ballots: `consult_ballots` records *that* a resident voted (the unique constraint
makes it one ballot each) and `consult_tallies` holds one counter per option, so no row
links a voter to a choice. The stored update that carried the vote is redacted in the same
transaction and the interim selection messages are dropped. A secret vote cannot be
changed: taking it back would need to know which counter to decrement. See
docs/consultations.md.
"""

from __future__ import annotations

import asyncio
import html
import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, delete, func, select, update

from bot.clock import wall_now
from bot.render import Renderer
from bot.services.participation.chart import ChartText, bar_chart, warm_up_soon
from bot.services.people import policy
from bot.services.people.policy import Capability
from bot.services.shared.csvfile import csv_bytes
from bot.services.shared.domain import Domain, UnitOfWork
from bot.services.shared.outbox import Button, Keyboard
from bot.store.models import (
    Consultation,
    ConsultBallot,
    ConsultComment,
    ConsultTally,
    InboxUpdate,
    MessageRef,
    OutboxMessage,
    StaffMember,
    User,
)

log = logging.getLogger(__name__)

MIN_OPTIONS, MAX_OPTIONS = 2, 10


class ConsultStatus(StrEnum):
    """A consultation's statuses (the stored strings)."""

    PROPOSALS = "proposals"  # residents send proposals; the committee then sets the options
    SCHEDULED = "scheduled"  # options set, waiting for `opens_at`
    OPEN = "open"  # ballots out, votes counted
    CLOSED = "closed"  # results frozen and sent


_CS = ConsultStatus
# Which status each may move to (the consultation's lifecycle in one table).
CONSULT_TRANSITIONS: dict[str, frozenset[str]] = {
    _CS.PROPOSALS: frozenset({_CS.SCHEDULED}),
    _CS.SCHEDULED: frozenset({_CS.OPEN}),
    _CS.OPEN: frozenset({_CS.CLOSED}),
    _CS.CLOSED: frozenset(),
}
# When a resident may comment (or propose), and when a vote counts.
TAKES_COMMENTS: frozenset[str] = frozenset({_CS.PROPOSALS, _CS.OPEN})
TAKES_VOTES: frozenset[str] = frozenset({_CS.OPEN})


def move(c: Consultation, status: ConsultStatus) -> None:
    """Change the consultation's status if its lifecycle allows it."""
    if status not in CONSULT_TRANSITIONS.get(c.status, frozenset()):
        raise ConsultError("consult_not_open" if c.status == _CS.CLOSED else "consult_wrong_state")
    c.status = status


def require(c: Consultation, allowed: frozenset[str], key: str = "consult_not_open") -> None:
    """Refuse (with `key`) unless the consultation is in one of `allowed` statuses."""
    if c.status not in allowed:
        raise ConsultError(key)


class ConsultError(Exception):
    """A refusal a person can cause; `key` is a label."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def is_committee(uow: UnitOfWork, user_id: int) -> bool:
    return policy.may(uow, user_id, Capability.COMMITTEE)


def parse_options(text: str) -> list[str] | None:
    options = [line.strip(" -•\t") for line in text.splitlines() if line.strip(" -•\t")]
    options = [o[:100] for o in options]
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS or len(set(options)) != len(options):
        return None
    return options


def audience_grids(uow: UnitOfWork, kind: str, ident: str = "") -> list[str]:
    gridmap = uow.routing.gridmap
    if kind == "all":
        return sorted(gridmap.grids)
    if kind == "cm":
        return sorted(g.id for g in gridmap.grids.values() if g.community_id == ident)
    return [ident] if ident in gridmap.grids else []


async def get(uow: UnitOfWork, consultation_id: int) -> Consultation:
    c = await uow.session.get(Consultation, consultation_id)
    if c is None:
        raise ConsultError("consult_unknown")
    return c


def create(uow: UnitOfWork, by: int, draft: dict[str, Any]) -> Consultation:
    """The committee's draft becomes a consultation; it opens now, later, or after proposals."""
    secret = bool(draft.get("secret"))
    c = Consultation(
        created_by=by,
        question=draft["question"],
        options=list(draft.get("options") or []),
        multiple=bool(draft.get("multiple")),
        grid_ids=list(draft["grids"]),
        secret=secret,
        allow_change=bool(draft.get("change")) and not secret,
        live_counts=bool(draft.get("live")),
        status=_CS.PROPOSALS if not draft.get("options") else _CS.SCHEDULED,
        opens_at=datetime.fromisoformat(draft["opens_at"]),
        closes_at=datetime.fromisoformat(draft["closes_at"]),
        created_at=uow.now,
        eligible={},
        results={},
    )
    uow.session.add(c)
    return c


async def publish(uow: UnitOfWork, c: Consultation, notify: Any = None) -> None:
    """Invite proposals, open now, or wait for the scheduler.

    `notify()` runs once the id and the status are known and before any ballot is queued, so the
    committee's answer is not sent behind a thousand ballots (the sender goes in id order).
    """
    await uow.session.flush()
    if c.status == _CS.PROPOSALS:
        if notify is not None:
            notify()
        for user in await eligible_voters(uow, c):
            uow.outbox.send(
                user.id,
                user.language,
                "consult_proposals_invite",
                c=c,
                campaign=f"consult:{c.id}",
                keyboard=[[Button.of("btn_propose", f"v:{c.id}:p")]],
            )
    elif c.opens_at <= uow.now:
        await open_consultation(uow, c, notify)
    else:
        if notify is not None:
            notify()
        uow.after_commit.append(uow.domain.schedule_changed.set)


async def set_options_and_open(
    uow: UnitOfWork, c: Consultation, options: list[str], notify: Any = None
) -> None:
    require(c, frozenset({_CS.PROPOSALS}), "consult_wrong_state")
    c.options = options
    move(c, _CS.SCHEDULED)
    if c.opens_at <= uow.now:
        await open_consultation(uow, c, notify)
    else:
        if notify is not None:
            notify()
        uow.after_commit.append(uow.domain.schedule_changed.set)


async def eligible_voters(uow: UnitOfWork, c: Consultation) -> list[User]:
    stmt = (
        select(User)
        .where(
            User.verified.is_(True),
            User.home_grid_id.in_(list(c.grid_ids)),
            User.erased_at.is_(None),
            User.consent_at.is_not(None),
        )
        .order_by(User.id)
    )
    return list((await uow.session.execute(stmt)).scalars().all())


def is_eligible(c: Consultation, user: User | None) -> bool:
    return bool(
        user
        and user.verified
        and user.erased_at is None
        and user.home_grid_id in (c.grid_ids or [])
    )


async def open_consultation(uow: UnitOfWork, c: Consultation, notify: Any = None) -> int:
    """Snapshot the electorate per grid and deliver a ballot to each voter, paced by the sender.

    `notify()` (the committee's answer) is queued before the ballots."""
    voters = await eligible_voters(uow, c)
    counts: dict[str, int] = {g: 0 for g in c.grid_ids}
    for user in voters:
        counts[user.home_grid_id or ""] = counts.get(user.home_grid_id or "", 0) + 1
    c.eligible = counts
    move(c, _CS.OPEN)
    if c.secret:
        for i in range(len(c.options)):
            uow.session.add(ConsultTally(consultation_id=c.id, option=i, votes=0))
    if notify is not None:
        notify()
    for user in voters:
        if user.unreachable:
            continue
        send_ballot(uow, c, user)
    uow.after_commit.append(uow.domain.schedule_changed.set)
    return len(voters)


def ballot_ref(c: Consultation, user_id: int) -> str:
    return f"cv:{c.id}:{user_id}"


def ballot_keyboard(c: Consultation, mask: int = 0) -> Keyboard:
    rows: Keyboard = []
    for i, option in enumerate(c.options):
        if c.multiple:
            mark = "☑️ " if mask & (1 << i) else "⬜ "
            rows.append([Button.literal(f"{mark}{option}"[:60], f"v:{c.id}:t:{mask ^ (1 << i)}")])
        else:
            rows.append([Button.literal(option[:60], f"v:{c.id}:o:{i}")])
    if c.multiple:
        rows.append([Button.of("btn_submit_vote", f"v:{c.id}:s:{mask}")])
    rows.append([Button.of("btn_comment", f"v:{c.id}:c")])
    return rows


def send_ballot(uow: UnitOfWork, c: Consultation, user: User) -> None:
    uow.outbox.send(
        user.id,
        user.language,
        "consult_ballot",
        c=c,
        keyboard=ballot_keyboard(c),
        ref=ballot_ref(c, user.id),
        campaign=f"consult:{c.id}",
    )


def show_selection(uow: UnitOfWork, c: Consultation, user: User, mask: int) -> None:
    uow.outbox.edit(
        ballot_ref(c, user.id),
        user.id,
        user.language,
        "consult_ballot",
        c=c,
        keyboard=ballot_keyboard(c, mask),
        selected=mask,
    )


def choices_of(c: Consultation, mask: int) -> list[int]:
    return [i for i in range(len(c.options)) if mask & (1 << i)]


async def redact_update(uow: UnitOfWork, update_id: int) -> None:
    """The stored update said who pressed which option: keep only that it was a vote."""
    row = await uow.session.get(InboxUpdate, update_id)
    if row is not None:
        row.payload = {"update_id": update_id, "redacted": "consultation vote"}


async def vote(
    uow: UnitOfWork, user: User | None, c: Consultation, choices: list[int], update_id: int
) -> str:
    """Record a ballot. Returns a label key for the answer; raises ConsultError on refusal."""
    if c.secret:
        await redact_update(uow, update_id)
    require(c, TAKES_VOTES)
    if uow.now >= c.closes_at:
        raise ConsultError("consult_not_open")
    if not is_eligible(c, user):
        raise ConsultError("consult_not_eligible")
    assert user is not None
    if (
        not choices
        or any(i < 0 or i >= len(c.options) for i in choices)
        or (not c.multiple and len(choices) > 1)
    ):
        raise ConsultError("consult_choose_first")
    existing = (
        await uow.session.execute(
            select(ConsultBallot).where(
                ConsultBallot.consultation_id == c.id, ConsultBallot.user_id == user.id
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        if not c.allow_change or c.secret:
            raise ConsultError("consult_already_voted")
        existing.choices = sorted(set(choices))
        return "consult_vote_changed"
    uow.session.add(
        ConsultBallot(
            consultation_id=c.id,
            user_id=user.id,
            grid_id=user.home_grid_id or "",
            choices=None if c.secret else sorted(set(choices)),
        )
    )
    if c.secret:
        await uow.session.execute(
            update(ConsultTally)
            .where(
                ConsultTally.consultation_id == c.id, ConsultTally.option.in_(sorted(set(choices)))
            )
            .values(votes=ConsultTally.votes + 1)
        )
        # The interim selections (which boxes were ticked) were edits to this voter's ballot.
        await uow.session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.edit_ref == ballot_ref(c, user.id),
                OutboxMessage.method == "editMessageText",
            )
        )
    await uow.session.flush()
    return "consult_vote_recorded"


def confirm_ballot(uow: UnitOfWork, c: Consultation, user: User, choices: list[int]) -> None:
    """Replace the ballot's buttons: the choice is shown only on a named ballot."""
    keyboard: Keyboard = [[Button.of("btn_comment", f"v:{c.id}:c")]]
    if c.allow_change:
        keyboard = ballot_keyboard(c)
    uow.outbox.edit(
        ballot_ref(c, user.id),
        user.id,
        user.language,
        "consult_voted",
        c=c,
        keyboard=keyboard,
        chosen=[] if c.secret else [c.options[i] for i in choices],
    )


async def ballot_of(uow: UnitOfWork, c: Consultation, user: User) -> ConsultBallot | None:
    """The person's ballot in this consultation, if they voted."""
    return (
        await uow.session.execute(
            select(ConsultBallot).where(
                ConsultBallot.consultation_id == c.id, ConsultBallot.user_id == user.id
            )
        )
    ).scalar_one_or_none()


def send_voted(uow: UnitOfWork, c: Consultation, user: User, ballot: ConsultBallot) -> None:
    """The vote as cast, as a new message (the choice only on a named ballot)."""
    choices = [] if c.secret else list(ballot.choices or [])
    uow.outbox.send(
        user.id,
        user.language,
        "consult_voted",
        c=c,
        keyboard=[[Button.of("btn_comment", f"v:{c.id}:c")]],
        chosen=[c.options[i] for i in choices if 0 <= i < len(c.options)],
    )


async def close_now(uow: UnitOfWork, c: Consultation) -> None:
    """The committee ends voting early: the close happens now, exactly as when it is due."""
    c.closes_at = min(c.closes_at, uow.now)
    await close(uow, c)


async def counts(uow: UnitOfWork, c: Consultation) -> tuple[list[int], int, dict[str, int]]:
    """Votes per option, number of ballots, ballots per grid."""
    per_grid = dict(
        (
            await uow.session.execute(
                select(ConsultBallot.grid_id, func.count())
                .where(ConsultBallot.consultation_id == c.id)
                .group_by(ConsultBallot.grid_id)
            )
        ).all()
    )
    total = sum(per_grid.values())
    votes = [0] * len(c.options)
    if c.secret:
        for option, n in (
            await uow.session.execute(
                select(ConsultTally.option, ConsultTally.votes).where(
                    ConsultTally.consultation_id == c.id
                )
            )
        ).all():
            votes[option] = n
    else:
        for (choices,) in (
            await uow.session.execute(
                select(ConsultBallot.choices).where(ConsultBallot.consultation_id == c.id)
            )
        ).all():
            for i in choices or []:
                votes[i] += 1
    return votes, total, per_grid


async def compute_results(uow: UnitOfWork, c: Consultation) -> dict[str, Any]:
    votes, total, per_grid = await counts(uow, c)
    eligible_total = sum(int(v) for v in (c.eligible or {}).values())
    return {
        "options": [
            {
                "n": i + 1,
                "text": text,
                "votes": votes[i],
                "percent": round(100 * votes[i] / total, 1) if total else 0.0,
            }
            for i, text in enumerate(c.options)
        ],
        "ballots": total,
        "eligible": eligible_total,
        "turnout": round(100 * total / eligible_total, 1) if eligible_total else 0.0,
        "grids": [
            {
                "grid": g,
                "ballots": int(per_grid.get(g, 0)),
                "eligible": int((c.eligible or {}).get(g, 0)),
                "turnout": round(100 * per_grid.get(g, 0) / c.eligible[g], 1)
                if (c.eligible or {}).get(g)
                else 0.0,
            }
            for g in c.grid_ids
        ],
    }


async def visible_results(uow: UnitOfWork, c: Consultation) -> dict[str, Any]:
    """Results for anyone asking: only after the close, or live for a non-binding poll."""
    if c.status == _CS.CLOSED:
        return c.results
    if c.live_counts and c.status == _CS.OPEN:
        return await compute_results(uow, c)
    raise ConsultError("consult_results_after_close")


def grid_names(uow: UnitOfWork, lang: str) -> dict[str, str]:
    return {g.id: g.name.get(lang) for g in uow.routing.gridmap.grids.values()}


async def committee_chats(uow: UnitOfWork, c: Consultation) -> list[tuple[int, str]]:
    """The author and every active committee account, with their language."""
    ids = {c.created_by}
    ids |= set(
        (
            await uow.session.execute(
                select(StaffMember.telegram_id).where(
                    StaffMember.role == "committee", StaffMember.active.is_(True)
                )
            )
        )
        .scalars()
        .all()
    )
    result = []
    for i in sorted(ids):
        user = await uow.session.get(User, i)
        result.append((i, user.language if user else uow.settings.default_language))
    return result


async def close(uow: UnitOfWork, c: Consultation) -> None:
    """Freeze the results and send them, with the chart, to participants and the committee."""
    move(c, _CS.CLOSED)
    c.closed_at = uow.now
    c.results = await compute_results(uow, c)
    charts: dict[str, bytes] = {}  # one chart per language, drawn on first need
    voters = (
        (
            await uow.session.execute(
                select(User)
                .join(
                    ConsultBallot,
                    and_(ConsultBallot.user_id == User.id, ConsultBallot.consultation_id == c.id),
                )
                .order_by(User.id)
            )
        )
        .scalars()
        .all()
    )
    recipients = [(u.id, u.language) for u in voters if not u.unreachable]
    recipients += [
        r for r in await committee_chats(uow, c) if r[0] not in {x[0] for x in recipients}
    ]
    for chat_id, lang in recipients:
        await send_results(uow, c, chat_id, lang, charts, campaign=f"consult-results:{c.id}")
    await retire_ballots(uow, c)


async def retire_ballots(uow: UnitOfWork, c: Consultation) -> int:
    """Take the buttons off every delivered ballot of a closed consultation (a vote pressed
    later would only be refused). Paced as a campaign, behind case messages; returns how many."""
    rows = (
        await uow.session.execute(
            select(MessageRef.chat_id, MessageRef.message_id).where(
                MessageRef.ref.like(f"cv:{c.id}:%")
            )
        )
    ).all()
    for chat_id, message_id in rows:
        uow.session.add(
            OutboxMessage(
                created_at=uow.now,
                chat_id=chat_id,
                method="editMessageReplyMarkup",
                payload={
                    "chat_id": chat_id,
                    "message_id": message_id,
                    "reply_markup": {"inline_keyboard": []},
                },
                next_attempt_at=wall_now(),
                status="pending",
                attempts=0,
                campaign=f"consult-close:{c.id}",
            )
        )
    return len(rows)


def prepare_charts() -> None:
    """Results are about to be asked for: have the chart library loaded in the background."""
    warm_up_soon()


def chart_text(renderer: Renderer, c: Consultation, data: dict[str, Any], lang: str) -> ChartText:
    """What the chart says, in `lang`, from the labels (plain text: the chart is no HTML)."""

    def say(key: str, **values: Any) -> str:
        return html.unescape(renderer.label(lang, key, **values))

    options = data["options"]
    return ChartText(
        title=say("chart_title", id=c.id, question=c.question, live=c.status != _CS.CLOSED),
        subtitle=say(
            "chart_turnout",
            turnout=_number(data["turnout"]),
            ballots=data["ballots"],
            eligible=data["eligible"],
        ),
        votes_axis=say("chart_votes"),
        options=[str(o["text"]) for o in options],
        votes=[int(o["votes"]) for o in options],
        bar_labels=[
            say("chart_bar", votes=o["votes"], percent=_number(o["percent"])) for o in options
        ],
    )


def _number(value: float) -> str:
    """40.0 -> '40', 33.3 -> '33.3'."""
    return f"{value:.1f}".removesuffix(".0")


async def send_results(
    uow: UnitOfWork,
    c: Consultation,
    chat_id: int,
    lang: str,
    charts: dict[str, bytes] | None = None,
    campaign: str | None = None,
    results: dict[str, Any] | None = None,
) -> None:
    """The results as text, then the chart in the reader's language (drawn off the event loop;
    `charts` keeps one per language across recipients)."""
    data = results or c.results
    uow.outbox.send(
        chat_id,
        lang,
        "consult_results",
        c=c,
        r=data,
        names=grid_names(uow, lang),
        campaign=campaign,
    )
    charts = charts if charts is not None else {}
    if lang not in charts:
        text = chart_text(uow.domain.renderer, c, data, lang)
        charts[lang] = await asyncio.to_thread(bar_chart, text)
    chart = charts[lang]
    caption = uow.domain.renderer.render(lang, "consult_chart_caption", c=c, r=data)
    uow.outbox.upload(
        chat_id,
        "sendPhoto",
        "photo",
        chart,
        f"consultation-{c.id}.png",
        caption=caption,
        campaign=campaign,
    )


async def delivery_report(uow: UnitOfWork, campaign: str) -> dict[str, int]:
    rows = (
        await uow.session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.campaign == campaign)
            .group_by(OutboxMessage.status)
        )
    ).all()
    report = {"pending": 0, "sent": 0, "failed": 0, "blocked": 0}
    report.update({status: int(n) for status, n in rows})
    return report


async def recent(uow: UnitOfWork, limit: int = 10) -> list[Consultation]:
    stmt = select(Consultation).order_by(Consultation.id.desc()).limit(limit)
    return list((await uow.session.execute(stmt)).scalars().all())


async def add_comment(uow: UnitOfWork, user: User, c: Consultation, kind: str, text: str) -> None:
    require(c, TAKES_COMMENTS)
    if not is_eligible(c, user):
        raise ConsultError("consult_not_open")
    option = None
    author = None
    if not c.secret:
        author = user.pseudonym
        ballot = (
            await uow.session.execute(
                select(ConsultBallot).where(
                    ConsultBallot.consultation_id == c.id, ConsultBallot.user_id == user.id
                )
            )
        ).scalar_one_or_none()
        if ballot is not None and ballot.choices and len(ballot.choices) == 1:
            option = int(ballot.choices[0])
    uow.session.add(
        ConsultComment(
            consultation_id=c.id, kind=kind, author=author, option=option, text=text[:2000]
        )
    )


@dataclass
class CommentGroup:
    option: str | None
    items: list[ConsultComment]


async def comment_groups(uow: UnitOfWork, c: Consultation) -> list[CommentGroup]:
    rows = (
        (
            await uow.session.execute(
                select(ConsultComment)
                .where(ConsultComment.consultation_id == c.id)
                .order_by(ConsultComment.id)
            )
        )
        .scalars()
        .all()
    )
    groups: list[CommentGroup] = []
    for i, text in enumerate(c.options):
        items = [r for r in rows if r.option == i]
        if items:
            groups.append(CommentGroup(text, items))
    free = [r for r in rows if r.option is None]
    if free:
        groups.append(CommentGroup(None, free))
    return groups


async def export_csv(uow: UnitOfWork, c: Consultation) -> bytes:
    """Results as CSV: per option, per grid turnout and, for a named ballot, pseudonymous ballots."""
    require(c, frozenset({_CS.CLOSED}), "consult_results_after_close")
    out: list[list[Any]] = [["section", "key", "value", "percent"]]
    for o in c.results["options"]:
        out.append(["option", o["text"], o["votes"], o["percent"]])
    out.append(["total", "ballots", c.results["ballots"], c.results["turnout"]])
    for g in c.results["grids"]:
        # A grid with nobody eligible has no turnout (not 0%): the percent stays empty.
        turnout = g["turnout"] if g["eligible"] else ""
        out.append(["turnout", g["grid"], f"{g['ballots']}/{g['eligible']}", turnout])
    if not c.secret:
        rows = (
            await uow.session.execute(
                select(User.pseudonym, ConsultBallot.choices)
                .join(User, User.id == ConsultBallot.user_id)
                .where(ConsultBallot.consultation_id == c.id)
                .order_by(User.pseudonym)
            )
        ).all()
        for pseudonym, choices in rows:
            out.append(["ballot", pseudonym, "; ".join(c.options[i] for i in choices or []), ""])
    return csv_bytes(out)


# --- scheduled: opening and closing found from rows -----------------------------------------


def _due(name: str, now: datetime) -> Any:
    if name == "open":
        return and_(Consultation.status == _CS.SCHEDULED, Consultation.opens_at <= now)
    return and_(Consultation.status == _CS.OPEN, Consultation.closes_at <= now)


async def run_due(domain: Domain) -> int:
    """Open and close what is due. Each row is re-read under a lock and re-checked."""
    if not domain.has_routing:
        return 0
    done = 0
    for name in ("open", "close"):
        async with domain.sessions() as session:
            ids = list(
                (
                    await session.execute(
                        select(Consultation.id).where(_due(name, domain.clock.now()))
                    )
                )
                .scalars()
                .all()
            )
        for cid in ids:
            async with domain.unit() as uow:
                stmt = select(Consultation).where(Consultation.id == cid, _due(name, uow.now))
                if not domain.sqlite:
                    stmt = stmt.with_for_update(skip_locked=True)
                c = (await uow.session.execute(stmt)).scalar_one_or_none()
                if c is None:
                    continue
                if name == "open":
                    await open_consultation(uow, c)
                else:
                    await close(uow, c)
                log.info("consultation %s: %s", name, cid)
                done += 1
    return done
