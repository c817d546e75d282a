"""The trained Naive Bayes part of the classifier: determinism, speed, evidence, corrections."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from routing.classifier import Classifier
from routing.lexicon import load_lexicon
from routing.model import TRAINING_PATH, NaiveBayes, load_training, text_features
from routing.text import normalize

TUNE = Path(__file__).resolve().parents[1] / "data" / "tune.jsonl"


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.default()


def test_packaged_training_file_is_the_tuning_corpus_or_more() -> None:
    rows = load_training()
    tune = [json.loads(x) for x in TUNE.read_text(encoding="utf-8").splitlines() if x.strip()]
    assert rows[: len(tune)] == [(r["text"], r["category"]) for r in tune]
    assert {c for _, c in rows} <= set(load_lexicon().categories)


def test_training_is_deterministic_and_fast() -> None:
    lex = load_lexicon()
    t0 = time.perf_counter()
    a = Classifier(lex)
    assert time.perf_counter() - t0 < 1.0
    b = Classifier(lex)
    assert a.model is not None and b.model is not None
    assert a.model.weights == b.model.weights
    assert a.model.log_prior == b.model.log_prior
    rows = load_training()
    docs = [(text_features(normalize(t)), c) for t, c in rows]
    m1 = NaiveBayes(docs, lex.categories)
    m2 = NaiveBayes(list(reversed(docs)), lex.categories)
    assert m1.weights == m2.weights


def test_features_english_stems_bigrams_and_chinese_ngrams() -> None:
    feats = text_features(normalize("The lights are broken again"))
    assert {"light", "break", "light are", "break again"} <= feats
    assert "the" not in feats  # stop words only inside bigrams
    zh = text_features(normalize("电梯坏了"))
    assert {"电", "电梯", "电梯坏", "坏了"} <= zh
    assert text_features("") == set()


def test_model_answers_paraphrase_the_lexicon_misses_with_evidence(clf: Classifier) -> None:
    lexicon_only = Classifier(load_lexicon(), training=False)
    assert lexicon_only.model is None
    text = "our block has had no hot water since yesterday"
    assert lexicon_only.classify(text).category is None
    res = clf.classify(text)
    assert res.category == "property"
    assert res.confidence >= clf.threshold
    words = text.split()
    # evidence = the words of the message behind the model's features, never stem fragments
    assert res.matched and all(w in words for m in res.matched for w in m.split())
    assert "hot water" in res.matched


@pytest.mark.parametrize(
    "text",
    [
        "I would like to know more about the thing we discussed",
        "I want to know about it",
        "can you tell me more",
    ],
)
def test_words_that_say_nothing_go_to_triage_not_other(clf: Classifier, text: str) -> None:
    res = clf.classify(text)
    assert res.category is None, res
    assert not any(m in ("lik", "lik to", "would lik") for m in res.matched)


def test_model_evidence_has_no_stop_words_or_fragments(clf: Classifier) -> None:
    from routing.model import STOP_STEMS

    for text in (
        "our block has had no hot water since yesterday",
        "I would like someone to look at the broken swings in the playground",
        "there is a strange smell coming from the factory at night",
    ):
        res = clf.classify(text)
        words = normalize(text).split()
        lexicon_terms = clf.lexicon.terms.get(res.category or "", {}).get("en", {})
        for term in res.matched:
            if term in lexicon_terms:
                continue  # a lexicon term: evidence by definition
            parts = term.split()
            assert all(p in words for p in parts), (text, term)
            assert not any(p in STOP_STEMS for p in parts), (text, term)


def test_lexicon_answer_is_kept_with_its_evidence(clf: Classifier) -> None:
    res = clf.classify("the lift is broken again")
    assert res.category == "property" and res.matched[:2] == ("lift", "broken")


def test_appended_correction_changes_prediction(tmp_path: Path, clf: Classifier) -> None:
    text = "zorblax wobble flimflam"
    assert clf.classify(text).category is None  # nothing known about these words
    path = tmp_path / "training.jsonl"
    correction = json.dumps({"text": text, "category": "welfare"}, ensure_ascii=False)
    path.write_text(TRAINING_PATH.read_text(encoding="utf-8") + correction + "\n", "utf-8")
    res = Classifier(load_lexicon(), training=path).classify(text)
    assert res.category == "welfare"
    assert "zorblax" in res.matched


def test_training_for_another_taxonomy_disables_the_model() -> None:
    lex = load_lexicon()
    c = Classifier(lex, training=[("hello", "pets")])
    assert c.model is None
    assert c.classify("our block has had no hot water since yesterday").category is None


def test_bad_training_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="category"):
        load_training(path)
