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

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUM = re.compile(r"[零〇一二两三四五六七八九十百]+(?=\s*(?:号|栋|幢|座|单元|室|层|楼|期|区|#))")
_ABBREV = {
    "rd": "road",
    "st": "street",
    "ave": "avenue",
    "av": "avenue",
    "gdn": "garden",
    "gdns": "garden",
    "gardens": "garden",
    "bldg": "building",
    "apt": "apartment",
    "comm": "community",
    "ln": "lane",
    "sq": "square",
    "ctr": "centre",
    "center": "centre",
}
_B_WORDS = {
    "b",
    "bd",
    "bld",
    "bldg",
    "blding",
    "bldng",
    "buiding",
    "bulding",
    "buildng",
    "builing",
    "building",
    "buildings",
    "block",
    "blk",
    "blok",
    "tower",
    "no",
    "num",
    "number",
    "house",
}
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
    # "5#楼", "5栋楼": the trailing 楼 belongs to the building marker, it is not a floor.
    s = re.sub(r"(\d+)\s*(?:号楼|号院|栋楼|栋|幢|座|#)\s*楼?", r" #\1 ", s)
    s = re.sub(r"(\d+)\s*(?:单元|门洞|门)", r" u\1 ", s)
    s = re.sub(r"(\d+)\s*(?:室|号房)", r" r\1 ", s)
    s = re.sub(r"(?<![#\d])(\d+)\s*(?:层|楼)", " ", s)
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
        if len(word) >= 3:
            grams.add("=" + word)  # the whole word: exact spellings select precisely
        if re.fullmatch(r"[\u3400-\u9fff]+", word):
            grams.update(word)  # single characters: robust to one wrong character
            grams.update(word[i : i + 2] for i in range(len(word) - 1))
        else:
            padded = f" {word} "
            grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


@dataclass(frozen=True)
class AddressMatch:
    building: Building
    grid: Grid
    score: float


class AddressIndex:
    """Fuzzy lookup of buildings by name, alias or address fragment.

    Names are split into a text part and number tokens. Distinct text parts (an estate or a
    road, shared by all its buildings) are indexed by n-gram; the rarest grams of the query pick
    at most ``MAX_TEXTS`` texts, which are scored once each with rapidfuzz; the numbers then pick
    buildings within those texts through a per-text number table.
    """

    MAX_TEXTS = 6
    COMMON_POSTING = 150  # grams more common than this are not used to select texts
    BUDGET = 120  # posting items read per query
    EXPAND_TEXTS = 6  # best-scoring texts whose buildings are considered
    PER_TEXT = 6  # buildings taken from a text when the query's numbers don't narrow it

    def __init__(self, gridmap: GridMap) -> None:
        self.gridmap = gridmap
        self._texts: list[str] = []
        text_ids: dict[str, int] = {}
        # per text: (building_id, nums) entries, and number -> entry positions
        self._entries: list[list[tuple[str, frozenset[str]]]] = []
        self._by_num: list[dict[str, list[int]]] = []
        self._postings: dict[str, list[int]] = defaultdict(list)
        self._num_only: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for b in gridmap.buildings.values():
            seen: set[tuple[str, frozenset[str]]] = set()
            for name in sorted({b.name.en, b.name.zh, *b.aliases} - {""}):
                key = _split_norm(normalise_address(name))
                if key in seen or key == ("", frozenset()):
                    continue
                seen.add(key)
                text, nums = key
                tid = text_ids.get(text)
                if tid is None:
                    tid = text_ids[text] = len(self._texts)
                    self._texts.append(text)
                    self._entries.append([])
                    self._by_num.append({})
                    for g in _grams(text):
                        self._postings[g].append(tid)
                pos = len(self._entries[tid])
                self._entries[tid].append((b.id, nums))
                for n in nums:
                    self._by_num[tid].setdefault(n, []).append(pos)
                    if len(self._num_only[n]) < self.COMMON_POSTING:
                        self._num_only[n].append((tid, pos))
        self._postings = dict(self._postings)
        self._num_only = dict(self._num_only)

    def _candidate_texts(self, text: str) -> list[int]:
        grams = sorted(
            (g for g in _grams(text) if g in self._postings), key=lambda g: len(self._postings[g])
        )
        counts: dict[int, float] = defaultdict(float)
        budget = self.BUDGET
        for g in grams:
            posting = self._postings[g]
            if counts and (len(posting) > self.COMMON_POSTING or budget <= 0):
                break  # everything after is even more common
            weight = 1.0 / (1.0 + len(posting) ** 0.5)
            for t in posting[: self.BUDGET]:
                counts[t] += weight
            budget -= len(posting)
        return heapq.nlargest(self.MAX_TEXTS, counts, key=lambda t: (counts[t], -t))

    def match(self, text: str, limit: int = 3) -> list[AddressMatch]:
        qtext, qnums = _split_norm(normalise_address(text))
        if not qtext and not qnums:
            return []
        best: dict[str, float] = {}

        def offer(bid: str, text_score: float, nums: frozenset[str]) -> None:
            score = 0.65 * text_score + 0.35 * _num_score(qnums, nums)
            if score > best.get(bid, -1.0):
                best[bid] = score

        tids = self._candidate_texts(qtext) if qtext else []
        scored = heapq.nlargest(
            self.EXPAND_TEXTS, ((_text_score(qtext, self._texts[t]), -t) for t in tids)
        )
        coverage = {-neg: _coverage(qtext, self._texts[-neg]) for _, neg in scored}
        # A name that holds everything typed ("安康小区") rules out names that hold only part
        # of it ("幸福小区" shares 小区): the typed estate restricts the buildings offered.
        whole = any(c >= 1.0 for c in coverage.values())
        for tscore, neg in scored:
            tid = -neg
            if coverage[tid] < COVERED or (whole and coverage[tid] < 1.0):
                continue  # shares letters, not words: "riverside park" is not "Xingfu Market"
            entries = self._entries[tid]
            picks = {p for n in qnums for p in self._by_num[tid].get(n, ())}
            if not picks:
                if qnums:
                    continue  # a number that names no building here is not a near miss
                picks = set(range(min(len(entries), self.PER_TEXT)))
            for p in picks:
                offer(entries[p][0], tscore, entries[p][1])
        if not tids:  # only numbers ("3号楼2单元"), or text that shares no n-gram with the map
            for n in qnums:
                for tid, p in self._num_only.get(n, ()):
                    bid, nums = self._entries[tid][p]
                    ttext = self._texts[tid]
                    tscore = _text_score(qtext, ttext) if qtext else (60.0 if ttext else 100.0)
                    offer(bid, tscore, nums)
        ranked = heapq.nsmallest(limit, best.items(), key=lambda kv: (-kv[1], kv[0]))
        out = []
        for bid, score in ranked:
            b = self.gridmap.buildings[bid]
            out.append(AddressMatch(b, self.gridmap.grids[b.grid_id], round(score, 1)))
        return out


def _text_score(qtext: str, text: str) -> float:
    if not text:
        return 0.0
    return max(fuzz.WRatio(qtext, text), fuzz.token_set_ratio(qtext, text))


_CJK = re.compile(r"[\u3400-\u9fff]+")
WORD_SIMILAR = 75.0  # a typo ("raod", "gardn") still names the word
COVERED = 0.5  # at least half of what was typed must be found in the name


def _coverage(qtext: str, text: str) -> float:
    """The share of what the person typed that the name contains: each typed word (Latin,
    allowing a typo) or Chinese character found in the name. Fuzzy scores alone reward
    shared letters ("park" in "market"); a name must cover at least `COVERED` of it."""
    if not qtext:
        return 1.0
    words = text.split()
    chars = set("".join(_CJK.findall(text)))
    found = total = 0.0
    for token in qtext.split():
        if _CJK.fullmatch(token):
            total += len(token)
            found += sum(1 for c in token if c in chars)
        else:
            total += 1
            if token in words or any(
                fuzz.ratio(token, w, score_cutoff=WORD_SIMILAR) for w in words
            ):
                found += 1
    return 1.0 if total == 0 else found / total


def _num_score(qnums: frozenset[str], nums: frozenset[str]) -> float:
    if not qnums:
        return 100.0 if not nums else 50.0
    if not nums:
        return 30.0
    return 100.0 * len(qnums & nums) / len(qnums | nums)


__all__ = ["AddressIndex", "AddressMatch", "normalise_address"]
