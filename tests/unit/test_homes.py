"""Homes: a new home needs a new confirmation; a pinned home keeps a rounded point and names
the nearest building; text held before registration is offered only when it names a problem."""

from __future__ import annotations

from unit_helpers import new_resident

from bot.services.people import residents
from bot.services.reports import drafts
from bot.services.shared.domain import UnitOfWork


async def test_a_new_home_clears_verification(uow: UnitOfWork) -> None:
    user = await new_resident(uow, building="xf-5", verified=True)
    user.verification_decided_at = uow.now
    assert residents.set_home(uow, user, "xf-5")  # the same home again: still confirmed
    assert user.verified and user.verification_decided_at is not None
    assert residents.set_home(uow, user, "ak-5")  # another grid
    assert (user.home_grid_id, user.verified, user.verification_decided_at) == (
        "xingfu-4",
        False,
        None,
    )


async def test_a_pin_in_another_place_clears_verification(uow: UnitOfWork) -> None:
    user = await new_resident(uow, building="xf-8", verified=True)
    assert residents.set_home_point(uow, user, 39.91352, 116.40243)  # at building 8, as a pin
    assert not user.verified and user.home_building_id is None


async def test_a_pinned_home_is_rounded_and_gives_reports_its_point(uow: UnitOfWork) -> None:
    user = await new_resident(uow)
    assert residents.set_home_point(uow, user, 39.913521, 116.402437)
    assert user.home_address == "39.9135, 116.4024"
    assert residents.home_point(user) == (39.9135, 116.4024)
    near = residents.nearest_building(uow, "xingfu-2", (39.9135, 116.4024))
    assert near is not None and near.id == "xf-8"
    assert drafts.place_of(uow, user, {}) == ("xingfu-2", None, (39.9135, 116.4024), None)


async def test_a_building_home_has_no_point(uow: UnitOfWork) -> None:
    user = await new_resident(uow, building="xf-3")
    assert residents.home_point(user) is None
    assert drafts.place_of(uow, user, {}) == ("xingfu-1", "xf-3", None, None)


async def test_held_text_is_offered_from_its_first_problem(uow: UnitOfWork) -> None:
    assert residents.held_report(uow, "hello") is None
    assert residents.held_report(uow, "你好\n您好，请问怎么用") is None
    assert residents.held_report(uow, None) is None
    held = "hello\nThe lift in building 3 is broken\nsince Monday"
    assert residents.held_report(uow, held) == "The lift in building 3 is broken\nsince Monday"
