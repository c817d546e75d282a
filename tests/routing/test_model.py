"""The linear model part of the classifier: features, the packaged file, evidence, retraining."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from routing.classifier import Classifier
from routing.learn import train_model
from routing.lexicon import load_lexicon
from routing.linear import NOTHING, LinearModel, feature_counts, head_length
from routing.model import CORPUS_PATHS, PACKAGED_MODEL, TRAINING_PATH, load_corpus, load_training
from routing.text import normalize

TUNE = Path(__file__).resolve().parents[1] / "data" / "tune.jsonl"


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.default()


def test_packaged_corpus_holds_the_tuning_corpus_and_every_category_in_both_languages() -> None:
    rows = load_training()
    tune = [json.loads(x) for x in TUNE.read_text(encoding="utf-8").splitlines() if x.strip()]
    assert rows[: len(tune)] == [(r["text"], r["category"]) for r in tune]
    corpus = load_corpus()
    assert len(corpus) >= 5000
    cats = set(load_lexicon().categories)
    assert {c for _, c in corpus} == cats | {NOTHING}  # NOTHING: no problem stated
    for path in (p for p in CORPUS_PATHS if p.name.startswith(("letters_", "requests_"))):
        langs = {json.loads(x)["lang"] for x in path.read_text(encoding="utf-8").splitlines()}
        assert len(langs) == 1


def test_packaged_model_is_loaded_and_knows_the_taxonomy(clf: Classifier) -> None:
    assert PACKAGED_MODEL.exists()
    assert clf.model is not None
    assert set(clf.model.categories) == set(load_lexicon().categories) | {NOTHING}
    assert clf.model.weights.shape == (len(clf.model.vocabulary), len(clf.model.categories))


def test_features_english_stems_bigrams_chinese_ngrams_and_a_heavier_head() -> None:
    feats = feature_counts(normalize("The lights are broken again"))
    assert {"light", "break", "light are", "break again"} <= set(feats)
    assert "the" not in feats  # stop words only inside bigrams
    zh = feature_counts(normalize("电梯坏了"))
    assert {"电梯", "电梯坏", "坏了"} <= set(zh)
    assert feature_counts("") == {}
    letter = normalize("电梯坏了。另外楼下很吵，希望处理")
    assert head_length(letter) == len("电梯坏了。")
    counts = feature_counts(letter)
    assert counts["电梯"] > counts["楼下"]  # the subject line counts extra


def test_model_file_round_trip(tmp_path: Path, clf: Classifier) -> None:
    assert clf.model is not None
    path = tmp_path / "m.npz"
    clf.model.save(path)
    back = LinearModel.load(path)
    text = normalize("the landlord refuses to fix the heat in my apartment")
    assert np.allclose(back.score(text).probs, clf.model.score(text).probs, atol=1e-5)
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a gridvoice model"):
        LinearModel.load(tmp_path / "bad.npz")


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


@pytest.mark.parametrize(
    "text",
    ["我想问一下上次那件事", "我想了解一下我们上次讨论的事情", "hello, any news on that?"],
)
def test_no_problem_stated_goes_to_triage_without_evidence(clf: Classifier, text: str) -> None:
    res = clf.classify(text)
    assert res.category is None and res.matched == (), res


@pytest.mark.parametrize(
    "text",
    [
        "Can you tell me more about the opening hours of the bank branch on Main St",
        "I lost my wallet near the bus stop yesterday",
        "请问一下，银行什么时候开门",
        "I'd like to know when the library reopens",
    ],
)
def test_questions_about_a_real_subject_are_still_other(clf: Classifier, text: str) -> None:
    assert clf.classify(text).category == "other"


def test_a_report_framed_as_a_follow_up_keeps_its_category(clf: Classifier) -> None:
    assert clf.classify("上次反映的路灯问题怎么样了").category == "facilities"
    res = clf.classify("hi, I have a question: the lift in block 4 has been broken for a week")
    assert res.category == "property"


def test_training_rows_may_hold_the_no_problem_pseudo_category() -> None:
    rows = [("the lift is broken", "property"), ("rubbish everywhere", "sanitation")] * 3
    rows += [("hello there, any news", NOTHING), ("你好，在吗", NOTHING)] * 3
    model = train_model(rows, load_lexicon().categories, min_df=1)
    assert model.categories[-1] == NOTHING
    assert Classifier(load_lexicon(), training=rows).model is not None


def test_model_evidence_has_no_stop_words_or_fragments(clf: Classifier) -> None:
    from routing.linear import STOP_STEMS

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


def test_evidence_reads_as_the_residents_words(clf: Classifier) -> None:
    res = clf.classify("The bar downstairs blasts music until 3am every night")
    assert res.category == "environment"
    assert res.matched and all(m in res.matched for m in res.matched)
    assert any(m in "the bar downstairs blasts music until 3am every night" for m in res.matched)
    zh = clf.classify("楼下酒吧每天晚上唱歌到凌晨，严重扰民")
    assert zh.category == "environment"
    assert any("扰民" in m or "酒吧" in m for m in zh.matched)


def test_training_on_rows_learns_new_words() -> None:
    lex = load_lexicon()
    rows = load_training(TRAINING_PATH) + [("the zorblax is wobbling again", "welfare")] * 3
    model = train_model(rows, lex.categories)
    c = Classifier(lex, model=model)
    res = c.classify("my zorblax is wobbling")
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


def test_second_problem_is_found_only_when_clearly_named(clf: Classifier) -> None:
    text = "楼下的路灯坏了一个月，晚上很黑。另外，小区门口天天有车乱停乱放，堵住消防通道"
    main = clf.classify(text)
    second = clf.second_problem(text, main.category)
    assert second is not None and second[1].category not in (None, main.category)
    assert second[0].startswith("另外") and "乱停" in second[0]
    assert clf.second_problem("the streetlight on elm st is out, please fix", "facilities") is None
