"""The grid map: communities, grids, buildings, staff, parties and the rules that bind them.

Loaded from the YAML described in ``docs/grid-map.md``. Every object is a frozen dataclass,
so a loaded map can be shared freely between tasks. ``GridMap.from_dict`` raises
``GridMapError`` (a ``ValueError``) naming the offending key, grid or building.
``load_lenient`` builds what it can and returns the semantic issues instead (used by
``routing.check``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from routing.duty import Duty, parse_duty
from routing.fields import (
    GridMapError,
    parse_chat,
    parse_id,
    parse_int,
    parse_list,
    parse_mapping,
    parse_point,
)
from routing.links import Links, parse_links
from routing.replies import parse_replies

# libyaml's safe loader where PyYAML was built with it (a 1,000-grid map parses in 3.4 s instead
# of 9 s); the pure-Python one otherwise, with the same result.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = [
    "Building",
    "Community",
    "Duty",
    "Grid",
    "GridMap",
    "GridMapError",
    "Party",
    "Staff",
    "StreetOffice",
    "Text",
    "load_lenient",
    "parse_responsibility",
    "DutyRules",
    "Regulation",
]

ROLES = ("member", "leader", "centre", "street", "committee", "admin", "party")
DEFAULT_CATEGORIES = (
    "facilities",
    "sanitation",
    "environment",
    "safety",
    "traffic",
    "property",
    "construction",
    "dispute",
    "welfare",
    "health",
    "other",
)
_USERNAME = re.compile(r"^[a-z][a-z0-9_]{3,31}$")
DEFAULT_LADDER = {"member": "leader", "leader": "centre", "centre": "street", "party": "leader"}


@dataclass(frozen=True)
class Text:
    """A bilingual text from the map."""

    en: str
    zh: str

    def get(self, lang: str) -> str:
        if lang and lang.lower().startswith("zh") and self.zh:
            return self.zh
        return self.en or self.zh


@dataclass(frozen=True)
class StreetOffice:
    id: str
    name: Text
    chat_id: int | None


@dataclass(frozen=True)
class Building:
    id: str
    name: Text
    aliases: tuple[str, ...]
    grid_id: str
    location: tuple[float, float] | None


@dataclass(frozen=True)
class Grid:
    id: str
    community_id: str
    name: Text
    scope: Text
    office: Text
    polygon: tuple[tuple[float, float], ...] | None
    building_ids: tuple[str, ...]


@dataclass(frozen=True)
class ProposalRules:
    """Residents' proposals in a community (`communities[].proposals`, docs/grid-map.md): a
    proposal needs `share` of the verified residents' supports, at least `floor`, within
    `window`; the committee answers one that reached it within `answer_within`; a resident
    publishes at most `per_week` proposals in seven days."""

    share: float = 0.02
    floor: int = 10
    window: dt.timedelta = dt.timedelta(days=30)
    answer_within: dt.timedelta = dt.timedelta(days=14)
    per_week: int = 3


@dataclass(frozen=True)
class Community:
    id: str
    name: Text
    office: Text
    hours: Text
    phone: str | None
    grid_ids: tuple[str, ...]
    proposals: ProposalRules = ProposalRules()


@dataclass(frozen=True)
class Staff:
    telegram_id: int
    name: str
    role: str
    grid_ids: tuple[str, ...] = ()
    community_id: str | None = None
    party_id: str | None = None
    duty: Duty = field(default_factory=Duty.always)
    categories: frozenset[str] | None = None
    active: bool = True
    username: str | None = None  # their Telegram username, lower case, for @mentions in notes

    def handles(self, category: str | None) -> bool:
        return self.categories is None or category is None or category in self.categories


@dataclass(frozen=True)
class Party:
    id: str
    kind: str
    name: Text
    chat_id: int | None
    staff_ids: tuple[int, ...]
    link: str | None = None  # an external system the party's cases are handed to (links.py)


@dataclass(frozen=True)
class Responsibility:
    """category -> owner rules: ``grid`` or ``party:<id>``; overrides per community and grid."""

    defaults: Mapping[str, str]
    communities: Mapping[str, Mapping[str, str]]
    grids: Mapping[str, Mapping[str, str]]
    follow_up: str | None
    # A rule written as a mapping (`{owner: ..., clause: ..., cites: [...]}`): its explicit
    # clause id and the regulations it cites, by (level, scope, category); level is
    # "default" (scope "*"), "community" or "grid" (`routing.matrix.clauses`).
    named: Mapping[tuple[str, str, str], tuple[str | None, tuple[str, ...]]] = field(
        default_factory=dict
    )


@dataclass(frozen=True)
class Regulation:
    """A regulation a clause of the matrix cites (the map's `regulations:`)."""

    id: str
    title: Text
    url: str | None = None


@dataclass(frozen=True)
class DutyRules:
    """The map's `duty:` section: who rules on a returned case, and how soon."""

    adjudicator: str = "street"  # a staff role: street, centre or leader
    ruling_within: dt.timedelta = dt.timedelta(days=1)


@dataclass(frozen=True, eq=False)  # identity equality/hash: usable as a cache key
class GridMap:
    timezone: str
    street_office: StreetOffice | None
    communities: dict[str, Community]
    grids: dict[str, Grid]
    buildings: dict[str, Building]
    staff: dict[int, Staff]
    parties: dict[str, Party]
    categories: tuple[str, ...]
    category_weights: dict[str, float]
    responsibility: Responsibility
    ladder: dict[str, str]
    raw: dict = field(repr=False, compare=False)
    # Reply templates of the map (routing/replies.py), by category or "all".
    replies: dict = field(default_factory=dict, repr=False, compare=False)
    regulations: dict[str, Regulation] = field(default_factory=dict, repr=False, compare=False)
    duty: DutyRules = field(default_factory=DutyRules, repr=False, compare=False)
    links: Links = field(default_factory=Links, repr=False, compare=False)
    _by_grid: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _by_community: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _street: list = field(default_factory=list, init=False, repr=False, compare=False)
    # grid id -> the clauses in force there (routing/matrix.py `clauses_in`, asked on every
    # card): a map is never changed, an amended one is a new map with its own
    _clauses: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_grid: dict[tuple[str, str], list[Staff]] = {}
        by_comm: dict[str, list[Staff]] = {}
        street: list[Staff] = []
        for s in sorted(self.staff.values(), key=lambda s: s.telegram_id):
            if not s.active:
                continue
            if s.role in ("member", "leader"):
                for g in s.grid_ids:
                    by_grid.setdefault((s.role, g), []).append(s)
            elif s.role == "centre" and s.community_id:
                by_comm.setdefault(s.community_id, []).append(s)
            elif s.role == "street":
                street.append(s)
        object.__setattr__(self, "_by_grid", by_grid)
        object.__setattr__(self, "_by_community", by_comm)
        object.__setattr__(self, "_street", street)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict) -> GridMap:
        return _Builder(data, strict=True).build()

    @classmethod
    def from_yaml(cls, text: str) -> GridMap:
        try:
            data = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
        except yaml.YAMLError as exc:
            raise GridMapError(f"not valid YAML: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def from_file(cls, path: str | Path) -> GridMap:
        return cls.from_yaml(Path(path).read_text(encoding="utf-8"))

    def with_staff(self, staff: Iterable[Staff]) -> GridMap:
        """Replace (same telegram id) or add staff; only the staff indexes are rebuilt."""
        merged = dict(self.staff)
        for s in staff:
            merged[s.telegram_id] = s
        return dataclasses.replace(self, staff=merged)

    # -- queries --------------------------------------------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def members_of(self, grid_id: str) -> list[Staff]:
        return list(self._by_grid.get(("member", grid_id), ()))

    def leaders_of(self, grid_id: str) -> list[Staff]:
        return list(self._by_grid.get(("leader", grid_id), ()))

    def centre_of(self, community_id: str) -> list[Staff]:
        return list(self._by_community.get(community_id, ()))

    def street_staff(self) -> list[Staff]:
        return list(self._street)

    def staff_chats(self) -> frozenset[int]:
        """The group chats of the map's parties and street office: where cases may be shown."""
        chats = {p.chat_id for p in self.parties.values() if p.chat_id is not None}
        if self.street_office is not None and self.street_office.chat_id is not None:
            chats.add(self.street_office.chat_id)
        return frozenset(chats)

    def community_of(self, grid_id: str) -> Community:
        try:
            return self.communities[self.grids[grid_id].community_id]
        except KeyError as exc:
            raise GridMapError(f"unknown grid {grid_id!r}") from exc


# ---------------------------------------------------------------------------------------
Issue = tuple[str, str, str]  # (code, where, message)


def load_lenient(data: Any) -> tuple[GridMap, list[Issue]]:
    """Build the map, recording duplicates and unknown references instead of raising.

    Structural errors (wrong types, missing ids, bad times) still raise ``GridMapError``.
    """
    builder = _Builder(data, strict=False)
    gm = builder.build()
    return gm, builder.issues


def _text(value: Any, where: str) -> Text:
    if value is None:
        return Text("", "")
    if isinstance(value, str):
        return Text(value, value)
    if isinstance(value, Mapping):
        en, zh = value.get("en"), value.get("zh")
        if en is not None and not isinstance(en, str) or zh is not None and not isinstance(zh, str):
            raise GridMapError(f"{where}: en/zh must be strings")
        return Text(en or zh or "", zh or en or "")
    raise GridMapError(f"{where}: expected a text or {{en: ..., zh: ...}}, got {value!r}")


class _Builder:
    def __init__(self, data: Any, strict: bool) -> None:
        if not isinstance(data, Mapping):
            raise GridMapError("grid map: the top level must be a mapping")
        self.data = data
        self.strict = strict
        self.issues: list[Issue] = []

    def issue(self, code: str, where: str, message: str) -> None:
        if self.strict:
            raise GridMapError(f"{where}: {message}")
        self.issues.append((code, where, message))

    def build(self) -> GridMap:
        d = self.data
        version = d.get("version", 1)
        if version != 1:
            raise GridMapError(f"version: unsupported version {version!r}")
        tz = d.get("timezone", "Asia/Shanghai")
        try:
            ZoneInfo(str(tz))
        except Exception as exc:  # noqa: BLE001 - any lookup failure means a bad name
            raise GridMapError(f"timezone: unknown time zone {tz!r}") from exc
        so = d.get("street_office")
        street = None
        if so is not None:
            so = parse_mapping(so, "street_office")
            street = StreetOffice(
                parse_id(so, "street_office"),
                _text(so.get("name"), "street_office.name"),
                parse_chat(so.get("chat_id"), "street_office.chat_id"),
            )
        communities, grids, buildings = self._geography()
        categories = tuple(parse_list(d.get("categories"), "categories")) or DEFAULT_CATEGORIES
        if not all(isinstance(c, str) for c in categories):
            raise GridMapError("categories: expected a list of category ids")
        if len(set(categories)) != len(categories):
            self.issue("duplicate_id", "categories", "a category is listed twice")
        weights: dict[str, float] = {}
        for cat, w in parse_mapping(d.get("category_weights"), "category_weights").items():
            if not isinstance(w, int | float) or isinstance(w, bool) or w <= 0:
                raise GridMapError(f"category_weights.{cat}: expected a positive number")
            if cat not in categories:
                self.issue(
                    "unknown_reference", f"category_weights.{cat}", f"unknown category {cat!r}"
                )
            weights[str(cat)] = float(w)
        for cat in categories:
            weights.setdefault(cat, 1.0)
        parties = self._parties()
        staff = self._staff(tz, grids, communities, parties)
        resp = self._responsibility(communities, grids, parties, categories)
        ladder = {
            str(k): str(v) for k, v in parse_mapping(d.get("ladder"), "ladder").items()
        } or dict(DEFAULT_LADDER)
        self._deadlines(categories)
        replies = parse_replies(d.get("replies"), categories, self.issue)
        regulations, duty = self._duty()
        links = parse_links(d, categories, parties, self.issue)
        return GridMap(
            timezone=str(tz),
            street_office=street,
            communities=communities,
            grids=grids,
            buildings=buildings,
            staff=staff,
            parties=parties,
            categories=categories,
            category_weights=weights,
            responsibility=resp,
            ladder=ladder,
            raw=dict(d),
            replies=replies,
            regulations=regulations,
            duty=duty,
            links=links,
        )

    def _geography(self) -> tuple[dict[str, Community], dict[str, Grid], dict[str, Building]]:
        communities: dict[str, Community] = {}
        grids: dict[str, Grid] = {}
        buildings: dict[str, Building] = {}
        comm_list = parse_list(self.data.get("communities"), "communities")
        if not comm_list:
            raise GridMapError("communities: at least one community is required")
        for ci, c in enumerate(comm_list):
            c = parse_mapping(c, f"communities[{ci}]")
            cid = parse_id(c, f"communities[{ci}]")
            if cid in communities:
                self.issue(
                    "duplicate_id", f"community {cid}", f"community id {cid!r} is used twice"
                )
                continue
            grid_ids: list[str] = []
            for gi, g in enumerate(parse_list(c.get("grids"), f"community {cid}.grids")):
                g = parse_mapping(g, f"community {cid}.grids[{gi}]")
                gid = parse_id(g, f"community {cid}.grids[{gi}]")
                if gid in grids:
                    self.issue("duplicate_id", f"grid {gid}", f"grid id {gid!r} is used twice")
                    continue
                poly = g.get("polygon")
                polygon = None
                if poly is not None:
                    pts = parse_list(poly, f"grid {gid}.polygon")
                    polygon = tuple(
                        parse_point(p, f"grid {gid}.polygon[{i}]") for i, p in enumerate(pts)
                    )
                    if len(polygon) < 3:
                        raise GridMapError(f"grid {gid}.polygon: needs at least 3 points")
                b_ids: list[str] = []
                for bi, b in enumerate(parse_list(g.get("buildings"), f"grid {gid}.buildings")):
                    b = parse_mapping(b, f"grid {gid}.buildings[{bi}]")
                    bid = parse_id(b, f"grid {gid}.buildings[{bi}]")
                    if bid in buildings:
                        other = buildings[bid].grid_id
                        self.issue(
                            "overlap",
                            f"building {bid}",
                            f"building {bid!r} is listed in grid {other!r} and grid {gid!r}",
                        )
                        continue
                    aliases = parse_list(b.get("aliases"), f"building {bid}.aliases")
                    loc = b.get("location")
                    buildings[bid] = Building(
                        id=bid,
                        name=_text(b.get("name") or bid, f"building {bid}.name"),
                        aliases=tuple(str(a) for a in aliases),
                        grid_id=gid,
                        location=None
                        if loc is None
                        else parse_point(loc, f"building {bid}.location"),
                    )
                    b_ids.append(bid)
                grids[gid] = Grid(
                    id=gid,
                    community_id=cid,
                    name=_text(g.get("name") or gid, f"grid {gid}.name"),
                    scope=_text(g.get("scope"), f"grid {gid}.scope"),
                    office=_text(g.get("office"), f"grid {gid}.office"),
                    polygon=polygon,
                    building_ids=tuple(b_ids),
                )
                grid_ids.append(gid)
            phone = c.get("phone")
            communities[cid] = Community(
                id=cid,
                name=_text(c.get("name") or cid, f"community {cid}.name"),
                office=_text(c.get("office"), f"community {cid}.office"),
                hours=_text(c.get("hours"), f"community {cid}.hours"),
                phone=None if phone is None else str(phone),
                grid_ids=tuple(grid_ids),
                proposals=_proposal_rules(c.get("proposals"), f"community {cid}.proposals"),
            )
        return communities, grids, buildings

    def _parties(self) -> dict[str, Party]:
        parties: dict[str, Party] = {}
        for pi, p in enumerate(parse_list(self.data.get("parties"), "parties")):
            p = parse_mapping(p, f"parties[{pi}]")
            pid = parse_id(p, f"parties[{pi}]")
            if pid in parties:
                self.issue("duplicate_id", f"party {pid}", f"party id {pid!r} is used twice")
                continue
            ids = tuple(
                parse_int(s, f"party {pid}.staff")
                for s in parse_list(p.get("staff"), f"party {pid}.staff")
            )
            parties[pid] = Party(
                pid,
                str(p.get("kind", "other")),
                _text(p.get("name") or pid, f"party {pid}.name"),
                parse_chat(p.get("chat_id"), f"party {pid}.chat_id"),
                ids,
                str(p["link"]) if p.get("link") else None,
            )
        return parties

    def _staff(self, tz: str, grids: dict, communities: dict, parties: dict) -> dict[int, Staff]:
        staff: dict[int, Staff] = {}
        for si, s in enumerate(parse_list(self.data.get("staff"), "staff")):
            s = parse_mapping(s, f"staff[{si}]")
            tid = parse_int(s.get("telegram_id"), f"staff[{si}].telegram_id")
            where = f"staff {tid}"
            if tid in staff:
                self.issue("duplicate_id", where, f"telegram id {tid} is listed twice")
                continue
            role = s.get("role")
            if role not in ROLES:
                raise GridMapError(
                    f"{where}.role: expected one of {', '.join(ROLES)}, got {role!r}"
                )
            g_ids = tuple(str(g) for g in parse_list(s.get("grids"), f"{where}.grids"))
            for g in g_ids:
                if g not in grids:
                    self.issue(
                        "unknown_reference", where, f"staff {tid} refers to unknown grid {g!r}"
                    )
            g_ids = tuple(g for g in g_ids if g in grids)
            comm = s.get("community")
            if comm is not None and comm not in communities:
                self.issue(
                    "unknown_reference", where, f"staff {tid} refers to unknown community {comm!r}"
                )
                comm = None
            if comm is None and g_ids:
                comm = grids[g_ids[0]].community_id
            party = s.get("party")
            if party is not None and party not in parties:
                self.issue(
                    "unknown_reference", where, f"staff {tid} refers to unknown party {party!r}"
                )
                party = None
            cats = s.get("categories")
            categories = None
            if cats is not None:
                cl = [str(c) for c in parse_list(cats, f"{where}.categories")]
                categories = None if "all" in cl else frozenset(cl)
            duty = parse_duty(s.get("duty"), s.get("leave"), tz, where)
            username = s.get("username")
            if username is not None:
                username = str(username).lstrip("@").lower()
                if not _USERNAME.match(username):
                    self.issue(
                        "malformed", where, f"staff {tid}: {username!r} is no Telegram username"
                    )
                    username = None
            staff[tid] = Staff(
                tid,
                str(s.get("name", tid)),
                role,
                g_ids,
                comm,
                party,
                duty,
                categories,
                bool(s.get("active", True)),
                username,
            )
        for p in parties.values():
            for tid in p.staff_ids:
                if tid not in staff:
                    staff[tid] = Staff(tid, p.name.zh, "party", party_id=p.id, duty=Duty.always(tz))
        return staff

    def _responsibility(
        self, communities: dict, grids: dict, parties: dict, categories: tuple[str, ...]
    ) -> Responsibility:
        raw = parse_mapping(self.data.get("responsibility"), "responsibility")
        return parse_responsibility(raw, communities, grids, parties, categories, self.issue)

    def _duty(self) -> tuple[dict[str, Regulation], DutyRules]:
        """`regulations:` (id, title, url) and `duty:` (adjudicator, ruling_within)."""
        regulations: dict[str, Regulation] = {}
        for ri, r in enumerate(parse_list(self.data.get("regulations"), "regulations")):
            r = parse_mapping(r, f"regulations[{ri}]")
            rid = parse_id(r, f"regulations[{ri}]")
            if rid in regulations:
                self.issue(
                    "duplicate_id", f"regulation {rid}", f"regulation {rid!r} is listed twice"
                )
                continue
            url = r.get("url")
            if url is not None and not (
                isinstance(url, str) and url.startswith(("http://", "https://"))
            ):
                raise GridMapError(f"regulation {rid}.url: expected an http(s) address")
            regulations[rid] = Regulation(
                rid, _text(r.get("title") or rid, f"regulation {rid}.title"), url
            )
        raw = parse_mapping(self.data.get("duty"), "duty")
        adjudicator = str(raw.get("adjudicator", "street"))
        if adjudicator not in ("street", "centre", "leader"):
            raise GridMapError(
                f"duty.adjudicator: expected street, centre or leader, got {adjudicator!r}"
            )
        from routing.deadlines import parse_duration

        try:
            within = parse_duration(str(raw.get("ruling_within", "1d")))
        except ValueError as exc:
            raise GridMapError(f"duty.ruling_within: {exc}") from exc
        if within <= dt.timedelta(0):
            raise GridMapError("duty.ruling_within: expected a positive duration")
        return regulations, DutyRules(adjudicator, within)

    def _deadlines(self, categories: tuple[str, ...]) -> None:
        from routing.deadlines import validate_deadlines

        try:
            unknown = validate_deadlines(parse_mapping(self.data.get("deadlines"), "deadlines"))
        except ValueError as exc:
            raise GridMapError(f"deadlines: {exc}") from exc
        for cat in unknown:
            if cat not in categories:
                self.issue(
                    "unknown_reference", f"deadlines.categories.{cat}", f"unknown category {cat!r}"
                )


def _proposal_rules(value: Any, where: str) -> ProposalRules:
    """`communities[].proposals`: {share, floor, window, answer_within, per_week}; each optional."""
    from routing.deadlines import parse_duration

    raw = parse_mapping(value, where)
    base = ProposalRules()
    share = raw.get("share", base.share)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise GridMapError(f"{where}.share: expected a number above 0 and at most 1")
    numbers = {}
    for key in ("floor", "per_week"):
        n = raw.get(key, getattr(base, key))
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1_000_000:
            raise GridMapError(f"{where}.{key}: expected a whole number from 1")
        numbers[key] = n
    spans = {}
    for key in ("window", "answer_within"):
        text = raw.get(key)
        if text is None:
            spans[key] = getattr(base, key)
            continue
        try:
            spans[key] = parse_duration(str(text))
        except ValueError as exc:
            raise GridMapError(f"{where}.{key}: {exc}") from exc
        if spans[key] <= dt.timedelta(0):
            raise GridMapError(f"{where}.{key}: expected a positive duration")
    return ProposalRules(share=float(share), **numbers, **spans)


def parse_responsibility(
    r: Mapping[str, Any],
    communities: Mapping,
    grids: Mapping,
    parties: Mapping,
    categories: tuple[str, ...],
    issue: Callable[[str, str, str], None],
) -> Responsibility:
    """Parse the ``responsibility`` section; ``issue(code, where, message)`` records problems."""

    named: dict[tuple[str, str, str], tuple[str | None, tuple[str, ...]]] = {}

    def rules(value: Any, where: str, level: str = "default", scope: str = "*") -> dict[str, str]:
        out: dict[str, str] = {}
        for cat, owner in parse_mapping(value, where).items():
            if cat not in categories:
                issue("unknown_reference", f"{where}.{cat}", f"unknown category {cat!r}")
                continue
            if isinstance(owner, Mapping):  # {owner: ..., clause: ..., cites: [...]}
                clause = owner.get("clause")
                if clause is not None and not (
                    isinstance(clause, str)
                    and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}", clause)
                ):
                    raise GridMapError(
                        f"{where}.{cat}.clause: letters, digits, '.', '_' or '-', at most 32"
                    )
                cites = tuple(
                    str(c) for c in parse_list(owner.get("cites"), f"{where}.{cat}.cites")
                )
                named[(level, scope, str(cat))] = (clause, cites)
                owner = owner.get("owner")
            if owner != "grid" and not (isinstance(owner, str) and owner.startswith("party:")):
                raise GridMapError(
                    f"{where}.{cat}: owner must be 'grid' or 'party:<id>', got {owner!r}"
                )
            if owner.startswith("party:") and owner[6:] not in parties:
                issue("unknown_reference", f"{where}.{cat}", f"unknown party {owner[6:]!r}")
                continue
            out[str(cat)] = owner
        return out

    defaults = rules(r.get("defaults"), "responsibility.defaults")
    comms: dict[str, dict[str, str]] = {}
    for cid, v in parse_mapping(r.get("communities"), "responsibility.communities").items():
        if cid not in communities:
            issue(
                "unknown_reference",
                f"responsibility.communities.{cid}",
                f"unknown community {cid!r}",
            )
            continue
        comms[cid] = rules(v, f"responsibility.communities.{cid}", "community", str(cid))
    grid_rules: dict[str, dict[str, str]] = {}
    for gid, v in parse_mapping(r.get("grids"), "responsibility.grids").items():
        if gid not in grids:
            issue("unknown_reference", f"responsibility.grids.{gid}", f"unknown grid {gid!r}")
            continue
        grid_rules[gid] = rules(v, f"responsibility.grids.{gid}", "grid", str(gid))
    follow = r.get("follow_up", "grid")
    if follow not in ("grid", None, "none"):
        raise GridMapError(f"responsibility.follow_up: expected 'grid' or 'none', got {follow!r}")
    return Responsibility(defaults, comms, grid_rules, "grid" if follow == "grid" else None, named)
