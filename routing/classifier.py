"""Category classifier for resident messages: weighted lexicon + light NLP, no I/O.

How a message is scored (details in docs/lexicon.md):

1. The text is normalised (full-width -> half-width, lower-case).
2. English words are stemmed (``broken`` -> ``break``); a word of ``fuzzy.min_length`` letters or
   more that is not a lexicon word is matched to the closest lexicon word with rapidfuzz
   (same first letter, ratio >= ``fuzzy.cutoff``; cached), so ``elevater brokn`` reads as
   ``elevator broken``.  Lexicon phrases of up to N words are looked up on the stem sequence.
3. Chinese runs are matched by character n-grams against the Chinese terms (no segmenter).
4. A matched term strictly inside a longer matched term (``灯`` inside ``楼道灯``) is dropped: the
   longer phrase is the more specific evidence.  Each distinct term counts once.
5. ``score[c]`` = sum of the weights of the category's matched terms and patterns (negative
   weights are counter-cues), floored at 0.  With ``s1`` the best and ``s2`` the runner-up,
   ``confidence = s1 / (s1 + s2 + 1)``; the classifier abstains (category ``None``) when the
   confidence is below the threshold, the top two tie, or ``s1`` is below ``min_score``.  At
   threshold 0.5 this means "the winner must beat the runner-up by at least one weight unit";
   ``min_score: 2`` means "one strong cue or several supporting ones".
6. When the lexicon abstains, a Naive Bayes model (``routing/model.py``, trained at load time
   from ``routing/training.jsonl``) answers if its tempered posterior reaches the threshold;
   its evidence is the features that most favour the winner.  See docs/lexicon.md.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar, Literal

from rapidfuzz import fuzz, process

from routing.lexicon import Lexicon, Pattern, load_lexicon
from routing.model import (
    ALPHA,
    STOP_STEMS,
    TEMPERATURE,
    TEMPERATURE_ZH,
    NaiveBayes,
    load_training,
    text_features,
)
from routing.text import cjk_runs, english_tokens, has_cjk, normalize, phrase_key, stem, zh_key

# Common English words never "typo-corrected" into a lexicon word.
_FUZZY_STOP = frozenset(
    """about above after again also always another anyone anything around because been before
    being below between both could didn't does doesn't doing done don't down during each even
    ever every from have having here into just know like little look made make many maybe more
    most much must never next night nothing once only other over please really right same
    should since some someone something still such take than that their them then there these
    they thing think this those though through time today told very want week were what when
    where which while will with within without would year years your yesterday window windows
    father father's mother mother's sleep sleeping feel feels feeling seeing taken close closed
    print printing router house money month months hours minutes seems using going coming
    getting making looking saying telling asking waiting moving trying calling sitting
    standing walking start started stopped behind across along until whole enough under first
    second third place places rooms home later where's there's that's what's words world""".split()
)
_FUZZY_CACHE_MAX = 50_000
#: The catch-all category: filed there only on evidence of its own (thanks, questions, events),
#: never because the model found nothing better for words that say nothing.
FALLBACK_CATEGORY = "other"
#: How many pieces of model evidence a classification names.
_EVIDENCE = 4


@dataclass(frozen=True)
class Classification:
    """The outcome for one message; ``category`` is ``None`` when the classifier abstains."""

    category: str | None
    confidence: float
    matched: tuple[str, ...]
    scores: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class _Entry:
    category: str
    weight: float
    term: str


#: Where the model learns from: ``None`` = the packaged ``routing/training.jsonl``, a path to a
#: JSON Lines file, a list of ``(text, category)`` rows, or ``False`` for the lexicon alone.
TrainingSource = str | Path | list[tuple[str, str]] | Literal[False] | None

_Span = tuple[int, int, int]  # (kind, start, end): kind 0 = English tokens, 1 = Chinese chars


class Classifier:
    """Score a message against every category of a :class:`Lexicon`."""

    _default: ClassVar[Classifier | None] = None

    def __init__(
        self,
        lexicon: Lexicon,
        *,
        threshold: float | None = None,
        training: TrainingSource = None,
        alpha: float = ALPHA,
        temperature: float = TEMPERATURE,
        temperature_zh: float = TEMPERATURE_ZH,
    ) -> None:
        self.lexicon = lexicon
        self.alpha, self.temperature, self.temperature_zh = alpha, temperature, temperature_zh
        self.threshold = lexicon.threshold if threshold is None else float(threshold)
        self._categories = lexicon.categories
        self._en: dict[str, list[_Entry]] = defaultdict(list)
        self._zh: dict[str, list[_Entry]] = defaultdict(list)
        self._patterns: tuple[Pattern, ...] = lexicon.patterns
        vocab: dict[str, str] = {}  # surface word -> stem, for typo matching
        # Terms that normalise to the same key in one category ("park", "parked", "parking")
        # are one entry; the largest weight wins.
        unique: dict[tuple[int, str, str], _Entry] = {}
        for cat, by_lang in lexicon.terms.items():
            for lang, keyf in ((0, phrase_key), (1, zh_key)):
                for term, weight in by_lang.get("en" if lang == 0 else "zh", {}).items():
                    slot = (lang, keyf(term), cat)
                    old = unique.get(slot)
                    if old is None or abs(weight) > abs(old.weight):
                        unique[slot] = _Entry(cat, weight, term)
                    if lang == 0:
                        for word in english_tokens(normalize(term)):
                            vocab[word] = stem(word)
        for (lang, key, _), entry in unique.items():
            (self._en if lang == 0 else self._zh)[key].append(entry)
        self._en_max = max((k.count(" ") + 1 for k in self._en), default=1)
        self._zh_lengths = tuple(sorted({len(k) for k in self._zh}))
        self._stems = frozenset(vocab.values())
        self._by_initial: dict[str, tuple[list[str], list[str]]] = {}
        for word, st in sorted(vocab.items()):
            if len(word) >= lexicon.fuzzy_min_length - 1:
                words, stems = self._by_initial.setdefault(word[0], ([], []))
                words.append(word)
                stems.append(st)
        self._fuzzy_cache: dict[str, str | None] = {}
        self.model: NaiveBayes | None = None
        self.model = self._train(training)

    @classmethod
    def default(cls) -> Classifier:
        """The classifier over the packaged lexicon (built once, then cached)."""
        if cls._default is None:
            cls._default = cls(load_lexicon())
        return cls._default

    # -- matching ---------------------------------------------------------------------------

    def _fuzzy(self, token: str) -> str | None:
        """The stem of the lexicon word closest to ``token`` (a likely typo), or ``None``."""
        cache = self._fuzzy_cache
        if token in cache:
            return cache[token]
        result = None
        group = self._by_initial.get(token[0])
        if group is not None and token not in _FUZZY_STOP and not token.isdigit():
            hit = process.extractOne(
                token, group[0], scorer=fuzz.ratio, score_cutoff=self.lexicon.fuzzy_cutoff
            )
            if hit is not None and abs(len(hit[0]) - len(token)) <= 2:
                # the stems must be close too: "feels" is near "fees" but "feel" is not "fee"
                target = group[1][hit[2]]
                if fuzz.ratio(stem(token), target) >= self.lexicon.fuzzy_cutoff:
                    result = target
        if len(cache) >= _FUZZY_CACHE_MAX:
            cache.clear()
        cache[token] = result
        return result

    def _matches(self, norm: str) -> list[tuple[_Span, _Entry]]:
        found: list[tuple[_Span, _Entry]] = []
        tokens = english_tokens(norm)
        if tokens:
            min_len = self.lexicon.fuzzy_min_length
            stems = []
            for tok in tokens:
                st = stem(tok)
                if st not in self._stems and len(tok) >= min_len:
                    st = self._fuzzy(tok) or st
                stems.append(st)
            en = self._en
            n = len(stems)
            for i in range(n):
                key = stems[i]
                for k in range(1, min(self._en_max, n - i) + 1):
                    if k > 1:
                        key = f"{key} {stems[i + k - 1]}"
                    entries = en.get(key)
                    if entries:
                        span = (0, i, i + k)
                        found.extend((span, e) for e in entries)
        if self._zh_lengths:
            zh = self._zh
            lengths = self._zh_lengths
            for start, run in cjk_runs(norm):
                size = len(run)
                for i in range(size):
                    for ln in lengths:
                        if i + ln > size:
                            break
                        entries = zh.get(run[i : i + ln])
                        if entries:
                            span = (1, start + i, start + i + ln)
                            found.extend((span, e) for e in entries)
        return found

    @staticmethod
    def _drop_contained(found: list[tuple[_Span, _Entry]]) -> list[tuple[_Span, _Entry]]:
        """Drop positive matches strictly inside a longer positive match of the same script."""
        spans = {s for s, e in found if e.weight > 0}
        if len(spans) < 2:
            return found
        inner = {
            a
            for a in spans
            for b in spans
            if a != b and a[0] == b[0] and b[1] <= a[1] and a[2] <= b[2]
        }
        if not inner:
            return found
        return [(s, e) for s, e in found if e.weight < 0 or s not in inner]

    # -- scoring ----------------------------------------------------------------------------

    def _lexicon(
        self, norm: str
    ) -> tuple[dict[str, float], dict[str, list[tuple[tuple[int, int], str]]], list[str]]:
        """Raw lexicon scores, positive evidence per category, and every matched term/label."""
        raw: dict[str, float] = dict.fromkeys(self._categories, 0.0)
        evidence: dict[str, list[tuple[tuple[int, int], str]]] = defaultdict(list)
        terms: list[str] = []
        if norm:
            seen: set[tuple[str, str]] = set()
            for span, entry in self._drop_contained(self._matches(norm)):
                if (entry.category, entry.term) in seen:
                    continue
                seen.add((entry.category, entry.term))
                terms.append(entry.term)
                raw[entry.category] += entry.weight
                if entry.weight > 0:
                    evidence[entry.category].append(((span[0], span[1]), entry.term))
            for pat in self._patterns:
                m = pat.regex.search(norm)
                if m is not None:
                    terms.append(pat.label)
                    raw[pat.category] += pat.weight
                    if pat.weight > 0:
                        evidence[pat.category].append(((2, m.start()), pat.label))
        return raw, evidence, terms

    def _train(self, training: TrainingSource) -> NaiveBayes | None:
        if training is False:
            return None
        rows = (
            load_training(None if training is None else training)
            if not isinstance(training, list)
            else training
        )
        docs = [(text_features(normalize(text)), cat) for text, cat in rows]
        cats = {c for _, c in rows}
        if not cats or not cats <= set(self._categories):
            return None  # the training data is for another taxonomy: lexicon only
        return NaiveBayes(docs, self._categories, alpha=self.alpha)

    # -- public API -------------------------------------------------------------------------

    def classify(self, text: str) -> Classification:
        """Classify one message; abstains (category ``None``) when the evidence is weak or tied.

        The lexicon decides when it is confident (it is precise); otherwise the Naive Bayes
        model answers when its tempered posterior reaches the threshold; else abstain.
        """
        norm = normalize(text or "")
        raw, evidence, _ = self._lexicon(norm)
        scores = {c: round(max(v, 0.0), 4) for c, v in raw.items()}
        lex = self._lexicon_only(scores, evidence)
        model = self.model
        if model is None or lex.category is not None or not norm:
            return lex
        nb, used = model.scores(text_features(norm))
        if not used:
            return lex
        cats = self._categories
        inv_t = 1.0 / (self.temperature_zh if has_cjk(norm) else self.temperature)
        z = [p + n * inv_t for p, n in zip(model.log_prior, nb, strict=True)]
        top = max(z)
        total = sum(math.exp(v - top) for v in z)
        order = sorted(range(len(cats)), key=lambda i: -z[i])
        win, second = order[0], order[1] if len(order) > 1 else order[0]
        confidence = 1.0 / total
        if confidence < self.threshold:
            return (
                lex
                if lex.confidence >= confidence
                else replace(lex, confidence=round(confidence, 4))
            )
        best = cats[win]
        if best == FALLBACK_CATEGORY and not evidence.get(best):
            return lex  # nothing specific and nothing of its own: triage, not "other"
        matched = [t for _, t in sorted(evidence.get(best, []))]
        words = _surface_words(norm)
        for f in model.top_features(used, win, second, n=3 * _EVIDENCE):
            term = _evidence_term(f, words)
            if term is None or term in matched or any(term in m for m in matched):
                continue
            matched.append(term)
            if len(matched) >= _EVIDENCE:
                break
        if not matched:
            return lex  # only stop words and stem fragments favour it: no real evidence
        return Classification(
            category=best,
            confidence=round(confidence, 4),
            matched=tuple(matched),
            scores=MappingProxyType(scores),
        )

    def _lexicon_only(
        self, scores: dict[str, float], evidence: dict[str, list[tuple[tuple[int, int], str]]]
    ) -> Classification:
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        best, s1 = ranked[0] if ranked else (None, 0.0)
        s2 = ranked[1][1] if len(ranked) > 1 else 0.0
        confidence = s1 / (s1 + s2 + 1.0) if s1 > 0 else 0.0
        matched = tuple(t for _, t in sorted(evidence.get(best, []))) if best else ()
        answer = s1 > s2 and s1 >= self.lexicon.min_score and confidence >= self.threshold
        category = best if s1 > 0 and answer else None
        return Classification(
            category=category,
            confidence=round(confidence, 4),
            matched=matched,
            scores=MappingProxyType(scores),
        )


def _surface_words(norm: str) -> dict[str, str]:
    """Each English stem of the text mapped to the first word of the text it came from."""
    words: dict[str, str] = {}
    for token in english_tokens(norm):
        words.setdefault(stem(token), token)
    return words


def _evidence_term(feature: str, words: Mapping[str, str]) -> str | None:
    """A model feature as words a person reads (``lik`` -> ``like``), or ``None`` when it is
    no evidence: a stop word (``would lik``, ``lik to``) or not from this text."""
    if has_cjk(feature):
        return feature
    parts = feature.split(" ")
    if any(p in STOP_STEMS or p not in words for p in parts):
        return None
    return " ".join(words[p] for p in parts)


def classify(text: str) -> Classification:
    """Classify with the packaged default lexicon."""
    return Classifier.default().classify(text)
