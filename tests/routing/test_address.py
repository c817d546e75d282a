"""Fuzzy address matching on the demo map: typos, partial names, full-width digits, 栋/幢."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.address import AddressIndex, normalise_address
from routing.gridmap import Building, Grid, GridMap

DEMO = Path(__file__).resolve().parents[2] / "bot" / "examples" / "demo-community.yaml"


@pytest.fixture(scope="module")
def index() -> AddressIndex:
    return AddressIndex(GridMap.from_file(DEMO))


@pytest.mark.parametrize(
    ("text", "norm"),
    [
        ("幸福小区三号楼", "幸福小区 #3"),
        ("幸福小区３栋２单元", "幸福小区 #3 u2"),
        ("安康小区五幢", "安康小区 #5"),
        ("Bldg 3 unit 2", "#3 u2"),
        ("Heping Rd. No.12", "heping road #12"),
        ("和平路１２号", "和平路 #12"),
        ("3-2-301", "#3 u2 r301"),
        ("幸福小区十一号楼", "幸福小区 #11"),
        ("Block 7, Room 502", "#7 r502"),
        ("安康8#", "安康 #8"),
    ],
)
def test_normalise_address(text: str, norm: str) -> None:
    assert normalise_address(text) == norm


CASES = [
    ("3号楼2单元", "xf-3"),
    ("幸福小区3栋", "xf-3"),
    ("Bldg 3 unit 2", "xf-3"),
    ("heping rd 12", "hp-12"),
    ("和平路１２号", "hp-12"),
    ("xingfu garden blding 3", "xf-3"),
    ("幸福小区三号楼", "xf-3"),
    ("幸福小区３号楼", "xf-3"),
    ("安康小区五幢", "ak-5"),
    ("安康小区5座", "ak-5"),
    ("xinfu gardn 9", "xf-9"),
    ("Heping Raod 16", "hp-16"),
    ("ankang estate block 7", "ak-7"),
    ("Ankang Esate Buiding 2", "ak-2"),
    ("幸福小区12号楼3单元502室", "xf-12"),
    ("幸福小去十号楼", "xf-10"),  # wrong character 去 for 区
    ("菜市场", "xf-market"),
    ("卫生站", "xf-clinic"),
    ("the clinic", "xf-clinic"),
    ("school", "hp-school"),
    ("和平小学", "hp-school"),
    ("幸福路8号", "xf-centre"),
    ("kindergarden", "ak-kindergarten"),
    ("安康8#", "ak-8"),
    ("ＸＩＮＧＦＵ ７", "xf-7"),
    ("xingfu garden no. 4", "xf-4"),
    ("Heping Road 22", "hp-22"),
    ("和平路二号", "hp-2"),
    ("幸福小区7栋1单元", "xf-7"),
    ("wet markt", "xf-market"),
]


@pytest.mark.parametrize(("text", "building_id"), CASES)
def test_right_building_in_top_three(index: AddressIndex, text: str, building_id: str) -> None:
    matches = index.match(text)
    assert building_id in [m.building.id for m in matches], [
        (m.building.id, m.score) for m in matches
    ]


def test_exact_name_ranks_first_with_its_grid(index: AddressIndex) -> None:
    [first, *_] = index.match("幸福小区9号楼")
    assert first.building.id == "xf-9"
    assert first.grid.id == "xingfu-2"
    assert first.score == 100.0
    assert all(0 <= m.score <= 100 for m in index.match("xingfu"))


def test_number_decides_between_neighbours(index: AddressIndex) -> None:
    assert index.match("幸福小区4栋")[0].building.id == "xf-4"
    assert index.match("Heping Rd 18")[0].building.id == "hp-18"


def test_limit_and_empty(index: AddressIndex) -> None:
    assert len(index.match("幸福小区", limit=5)) == 5
    assert index.match("") == []
    assert index.match("!!!") == []


def test_candidates_stay_bounded_on_a_big_map() -> None:
    grids = {f"g{i}": Grid(f"g{i}", "c", _t(f"G{i}"), _t(""), _t(""), None, ()) for i in range(50)}
    buildings = {}
    for i in range(5000):
        bid = f"b{i}"
        buildings[bid] = Building(
            bid, _t(f"Lane{i // 10} Garden Building {i % 10}"), (), f"g{i % 50}", None
        )
    gm = GridMap.from_file(DEMO)
    big = GridMap(
        gm.timezone,
        gm.street_office,
        gm.communities,
        grids,
        buildings,
        {},
        {},
        gm.categories,
        gm.category_weights,
        gm.responsibility,
        gm.ladder,
        {},
    )
    index = AddressIndex(big)
    ids = [m.building.id for m in index.match("lane123 garden bldg 4")]
    assert "b1234" in ids
    assert len(index._candidate_texts("garden")) <= AddressIndex.MAX_TEXTS


def _t(s: str):
    from routing.gridmap import Text

    return Text(s, s)


@pytest.mark.parametrize(
    "text",
    [
        "the riverside park",  # shares letters with "market", not a word
        "Ankang 9",  # Ankang has buildings 1-8 and a kindergarten
        "安康9栋",
        "幸福小区十三号楼",  # Xingfu Garden has buildings 1-12
        "Xingfu Garden Building 13",
        "Heping Rd 99",
        "park",
    ],
)
def test_what_names_no_building_is_not_found(index: AddressIndex, text: str) -> None:
    assert index.match(text) == [], [(m.building.id, m.score) for m in index.match(text)]


def test_the_examples_the_bot_gives_name_real_buildings(index: AddressIndex) -> None:
    import re

    root = DEMO.parents[2] / "templates"
    for lang in ("en", "zh"):
        prompt = (root / lang / "ask_address.j2").read_text(encoding="utf-8")
        examples = re.findall(r"<i>(.*?)</i>", prompt) or re.findall(
            r"(?:e\.g\.|for example|比如)\s*(.+?)(?: or |或|\.|。)", prompt
        )
        assert examples, prompt
        for example in examples:
            [first, *_] = index.match(example)
            assert first.score >= 90, (lang, example, first)
            name = first.building.name.get(lang)
            assert name.split("3")[0] in example, (lang, example, name)


@pytest.mark.parametrize(
    ("text", "building_id"),
    [
        ("幸福5#楼", "xf-5"),  # '#' then 楼: the building marker, not a floor
        ("幸福小区5#楼", "xf-5"),
        ("幸福小区５号楼", "xf-5"),  # full-width digit
        ("幸福５号楼", "xf-5"),
        ("安康小区五栋", "ak-5"),  # Chinese numeral
        ("安康小区五号楼", "ak-5"),
        ("Ankang Estate Building 5", "ak-5"),
    ],
)
def test_a_typed_estate_offers_only_its_own_buildings(
    index: AddressIndex, text: str, building_id: str
) -> None:
    matches = index.match(text)
    assert [m.building.id for m in matches] == [building_id], [
        (m.building.id, m.score) for m in matches
    ]


def test_a_number_alone_offers_every_estate_that_has_it(index: AddressIndex) -> None:
    assert {m.building.id for m in index.match("５号楼")} == {"xf-5", "ak-5"}
    assert {m.building.id for m in index.match("5#楼")} == {"xf-5", "ak-5"}


@pytest.mark.parametrize(
    ("text", "norm"),
    [("幸福5#楼", "幸福 #5"), ("５号楼", "#5"), ("幸福小区三号楼五楼", "幸福小区 #3"), ("3楼", "")],
)
def test_building_marker_and_floor(text: str, norm: str) -> None:
    assert normalise_address(text) == norm
