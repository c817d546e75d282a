"""Staff accounts: one-time invites and deactivation.

Their cases are the cases component's (`cases.queues`: queues, triage, hand-over, assessment);
this module never imports it, so people stays below cases.
"""

from __future__ import annotations

import secrets
from typing import Any

from bot.services.people import desk_auth
from bot.services.shared.domain import UnitOfWork
from bot.store.models import Invite, StaffMember

INVITE_ROLES = {
    "member": "grid",
    "leader": "grid",
    "centre": "community",
    "committee": "community",
    "party": "party",
    "street": "street",
    "admin": "none",
}


class StaffError(Exception):
    def __init__(self, key: str, **data: Any) -> None:
        super().__init__(key)
        self.key = key
        self.data = data


async def create_invite(uow: UnitOfWork, admin_id: int, role: str, target: str) -> Invite:
    """A one-time deep link code giving `role` for `target` (a grid, community or party)."""
    gridmap = uow.routing.gridmap
    kind = INVITE_ROLES.get(role)
    if kind is None:
        raise StaffError("invite_usage")
    if kind == "grid" and target not in gridmap.grids:
        raise StaffError("invite_unknown_target", target=target)
    if kind == "community" and target not in gridmap.communities:
        raise StaffError("invite_unknown_target", target=target)
    if kind == "party" and target not in gridmap.parties:
        raise StaffError("invite_unknown_target", target=target)
    invite = Invite(
        code="inv" + secrets.token_urlsafe(12).replace("-", "").replace("_", ""),
        role=role,
        target=target,
        created_by=admin_id,
        created_at=uow.now,
    )
    uow.session.add(invite)
    return invite


async def redeem_invite(uow: UnitOfWork, code: str, user_id: int, name: str) -> Invite | None:
    """Use an invite once. Returns None for an unknown code; raises for a used one."""
    invite = await uow.session.get(Invite, code)
    if invite is None:
        return None
    if invite.used_by is not None:
        raise StaffError("invite_used")
    invite.used_by, invite.used_at = user_id, uow.now
    row = await uow.session.get(StaffMember, user_id)
    if row is None:
        row = StaffMember(
            telegram_id=user_id,
            name=name or str(user_id),
            role=invite.role,
            grid_ids=[],
            source="invite",
            joined_at=uow.now,
            active=True,
        )
        uow.session.add(row)
    row.role = invite.role
    row.active = True
    row.joined_at = uow.now
    kind = INVITE_ROLES[invite.role]
    row.grid_ids = [invite.target] if kind == "grid" else []
    row.community_id = invite.target if kind == "community" else None
    row.party_id = invite.target if kind == "party" else None
    await uow.session.flush()
    uow.after_commit.append(uow.domain.schedule_changed.set)
    await uow.domain.reload_routing_in(uow)
    return invite


async def deactivate(uow: UnitOfWork, user_id: int) -> None:
    """Deactivate a staff account: signed out of the desk, routed no new case. Their open
    cases are handed over by the caller (`cases.queues.hand_over_cases`)."""
    row = await uow.session.get(StaffMember, user_id)
    if row is None:
        raise StaffError("staff_unknown", user=user_id)
    row.active = False
    await desk_auth.end_sessions_of(uow, user_id)
    await uow.session.flush()
    await uow.domain.reload_routing_in(uow)
