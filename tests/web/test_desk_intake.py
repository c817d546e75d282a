"""The desk's intake form: a case found on patrol and one filed for a resident without
Telegram, in both languages; without the resident's consent, or by a resident's account,
nothing is filed; the phone shows on the desk's case page and nowhere public."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.store.models import AssistedContact, Case
from tests.support.world import MEMBER_1, World
from tests.web.desk_helpers import get, hidden, http_session, post, sign_in

pytestmark = pytest.mark.db
PHONE = "139 0000 1234"


async def _cases(w: World) -> list[tuple[str, str]]:
    assert w.app is not None
    async with w.app.domain.sessions() as session:
        rows = await session.execute(select(Case.source, Case.human_id).order_by(Case.id))
        return [(source, human_id) for source, human_id in rows.all()]


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_the_desk_files_patrol_and_assisted_cases(web_world: World, lang: str) -> None:
    w = web_world
    assert w.app is not None
    base = w.app.web_url
    async with http_session() as http:
        await sign_in(w, http, MEMBER_1)
        status, page = await get(http, f"{base}/desk/intake?lang={lang}")
        assert status == 200 and 'id="intake-form"' in page
        csrf = hidden(page, "csrf")
        form = {
            "csrf": csrf,
            "words": "Broken bench in the courtyard",
            "place": "Xingfu Garden Building 2",
        }
        status, after, path = await post(http, f"{base}/desk/intake", {**form, "kind": "patrol"})
        assert status == 200 and path.startswith("/desk/cases/GV-"), (status, path)
        assisted = {
            **form,
            "kind": "assisted",
            "words": "The lift in building 1 stops between floors",
            "place": "Xingfu Garden Building 1",
            "channel": "walk_in",
            "hear_back": "phone",
            "phone": PHONE,
        }
        status, refused, _ = await post(http, f"{base}/desk/intake", assisted)  # no consent
        assert status == 400
        assert [s for s, _ in await _cases(w)] == ["staff_patrol"]
        status, after, path = await post(
            http, f"{base}/desk/intake", {**assisted, "consent": "yes"}
        )
        assert status == 200 and 'id="assisted-phone"' in after and PHONE in after
        cases = await _cases(w)
        assert [s for s, _ in cases] == ["staff_patrol", "assisted"]
        _, public = await get(http, f"{base}/cases/{cases[1][1]}")
        assert PHONE not in public and "00001234" not in public
        status, _, _ = await post(http, f"{base}/desk/intake", {"kind": "patrol", "words": "x"})
        assert status == 403  # no CSRF token: refused
        status, erased, _ = await post(
            http, f"{base}/desk/cases/{cases[1][1]}/contact/erase", {"csrf": csrf}
        )
        assert status == 200 and PHONE not in erased and 'id="flash"' in erased
    async with w.app.domain.sessions() as session:
        contact = (await session.execute(select(AssistedContact))).scalar_one()
        assert (contact.channel, contact.phone, contact.recorded_by) == ("walk_in", None, MEMBER_1)
