"""Links to other systems: the map's `links:` (Open311 endpoints and other deployments).

A link is an Open311 GeoReport v2 endpoint a case may be handed to: a functional department's
system (a party of the map names it with `link:`), the deployment's superior (`superior:`, a
street or district deployment or any Open311 endpoint) or a lower deployment the superior hands
cases down to (`lower:`). Everything here is pure: the client that speaks to a link lives in
`bot/runtime/links.py`, the queue and what an answer does to a case in
`bot/services/cases/handoffs.py`.

    links:
      - id: district
        kind: gridvoice            # gridvoice | open311
        url: https://district.example.org/open311/v2
        api_key: "…"               # the key the other side issued us (`gridvoice api-key`)
        jurisdiction_id: district.example.org
        level: superior            # superior | lower | department
        service_codes: {sanitation: "sanitation"}   # our category -> its service code
        statuses: {open: acknowledged, closed: resolved}         # its status -> our step
        external_statuses: {in_progress: accepted, refused: returned}
        photos: false
        updates: servicerequestupdates     # or none: requests.json is polled (a gridvoice
                                           # peer's default is servicerequestupdates)
        updated_after: false
        ack_within_minutes: 60
        contact_within_hours: 24
    superior: district
    lower: [xingfu-west]
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from routing.fields import GridMapError, parse_id, parse_list, parse_mapping

# The steps of a hand-off as the sending side sees them, in order: a remote's status maps to
# one of them. A step never goes back (a later update naming an earlier step is "backwards").
STEPS: dict[str, int] = {
    "submitted": 0,
    "acknowledged": 1,
    "accepted": 2,
    "contacted": 2,
    "resolved": 3,
    "returned": 3,
}
DEFAULT_STATUSES = {"open": "submitted", "closed": "resolved"}
DEFAULT_EXTERNAL = {
    "submitted": "submitted",
    "received": "submitted",
    "assigned": "submitted",
    "acknowledged": "acknowledged",
    "escalated": "submitted",
    "reopened": "acknowledged",
    "accepted": "accepted",
    "in_progress": "accepted",
    "investigating": "accepted",
    "action_scheduled": "accepted",
    "waiting_for_information": "accepted",
    "contacted": "contacted",
    "resolved": "resolved",
    "fixed": "resolved",
    "closed": "resolved",
    "rejected": "returned",
    "returned": "returned",
    "not_responsible": "returned",
    "no_further_action": "returned",
    "duplicate": "returned",
}
KINDS = ("open311", "gridvoice")
LEVELS = ("superior", "lower", "department")
_URL = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]{1,253}(/[^\s?#]*)?$")
_CODE = re.compile(r"^[A-Za-z0-9_.\-:]{1,64}$")


@dataclass(frozen=True)
class Link:
    id: str
    kind: str
    url: str  # the GeoReport v2 endpoint, without a trailing slash
    api_key: str
    jurisdiction_id: str | None
    level: str
    service_codes: Mapping[str, str]
    statuses: Mapping[str, str]
    external_statuses: Mapping[str, str]
    photos: bool = False
    updates: str | None = None  # "servicerequestupdates" when the remote offers them
    updated_after: bool = False
    ack_within: dt.timedelta = dt.timedelta(hours=1)
    contact_within: dt.timedelta = dt.timedelta(hours=24)
    names: Mapping[str, str] = field(default_factory=dict)  # {"en": ..., "zh": ...}

    @property
    def name(self) -> Mapping[str, str]:
        return self.names or {"en": self.id, "zh": self.id}

    def service_code(self, category: str) -> str:
        return self.service_codes.get(category, category)

    def step_of(self, status: str | None, external: str | None) -> str | None:
        """The remote's status as our step, or None when it is not one we know."""
        if external:  # a code the link's map does not name: unknown, whatever its status says
            return self.external_statuses.get(external.strip().lower())
        if status:
            key = status.strip().lower()
            if key in self.statuses:
                return self.statuses[key]
        return None


@dataclass(frozen=True)
class Links:
    links: Mapping[str, Link] = field(default_factory=dict)
    superior: str | None = None
    lower: tuple[str, ...] = ()

    def get(self, link_id: str | None) -> Link | None:
        return self.links.get(link_id) if link_id else None


def _names(value: Any, default: str, where: str) -> dict[str, str]:
    if value is None or isinstance(value, str):
        return {"en": value or default, "zh": value or default}
    if isinstance(value, Mapping):
        en, zh = value.get("en"), value.get("zh")
        if not all(isinstance(v, str | None) for v in (en, zh)) or not (en or zh):
            raise GridMapError(f"{where}.name: en/zh must be strings")
        return {"en": str(en or zh), "zh": str(zh or en)}
    raise GridMapError(f"{where}.name: expected a text or {{en: ..., zh: ...}}")


def _minutes(value: Any, where: str, default: dt.timedelta, unit: str) -> dt.timedelta:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100_000:
        raise GridMapError(f"{where}: expected a whole number of {unit}")
    return dt.timedelta(**{unit: value})


def _codes(value: Any, where: str, allowed: Callable[[str], bool] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in parse_mapping(value, where).items():
        key, val = str(k).strip().lower() if allowed is None else str(k), str(v)
        if allowed is not None and not _CODE.fullmatch(val):
            raise GridMapError(f"{where}.{k}: not a service code: {val!r}")
        if allowed is None and val not in STEPS:
            raise GridMapError(f"{where}.{k}: {val!r} is not one of {', '.join(STEPS)}")
        out[key] = val
    return out


def parse_links(
    data: Mapping[str, Any],
    categories: tuple[str, ...],
    parties: Mapping[str, Any],
    issue: Callable[[str, str, str], None],
) -> Links:
    """The map's `links:`, `superior:` and `lower:`; semantic problems go to `issue`."""
    links: dict[str, Link] = {}
    for i, raw in enumerate(parse_list(data.get("links"), "links")):
        entry = parse_mapping(raw, f"links[{i}]")
        lid = parse_id(entry, f"links[{i}]")
        where = f"link {lid}"
        if lid in links:
            issue("duplicate_id", where, f"link id {lid!r} is used twice")
            continue
        kind = str(entry.get("kind", "open311"))
        if kind not in KINDS:
            raise GridMapError(f"{where}.kind: expected one of {', '.join(KINDS)}")
        url = str(entry.get("url") or "").rstrip("/")
        if not _URL.fullmatch(url):
            issue("bad_url", f"{where}.url", f"not an http(s) address: {url!r}")
        level = str(entry.get("level", "department"))
        if level not in LEVELS:
            raise GridMapError(f"{where}.level: expected one of {', '.join(LEVELS)}")
        codes = _codes(entry.get("service_codes"), f"{where}.service_codes", lambda _c: True)
        for cat in codes:
            if cat not in categories:
                issue(
                    "unknown_reference", f"{where}.service_codes.{cat}", f"unknown category {cat!r}"
                )
        updates = entry.get("updates")
        if updates not in (None, "none", "servicerequestupdates"):
            raise GridMapError(f"{where}.updates: expected servicerequestupdates or none")
        api_key = entry.get("api_key")
        if not isinstance(api_key, str) or not api_key:
            issue(
                "missing_key", f"{where}.api_key", "a link needs the api_key the other side issued"
            )
        links[lid] = Link(
            id=lid,
            kind=kind,
            url=url,
            api_key=str(api_key or ""),
            jurisdiction_id=str(entry["jurisdiction_id"]) if entry.get("jurisdiction_id") else None,
            level=level,
            service_codes=codes,
            statuses={
                **DEFAULT_STATUSES,
                **_codes(entry.get("statuses"), f"{where}.statuses", None),
            },
            external_statuses={
                **DEFAULT_EXTERNAL,
                **_codes(entry.get("external_statuses"), f"{where}.external_statuses", None),
            },
            photos=bool(entry.get("photos", False)),
            # a gridvoice peer serves every step as servicerequestupdates: read those by default
            updates="servicerequestupdates"
            if updates == "servicerequestupdates" or (updates is None and kind == "gridvoice")
            else None,
            updated_after=bool(entry.get("updated_after", False)),
            ack_within=_minutes(
                entry.get("ack_within_minutes"),
                f"{where}.ack_within_minutes",
                dt.timedelta(hours=1),
                "minutes",
            ),
            contact_within=_minutes(
                entry.get("contact_within_hours"),
                f"{where}.contact_within_hours",
                dt.timedelta(hours=24),
                "hours",
            ),
            names=_names(entry.get("name"), lid, where),
        )
    superior = data.get("superior")
    if superior is not None:
        superior = str(superior)
        if superior not in links:
            issue("unknown_reference", "superior", f"unknown link {superior!r}")
            superior = None
    lower = tuple(str(x) for x in parse_list(data.get("lower"), "lower"))
    for name in lower:
        if name not in links:
            issue("unknown_reference", "lower", f"unknown link {name!r}")
    for pid, party in parties.items():
        link = getattr(party, "link", None)
        if link is not None and link not in links:
            issue("unknown_reference", f"party {pid}.link", f"unknown link {link!r}")
    return Links(links=links, superior=superior, lower=tuple(x for x in lower if x in links))
