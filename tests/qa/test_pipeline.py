"""qa/pipeline.py with answer.py: the whole pipeline (real FAISS, BM25, embedder; the tiny reader)."""

from dataclasses import replace

import pytest

from articleqa.qa.pipeline import ArticleQA
from articleqa.qa.policy import AnswerPolicy
from tests.conftest import SEED


def test_answer_fields_are_consistent(answering_app):
    answering_app.add_files([SEED])
    answer = answering_app.ask("Who leads HTS?")
    assert answer.answer and answer.article.startswith("Syrian Rebels Capture Hama")
    assert answer.sentence[answer.start : answer.end] == answer.answer
    assert answer.sentence in answer.context and answer.passage
    assert 0 <= answer.score <= 1
    for alternative in answer.alternatives:
        assert alternative.answer != answer.answer and alternative.answer in alternative.sentence
    as_dict = answer.to_dict()
    assert set(as_dict) >= {"question", "answer", "score", "article", "sentence", "start", "end", "alternatives"}


def test_abstention_offers_the_closest_passage(settings, embedder):
    # a calibration that is never sure enough
    never_sure = AnswerPolicy(calibration={"features": ["margin"], "weights": [0.0], "bias": 0.0}, min_confidence=0.9)
    app = ArticleQA.from_settings(settings, embedder=embedder, policy=never_sure)
    app.add_files([SEED])
    answer = app.ask("What is the population of Hama?")
    assert answer.answer is None and answer.start is None
    assert "don't say" in answer.message and answer.sentence and answer.article


def test_no_articles_yet(tiny_app):
    answer = tiny_app.ask("Who leads HTS?")
    assert answer.answer is None and "No articles" in answer.message


def test_add_text_reports_problems_instead_of_raising(tiny_app):
    assert tiny_app.add_text(b"\x00\x01binary", "x.txt").errors
    assert tiny_app.add_text("", "").errors
    report = tiny_app.add_text("Fresh story\n\nThe council approved the new park on Tuesday.")
    assert [a.title for a in report.added] == ["Fresh story"]
    assert tiny_app.add_text("Fresh story\n\nThe council approved the new park on Tuesday.").duplicates
    assert tiny_app.remove("fresh story") == ["Fresh story"] and tiny_app.articles() == []


def test_the_thread_setting_reaches_the_models_from_any_face(settings):
    """`threads` is applied where the models load from the settings (ArticleQA.from_settings), so `ask`,
    `eval` and `serve` all run them on the threads it gives."""
    from dataclasses import replace

    import torch

    from articleqa.qa.pipeline import ArticleQA
    from articleqa.runtime.compute import model_threads, use_threads

    try:
        app = ArticleQA.from_settings(replace(settings, threads=1), in_memory=True)
        app.add_text("Hama is a city in Syria. Rebels captured it in December.", "Hama")
        assert app.ask("Who captured Hama?").question == "Who captured Hama?"
        assert model_threads() == 1 and torch.get_num_threads() == 1
    finally:
        use_threads(0)  # every core again, as the other tests expect


def test_the_package_exposes_the_composing_class():
    import articleqa

    assert articleqa.ArticleQA is ArticleQA and articleqa.Settings.__name__ == "Settings"
    with pytest.raises(AttributeError):
        _ = articleqa.NoSuchThing


def test_a_follow_up_read_two_ways_is_answered_by_the_surer_reading(answering_app):
    from articleqa.qa.conversation import Turn

    answering_app.add_text(
        "HTS leader\n\nHTS is led by Jolani. The United States placed a $10 million bounty on him in 2018. "
        "The bounty has led to no arrests so far."
    )
    history = [Turn("Who leads HTS?", "Jolani"), Turn("How big is the bounty on him?", "$10 million")]
    reading = answering_app.read("Who placed it?", history)
    assert reading.follow_up.question == "Who placed HTS?" and reading.other is not None
    assert reading.other.follow_up.question == "Who placed the bounty?"
    readings = (replace(reading, other=None), reading.other)
    surer = max((answering_app.decide(each) for each in readings), key=lambda answer: answer.score)
    assert answering_app.decide(reading) == surer
