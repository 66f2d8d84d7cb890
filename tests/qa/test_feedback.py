"""The feedback store: append-only, crash-tolerant, latest vote per answer; the summary by confidence band."""

import json

import pytest

from articleqa.qa.feedback import ABSTAINED, FeedbackStore, confidence_words, summarize


def vote(store, answer_id, value, score=0.9, answer="Jolani"):
    return store.record(
        answer_id,
        value,
        question="Who leads HTS?",
        answer=answer,
        score=score,
        article="Syrian Rebels Capture Hama",
        article_id=0,
        sentence="… formed by Jolani …",
    )


def test_votes_are_stored_one_line_each_and_read_back(tmp_path):
    store = FeedbackStore.in_data_dir(tmp_path / "data")
    vote(store, "a1", "up")
    vote(store, "a2", "down", score=0.5, answer="Homs")
    lines = store.path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["vote"] for line in lines] == ["up", "down"]
    record = store.events()[0]
    assert (record["question"], record["answer"], record["article"], record["score"]) == (
        "Who leads HTS?",
        "Jolani",
        "Syrian Rebels Capture Hama",
        0.9,
    )


def test_the_latest_vote_on_an_answer_counts_and_a_withdrawn_one_not(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.jsonl")
    vote(store, "a1", "up")
    vote(store, "a2", "up")
    vote(store, "a1", "down")
    vote(store, "a2", None)
    assert [(v["answer_id"], v["vote"]) for v in store.votes()] == [("a1", "down")]
    assert len(store.events()) == 4  # append-only: nothing is rewritten


def test_a_torn_last_line_is_skipped_and_the_next_vote_is_whole(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.jsonl")
    vote(store, "a1", "up")
    with open(store.path, "ab") as handle:  # a crash in the middle of a write
        handle.write(b'{"time": 1, "answer_id": "a2", "vo')
    assert [v["answer_id"] for v in store.events()] == ["a1"]
    vote(store, "a3", "down")
    assert [v["answer_id"] for v in store.events()] == ["a1", "a3"]
    # and bytes that are not text at all
    with open(store.path, "ab") as handle:
        handle.write(b"\xff\xfe\n")
    assert [v["answer_id"] for v in store.events()] == ["a1", "a3"]


def test_no_file_means_no_votes_and_a_bad_vote_is_refused(tmp_path):
    store = FeedbackStore(tmp_path / "none.jsonl")
    assert store.events() == [] and summarize(store.votes()).bands == []
    with pytest.raises(ValueError):
        vote(store, "a1", "maybe")


def test_confidence_in_words():
    assert [confidence_words(s) for s in (0.95, 0.7, 0.45, 0.1)] == ["very likely", "likely", "unsure", "doubtful"]


def test_summary_by_band_and_the_threshold_it_suggests(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.jsonl")
    for i, (score, value) in enumerate(
        [(0.9, "up"), (0.85, "up"), (0.7, "up"), (0.65, "down"), (0.5, "down"), (0.45, "down")]
    ):
        vote(store, f"a{i}", value, score=score)
    vote(store, "none", "up", score=0.2, answer=None)
    summary = summarize(store.votes(), precision=0.7)
    assert (summary.up, summary.down) == (4, 3)
    bands = {b.band: b for b in summary.bands}
    assert (bands["very likely"].up, bands["very likely"].down) == (2, 0)
    assert bands["likely"].share_right == 0.5
    assert bands["unsure"].share_right == 0.0
    assert bands[ABSTAINED].up == 1
    # at 0.7 and above 3 of 3 are right; from 0.65 down 3 of 4 (75 %); from 0.5 down 3 of 5 (60 %)
    assert summary.lowest_confidence_right == 0.65
