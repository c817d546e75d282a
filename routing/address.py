"""Fuzzy address matching: resident's words -> building -> grid.

``normalise_address`` folds width, case and punctuation, turns Chinese numerals before
building/unit/room markers into digits, and unifies the markers: building and house numbers
become ``#N`` tokens (号楼/栋/幢/座/号/#/Bldg/Building/Block/No.), units ``uN`` and rooms
``rN``. ``AddressIndex`` keeps an inverted index over character n-grams and number tokens, picks
a bounded set of candidates from the rarest grams, and only scores those with rapidfuzz, so the
time per query stays flat as the map grows.
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapidfuzz import fuzz

if TYPE_CHECKING:
    from routing.gridmap import Building, Grid, GridMap

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUM = re.compile(r"[零〇一二两三四五六七八九十百]+(?=\s*(?:号|栋|幢|座|单元|室|层|楼|期|区|#))")
_ABBREV = {"rd": "road", "st": "street", "ave": "avenue", "av": "avenue", "gdn": "garden",
           "gdns": "garden", "gardens": "garden", "bldg": "building", "apt": "apartment",
           "comm": "community", "ln": "lane", "sq": "square", "ctr": "centre", "center": "centre"}
_B_WORDS = {"b", "bd", "bld", "bldg", "blding", "bldng", "buiding", "bulding", "buildng",
            "builing", "building", "buildings", "block", "blk", "blok", "tower", "no", "num",
            "number", "house"}
_U_WORDS = {"u", "unit", "unt", "entrance", "ent"}
_R_WORDS = {"r", "room", "rm", "flat", "apartment"}
_FLOOR_WORDS = {"floor", "fl", "flr"}
_STOP = {"the", "of", "in", "at", "my", "i", "live", "near", "to"}
_TOKEN = re.compile(r"[a-z]+|\d+|[\u3400-\u9fff]+|#")


def _cn_to_int(text: str) -> int:
    if all(c in _CN_DIGITS for c in text):  # 一二 -> 12 (digit by digit)
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    total, current = 0, 0
    for c in text:
        if c == "百":
            total += (current or 1) * 100
            current = 0
        elif c == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _CN_DIGITS[c]
    return total + current


def normalise_address(text: str) -> str:
    """Canonical form used for matching, e.g. ``幸福小区三栋2单元`` -> ``幸福小区 #3 u2``."""
    s = unicodedata.normalize("NFKC", text or "").lower()
    s = _CN_NUM.sub(lambda m: str(_cn_to_int(m.group())), s)
    s = re.sub(r"(\d+)\s*-\s*(\d+)\s*-\s*(\d+)", r" #\1 u\2 r\3 ", s)  # 3-2-301
    s = re.sub(r"(\d+)\s*(?:号楼|号院|栋楼|栋|幢|座|#)", r" #\1 ", s)
    s = re.sub(r"(\d+)\s*(?:单元|门洞|门)", r" u\1 ", s)
    s = re.sub(r"(\d+)\s*(?:室|号房)", r" r\1 ", s)
    s = re.sub(r"(\d+)\s*(?:层|楼)", " ", s)
    s = re.sub(r"(\d+)\s*号", r" #\1 ", s)
    s = re.sub(r"第(?=\s*#?\d)", " ", s)
    raw = _TOKEN.findall(s)
    out: list[str] = []
    pending: str | None = None  # marker waiting for its number: '#', 'u', 'r' or '' (floor)
    for tok in raw:
        if tok.isdigit():
            n = str(int(tok))
            if pending == "":
                pending = None
                continue
            out.append(("#" if pending in (None, "#") else pending) + n)
            pending = None
        elif tok == "#":
            pending = "#"
        elif tok in _B_WORDS:
            pending = "#"
        elif tok in _U_WORDS:
            pending = "u"
        elif tok in _R_WORDS:
            pending = "r"
        elif tok in _FLOOR_WORDS:
            pending = ""
        elif tok not in _STOP:
            out.append(_ABBREV.get(tok, tok))
    return " ".join(out)


def _split_norm(norm: str) -> tuple[str, frozenset[str]]:
    """-> (text without number tokens, the set of building/house numbers)."""
    words, nums = [], set()
    for tok in norm.split():
        if tok.startswith("#"):
            nums.add(tok)
        elif re.fullmatch(r"[ur]\d+", tok):
            continue
        elif tok.isdigit():
            nums.add("#" + tok)
        else:
            words.append(tok)
    return " ".join(words), frozenset(nums)


def _grams(text: str) -> set[str]:
    grams: set[str] = set()
    for word in text.split():
        if re.fullmatch(r"[\u3400-\u9fff]+", word):
            grams.update(word)  # single characters: robust to one wrong character
            grams.update(word[i:i + 2] for i in range(len(word) - 1))
        else:
            padded = f" {word} "
            grams.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return grams


@dataclass(frozen=True)
class AddressMatch:
    building: Building
    grid: Grid
    score: float


@dataclass(frozen=True)
class _Entry:
    building_id: str
    text: str
    nums: frozenset[str]


class AddressIndex:
    """Fuzzy lookup of buildings by name, alias or address fragment."""

    MAX_CANDIDATES = 60
    COMMON_POSTING = 400  # grams with more postings than this only re-rank, never select

    def __init__(self, gridmap: GridMap) -> None:
        self.gridmap = gridmap
        self._entries: list[_Entry] = []
        self._postings: dict[str, list[int]] = defaultdict(list)
        for b in gridmap.buildings.values():
            names = {b.name.en, b.name.zh, *b.aliases}
            for name in sorted(n for n in names if n):
                text, nums = _split_norm(normalise_address(name))
                idx = len(self._entries)
                self._entries.append(_Entry(b.id, text, nums))
                for g in _grams(text) | nums:
                    self._postings[g].append(idx)
        self._postings = dict(self._postings)

    def _candidates(self, text: str, nums: frozenset[str]) -> list[int]:
        grams = [g for g in _grams(text) | nums if g in self._postings]
        grams.sort(key=lambda g: len(self._postings[g]))
        counts: dict[int, float] = defaultdict(float)
        for g in grams:
            posting = self._postings[g]
            if len(posting) > self.COMMON_POSTING and counts:
                break  # everything after is even more common
            weight = 1.0 / (1.0 + len(posting) ** 0.5)
            for e in posting[: self.COMMON_POSTING * 4]:
                counts[e] += weight
        if nums:
            for e in counts:
                counts[e] += 10.0 * len(self._entries[e].nums & nums)
        return heapq.nlargest(self.MAX_CANDIDATES, counts, key=lambda e: (counts[e], -e))

    def match(self, text: str, limit: int = 3) -> list[AddressMatch]:
        qtext, qnums = _split_norm(normalise_address(text))
        if not qtext and not qnums:
            return []
        best: dict[str, float] = {}
        for e in self._candidates(qtext, qnums):
            entry = self._entries[e]
            score = _score(qtext, qnums, entry)
            if score > best.get(entry.building_id, -1.0):
                best[entry.building_id] = score
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        out = []
        for bid, score in ranked:
            b = self.gridmap.buildings[bid]
            out.append(AddressMatch(b, self.gridmap.grids[b.grid_id], round(score, 1)))
        return out


def _score(qtext: str, qnums: frozenset[str], entry: _Entry) -> float:
    if qtext and entry.text:
        text_score = max(fuzz.WRatio(qtext, entry.text), fuzz.token_set_ratio(qtext, entry.text))
    elif not qtext and not entry.text:
        text_score = 100.0
    elif not qtext:
        text_score = 60.0
    else:
        text_score = 0.0
    if not qnums:
        num_score = 100.0 if not entry.nums else 50.0
    elif not entry.nums:
        num_score = 30.0
    else:
        num_score = 100.0 * len(qnums & entry.nums) / len(qnums | entry.nums)
    return 0.65 * text_score + 0.35 * num_score


__all__ = ["AddressIndex", "AddressMatch", "normalise_address"]
