"""Text normalisation and tokenising for the classifier (pure functions, no I/O).

* :func:`normalize` folds full-width forms (NFKC), case and whitespace, so ``ＫＴＶ`` and
  ``ktv`` and ``KTV`` are the same thing.
* :func:`english_tokens` finds Latin-script words with their positions.
* :func:`stem` is a deliberately light English stemmer (``broken``/``breaks``/``breaking`` ->
  ``break``); it only needs to be *consistent*, because lexicon terms go through it too.
* :func:`cjk_runs` finds runs of Chinese characters, which the classifier matches by
  character n-grams (no word segmenter needed).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_SPACE_RE = re.compile(r"\s+")

#: Irregular forms mapped straight to their stem (applied before the suffix rules).
IRREGULAR: dict[str, str] = {
    "broken": "break",
    "broke": "break",
    "brokn": "break",
    "bust": "break",
    "busted": "break",
    "stolen": "steal",
    "stole": "steal",
    "thieves": "thief",
    "mice": "mouse",
    "children": "child",
    "kids": "kid",
    "people": "person",
    "men": "man",
    "women": "woman",
    "fell": "fall",
    "fallen": "fall",
    "built": "build",
    "blew": "blow",
    "blown": "blow",
    "lying": "lie",
    "dying": "die",
    "died": "die",
    "leaky": "leak",
    "smelly": "smell",
    "stinky": "stink",
    "stank": "stink",
    "noisy": "noise",
    "dirty": "dirt",
    "dusty": "dust",
    "smoky": "smoke",
    "elderly": "elder",
    "lifts": "lift",
    "elevators": "elevator",
    "renovating": "renovate",
    "renovated": "renovate",
    "renovation": "renovate",
    "renovations": "renovate",
    "vaccine": "vaccinate",
    "vaccines": "vaccinate",
    "vaccination": "vaccinate",
    "vaccinations": "vaccinate",
    "disinfection": "disinfect",
    "construction": "construct",
    "parking": "park",
    "parked": "park",
    "site": "site",
    "sites": "site",
    "care": "care",
    "cares": "care",
    "cared": "care",
    "caring": "care",
    "is": "is",
    "was": "was",
    "has": "has",
    "this": "this",
    "its": "its",
    "his": "his",
    "bus": "bus",
    "gas": "gas",
    "yes": "yes",
}

_VOWELS = frozenset("aeiouy")


def normalize(text: str) -> str:
    """NFKC-fold (full-width -> half-width), lower-case, and collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE_RE.sub(" ", text).strip()


def _undouble(word: str) -> str:
    if (
        len(word) >= 3
        and word[-1] == word[-2]
        and word[-1] not in "lsz"
        and word[-1] not in _VOWELS
    ):
        return word[:-1]
    return word


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Reduce an English word to a light stem; consistency matters more than linguistics."""
    w = word.replace("'", "")
    if w in IRREGULAR:
        return IRREGULAR[w]
    if len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith(("ches", "shes", "xes", "zes", "ses")) and len(w) > 4:
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("ied") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("ing") and len(w) > 5:
        w = _undouble(w[:-3])
    elif w.endswith("ed") and len(w) > 4:
        w = _undouble(w[:-2])
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    return w


def english_tokens(norm: str) -> list[str]:
    """Latin-script words (and numbers) of already-normalised text, in order."""
    return _WORD_RE.findall(norm)


def cjk_runs(norm: str) -> Iterator[tuple[int, str]]:
    """Yield ``(start, run)`` for each run of CJK characters in normalised text."""
    for m in _CJK_RE.finditer(norm):
        yield m.start(), m.group()


def has_cjk(text: str) -> bool:
    """True if the text contains any Chinese character."""
    return _CJK_RE.search(text) is not None


def phrase_key(term: str) -> str:
    """The lookup key of an English lexicon term: its stemmed words joined by spaces."""
    return " ".join(stem(t) for t in english_tokens(normalize(term)))


def zh_key(term: str) -> str:
    """The lookup key of a Chinese lexicon term: normalised, without spaces."""
    return normalize(term).replace(" ", "")
