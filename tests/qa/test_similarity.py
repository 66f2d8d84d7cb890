"""qa/similarity.py: the cosine between the question and each answer's sentence, with the real embedder."""

import re

import numpy as np

from articleqa.qa.evidence import SentenceFinder
from articleqa.qa.reader import ReaderOutput, Span
from articleqa.qa.similarity import SentenceSimilarity
from articleqa.seed import SEED_ARTICLE

SEED = SEED_ARTICLE.read_text(encoding="utf-8")


def _span_of(text: str, passage: str, passage_index: int = 0) -> Span:
    start = passage.index(text)
    return Span(text, passage_index, start, start + len(text), 0.5, 1.0)


def test_each_span_gets_the_cosine_of_its_own_sentence(embedder):
    question = "When was HTS formed?"
    formed, designated = _span_of("2016", SEED), _span_of("2018", SEED)
    output = ReaderOutput((formed, designated), -3.0, 1)
    annotated = SentenceSimilarity(embedder).annotate_one(question, [SEED], output)
    assert [s.text for s in annotated.spans] == ["2016", "2018"]
    assert annotated.no_answer_log_probability == output.no_answer_log_probability
    # the cosine is the embedder's, between the question and the whole sentence the span stands in
    sentence = re.search(r"HTS, the rebel movement, was formed[^.]*\.", SEED).group(0)
    expected = float(np.dot(embedder.embed_query(question), embedder.embed([sentence], precision="fp32")[0]))
    assert abs(annotated.spans[0].similarity - expected) < 1e-4
    assert annotated.spans[0].similarity > annotated.spans[1].similarity  # "formed ... in 2016" says what was asked


def test_a_batch_of_readings_is_annotated_as_each_one_alone(embedder):
    similarity = SentenceSimilarity(embedder)
    other = "The bridge was opened in 1932 by the mayor. The river flooded the town in 1954."
    readings = [
        ("When was HTS formed?", [SEED], ReaderOutput((_span_of("2016", SEED),), -3.0, 1)),
        (
            "When did the river flood?",
            ["Intro.", other],
            ReaderOutput((_span_of("1954", other, 1), _span_of("1932", other, 1)), -2.0, 2),
        ),
        ("Anything?", [SEED], ReaderOutput((), 0.0, 1)),
    ]
    together = similarity.annotate(
        [(embedder.embed_query(q), SentenceFinder(passages), output) for q, passages, output in readings]
    )
    alone = [similarity.annotate_one(q, passages, output) for q, passages, output in readings]
    # the same up to padding's rounding in fp32
    assert [np.round([s.similarity for s in o.spans], 5).tolist() for o in together] == [
        np.round([s.similarity for s in o.spans], 5).tolist() for o in alone
    ]
    assert together[2].spans == ()
    flood, bridge = together[1].spans
    assert flood.similarity > bridge.similarity


def test_the_pipeline_hands_the_policy_each_answer_s_similarity(tiny_app):
    from articleqa.qa.pipeline import Turn

    tiny_app.add_text(SEED, "seed.txt")
    reading = tiny_app.read("When was HTS formed?")
    assert reading.spans and all(-1.0 <= s.similarity <= 1.0 for s in reading.spans)
    # a follow-up the conversation rewrote ("they" -> HTS) is not measured: the policy counts it as average
    follow_up = tiny_app.read("And which city are they heading for next?", [Turn("Who leads HTS?", "Jolani")])
    assert follow_up.query == "And which city are HTS heading for next?"
    assert follow_up.spans and all(s.similarity is None for s in follow_up.spans)


def test_a_reading_without_a_question_vector_is_left_unmeasured(embedder):
    output = ReaderOutput((_span_of("2016", SEED),), -3.0, 1)
    untouched, measured = SentenceSimilarity(embedder).annotate(
        [
            (None, SentenceFinder([SEED]), output),
            (embedder.embed_query("When was HTS formed?"), SentenceFinder([SEED]), output),
        ]
    )
    assert untouched == output and untouched.spans[0].similarity is None
    assert measured.spans[0].similarity is not None
