"""Roles and capabilities (bot/services/people/policy.py) and the one scope rule built on them
(bot/services/people/access.py), for every role of the demo community."""

from __future__ import annotations

import pytest
from unit_helpers import (
    ADMIN,
    CENTRE,
    COMMITTEE,
    LEADER,
    MEMBER_1,
    MEMBER_2,
    PROPERTY_STAFF,
    STREET,
    file_case,
    new_resident,
)

from bot.services.cases import queues
from bot.services.people import access, policy
from bot.services.people.policy import CAPABILITIES, Capability
from bot.services.shared.domain import UnitOfWork
from bot.store.models import CaseFollower
from routing.gridmap import ROLES

C = Capability
# What each role may do: the policy as a person would state it.
EXPECTED: dict[str, set[Capability]] = {
    "member": {C.ACT, C.TAKE_OVER, C.ASSIGNABLE},
    "party": {C.ACT, C.TAKE_OVER},
    "leader": {C.ACT, C.OVERSEE, C.TRIAGE, C.REPORTS, C.REASSIGN, C.ASSIGNABLE, C.APPROVE},
    "centre": {C.ACT, C.OVERSEE, C.TRIAGE, C.REPORTS, C.REASSIGN, C.COMMITTEE, C.APPROVE},
    "street": {C.ACT, C.OVERSEE, C.TRIAGE, C.REPORTS, C.REASSIGN, C.APPROVE},
    "committee": {C.REPORTS, C.COMMITTEE},
    "admin": {C.ACT, C.OVERSEE, C.TRIAGE, C.REPORTS, C.REASSIGN, C.COMMITTEE, C.ADMIN, C.APPROVE},
}
# Supervision (督办): the grid leader and the roles with a wider reach, never a member or a party.
for _role in ("leader", "centre", "street", "admin"):
    EXPECTED[_role].add(C.SUPERVISE)
# Summons (吹哨): the grid's own people and those above them; never a party or the committee.
for _role in ("member", "leader", "centre", "street", "admin"):
    EXPECTED[_role].add(C.SUMMON)
# Offering a case to the organisations: whoever works cases, and the committee that invites them.
for _role in ("member", "party", "leader", "centre", "street", "admin", "committee"):
    EXPECTED[_role].add(C.OFFER)
PEOPLE = {
    "member": MEMBER_1,
    "party": PROPERTY_STAFF,
    "leader": LEADER,
    "centre": CENTRE,
    "street": STREET,
    "committee": COMMITTEE,
    "admin": ADMIN,
}
ALL_GRIDS = frozenset({"xingfu-1", "xingfu-2", "xingfu-3", "xingfu-4"})


def test_every_role_of_the_map_has_a_policy() -> None:
    assert set(CAPABILITIES) == set(ROLES) == set(EXPECTED)


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_has_exactly_its_capabilities(role: str) -> None:
    for capability in Capability:
        assert policy.role_may(role, capability) == (capability in EXPECTED[role]), capability
    assert not policy.role_may(None, Capability.ACT)  # a resident has none


def test_roles_with_a_capability() -> None:
    assert policy.roles_with(C.TRIAGE) == {"leader", "centre", "street", "admin"}
    assert policy.roles_with(C.APPROVE) == {"leader", "centre", "street", "admin"}
    assert policy.roles_with(C.REPORTS) == {"leader", "centre", "street", "committee", "admin"}
    assert policy.roles_with(C.COMMITTEE) == {"committee", "centre", "admin"}
    assert policy.roles_with(C.ADMIN) == {"admin"}


@pytest.mark.parametrize("role", sorted(EXPECTED))
async def test_a_person_gets_their_roles_capabilities(uow: UnitOfWork, role: str) -> None:
    person = PEOPLE[role]
    assert policy.role_of(uow, person) == role
    for capability in Capability:
        assert policy.may(uow, person, capability) == (capability in EXPECTED[role])


async def test_residents_and_deactivated_staff_may_nothing(uow: UnitOfWork) -> None:
    resident = await new_resident(uow)
    assert policy.role_of(uow, resident.id) is None
    assert policy.refusal(uow, resident.id, C.TRIAGE) == ("staff_only", "leaders")
    assert policy.refusal(uow, MEMBER_1, C.TRIAGE) == ("role_refused", "leaders")
    assert policy.refusal(uow, MEMBER_1, C.COMMITTEE) == ("role_refused", "committee")


@pytest.mark.parametrize(
    ("role", "grids"),
    [
        ("member", frozenset({"xingfu-1"})),
        ("leader", ALL_GRIDS),
        ("centre", ALL_GRIDS),
        ("committee", ALL_GRIDS),
        ("street", None),
        ("admin", None),
        ("party", frozenset()),
    ],
)
async def test_one_scope_rule_for_every_role(
    uow: UnitOfWork, role: str, grids: frozenset[str] | None
) -> None:
    """The board, the counts, the assessment and the triage queue share `scope_grids`."""
    assert access.scope_grids(uow, PEOPLE[role]) == grids


@pytest.mark.parametrize(
    ("role", "acts", "views"),
    [
        ("member", True, True),  # its owner
        ("leader", True, True),
        ("centre", True, True),
        ("street", True, True),
        ("admin", True, True),
        ("committee", False, True),
        ("party", False, False),
    ],
)
async def test_who_acts_on_and_who_views_a_grid_case(
    uow: UnitOfWork, role: str, acts: bool, views: bool
) -> None:
    case = await file_case(uow, await new_resident(uow), as_category="facilities")
    assert case.owner_id == MEMBER_1
    assert access.may_act(uow, PEOPLE[role], case) == acts
    assert access.may_view(uow, PEOPLE[role], case) == views
    assert not access.may_act(uow, MEMBER_2, case) and not access.may_view(uow, MEMBER_2, case)


async def test_a_follower_may_read_the_case_they_follow(uow: UnitOfWork) -> None:
    case = await file_case(uow, await new_resident(uow), as_category="facilities")
    follower = await new_resident(uow, building="xf-2")
    stranger = await new_resident(uow, building="xf-2")
    uow.session.add(CaseFollower(case_id=case.id, user_id=follower.id, since=uow.now))
    await uow.session.flush()
    assert await access.may_read(uow, follower.id, case)
    assert not access.may_view(uow, follower.id, case)  # reading is not working on it
    assert not await access.may_read(uow, stranger.id, case)


async def test_the_triage_queue_is_one_list_for_chat_and_desk(uow: UnitOfWork) -> None:
    case = await file_case(uow, await new_resident(uow), "Something odd", as_category=None)
    for role, sees in (("leader", True), ("centre", True), ("admin", True), ("member", False)):
        assert (case in await queues.triage_queue(uow, PEOPLE[role])) == sees, role
