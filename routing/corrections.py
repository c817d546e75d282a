"""Learning from corrections: propose new lexicon terms from re-categorised messages.

A correction is ``(text, predicted_category_or_None, corrected_category)``: what the classifier
said (or ``None`` when it abstained and a human triaged the case) and what a person decided.
:func:`suggest_entries` counts candidate terms (English stems and stem bigrams, Chinese character
bigrams and trigrams) in the texts corrected to each category, keeps those seen in at least
``min_support`` different texts and not already in that category's lexicon, and ranks them by
support x distinctiveness (the share of the term's occurrences that fall in that category).
Nothing is applied automatically: a person reviews the suggestions and pastes the good ones
into the lexicon (``gridvoice lexicon suggest --yaml``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from routing.lexicon import Lexicon
from routing.text import cjk_runs, english_tokens, normalize, phrase_key, stem, zh_key

# Words too common to be useful cues.
_EN_STOP = frozenset(
    """a about after again all also am an and any are as at be been before being but by can
    can't could did didn't do does doesn't don't for from get got had has have he her here him
    his how i i'm if in into is it it's its just me my no not now of off on or our out over
    please so some still than that the their them then there they this to too up us very was
    we were what when where which who why will with would you your yes days day week weeks
    again always every today yesterday night morning since one two three there's someone""".split()
)
# Chinese n-grams containing one of these function characters are skipped.
_ZH_STOP = frozenset("的了吗呢吧啊呀是我你他她它们在这那和也就都很有个又还着过被把给要")


@dataclass(frozen=True)
class Suggestion:
    """A proposed lexicon entry for ``category`` in ``lang``."""

    category: str
    lang: str
    term: str
    support: int  # number of corrected texts of this category containing the term
    example: str  # one such text
    distinctiveness: float = 1.0  # share of the term's texts that were corrected to this category

    @property
    def score(self) -> float:
        return self.support * self.distinctiveness


def _candidates(text: str) -> dict[tuple[str, str], str]:
    """Candidate terms of one text: ``(lang, key) -> surface form``."""
    norm = normalize(text)
    out: dict[tuple[str, str], str] = {}
    words = [w for w in english_tokens(norm) if not w.isdigit()]
    prev: str | None = None
    for w in words:
        if w in _EN_STOP or len(w) < 3:
            prev = None
            continue
        out.setdefault(("en", stem(w)), w)
        if prev is not None:
            out.setdefault(("en", f"{stem(prev)} {stem(w)}"), f"{prev} {w}")
        prev = w
    for _, run in cjk_runs(norm):
        for n in (2, 3):
            for i in range(len(run) - n + 1):
                gram = run[i : i + n]
                if not _ZH_STOP.intersection(gram):
                    out.setdefault(("zh", gram), gram)
    return out


def _known(lexicon: Lexicon, category: str) -> tuple[set[str], list[str]]:
    terms = lexicon.terms.get(category, {})
    en = {phrase_key(t) for t in terms.get("en", {})}
    zh = [zh_key(t) for t in terms.get("zh", {}) if terms["zh"][t] > 0]
    return en, zh


def suggest_entries(
    corrections: Iterable[tuple[str, str | None, str]],
    lexicon: Lexicon,
    min_support: int = 2,
    *,
    min_distinctiveness: float = 0.6,
    limit_per_category: int = 15,
) -> list[Suggestion]:
    """Propose terms for each corrected-to category, best first (see module docstring)."""
    support: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    total: Counter[tuple[str, str]] = Counter()
    surface: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    example: dict[tuple[str, tuple[str, str]], str] = {}
    for text, _predicted, corrected in corrections:
        if not text or not corrected:
            continue
        for key, form in _candidates(text).items():
            support[corrected][key] += 1
            total[key] += 1
            surface[key][form] += 1
            example.setdefault((corrected, key), text)
    out: list[Suggestion] = []
    for category in sorted(support):
        known_en, known_zh = _known(lexicon, category)
        rows: list[Suggestion] = []
        for (lang, key), n in support[category].items():
            if n < min_support:
                continue
            if lang == "en" and (key in known_en or all(w in known_en for w in key.split())):
                continue
            if lang == "zh" and any(key in k or k in key for k in known_zh):
                continue
            share = n / total[(lang, key)]
            if share < min_distinctiveness:
                continue
            form = surface[(lang, key)].most_common(1)[0][0]
            rows.append(
                Suggestion(
                    category, lang, form, n, example[(category, (lang, key))], round(share, 3)
                )
            )
        rows = _drop_redundant(rows)
        rows.sort(key=lambda s: (-s.score, -s.support, -len(s.term), s.term))
        out.extend(rows[:limit_per_category])
    out.sort(key=lambda s: (-s.score, s.category, s.term))
    return out


def _drop_redundant(rows: list[Suggestion]) -> list[Suggestion]:
    """Drop a term when a longer term containing it has the same support (keep the phrase)."""
    keep = []
    for s in rows:
        shadowed = any(
            o is not s
            and o.lang == s.lang
            and o.support >= s.support
            and len(o.term) > len(s.term)
            and (s.term in o.term if s.lang == "zh" else f" {s.term} " in f" {o.term} ")
            for o in rows
        )
        if not shadowed:
            keep.append(s)
    return keep


def suggestions_yaml(suggestions: Iterable[Suggestion], weight: float = 1.0) -> str:
    """A YAML snippet (``categories: cat: lang: {term: weight}``) to merge into a lexicon."""
    grouped: dict[str, dict[str, list[Suggestion]]] = defaultdict(lambda: defaultdict(list))
    for s in suggestions:
        grouped[s.category][s.lang].append(s)
    lines = ["categories:"]
    for cat in sorted(grouped):
        lines.append(f"  {cat}:")
        for lang in ("en", "zh"):
            items = grouped[cat].get(lang)
            if not items:
                continue
            lines.append(f"    {lang}:")
            for s in items:
                term = s.term.replace('"', '\\"')
                lines.append(
                    f'      "{term}": {weight:g}  # support {s.support}, e.g. {s.example[:60]!r}'
                )
    return "\n".join(lines) + "\n"
