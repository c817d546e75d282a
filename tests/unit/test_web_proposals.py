"""Residents take part on the web: signed in with the desk's own /web link (resident scope),
they propose, support and add points through the chat's service calls — so the same rules
hold (a verified resident of the community, the weekly limit, the lengths, one support each),
a refusal comes back on the form in the page's language with the words kept, a form without
its CSRF token changes nothing, and nobody is named on a public page. A resident session
never opens the desk, even the session of a person who is staff."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from dialogue_helpers import say
from page_helpers import load_two_communities, pages
from sqlalchemy import func, select
from unit_helpers import COMMITTEE, MEMBER_1, file_case, new_resident, outbox, texts_to

from bot.services.participation import proposals as ps
from bot.services.people import desk_auth
from bot.services.shared.domain import Domain
from bot.store.models import Proposal, ProposalPoint, ProposalSupport, User
from bot.web.forms import BODY_MAX, UPLOAD_MAX
from bot.web.keys import GRIDVOICE, FileUnavailable

pytestmark = pytest.mark.db

TEXT = "Please fit motion-sensor lights in the stairwells of building 3, they are dark at night."


@pytest.fixture
def domain_settings() -> dict[str, Any]:
    return {"web_burst_per_ip": 10_000, "public_url": "http://gridvoice.test"}


@pytest.fixture
async def client(domain: Domain) -> AsyncIterator[TestClient]:
    http = await pages(domain)
    try:
        yield http
    finally:
        await http.close()


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden {name} in the page"
    return match.group(1)


async def resident(domain: Domain, **kw: Any) -> int:
    async with domain.unit() as uow:
        return (await new_resident(uow, first_name="Secretname", **kw)).id


async def sign_in(domain: Domain, http: TestClient, user_id: int) -> str:
    """Open the resident's /web link and continue; returns where it lands."""
    async with domain.unit() as uow:
        token = await desk_auth.issue_link(uow, user_id, desk_auth.RESIDENT)
    page = await http.get(f"/signin?token={token}")
    html = await page.text()
    assert page.status == 200 and "Secretname" not in html
    spent = await http.post(
        "/signin", data={"csrf": hidden(html, "csrf"), "token": token}, allow_redirects=False
    )
    assert spent.status == 303, await spent.text()
    return spent.headers["Location"]


async def form_csrf(http: TestClient, path: str) -> str:
    async with http.get(path) as r:
        return hidden(await r.text(), "csrf")


async def propose(http: TestClient, **fields: str) -> tuple[int, str, str]:
    csrf = fields.pop("csrf", None)
    if csrf is None:
        csrf = await form_csrf(http, "/communities/xingfu/propose")
    data = {"title": "Stairwell lights", "text": TEXT, **fields}
    if csrf:
        data["csrf"] = csrf
    async with http.post("/communities/xingfu/propose", data=data, allow_redirects=False) as r:
        return r.status, await r.text(), r.headers.get("Location", "")


async def count(domain: Domain, model: Any) -> int:
    async with domain.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_verified_resident_proposes_on_the_web_and_lands_on_its_page(
    domain: Domain, client: TestClient
) -> None:
    author = await resident(domain, verified=True, lang="zh")
    async with domain.unit() as uow:
        own = await file_case(uow, await uow.session.get(User, author), building="xf-3")
        cited = own.human_id
    async with client.get("/communities/xingfu/propose") as r:  # signed out: how, no form
        page = await r.text()
        assert r.status == 200 and "send /web to the gridvoice bot" in page
        assert 'id="propose-form"' not in page
    assert await sign_in(domain, client, author) == "/communities/xingfu/proposals"
    listing = await (await client.get("/communities/xingfu/proposals")).text()
    assert 'href="/communities/xingfu/propose"' in listing
    assert "提出改进建议" in listing  # the resident's chat language from now on
    status, _, location = await propose(
        client, place="Building 3", cases=f"{cited.lower()}", title="  Stairwell   lights "
    )
    assert status == 303 and re.fullmatch(r"/proposals/\d+", location)
    async with domain.unit() as uow:
        p = await ps.get(uow, int(location.rsplit("/", 1)[1]))
        assert (p.author_id, p.community_id, p.title, p.status) == (
            author,
            "xingfu",
            "Stairwell lights",
            "open",
        )
        assert p.place_text == "Building 3" and p.cited_case_ids == [own.id]
    page = await (await client.get(location + "?lang=en")).text()
    assert (
        "Stairwell lights" in page and "Building 3" in page and "Reports that prompted it" in page
    )
    assert "Secretname" not in page and str(author) not in page
    assert 'action="/proposals/' in page and "You are signed in" in page


async def test_refusals_come_back_on_the_form_with_the_words_kept(
    domain: Domain, client: TestClient
) -> None:
    author = await resident(domain, verified=True)
    await sign_in(domain, client, author)
    long_text = "x" * (ps.TEXT_MAX + 1)
    status, html, _ = await propose(client, text=long_text, place="North gate <b>")
    assert status == 400
    assert f"The text is {ps.TEXT_MAX + 1} characters long; please keep it to {ps.TEXT_MAX}" in html
    assert long_text in html and 'value="North gate &lt;b&gt;"' in html
    status, html, _ = await propose(client, cases="GV-2026-000001, lamp")
    assert status == 400 and "case ids such as GV-2026-000123" in html
    status, html, _ = await propose(client, cases="GV-2026-999999")
    assert status == 400 and "GV-2026-999999" in html and "not cases of this community" in html
    status, html, _ = await propose(client, text=long_text, csrf="", place="zh")
    assert status == 403
    # the weekly limit, in Chinese this time
    async with domain.unit() as uow:
        user = await uow.session.get(User, author)
        for i in range(3):
            await ps.create(uow, user, title=f"Lights {i}", text=TEXT)
    before = await count(domain, Proposal)
    csrf = await form_csrf(client, "/communities/xingfu/propose?lang=zh")  # remembered
    status, html, _ = await propose(client, csrf=csrf, title="Benches")
    assert status == 403 and "您在最近七天已发布 3 条建议，已达每周上限" in html
    async with client.get("/communities/xingfu/propose") as r:
        page = await r.text()
        assert r.status == 403 and 'id="propose-form"' not in page and "每周上限" in page
    assert await count(domain, Proposal) == before


async def test_only_verified_residents_of_the_community_may_propose(
    domain: Domain, client: TestClient
) -> None:
    await load_two_communities(domain)
    unverified = await resident(domain)
    elsewhere = await resident(domain, verified=True, building="xf-centre")  # in Heping
    for user_id in (unverified, elsewhere):
        client.session.cookie_jar.clear()
        await sign_in(domain, client, user_id)
        async with client.get("/communities/xingfu/propose") as r:
            page = await r.text()
            assert r.status == 403 and 'id="propose-form"' not in page
            assert "Only verified residents of this community can do this." in page
        async with client.get("/communities/heping/propose") as r:
            csrf = hidden(await r.text(), "csrf")
        status, html, _ = await propose(client, csrf=csrf)
        assert status == 403 and "Only verified residents of this community" in html
    assert await count(domain, Proposal) == 0


async def test_a_form_without_its_csrf_token_changes_nothing(
    domain: Domain, client: TestClient
) -> None:
    author = await resident(domain, verified=True)
    async with domain.unit() as uow:
        p = await ps.create(uow, await uow.session.get(User, author), title="Lights", text=TEXT)
        pid = p.id
    neighbour = await resident(domain, verified=True, building="xf-2")
    await sign_in(domain, client, neighbour)
    for path, data in (
        ("/communities/xingfu/propose", {"title": "Lights", "text": TEXT}),
        (f"/proposals/{pid}/support", {}),
        (f"/proposals/{pid}/support", {"csrf": "forged"}),
        (f"/proposals/{pid}/point", {"side": "for", "text": "Safer"}),
        ("/signout", {}),
    ):
        async with client.post(path, data=data, allow_redirects=False) as r:
            assert r.status == 403 and "This form has expired" in await r.text(), path
    assert await count(domain, Proposal) == 1
    assert await count(domain, ProposalSupport) == await count(domain, ProposalPoint) == 0


async def authored(domain: Domain) -> tuple[int, int]:
    """A verified resident and the proposal they published: (their id, its id)."""
    author = await resident(domain, verified=True)
    async with domain.unit() as uow:
        p = await ps.create(uow, await uow.session.get(User, author), title="Lights", text=TEXT)
        return author, p.id


async def test_support_counts_once_and_points_keep_their_rules(
    domain: Domain, client: TestClient
) -> None:
    author, pid = await authored(domain)
    # signed out: the page says how to sign in, and has no form
    async with client.get(f"/proposals/{pid}") as r:
        page = await r.text()
        assert "send /web to the gridvoice bot" in page and "<form" not in page
    async with client.post(f"/proposals/{pid}/support", data={}) as r:
        assert r.status == 401
    neighbour = await resident(domain, verified=True, building="xf-2")
    await sign_in(domain, client, neighbour)
    path = f"/proposals/{pid}"
    for _ in range(2):
        csrf = await form_csrf(client, path)
        async with client.post(path + "/support", data={"csrf": csrf}) as r:
            page = await r.text()
    assert "You support this proposal" in page and 'id="support"' not in page
    assert await count(domain, ProposalSupport) == 1
    async with domain.unit() as uow:
        assert (await ps.get(uow, pid)).supports == 1
    # a second press from a stale page is answered, not counted
    async with client.post(path + "/support", data={"csrf": csrf}) as r:
        assert "You already support this proposal" in await r.text()
    assert await count(domain, ProposalSupport) == 1
    too_long = "y" * (ps.POINT_MAX + 1)
    data = {"csrf": csrf, "side": "against", "text": too_long}
    async with client.post(path + "/point", data=data) as r:
        page = await r.text()
        assert r.status == 400 and f"please keep it to {ps.POINT_MAX}" in page and too_long in page
    data = {"csrf": csrf, "side": "for", "text": "Safer at night"}
    async with client.post(path + "/point", data=data) as r:
        page = await r.text()
        assert "Your point for is published" in page and "Safer at night" in page
    async with client.post(path + "/point", data=data) as r:
        assert r.status == 403 and "one each" in await r.text()
    assert await count(domain, ProposalPoint) == 1
    assert "Secretname" not in page


async def test_a_resident_session_is_never_a_desk_session(domain: Domain) -> None:
    await resident(domain, user_id=MEMBER_1, verified=True)  # staff who also live here
    async with domain.unit() as uow:
        link = await desk_auth.issue_link(uow, MEMBER_1, desk_auth.RESIDENT)
        with pytest.raises(desk_auth.DeskAuthError):
            await desk_auth.link_holder(uow, link)  # not a desk link, whatever it is
        token, _ = await desk_auth.redeem_resident_link(uow, link)
        desk_token, _ = await desk_auth.open_session(uow, MEMBER_1, "link")
    async with domain.unit() as uow:
        assert await desk_auth.signed_in(uow, token) is None
        assert (await desk_auth.resident_signed_in(uow, token)).user_id == MEMBER_1  # type: ignore[union-attr]
        assert await desk_auth.resident_signed_in(uow, desk_token) is None
        assert await desk_auth.signed_in(uow, desk_token) is not None
    # someone who never registered gets no resident link
    async with domain.unit() as uow:
        with pytest.raises(desk_auth.DeskAuthError):
            await desk_auth.issue_link(uow, 999_999_001, desk_auth.RESIDENT)


async def test_web_in_the_chat_gives_a_resident_their_sign_in_link(
    domain: Domain, client: TestClient
) -> None:
    registered = await resident(domain, lang="zh")
    stranger = 999_999_002  # never registered
    async with domain.unit() as uow:
        await say(uow, registered, "/web", lang="zh")
        await say(uow, stranger, "/web")
    async with domain.unit() as uow:
        answer = "\n".join(await texts_to(uow, registered))
        refused = "\n".join(await texts_to(uow, stranger))
    assert "社区网页一次性登录链接" in answer and "/desk/login" not in answer
    token = re.search(r"http://gridvoice\.test/signin\?token=(\S+)", answer).group(1)  # type: ignore[union-attr]
    assert "only for grid staff" in refused and "token=" not in refused
    async with client.get(f"/signin?token={token}") as r:
        assert r.status == 200 and 'id="signin-continue"' in await r.text()
    async with client.get(f"/desk/login?token={token}") as r:
        assert r.status == 403  # a resident's link is no desk link


@pytest.mark.parametrize(
    "domain_settings", [{"web_burst_per_ip": 10_000, "public_url": "https://gridvoice.test"}]
)
async def test_over_https_web_also_gives_a_resident_the_mini_app_button(domain: Domain) -> None:
    user_id = await resident(domain, verified=True)
    async with domain.unit() as uow:
        await say(uow, user_id, "/web")
    async with domain.unit() as uow:
        menu = [m.payload for m in await outbox(uow, user_id) if m.method == "setChatMenuButton"]
    assert menu[0]["menu_button"]["web_app"]["url"] == "https://gridvoice.test/signin/app"


async def test_the_mini_app_signs_a_resident_in_with_telegrams_init_data(
    domain: Domain, client: TestClient
) -> None:
    user_id = await resident(domain, verified=True)
    fields = {
        "user": json.dumps({"id": user_id, "first_name": "R"}, separators=(",", ":")),
        "auth_date": str(int(domain.clock.now().timestamp())),
    }
    for init_data, status in (
        (desk_auth.sign_init_data(fields, "999:FORGED"), 403),
        (desk_auth.sign_init_data(fields, "123456:TEST"), 303),
    ):
        async with client.get("/signin/app") as r:
            csrf = hidden(await r.text(), "csrf")
        data = {"csrf": csrf, "init_data": init_data}
        async with client.post("/signin/app", data=data, allow_redirects=False) as r:
            assert r.status == status
    async with client.get("/communities/xingfu/propose") as r:
        assert 'id="propose-form"' in await r.text()


# --- following a proposal, and a proposal's photo and place ----------------------------------


class PhotosSentToChats:
    """The running bot's Telegram files as a view sees them: an upload to a chat gives a file
    id, and the page fetches the same bytes back (or every upload fails)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[int, bytes]] = []

    async def upload_photo(self, chat_id: int, data: bytes, filename: str) -> str:
        if self.fail:
            raise FileUnavailable(filename)
        self.sent.append((chat_id, data))
        return f"tg-photo-{len(self.sent)}"

    async def fetch(self, file_id: str) -> tuple[bytes, str]:
        data = self.sent[int(file_id.rsplit("-", 1)[1]) - 1][1]
        return data, "image/png"


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def telegram_files(http: TestClient, fail: bool = False) -> PhotosSentToChats:
    files = PhotosSentToChats(fail)
    http.server.app[GRIDVOICE].files = files  # type: ignore[attr-defined]
    return files


async def propose_with_photo(
    http: TestClient, photo: bytes, *, name: str = "shed.png", **fields: str
) -> tuple[int, str, str]:
    form = aiohttp.FormData()
    form.add_field("csrf", await form_csrf(http, "/communities/xingfu/propose"))
    for key, value in {"title": "A bicycle shed", "text": TEXT, **fields}.items():
        form.add_field(key, value)
    form.add_field("photo", photo, filename=name, content_type="image/png")
    async with http.post("/communities/xingfu/propose", data=form, allow_redirects=False) as r:
        return r.status, await r.text(), r.headers.get("Location", "")


async def press(http: TestClient, path: str, action: str) -> tuple[int, str]:
    csrf = await form_csrf(http, path)
    async with http.post(f"{path}/{action}", data={"csrf": csrf}) as r:
        return r.status, await r.text()


async def follows(domain: Domain, pid: int, user_id: int) -> bool:
    async with domain.unit() as uow:
        return user_id in {u.id for u in await ps.followers(uow, await ps.get(uow, pid))}


async def test_a_supporter_follows_and_stops_following_on_the_web(
    domain: Domain, client: TestClient
) -> None:
    author, pid = await authored(domain)
    neighbour = await resident(domain, verified=True, building="xf-2", lang="zh")
    await sign_in(domain, client, neighbour)
    path = f"/proposals/{pid}"
    # not a supporter yet: why not, and no follow button; a forged press is refused
    page = await (await client.get(path)).text()
    assert "只有支持者可以关注建议" in page and f'action="/proposals/{pid}/follow"' not in page
    status, page = await press(client, path, "follow")
    assert status == 403 and "请先支持这条建议，然后才能关注" in page
    assert not await follows(domain, pid, neighbour)
    csrf = await form_csrf(client, path)
    async with client.post(path + "/support", data={"csrf": csrf}) as r:
        assert 'id="follow-button"' in await r.text()
    for answer in ("这条建议的每一步进展都会告诉您", "您已经在关注这条建议"):  # twice is once
        status, page = await press(client, path, "follow")
        assert status == 200 and answer in page
        assert "您正在关注这条建议" in page and 'id="unfollow"' in page
        assert await follows(domain, pid, neighbour)
    page = await (await client.get(path + "?lang=en")).text()
    assert "You follow this proposal" in page
    for answer in ("You will no longer be told the steps", "You do not follow this proposal"):
        status, page = await press(client, path, "unfollow")
        assert status == 200 and answer in page
        assert "Follow: be told each step in the chat" in page
        assert not await follows(domain, pid, neighbour)
    # the author is told every step whatever they press, and the page says so
    client.session.cookie_jar.clear()
    await sign_in(domain, client, author)
    page = await (await client.get(path)).text()
    assert (
        "You proposed this: each step is told to you" in page and 'id="follow-button"' not in page
    )
    assert "Secretname" not in page


async def test_following_is_refused_as_supporting_is(domain: Domain, client: TestClient) -> None:
    await load_two_communities(domain)
    author = await resident(domain, verified=True)
    supporter = await resident(domain, verified=True, building="xf-2")
    async with domain.unit() as uow:
        p = await ps.create(uow, await uow.session.get(User, author), title="Lights", text=TEXT)
        await ps.support(uow, await uow.session.get(User, supporter), p)
        pid = p.id
        hidden_p = await ps.create(
            uow, await uow.session.get(User, author), title="Benches", text=TEXT
        )
        await ps.support(uow, await uow.session.get(User, supporter), hidden_p)
        hidden_id = hidden_p.id
    async with domain.unit() as uow:
        await ps.hide(uow, COMMITTEE, await ps.get(uow, hidden_id), "It named a neighbour.")
    for action in ("follow", "unfollow"):  # signed out
        async with client.post(f"/proposals/{pid}/{action}", data={}) as r:
            assert r.status == 401 and "send /web to the gridvoice bot" in await r.text()
    await sign_in(domain, client, supporter)
    for action in ("follow", "unfollow"):
        for data in ({}, {"csrf": "forged"}):
            async with client.post(f"/proposals/{pid}/{action}", data=data) as r:
                assert r.status == 403 and "This form has expired" in await r.text()
        csrf = await form_csrf(client, f"/proposals/{pid}")
        for bad in ("999999", "abc", "-1"):
            async with client.post(f"/proposals/{bad}/{action}", data={"csrf": csrf}) as r:
                assert r.status == 404
        async with client.post(f"/proposals/{hidden_id}/{action}", data={"csrf": csrf}) as r:
            page = await r.text()
            assert r.status == 403 and "no longer takes supports" in page and "Benches" not in page
    assert not await follows(domain, pid, supporter)
    assert not await follows(domain, hidden_id, supporter)
    # a resident of another community: why not, in the support form's words
    elsewhere = await resident(domain, verified=True, building="xf-centre")
    client.session.cookie_jar.clear()
    await sign_in(domain, client, elsewhere)
    status, page = await press(client, f"/proposals/{pid}", "follow")
    assert status == 403 and "Only verified residents of this community can do this." in page
    assert not await follows(domain, pid, elsewhere)


async def test_a_proposal_from_the_web_shows_its_photo_and_place(
    domain: Domain, client: TestClient
) -> None:
    await load_two_communities(domain)
    files = telegram_files(client)
    author = await resident(domain, verified=True)
    await sign_in(domain, client, author)
    async with client.get("/communities/xingfu/propose") as r:
        form = await r.text()
    assert 'enctype="multipart/form-data"' in form and 'name="photo"' in form
    assert '<option value="Xingfu Garden Building 3">' in form  # the map's buildings to pick
    assert "Heping Rd 2" not in form  # only this community's
    status, _, location = await propose_with_photo(client, PNG, place="Xingfu Garden Building 3")
    assert status == 303, _
    assert files.sent == [(author, PNG)]  # kept as Telegram keeps it: sent to the author's chat
    async with domain.unit() as uow:
        p = await ps.get(uow, int(location.rsplit("/", 1)[1]))
        assert (p.photo_file_id, p.place_text) == ("tg-photo-1", "Xingfu Garden Building 3")
    client.session.cookie_jar.clear()  # as a passer-by sees it
    page = await (await client.get(location)).text()
    assert f'<img src="{location}/before.jpg"' in page and "Xingfu Garden Building 3" in page
    assert "Secretname" not in page and str(author) not in page
    async with client.get(location + "/before.jpg") as r:
        assert r.status == 200 and await r.read() == PNG
    # a JPEG too, and no photo at all
    await sign_in(domain, client, author)
    assert (await propose_with_photo(client, JPEG, name="a.jpg"))[0] == 303
    assert (await propose(client))[0] == 303
    assert [data for _, data in files.sent] == [PNG, JPEG]


async def test_a_photo_is_refused_with_the_words_kept_when_it_cannot_be_published(
    domain: Domain, client: TestClient
) -> None:
    files = telegram_files(client)
    author = await resident(domain, verified=True, lang="zh")
    await sign_in(domain, client, author)
    gif = b"GIF89a" + b"\x00" * 64
    status, html, _ = await propose_with_photo(client, gif, name="shed.png", title="车棚")
    assert status == 415 and "照片必须是 JPEG 或 PNG 格式的图片" in html
    assert 'value="车棚"' in html and TEXT in html
    big = b"\xff\xd8\xff" + b"\x00" * UPLOAD_MAX
    status, html, _ = await propose_with_photo(client, big, title="车棚")
    assert status == 413 and "照片太大：最大 2 MB" in html and 'value="车棚"' in html
    status, html, _ = await propose_with_photo(client, big + b"\x00" * BODY_MAX)
    assert status == 413 and "照片太大：最大 2 MB" in html
    # the rest of the form is checked first: a refused proposal sends no photo anywhere
    status, html, _ = await propose_with_photo(client, PNG, text="Too short")
    assert status == 400 and "请至少用 20 个字说明建议" in html
    assert files.sent == []
    telegram_files(client, fail=True)
    status, html, _ = await propose_with_photo(client, PNG, title="车棚")
    assert (
        status == 502 and "照片没能发送到 Telegram，建议未发布" in html and 'value="车棚"' in html
    )
    assert await count(domain, Proposal) == 0
