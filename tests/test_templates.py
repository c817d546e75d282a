"""Every sentence exists in both languages, and every template renders with real-looking data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest

from bot.render import LANGUAGES, TEMPLATES_DIR, Renderer, label_keys, template_names
from routing.gridmap import GridMap


class _Clause(str):
    """A clause of the duty list: its id as text, its category as an attribute."""

    category = "facilities"


DEMO_MAP = Path(__file__).resolve().parents[1] / "bot" / "examples" / "demo-community.yaml"
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def test_same_templates_in_every_language() -> None:
    names = {lang: template_names(lang) for lang in LANGUAGES}
    for lang in LANGUAGES:
        missing = names["en"] - names[lang]
        extra = names[lang] - names["en"]
        assert not missing, f"{lang} lacks {sorted(missing)}"
        assert not extra, f"{lang} has templates English lacks: {sorted(extra)}"


def test_same_labels_in_every_language() -> None:
    keys = {lang: label_keys(lang) for lang in LANGUAGES}
    for lang in LANGUAGES:
        assert keys["en"] - keys[lang] == set(), (
            f"labels missing in {lang}: {sorted(keys['en'] - keys[lang])}"
        )
        assert keys[lang] - keys["en"] == set(), (
            f"labels only in {lang}: {sorted(keys[lang] - keys['en'])}"
        )


def test_no_label_is_empty() -> None:
    import yaml

    for lang in LANGUAGES:
        data = yaml.safe_load((TEMPLATES_DIR / lang / "labels.yaml").read_text(encoding="utf-8"))
        assert all(str(v).strip() for v in data.values()), lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_template_compiles(lang: str) -> None:
    env = Renderer().env
    for name in sorted(template_names(lang)):
        if name.endswith(".j2"):
            env.get_template(f"{lang}/{name}")  # a syntax error raises


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_label_renders(lang: str) -> None:
    r = Renderer()
    data = {
        "case_id": "GV-2026-000001",
        "status": "assigned",
        "days": 7,
        "hours": 2,
        "minutes": 5,
        "limit": 10,
        "count": 3,
        "n": 3,
        "option": "A",
        "title": "T",
        "name": "N",
    }
    for key in label_keys(lang):
        assert r.label(lang, key, **data).strip(), key


def _case(**overrides: Any) -> SimpleNamespace:
    values: dict[str, Any] = dict(
        id=1,
        human_id="GV-2026-000001",
        text="The street light <b>outside</b> is broken & dark",
        category="facilities",
        status="assigned",
        priority="normal",
        grid_id="xingfu-1",
        building_id="xf-1",
        place_text=None,
        latitude=39.9105,
        longitude=116.4008,
        created_at=NOW - timedelta(hours=3),
        updated_at=NOW,
        accept_by=NOW + timedelta(hours=1),
        resolve_by=NOW + timedelta(days=3),
        accepted_at=None,
        resolved_at=None,
        closed_at=None,
        rating=4,
        rating_comment="ok",
        matched=["street light", "broken"],
        confidence=0.8,
        owner_id=10001,
        party_id=None,
        rung="member",
        resolution_note="Replaced",
        reopen_count=0,
        escalation_count=0,
        version=1,
        resident_id=501,
        held_since=NOW - timedelta(hours=1),
        held_until=NOW + timedelta(days=2),
        held_reason="parts",
        deferrals=1,
        # under supervision (督办): the card and the queue mark it
        supervised_at=NOW - timedelta(hours=1),
        supervise_by=NOW + timedelta(days=1),
        supervise_reason="Third complaint this month",
        supervise_missed_at=None,
    )
    values.update(overrides)
    return SimpleNamespace(**values)


def _context(gridmap: GridMap, lang: str) -> dict[str, Any]:
    grid = gridmap.grids["xingfu-1"]
    community = gridmap.community_of("xingfu-1")
    members = gridmap.members_of("xingfu-1")
    leaders = gridmap.leaders_of("xingfu-1")
    case = _case()
    user = SimpleNamespace(
        id=501,
        pseudonym="R-ABC123",
        language=lang,
        first_name="Ann",
        home_address="Bldg 1",
        home_grid_id="xingfu-1",
        verified=False,
        phone=None,
        consent_at=NOW,
        muted_announcements=False,
    )
    event = SimpleNamespace(at=NOW, kind="answered", note="the second pole", actor_role="resident")
    match = SimpleNamespace(building=gridmap.buildings["xf-1"], score=90.0)
    return {
        "case": case,
        "cases": [case, _case(id=2, human_id="GV-2026-000002", status="accepted")],
        "grid": grid,
        "community": community,
        "communities": list(gridmap.communities.values()),
        "members": members,
        "leaders": leaders,
        "on_duty": members,
        "building": gridmap.buildings["xf-1"],
        "party": gridmap.parties["xingfu-wuye"],
        "owner_name": "王芳",
        "party_name": None,
        "owner_rung": "member",
        "follow_up_name": None,
        "pseudonym": "R-ABC123",
        "age": timedelta(hours=3),
        "photos": 2,
        "now": NOW,
        "user": user,
        "follows": 1,
        "events": [
            event,
            SimpleNamespace(at=NOW, kind="created", note=None, actor_role="resident"),
        ],
        "viewer": "resident",
        "event": "accepted",
        "is_follower": False,
        "note": "accept",
        "reason": "no power",
        "question": "Which pole?",
        "text": "the second pole",
        "category": "traffic",
        "draft": {
            "text": "broken light",
            "photos": ["a"],
            "title": "Lights <b>outside</b>",
            "place": "Building 3",
            "photo": "file-1",
        },
        "restored": False,
        "place": "Bldg 1",
        # supervision and independent checks
        "supervisor": "李强",
        "expires_at": NOW + timedelta(days=7),
        "fixed": False,
        "kept": True,
        "matches": [match],
        "limit": 2000,
        "command": "/foo",
        "key": "not_allowed",
        "status": "assigned",
        "days": 7,
        "reopen_days": 7,
        "kind": "escalated",
        "which": "accept",
        "role": "member",
        "target": "xingfu-2",
        "link": "https://t.me/gridvoice_bot?start=invABC",
        "url": "https://grid.example/desk/login?token=abc.def",
        "minutes": 10,
        "moved": 2,
        "report": [
            {
                "name": "王芳",
                "role": "member",
                "cases": 3,
                "by_category": {"facilities": 2, "triage": 1},
                "median_accept": 600.0,
                "median_resolve": 7200.0,
                "within_deadline": 0.5,
                "official_within_deadline": 0.5,
                "deferred": 1,
                "held": 1,
                "reopen_rate": 0.0,
                "avg_rating": 4.5,
                "score": 2.3,
            }
        ],
        "case_id": 1,
        "human_id": "GV-2026-000001",
        "dropped": 3,
        "greeting": True,
        "needed": "leaders",
        "bot": "gridvoice_bot",
        "public_page": "https://grid.example.org/cases/GV-2026-000001",
        "author": "王芳",
        "title": "Lamp replaced",
        "told": ["王芳"],
        "summons": True,
        # a return and its ruling (whose duty)
        "dispute": SimpleNamespace(
            clause="PM-1",
            rule_by=NOW,
            outcome="upheld",
            reason="Lift faults are the property company's",
        ),
        "higher": True,
        "amended": True,
        "returner": None,
        "claimed": None,
        "regulations": [],
        "clause": _Clause("PM-1"),
        "outcome": "upheld",
        "lead": "王芳",
        "helper": "Heping Property",
        "t": SimpleNamespace(
            kind="summons",
            task="Check the pump room",
            signed_at=None,
            sign_by=NOW,
            contacted_at=None,
            contact_by=NOW,
            status="open",
            closed_at=None,
            waive_reason=None,
            due_at=NOW,
        ),
        "desk": "https://grid.example/desk/cases/GV-2026-000001",
        "until": NOW,
        "asker": "王芳",
        "approved": True,
        "reason_code": "parts",
        # residents' proposals
        "p": SimpleNamespace(
            id=12,
            title="Lights in the stairwells <b>outside</b>",
            text="The stairwells are dark at night.",
            place_text="Building 3",
            hidden_at=None,
            hidden_reason=None,
            status="reached",
            supports=5,
            threshold=5,
            window_ends_at=NOW,
            answer_due=NOW,
            answer_reason="Too narrow",
            consultation_id=4,
            work_case_id=9,
            merged_into=3,
        ),
        "step": "reached",
        "clusters": [SimpleNamespace(count=12, resolved=9, category="facilities")],
        "points": {"for": ["Safer at night"], "against": ["Costly"]},
        "why": "reached",
        "action": "decline",
        "found": 3,
        "chosen": 1,
        "items": [1, 2],
        "side": "for",
        "low": 20,
        "cited": 2,
        "consultation": 4,
        "due": NOW,
        "page": "https://grid.example/cases/GV-2026-000001",
        "channel": "https://t.me/xingfu_news",
        "c": SimpleNamespace(
            chat_ref="@xingfu_news",
            title="Xingfu <b>news</b>",
            link="https://t.me/xingfu_news",
            status="linked",
        ),
        # links to other systems (hand-offs)
        "link_name": {"en": "District centre", "zh": "区网格中心"},
        "waiting": 2,
        "since": NOW,
        "detail": "400 unknown service",
        "was": "accepted",
        "remote": {
            "name": {"en": "District centre", "zh": "区网格中心"},
            "remote_id": "D-17",
            "status": "in_progress",
            "state": "sent",
        },
        # a call back to an assisted resident; an organisation's answer to an offer
        "phone": "138 0000 0000",
        "org_name": "Sunshine <b>Care</b>",
    }


# Consultation templates take data of their own (tested by the consultation tests).
FED_ELSEWHERE_PREFIXES = ("consult_", "announce_")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_case_and_resident_template_renders_in_both_languages(lang: str) -> None:
    gridmap = GridMap.from_file(DEMO_MAP)
    r = Renderer(timezone=gridmap.timezone if hasattr(gridmap, "timezone") else "Asia/Shanghai")
    context = _context(gridmap, lang)
    rendered = 0
    for name in sorted(template_names(lang)):
        if not name.endswith(".j2") or name.startswith(FED_ELSEWHERE_PREFIXES):
            continue
        template = name[: -len(".j2")]
        try:
            text = r.render(lang, template, **context)
        except jinja2.UndefinedError as exc:  # pragma: no cover - the message says which
            raise AssertionError(f"{lang}/{name}: {exc}") from exc
        assert text.strip() or template == "_owner", f"{lang}/{name} rendered empty"
        assert "<b>outside</b>" not in text, f"{lang}/{name} does not escape user text"
        rendered += 1
    assert rendered >= 70


@pytest.mark.parametrize(
    "event",
    [
        "accepted",
        "resolved",
        "rejected",
        "transferred",
        "escalated",
        "reopened",
        "triaged",
        "rerouted",
        "reassigned",
        "category_changed",
        "cancelled",
        "auto_closed",
        "followed",
        "held",
        "resumed",
        "extended",
        "handed_off",
        "remote_accepted",
    ],
)
def test_every_case_update_event_says_something_in_both_languages(event: str) -> None:
    gridmap = GridMap.from_file(DEMO_MAP)
    r = Renderer()
    for lang in LANGUAGES:
        context = {**_context(gridmap, lang), "event": event}
        assert "GV-2026-000001" in r.render(lang, "case_update", **context), (lang, event)


@pytest.mark.parametrize(
    "kind", ["escalated", "escalated_in", "reopened_in", "rework_in", "transferred", "reassigned"]
)
def test_handover_notice_kinds(kind: str) -> None:
    gridmap = GridMap.from_file(DEMO_MAP)
    r = Renderer()
    for lang in LANGUAGES:
        context = {
            **_context(gridmap, lang),
            "kind": kind,
            "note": "accept"
            if kind.startswith("escalated")
            else ("peer" if kind == "rework_in" else "x"),
        }
        assert "GV-2026-000001" in r.render(lang, "handover_notice", **context), (lang, kind)


@pytest.mark.parametrize(
    "kind",
    [
        "ack_missed",
        "contact_missed",
        "refused",
        "unknown",
        "collision",
        "unknown_status",
        "backwards",
        "returned",
    ],
)
def test_link_alert_kinds_name_the_case_and_the_link(kind: str) -> None:
    gridmap = GridMap.from_file(DEMO_MAP)
    r = Renderer()
    for lang in LANGUAGES:
        text = r.render(lang, "link_alert", **{**_context(gridmap, lang), "kind": kind})
        name = "District centre" if lang == "en" else "区网格中心"
        assert "GV-2026-000001" in text and name in text, (lang, kind)
    down = {**_context(gridmap, "en"), "kind": "link_down", "case": None}
    assert "District centre" in r.render("en", "link_alert", **down)


def test_every_text_key_is_written_once() -> None:
    """A key written twice in a language's yaml file silently hides the first text: a button
    would carry another prompt's words."""
    import re

    for path in sorted(TEMPLATES_DIR.glob("*/*.yaml")):
        keys = [m.group(1) for m in re.finditer(r"^([A-Za-z0-9_]+):", path.read_text(), re.M)]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        assert not twice, f"{path.name} ({path.parent.name}) writes {twice} more than once"
