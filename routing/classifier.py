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
6. A linear model (``routing/linear.py``: tf-idf over word and character n-grams, logistic
   regression, trained offline on the packaged corpus or on a deployment's own cases) gives each
   category a probability; the lexicon's scores are added to its log-probabilities with weight
   ``LEXICON_WEIGHT``, the sum is sharpened by ``SHARPNESS`` and normalised, and the classifier
   answers the top category when its share reaches the threshold.  Evidence: the lexicon terms
   of the winner, then the model features that most favour it.  See docs/classifier.md.
7. With the second voter attached (:meth:`Classifier.attach_voter`: multilingual sentence
   embeddings, ``routing/voter.py``), the nearest messages of the packaged corpus and of the
   deployment's settled cases vote too (``routing/neighbours.py``); the three votes are averaged
   with the weights ``LINEAR_SHARE``, ``CORPUS_SHARE``, ``DEPLOYMENT_SHARE`` and the answer
   needs ``VOTE_THRESHOLD``.  Without the voter the classifier works as in 1-6.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar, Literal

import numpy as np
from rapidfuzz import fuzz, process

from routing import voter as voters
from routing.evidence import add_model_evidence
from routing.lexicon import Lexicon, Pattern, load_lexicon
from routing.linear import NOTHING, LinearModel
from routing.model import PACKAGED_MODEL, PACKAGED_VECTORS, load_training
from routing.neighbours import NeighbourIndex
from routing.neighbours import vote as vote_of
from routing.text import cjk_runs, english_tokens, normalize, phrase_key, stem, zh_key

#: Weight of the lexicon's scores against the model's log-probabilities (more in chat-length
#: messages of at most SHORT characters, where the lexicon is precise), and how much the sum
#: is sharpened before normalising (chosen on evidence; docs/classifier.md).
LEXICON_WEIGHT = 0.3
LEXICON_WEIGHT_SHORT = 0.7
SHORT = 60
SHARPNESS = 1.5
#: The card shows the lexicon's terms for the winner, topped up to this many with the model's
#: strongest features.
EVIDENCE = 4
#: The model needs this many known word features (character 4-grams do not count) to have a
#: say; below, the lexicon decides alone.
MIN_FEATURES = 3
#: A passing mention is offered as a second case only when its own part of the message is
#: classified at least this confidently and the lexicon has a cue this strong for it there.
SECOND_CONFIDENCE = 0.9
SECOND_CUE = 3.0
#: With the second voter: the shares of the linear model (with the lexicon), of the packaged
#: corpus's nearest messages and of the deployment's nearest settled cases in the vote, and the
#: share the winner needs (chosen on evidence, docs/classifier.md).  The deployment's cases
#: vote only when one of them is at least DEPLOYMENT_MIN_SIMILARITY close; a message too short
#: for the model is answered by a settled case at least NEAR_SIMILARITY close.
LINEAR_SHARE = 0.6
CORPUS_SHARE = 0.4
DEPLOYMENT_SHARE = 1.0
DEPLOYMENT_MIN_SIMILARITY = 0.5
NEAR_SIMILARITY = 0.9
VOTE_THRESHOLD = 0.4
_SEGMENT = re.compile(r"[。！？!?；;\n]+|\.\s+|(?=另外|还有|此外|同时)|\b(?=also\b|plus\b)")

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
_EMBEDDING_CACHE_MAX = 2_000  # 2 KB each


@dataclass(frozen=True)
class Classification:
    """The outcome for one message; ``category`` is ``None`` when the classifier abstains.

    ``probabilities`` are each category's share of the decision (summing to 1 over the
    categories; empty when nothing was found to share), also when the classifier abstains:
    :meth:`top` reads them.
    """

    category: str | None
    confidence: float
    matched: tuple[str, ...]
    scores: Mapping[str, float]
    #: The final vote's share per category, best first (also when the classifier abstains;
    #: empty when nothing was scored). See :func:`top_categories`.
    probabilities: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def top(self, k: int = 3) -> tuple[tuple[str, float], ...]:
        """The ``k`` likeliest categories with their shares, likeliest first
        (:func:`top_categories`)."""
        return tuple(top_categories(self, max(k, 0)))


def top_categories(result: Classification, k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` likeliest categories of a classification with their shares (0..1), best
    first: for offering the resident or the leader a one-tap choice.  From the final vote; for
    a message too short for the model, from the lexicon's scores (normalised)."""
    probs = result.probabilities
    if not probs:
        total = sum(v for v in result.scores.values() if v > 0)
        if total <= 0:
            return []
        probs = {c: v / total for c, v in result.scores.items() if v > 0}
    ranked = sorted(probs.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(c, round(p, 4)) for c, p in ranked[:k]]


@dataclass(frozen=True, slots=True)
class _Entry:
    category: str
    weight: float
    term: str


#: Where the model comes from: ``None`` = the packaged model (or ``model=``), a path to a JSON
#: Lines file or a list of ``(text, category)`` rows to train on now (needs scikit-learn), or
#: ``False`` for the lexicon alone.
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
        model: LinearModel | str | Path | None = None,
        vote_threshold: float | None = None,
    ) -> None:
        self.lexicon = lexicon
        self.threshold = lexicon.threshold if threshold is None else float(threshold)
        #: the share the winner needs when the second voter votes
        self.vote_threshold = (
            vote_threshold
            if vote_threshold is not None
            else (float(threshold) if threshold is not None else VOTE_THRESHOLD)
        )
        self.voter: voters.Voter | None = None
        self._embedding_cache: dict[str, tuple[voters.Voter, np.ndarray]] = {}
        self.corpus_index: NeighbourIndex | None = None
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
        self.model: LinearModel | None = self._model(training, model)
        self._lex_order: tuple[str, ...] = self.model.categories if self.model else ()
        self._nothing = self._lex_order.index(NOTHING) if NOTHING in self._lex_order else None
        #: the settled cases a trained model file carries (``gridvoice model train``)
        self.model_neighbours: NeighbourIndex | None = (
            self.model.neighbours if self.model is not None else None
        )

    @classmethod
    def from_model_file(cls, path: str | Path, lexicon: Lexicon | None = None) -> Classifier:
        """The classifier with a trained model file (``gridvoice model train``)."""
        return cls(lexicon or load_lexicon(), model=path)

    @classmethod
    def default(cls) -> Classifier:
        """The classifier over the packaged lexicon (built once, then cached)."""
        if cls._default is None:
            cls._default = cls(load_lexicon())
        return cls._default

    # -- the second voter -----------------------------------------------------------------

    def attach_voter(
        self, voter: voters.Voter | None = None, corpus: NeighbourIndex | None = None
    ) -> bool:
        """Let the sentence-embedding voter vote (loaded now if not given: about 1 s, so call
        it off the event loop).  True when it votes; False (the classifier unchanged) when
        it cannot load or the packaged corpus vectors are missing or of another encoder."""
        if self.model is None:
            return False
        voter = voter or voters.load_voter()
        if voter is None:
            return False
        if corpus is None:
            corpus = packaged_vectors()
        if corpus is None or corpus.encoder != voter.name:
            voters.log.warning(
                "no corpus vectors for the encoder %s (%s): run `gridvoice model build`",
                voter.name,
                PACKAGED_VECTORS,
            )
            return False
        corpus.project()  # the two-stage search (routing.neighbours): built once, here
        self.corpus_index = corpus
        self.voter = voter
        return True

    @property
    def voting(self) -> bool:
        return self.voter is not None

    def embed(self, text: str) -> np.ndarray | None:
        """The message's embedding (for the deployment's neighbour index), or ``None`` when
        the voter does not vote."""
        voter = self.voter
        if voter is None or not (text or "").strip():
            return None
        return self._embedding(voter, text)

    def _embedding(self, voter: voters.Voter, text: str) -> np.ndarray:
        """One message's embedding, remembered: a report's words are classified several times
        on their way (the draft, the similar-case check, filing, the card's likeliest three),
        and the embedding is most of the voter's cost. Read-only, so no caller can change it."""
        cache = self._embedding_cache
        found = cache.get(text)
        if found is not None and found[0] is voter:
            return found[1]
        vector = voter.embed_one(text)
        vector.flags.writeable = False
        if len(cache) >= _EMBEDDING_CACHE_MAX:
            cache.clear()
        cache[text] = (voter, vector)
        return vector

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

    def _model(
        self, training: TrainingSource, model: LinearModel | str | Path | None
    ) -> LinearModel | None:
        if training is False:
            return None
        if training is not None:
            rows = training if isinstance(training, list) else load_training(training)
            cats = {c for _, c in rows} - {NOTHING}
            if not cats or not cats <= set(self._categories):
                return None  # the training data is for another taxonomy: lexicon only
            from routing.learn import train_model  # scikit-learn: only when training

            found: LinearModel | None = train_model(rows, self._categories)
        elif isinstance(model, LinearModel):
            found = model
        elif model is not None:
            found = LinearModel.load(model)
        else:
            found = _packaged_model()
        if found is None or not set(found.categories) - {NOTHING} <= set(self._categories):
            return None  # a model for another taxonomy: lexicon only
        return found

    # -- public API -------------------------------------------------------------------------

    def classify(
        self,
        text: str,
        neighbours: NeighbourIndex | None = None,
        *,
        vector: np.ndarray | None = None,
        vote: bool = True,
    ) -> Classification:
        """Classify one message; abstains (category ``None``) when the evidence is weak or split.

        The model's log-probabilities plus the weighted lexicon scores decide; without a model
        the lexicon alone decides (rules in docs/lexicon.md).  With the second voter attached,
        the nearest messages of the packaged corpus and of ``neighbours`` (the deployment's
        settled cases) vote too; ``vector`` is the message's embedding when already computed.
        ``vote=False`` leaves the voter out (quick checks such as "does this name a problem?",
        and the parts of a message in :meth:`second_problem`, calibrated without it).
        """
        norm = normalize(text or "")
        raw, evidence, _ = self._lexicon(norm)
        scores = {c: round(max(v, 0.0), 4) for c, v in raw.items()}
        model = self.model
        if model is None or not norm:
            return self._lexicon_only(scores, evidence)
        scored = model.score(norm)
        if not vote or self.voter is None:
            vector = None
        local = (self.model_neighbours, neighbours)
        if len(scored.features) - scored.grams < MIN_FEATURES:
            # a word or two: the lexicon's rules decide (or abstain) unless a settled case of
            # this deployment is nearly the same message
            lex = self._lexicon_only(scores, evidence)
            if lex.category is None and vote and self.voter is not None and any(local):
                if vector is None:
                    vector = self._embedding(self.voter, text)
                near = vote_of(list(local), vector, self._lex_order, k=1)
                if near is not None and near.best >= NEAR_SIMILARITY and near.best_label != NOTHING:
                    return replace(
                        lex,
                        category=near.best_label,
                        confidence=round(near.best, 4),
                        matched=tuple(t for _, t in sorted(evidence.get(near.best_label, []))),
                        probabilities=MappingProxyType({near.best_label: near.best}),
                    )
            return lex
        # softmax((logits + w * lexicon) * sharpness): 11 numbers, plain floats are fastest
        beta = LEXICON_WEIGHT
        if len(norm) <= SHORT and self._lexicon_answers(scores):
            beta = LEXICON_WEIGHT_SHORT  # chat where the lexicon itself would answer
        z = [
            (a + beta * scores.get(c, 0.0)) * SHARPNESS
            for a, c in zip(scored.logits, self._lex_order, strict=True)
        ]
        top = max(z)
        q = [math.exp(v - top) for v in z]
        threshold = self.threshold
        if vote and self.voter is not None and self.corpus_index is not None:
            if vector is None:
                vector = self._embedding(self.voter, text)
            q = self._vote(q, vector, neighbours)
            threshold = self.vote_threshold
        win = q.index(max(q))
        nothing = self._nothing
        if nothing is not None:
            if win == nothing:
                # the message states no problem (a greeting, "can you tell me more", a vague
                # follow-up): a person reads it at triage; there is no evidence to show
                q[nothing] = 0.0
                return Classification(None, 0.0, (), MappingProxyType(scores), self._shares(q))
            q[nothing] = 0.0  # otherwise the real categories share it out
        total = sum(q)
        second = max((i for i in range(len(q)) if i != win), key=q.__getitem__)
        confidence = round(q[win] / total, 4)
        shares = self._shares(q)
        if confidence < threshold:
            lex = self._lexicon_only(scores, evidence)
            return replace(lex, category=None, confidence=confidence, probabilities=shares)
        best = model.categories[win]
        matched = [t for _, t in sorted(evidence.get(best, []))]
        if len(matched) < EVIDENCE:
            add_model_evidence(matched, norm, model.strongest(scored, win, second, n=8), EVIDENCE)
        return Classification(
            category=best,
            confidence=confidence,
            matched=tuple(matched),
            scores=MappingProxyType(scores),
            probabilities=shares,
        )

    def _vote(
        self, q: list[float], vector: np.ndarray, neighbours: NeighbourIndex | None
    ) -> list[float]:
        """The linear model's shares averaged with the neighbours' votes (docs/classifier.md)."""
        cats = self._lex_order
        total = sum(q)
        mixed = np.asarray(q) / total * LINEAR_SHARE
        weight = LINEAR_SHARE
        corpus = vote_of([self.corpus_index], vector, cats)
        if corpus is not None:
            mixed += CORPUS_SHARE * corpus.probs
            weight += CORPUS_SHARE
        local = vote_of([self.model_neighbours, neighbours], vector, cats)
        if local is not None and local.best > DEPLOYMENT_MIN_SIMILARITY:
            # a settled case that says nearly the same counts fully; a distant one hardly
            closeness = (local.best - DEPLOYMENT_MIN_SIMILARITY) / (1.0 - DEPLOYMENT_MIN_SIMILARITY)
            share = DEPLOYMENT_SHARE * min(1.0, closeness)
            mixed += share * local.probs
            weight += share
        return (mixed / weight).tolist()

    def _shares(self, q: list[float]) -> Mapping[str, float]:
        total = sum(q)
        if total <= 0:
            return MappingProxyType({})
        cats = self._lex_order
        ranked = sorted(
            ((cats[i], v / total) for i, v in enumerate(q) if cats[i] != NOTHING),
            key=lambda kv: -kv[1],
        )
        return MappingProxyType(dict(ranked))

    def second_problem(self, text: str, category: str | None) -> tuple[str, Classification] | None:
        """A second, clearly named problem of another category in ``text``: (sentence, result).

        The message is cut into sentences (and at "另外", "also" ...); a sentence counts when
        it is classified on its own, confidently, into another category than ``category`` and
        the lexicon has a strong cue for it there.
        """
        if category is None or self.model is None:
            return None
        parts = [p.strip(" ，,") for p in _SEGMENT.split(text or "") if p and p.strip(" ，,")]
        if len(parts) < 2:
            return None
        for part in parts:
            if len(part) < 4:
                continue
            res = self.classify(part, vote=False)
            if (
                res.category is not None
                and res.category not in (category, "other")  # thanks and questions: no case
                and res.confidence >= SECOND_CONFIDENCE
                and res.scores.get(res.category, 0.0) >= SECOND_CUE
            ):
                return part, res
        return None

    def _lexicon_answers(self, scores: dict[str, float]) -> bool:
        """Would the lexicon's own rules answer (see :meth:`_lexicon_only`)?"""
        s1 = s2 = 0.0
        for v in scores.values():
            if v > s1:
                s1, s2 = v, s1
            elif v > s2:
                s2 = v
        return s1 > s2 and s1 >= self.lexicon.min_score and s1 / (s1 + s2 + 1.0) >= self.threshold

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
        total = sum(v for v in scores.values() if v > 0)
        shares = {c: round(v / total, 4) for c, v in scores.items() if v > 0} if total else {}
        return Classification(
            category=category,
            confidence=round(confidence, 4),
            matched=matched,
            scores=MappingProxyType(scores),
            probabilities=MappingProxyType(shares),
        )


def classify(text: str) -> Classification:
    """Classify with the packaged default lexicon and model."""
    return Classifier.default().classify(text)


@lru_cache(maxsize=1)
def _packaged_model() -> LinearModel | None:
    return LinearModel.load(PACKAGED_MODEL) if PACKAGED_MODEL.exists() else None


@lru_cache(maxsize=1)
def packaged_vectors() -> NeighbourIndex | None:
    """The packaged corpus's embeddings (``routing/corpus_vectors.npz``), or ``None``."""
    if not PACKAGED_VECTORS.exists():
        return None
    try:
        return NeighbourIndex.load(PACKAGED_VECTORS)
    except ValueError:
        voters.log.warning("unreadable %s: classifying without the corpus vote", PACKAGED_VECTORS)
        return None
