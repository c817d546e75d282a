"""Verifying that a resident lives where they say: the household register or the grid member.

The register (`gridvoice register load FILE`) keeps only a salted hash of each phone number.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import re
from pathlib import Path

from sqlalchemy import delete

from bot.services.people.residents import home_point, nearest_building
from bot.services.shared.domain import UnitOfWork
from bot.services.shared.languages import chat_language
from bot.services.shared.outbox import Button
from bot.store.models import HouseholdPhone, User

PEPPER = "gridvoice:household:"
# A verification button names the resident by a keyed 64-bit permutation of their id: staff
# (and anyone reading callback data) never see the Telegram account, the server can invert it,
# and a forged value names nobody in practice.
TOKEN_ROUNDS = 4
_HALF = 0xFFFFFFFF


def normalise_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def hash_phone(phone: str) -> str:
    return hashlib.sha256((PEPPER + normalise_phone(phone)).encode()).hexdigest()


def read_register(
    path: Path, grids: set[str], buildings: dict[str, str]
) -> tuple[list[HouseholdPhone], list[str]]:
    """Rows `phone,building_id` or `phone,grid_id` (a header line is skipped). Returns rows and problems."""
    rows: dict[str, HouseholdPhone] = {}
    problems: list[str] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for n, record in enumerate(csv.reader(fh), 1):
            if not record or not record[0].strip() or record[0].strip().lower() == "phone":
                continue
            if len(record) < 2:
                problems.append(f"line {n}: expected phone,building_id or phone,grid_id")
                continue
            phone, place = record[0].strip(), record[1].strip()
            if len(normalise_phone(phone)) < 6:
                problems.append(f"line {n}: not a phone number")
                continue
            if place in buildings:
                row = HouseholdPhone(
                    phone_hash=hash_phone(phone), grid_id=buildings[place], building_id=place
                )
            elif place in grids:
                row = HouseholdPhone(phone_hash=hash_phone(phone), grid_id=place, building_id=None)
            else:
                problems.append(f"line {n}: unknown building or grid {place!r}")
                continue
            rows[row.phone_hash] = row
    return list(rows.values()), problems


async def replace_register(uow: UnitOfWork, rows: list[HouseholdPhone]) -> None:
    await uow.session.execute(delete(HouseholdPhone))
    uow.session.add_all(rows)


async def verify_by_contact(uow: UnitOfWork, user: User, phone: str) -> str:
    """A shared contact matching the register verifies the resident. Returns an outcome key."""
    row = await uow.session.get(HouseholdPhone, hash_phone(phone))
    if row is None:
        return "not_found"
    if user.home_grid_id and user.home_grid_id != row.grid_id:
        return "other_grid"
    if row.building_id and not user.home_building_id:
        building = uow.routing.gridmap.buildings.get(row.building_id)
        if building is not None:
            user.home_building_id = building.id
            user.home_address = building.name.get(user.language)
    user.home_grid_id = row.grid_id
    user.verified = True
    return "verified"


def _round(key: bytes, n: int, half: int) -> int:
    digest = hmac.new(key, f"{n}:{half}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big")


def resident_token(secret: str, user_id: int) -> str:
    """The resident as 16 hex digits only the server can turn back into an id."""
    key = (PEPPER + secret).encode()
    left, right = (user_id >> 32) & _HALF, user_id & _HALF
    for n in range(TOKEN_ROUNDS):
        left, right = right, left ^ _round(key, n, right)
    return f"{(left << 32) | right:016x}"


def resident_of_token(secret: str, token: str) -> int | None:
    """The id behind `resident_token`, or None for anything that is not one."""
    if len(token) != 16 or not all(c in "0123456789abcdef" for c in token):
        return None
    key = (PEPPER + secret).encode()
    value = int(token, 16)
    left, right = value >> 32, value & _HALF
    for n in reversed(range(TOKEN_ROUNDS)):
        left, right = right ^ _round(key, n, left), left
    return (left << 32) | right


def coarse_place(uow: UnitOfWork, user: User, lang: str) -> str:
    """Where the resident says they live, for staff: the building, or only the grid for a pin."""
    gridmap = uow.routing.gridmap
    building = gridmap.buildings.get(user.home_building_id or "")
    if building is not None:
        return building.name.get(lang)
    grid = gridmap.grids.get(user.home_grid_id or "")
    return grid.name.get(lang) if grid is not None else ""


async def request_verification(uow: UnitOfWork, user: User) -> None:
    """Ask the grid members of the resident's grid to confirm the address (two taps)."""
    if user.verified or not user.home_grid_id:
        return
    user.verification_decided_at = None  # a new request (a new home) waits for a new answer
    token = resident_token(uow.settings.token, user.id)
    pin = home_point(user)
    near = nearest_building(uow, user.home_grid_id, pin) if pin is not None else None
    for member in uow.routing.gridmap.members_of(user.home_grid_id):
        if member.active:
            lang = await chat_language(uow, member.telegram_id)
            uow.outbox.send(
                member.telegram_id,
                lang,
                "consult_verify_request",
                ref=_request_ref(user.id, member.telegram_id),
                resident=user,
                place=coarse_place(uow, user, lang),
                near=near,
                keyboard=[
                    [
                        Button.of("btn_verify_yes", f"h:y:{token}"),
                        Button.of("btn_verify_no", f"h:n:{token}"),
                    ]
                ],
            )


def _request_ref(resident_id: int, member_id: int) -> str:
    return f"verify:{resident_id}:{member_id}"


class AlreadyDecided(Exception):
    """The request was answered before (by this member or another): nothing changes."""

    def __init__(self, approved: bool) -> None:
        super().__init__("verify_already_decided")
        self.approved = approved


async def decide(uow: UnitOfWork, staff_id: int, token: str, approve: bool) -> User:
    """The grid member's answer; only a member or leader of the resident's grid may give it,
    and only once: a second press (or a colleague's copy) neither flips it nor tells the
    resident again. Every copy of the request loses its buttons and shows the decision."""
    resident_id = resident_of_token(uow.settings.token, token)
    user = await uow.session.get(User, resident_id) if resident_id is not None else None
    staff = uow.routing.gridmap.staff.get(staff_id)
    if user is None or staff is None or not staff.active or user.home_grid_id not in staff.grid_ids:
        raise PermissionError("not_allowed")
    if user.verification_decided_at is not None:
        raise AlreadyDecided(user.verified)
    user.verified = approve
    user.verification_decided_at = uow.now
    uow.outbox.send(user.id, user.language, "consult_verified", approved=approve)
    for member in uow.routing.gridmap.members_of(user.home_grid_id or ""):
        if not member.active:
            continue  # was never asked
        lang = await chat_language(uow, member.telegram_id)
        uow.outbox.edit(
            _request_ref(user.id, member.telegram_id),
            member.telegram_id,
            lang,
            "consult_verify_decided",
            resident=user,
            approved=approve,
            by=staff.name,
        )
    return user
