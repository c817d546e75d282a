"""Pure parts of the desk: filters from a query string, the grid map's shapes, link tokens."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.services.cases.queries import BoardFilter
from bot.services.people.desk_auth import _signature, token_hash, well_formed
from bot.web.desk.board import grid_shapes
from routing.gridmap import GridMap

DEMO_MAP = Path(__file__).resolve().parents[2] / "bot" / "examples" / "demo-community.yaml"


def test_board_filter_takes_only_what_it_knows() -> None:
    f = BoardFilter.from_query(
        {
            "grid": "xingfu-1",
            "status": "closed",
            "due": "soon",
            "owner": "10001x",
            "unassigned": "1",
        }
    )
    assert f == BoardFilter(grid="xingfu-1", unassigned=True)
    f = BoardFilter.from_query({"status": "needs_info", "due": "overdue", "owner": "10001"})
    assert f.query() == {"status": "needs_info", "due": "overdue", "owner": "10001"}
    assert BoardFilter.from_query({"grid": "x" * 500}).grid == "x" * 64


def test_grid_shapes_fit_the_box_and_carry_their_counts() -> None:
    gridmap = GridMap.from_file(DEMO_MAP)
    shapes, (width, height) = grid_shapes(gridmap, {"xingfu-1": 3, "xingfu-2": 1}, "en")
    assert {s["id"] for s in shapes} == set(gridmap.grids)
    for s in shapes:
        for point in s["points"].split():
            x, y = (float(v) for v in point.split(","))
            assert 0 <= x <= width and 0 <= y <= height
    by_id = {s["id"]: s for s in shapes}
    assert by_id["xingfu-1"]["count"] == 3 and by_id["xingfu-1"]["heat"] > by_id["xingfu-2"]["heat"]
    # north is up: grid 2 lies north of grid 1
    assert by_id["xingfu-2"]["cy"] < by_id["xingfu-1"]["cy"]


def test_link_tokens_are_signed_with_the_bot_token() -> None:
    settings = Settings(token="1:A")
    token = "nonce." + _signature(settings, "nonce")
    assert well_formed(settings, token)
    assert not well_formed(Settings(token="1:B"), token)
    assert not well_formed(settings, "nonce.AAAA")
    assert not well_formed(settings, "x" * 200)
    assert len(token_hash(token)) == 64 and token not in token_hash(token)
