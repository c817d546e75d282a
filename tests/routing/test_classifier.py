"""Behaviour of the category classifier: evidence, abstention, typos, Chinese, lexicon files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from routing.classifier import Classification, Classifier, classify
from routing.lexicon import LexiconError, load_lexicon, parse_lexicon
from routing.text import normalize, stem

TUNE = Path(__file__).resolve().parents[1] / "data" / "tune.jsonl"
CATEGORIES = (
    "facilities sanitation environment safety traffic property construction dispute welfare "
    "health other"
).split()


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.default()


def test_default_is_cached_and_has_taxonomy(clf: Classifier) -> None:
    assert Classifier.default() is clf
    assert set(clf.lexicon.categories) == set(CATEGORIES)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (
            "the light outside bldg 3 has been out for a week, its pitch black at night",
            "facilities",
        ),
        ("楼道里的灯坏了好几天了，晚上黑乎乎的", "property"),
        ("someone keeps parking in front of the fire lane", "traffic"),
        ("楼下烧烤店油烟太大了", "environment"),
        ("big pothole on the road by the school", "facilities"),
        ("垃圾桶满了没人清运", "sanitation"),
        ("e-bikes charging in the corridor overnight", "safety"),
        ("电梯坏了", "property"),
        ("upstairs neighbour refuses to fix the leak into my bathroom", "dispute"),
        ("楼顶违建加盖了一层", "construction"),
        ("how do I apply for the disability allowance", "welfare"),
        ("社区什么时候打疫苗", "health"),
        ("thank you for your help last week!", "other"),
    ],
)
def test_typical_messages(clf: Classifier, text: str, category: str) -> None:
    res = clf.classify(text)
    assert res.category == category, (text, res)
    assert 0.5 <= res.confidence <= 1.0


def test_result_shape(clf: Classifier) -> None:
    res = clf.classify("lift broken")
    assert isinstance(res, Classification)
    assert set(res.scores) == set(CATEGORIES)
    assert all(v >= 0 for v in res.scores.values())
    with pytest.raises(TypeError):
        res.scores["property"] = 0.0  # type: ignore[index]


def test_evidence_contains_cue_words(clf: Classifier) -> None:
    en = clf.classify("the lift is broken again")
    assert en.category == "property"
    assert "lift" in en.matched and "broken" in en.matched
    zh = clf.classify("电梯又坏了")
    assert zh.category == "property"
    assert any("电梯" in m for m in zh.matched) and any("坏" in m for m in zh.matched)


@pytest.mark.parametrize(
    "text", ["", "   ", "asdfgh qwerty zxcv", "12345", "？？？", "ok", "哈哈哈"]
)
def test_abstains_on_empty_and_gibberish(clf: Classifier, text: str) -> None:
    res = clf.classify(text)
    assert res.category is None
    assert res.confidence < 0.5


def test_abstains_when_two_categories_tie(clf: Classifier) -> None:
    # one strong cue for each of two categories and nothing else: the lexicon alone abstains
    lexicon_only = Classifier(load_lexicon(), training=False)
    res = lexicon_only.classify("lift pothole")
    assert res.scores["property"] == res.scores["facilities"]
    assert res.category is None
    assert clf.classify("it's broken").category is None  # a weak cue alone is not enough


def test_typos_are_tolerated(clf: Classifier) -> None:
    res = clf.classify("elevater brokn")
    assert res.category == "property"
    assert "elevator" in res.matched
    assert clf.classify("garbge everywhere, nobody colected it").category == "sanitation"
    assert clf.classify("cockroachs in the basment").category == "sanitation"


def test_fuzzy_does_not_touch_short_or_common_words(clf: Classifier) -> None:
    # "free" must not be read as "fee", "sticks" not as "stickers"
    assert "fee" not in clf.classify("free").matched
    assert clf.classify("it sticks out").scores["sanitation"] == 0


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("broken", "break"),
        ("breaks", "break"),
        ("breaking", "break"),
        ("leaking", "leak"),
        ("leaks", "leak"),
        ("leaked", "leak"),
        ("parked", "park"),
        ("lights", "light"),
        ("charging", stem("charge")),
        ("flies", stem("fly")),
    ],
)
def test_stemmer(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_inflections_match(clf: Classifier) -> None:
    for text in ("the roof leaks", "roof leaking again", "the roof leaked last night"):
        res = clf.classify(text)
        assert res.category == "property", text
    assert clf.classify("the street lights keep breaking").category == "facilities"


def test_chinese_without_spaces_and_full_width(clf: Classifier) -> None:
    assert clf.classify("小区门口的路灯晚上不亮").category == "facilities"
    res = clf.classify("楼下ＫＴＶ每天唱到半夜，太吵了！")
    assert res.category == "environment"
    assert "ktv" in res.matched
    assert normalize("ＫＴＶ　１２３") == "ktv 123"


def test_mixed_language(clf: Classifier) -> None:
    assert clf.classify("3号楼 lift 又坏了").category == "property"


def test_threshold_override() -> None:
    lex = load_lexicon()
    text = "the hallway light is out"
    default = Classifier(lex).classify(text)
    assert default.category is not None and default.confidence < 1.0
    strict = Classifier(lex, threshold=default.confidence + 1e-6)
    assert strict.classify(text).category is None


def test_negative_cue_and_pattern() -> None:
    lex = parse_lexicon(
        {
            "version": 1,
            "categories": {
                "a": {
                    "en": {"widget": 2, "toy widget": 3},
                    "patterns": [{"regex": "blu+e", "weight": 2}],
                },
                "b": {"en": {"toy": 2, "widget": -1}, "zh": {"玩具": 2}},
            },
        }
    )
    c = Classifier(lex)
    assert c.classify("widget").category == "a"
    assert c.classify("bluuue").category == "a"
    assert c.classify("toy widget").matched == ("toy widget",)  # longer phrase wins
    assert c.classify("玩具").category == "b"


def test_min_score() -> None:
    data = {"version": 1, "categories": {"a": {"en": {"weak": 1.5, "strong": 3}}}}
    assert Classifier(parse_lexicon(data)).classify("weak").category == "a"
    strict = Classifier(parse_lexicon({**data, "min_score": 2}))
    assert strict.classify("weak").category is None
    assert strict.classify("strong").category == "a"
    assert strict.classify("weak weak strong").matched == ("weak", "strong")


def test_lexicon_override_file(tmp_path: Path) -> None:
    path = tmp_path / "lex.yaml"
    path.write_text(
        "version: 1\nthreshold: 0.4\ncategories:\n"
        "  pets:\n    en: {hamster: 3}\n    zh: {仓鼠: 3}\n  other:\n    en: {thanks: 2}\n",
        encoding="utf-8",
    )
    c = Classifier(load_lexicon(path))
    assert c.classify("my hamster escaped").category == "pets"
    assert c.classify("仓鼠跑了").category == "pets"
    assert c.classify("the lift is broken").category is None
    assert c.threshold == 0.4


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("version: 2\ncategories: {a: {en: {x: 1}}}", "'version' must be 1"),
        ("version: 1\ncategories: {}", "non-empty mapping"),
        ("version: 1\ncategories: {A-B: {en: {x: 1}}}", "category id"),
        ("version: 1\ncategories: {a: {en: {x: heavy}}}", "weight must be a number"),
        ("version: 1\ncategories: {a: {en: {x: 0}}}", "non-zero"),
        ("version: 1\ncategories: {a: {fr: {x: 1}}}", "unknown key"),
        ("version: 1\ncategories: {a: {en: {no: 1}}}", "non-empty string"),
        ("version: 1\ncategories: {a: {patterns: [{regex: '(', weight: 1}]}}", "invalid regex"),
        ("version: 1\nthreshold: 1.5\ncategories: {a: {en: {x: 1}}}", "threshold"),
        ("version: 1\nmin_score: -1\ncategories: {a: {en: {x: 1}}}", "min_score"),
        ("version: 1\ncategories:\n  a:\n    en: {x: 1}\n  a:\n    en: {y: 1}\n", "duplicate key"),
        ("version: 1\ncategories: [\n", "not valid YAML"),
    ],
)
def test_invalid_lexicon_is_reported_clearly(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(LexiconError) as err:
        load_lexicon(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_missing_lexicon_file(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match="cannot read"):
        load_lexicon(tmp_path / "nope.yaml")


def test_module_level_classify() -> None:
    assert classify("rats in the bins").category == "sanitation"


def test_tune_corpus_accuracy(clf: Classifier) -> None:
    rows = [json.loads(line) for line in TUNE.read_text(encoding="utf-8").splitlines() if line]
    assert len(rows) >= 330
    for cat in CATEGORIES:
        assert sum(r["category"] == cat for r in rows) >= 30, cat
    for lang in ("en", "zh"):
        sub = [r for r in rows if r["lang"] == lang]
        preds = [clf.classify(r["text"]).category for r in sub]
        answered = [(p, r["category"]) for p, r in zip(preds, sub, strict=True) if p is not None]
        acc = sum(p == c for p, c in answered) / len(sub)
        coverage = len(answered) / len(sub)
        precision = sum(p == c for p, c in answered) / max(len(answered), 1)
        print(
            f"tune {lang}: n={len(sub)} accuracy={acc:.3f} coverage={coverage:.3f} precision={precision:.3f}"
        )
        assert acc >= 0.9 and precision >= 0.95
