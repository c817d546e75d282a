"""Routing benchmark: time per request for address lookup, point lookup and assignment on a
small (10 grids) and a large (10,000 grids / 100,000 buildings) synthetic map, and the ratio.

Run: ``python benchmarks/routing_bench.py [--grids 10000] [--queries 2000]``. Prints numbers only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from routing.address import AddressIndex  # noqa: E402
from routing.assignment import assign  # noqa: E402
from routing.geo import GridIndex  # noqa: E402
from routing.gridmap import DEFAULT_CATEGORIES, GridMap  # noqa: E402

ZH = "幸福和平安康光明东西南北春华秋实金银新建民主长青朝阳文化胜利友谊团结红星青年育才花园锦绣"
EN = [
    "xing",
    "he",
    "an",
    "guang",
    "dong",
    "xi",
    "nan",
    "bei",
    "chun",
    "hua",
    "qiu",
    "shi",
    "jin",
    "yin",
    "xin",
    "jian",
    "min",
    "zhu",
    "chang",
    "qing",
    "zhao",
    "yang",
    "wen",
    "sheng",
    "li",
    "you",
    "tuan",
    "hong",
    "nian",
    "yu",
    "cai",
    "yuan",
    "ming",
    "kang",
    "ping",
    "fu",
    "jie",
    "xiu",
    "lin",
    "shan",
]
SUFFIX = [
    ("小区", "Garden"),
    ("花园", "Gardens"),
    ("家园", "Homes"),
    ("苑", "Court"),
    ("公寓", "Apartments"),
    ("新村", "Village"),
    ("大院", "Compound"),
]
CELL = 0.003  # degrees per grid square
CATEGORIES = list(DEFAULT_CATEGORIES)


def estate(i: int) -> tuple[str, str]:
    """A unique (zh, en) estate name for every i < 64,000."""
    a, b, c = i % 40, (i // 40) % 40, (i // 1600) % 40
    zh = ZH[a] + ZH[(b + 7) % len(ZH)] + ZH[(c + 13) % len(ZH)]
    en = (EN[a] + EN[(b + 7) % len(EN)] + EN[(c + 13) % len(EN)]).capitalize()
    sz, se = SUFFIX[(a + b + c) % len(SUFFIX)]
    return zh + sz, f"{en} {se}"


def synthetic(n_grids: int, per_grid: int = 10) -> dict:
    side = max(1, int(n_grids**0.5 + 0.999))
    grids = []
    for g in range(n_grids):
        r, c = divmod(g, side)
        lat0, lon0 = 30.0 + r * CELL, 110.0 + c * CELL
        zh, en = estate(g)
        buildings = [
            {
                "id": f"g{g}-b{k}",
                "name": {"en": f"{en} Building {k}", "zh": f"{zh}{k}号楼"},
                "aliases": [f"{zh}{k}栋"],
                "location": [
                    lat0 + CELL * (0.1 + 0.8 * (k % 5) / 4),
                    lon0 + CELL * (0.2 + 0.6 * (k // 5)),
                ],
            }
            for k in range(1, per_grid + 1)
        ]
        grids.append(
            {
                "id": f"g{g}",
                "name": {"en": en, "zh": zh},
                "polygon": [
                    [lat0, lon0],
                    [lat0, lon0 + CELL],
                    [lat0 + CELL, lon0 + CELL],
                    [lat0 + CELL, lon0],
                ],
                "buildings": buildings,
            }
        )
    staff = [
        {
            "telegram_id": 1_000_000 + g,
            "name": f"m{g}",
            "role": "member",
            "grids": [f"g{g}"],
            "duty": {"days": "mon-fri", "hours": "08:00-18:00"},
        }
        for g in range(n_grids)
    ]
    staff += [
        {"telegram_id": 2_000_000 + g, "name": f"m2-{g}", "role": "member", "grids": [f"g{g}"]}
        for g in range(n_grids)
    ]
    staff += [
        {
            "telegram_id": 3_000_000 + k,
            "name": f"l{k}",
            "role": "leader",
            "grids": [f"g{g}" for g in range(k * 10, min(n_grids, k * 10 + 10))],
        }
        for k in range((n_grids + 9) // 10)
    ]
    staff += [
        {"telegram_id": 9, "name": "centre", "role": "centre", "community": "c"},
        {"telegram_id": 8, "name": "street", "role": "street"},
    ]
    return {
        "version": 1,
        "timezone": "Asia/Shanghai",
        "categories": CATEGORIES,
        "communities": [{"id": "c", "name": "C", "grids": grids}],
        "staff": staff,
        "parties": [{"id": "police", "kind": "police", "name": "Police", "chat_id": -1}],
        "responsibility": {
            "defaults": {c: ("party:police" if c == "traffic" else "grid") for c in CATEGORIES}
        },
    }


def per_call(fn, items, repeat: int = 5) -> float:
    """Best of `repeat` passes (as timeit does): the least disturbed by other work on the machine."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - start)
    return best / len(items) * 1e6


def bench(n_grids: int, queries: int) -> dict[str, float]:
    rng = random.Random(42)
    t0 = time.perf_counter()
    gm = GridMap.from_dict(synthetic(n_grids))
    t1 = time.perf_counter()
    addr, geo = AddressIndex(gm), GridIndex(gm)
    t2 = time.perf_counter()
    print(
        f"  {n_grids} grids, {len(gm.buildings)} buildings: load {t1 - t0:.2f}s, "
        f"indexes {t2 - t1:.2f}s",
        flush=True,
    )
    texts, want = [], []
    for _ in range(queries):
        g, k = rng.randrange(n_grids), rng.randint(1, 10)
        zh, en = estate(g)
        want.append(f"g{g}-b{k}")
        texts.append(
            rng.choice(
                [
                    f"{zh}{k}栋2单元",
                    f"{en.lower()} bldg {k}",
                    f"{zh[:-1]}{k}号楼",
                    f"{en.lower()[:-2]} {k}",
                ]
            )
        )
    side = max(1, int(n_grids**0.5 + 0.999))
    rows = (n_grids + side - 1) // side
    points = [
        (30.0 + rng.random() * rows * CELL, 110.0 + rng.random() * side * CELL)
        for _ in range(queries)
    ]
    now = dt.datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    load = {1_000_000 + g: rng.randrange(5) for g in range(n_grids)}
    jobs = [(f"g{rng.randrange(n_grids)}", rng.choice(CATEGORIES + [None])) for _ in range(queries)]
    hits = sum(
        w in [m.building.id for m in addr.match(t)] for t, w in zip(texts, want, strict=True)
    )
    print(f"  address top-3 hit rate {hits / len(texts):.1%}")
    return {
        "address": per_call(addr.match, texts),
        "point": per_call(lambda p: geo.locate(*p), points),
        "assign": per_call(lambda j: assign(gm, j[0], j[1], now, load), jobs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    small = bench(10, args.queries)
    large = bench(args.grids, args.queries)
    print(f"{'request':<10}{'10 grids':>14}{f'{args.grids} grids':>16}{'ratio':>8}")
    for key in small:
        print(
            f"{key:<10}{small[key]:>11.1f} µs{large[key]:>13.1f} µs{large[key] / small[key]:>8.2f}"
        )


if __name__ == "__main__":
    main()
