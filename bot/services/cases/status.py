"""A case's statuses and the lifecycle between them, in one place.

The stored strings are the enum's values (rows written before keep working: a `Status` is a
`str`). Every set the code asks about (open, waiting for acceptance, being worked on, the
board's columns) is derived here, never listed again elsewhere.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    TRIAGE = "triage"  # the classifier could not place it: a leader picks the category
    ASSIGNED = "assigned"
    TRANSFERRED = "transferred"
    ESCALATED = "escalated"  # a deadline was missed: the next rung has it
    REOPENED = "reopened"  # the resident said "not solved"
    ACCEPTED = "accepted"
    NEEDS_INFO = "needs_info"  # waiting for the resident's answer
    RESOLVED = "resolved"  # waiting for the resident's rating (or the reopen window to end)
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


_S = Status
# Where a case may go from an open status handled by someone (the same for each of them).
_HANDLED = frozenset(
    {_S.ACCEPTED, _S.NEEDS_INFO, _S.TRANSFERRED, _S.RESOLVED, _S.REJECTED, _S.ESCALATED}
) | {_S.CANCELLED}

# Which transitions each status allows (the lifecycle in one table).
TRANSITIONS: dict[str, frozenset[str]] = {
    _S.TRIAGE: frozenset({_S.ASSIGNED, _S.REJECTED, _S.CANCELLED, _S.RESOLVED}),
    _S.ASSIGNED: _HANDLED,
    _S.TRANSFERRED: _HANDLED,
    _S.ESCALATED: _HANDLED,
    _S.REOPENED: _HANDLED,
    _S.ACCEPTED: _HANDLED - {_S.ACCEPTED},
    _S.NEEDS_INFO: _HANDLED | {_S.ASSIGNED},
    _S.RESOLVED: frozenset({_S.CLOSED, _S.REOPENED}),
    _S.REJECTED: frozenset(),
    # An independent check found the fix did not hold: reopened as rework
    # (bot/services/cases/verification.py).
    _S.CLOSED: frozenset({_S.REOPENED}),
    _S.CANCELLED: frozenset(),
}

# Handed to someone who has not accepted it yet: their accept-by deadline runs.
AWAITING_ACCEPT: frozenset[str] = frozenset(
    {_S.ASSIGNED, _S.TRANSFERRED, _S.ESCALATED, _S.REOPENED}
)
# Accepted and being worked on: the resolve-by deadline runs.
WORKING: frozenset[str] = frozenset({_S.ACCEPTED, _S.NEEDS_INFO})
# Still someone's work (everything a transition can leave to reach an end).
OPEN: frozenset[str] = frozenset({_S.TRIAGE}) | AWAITING_ACCEPT | WORKING
# Done, from the staff's side (a resolved case waits only for the resident).
FINISHED: frozenset[str] = frozenset(Status) - OPEN
# The board's columns, in the lifecycle's order.
COLUMNS: tuple[str, ...] = (
    _S.TRIAGE,
    _S.ASSIGNED,
    _S.TRANSFERRED,
    _S.ESCALATED,
    _S.REOPENED,
    _S.ACCEPTED,
    _S.NEEDS_INFO,
)

# Audit events the public sees, each a step of the case's public timeline (named in
# bot/services/public/projection.py); the case's public updated time is the last of them or
# of a category change (which changes the published category). Never the resident's rating or
# its comment, a neighbour following, nor the scheduler closing a resolved case (it closes a
# rated case later than an unrated one): watching a case page or Open311 must not tell when —
# or whether — one resident rated.
PUBLIC_EVENT_KINDS: frozenset[str] = frozenset(
    {
        "created",
        "triaged",
        "rerouted",
        "reassigned",
        "accepted",
        "asked",
        "answered",
        "transferred",
        "escalated",
        "resolved",
        "rejected",
        "reopened",
        "rework",
        "cancelled",
        "public_note",
        # Fair clocks: a hold (its reason category only, never the owner's note), its end,
        # an approved extension of the deadline.
        "held",
        "hold_ended",
        "extended",
    }
)
# Why a case may be held (its reason category, published and told to the resident in their
# language; the owner's note for the leader never is).
HOLD_REASONS: tuple[str, ...] = ("parts", "weather", "resident", "department", "other")
PUBLIC_UPDATE_KINDS: frozenset[str] = PUBLIC_EVENT_KINDS | {"category_changed"}


def may_move(old: str, new: str) -> bool:
    """Whether the lifecycle allows `old` -> `new`. Staying put is allowed while the case is
    open (handed on within `assigned`, escalated again); a finished case stays finished, so
    closing a closed case or resolving a resolved one is refused, not written twice."""
    return (new == old and old in OPEN) or new in TRANSITIONS.get(old, frozenset())


# Joint handling and summons (吹哨报到): steps among staff. The resident follows one case: these
# are on the staff's timeline only, never the reporter's, a follower's or the public's.
STAFF_ONLY_KINDS: frozenset[str] = frozenset(
    {
        "cohandler_added",
        "summoned",
        "summons_signed",
        "summons_contacted",
        "task_done",
        "task_waived",
        "task_missed_sign",
        "task_missed_contact",
        "task_missed_overdue",
        # Hand-offs received from a link (cases/intake.py) and the other side's pushed steps.
        "handoff_missed_sign",
        "handoff_missed_contact",
        "handoff_contacted",
        "remote_update",
        # A case offered to the organisations, their answers and the note of one that did its
        # part (staff decide what is published); an assisted resident called back.
        "offered_org",
        "org_took",
        "org_declined",
        "org_done",
        "called_back",
    }
)
