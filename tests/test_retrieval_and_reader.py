import math

from articleqa.index.store import Hit
from articleqa.qa.reader import ExtractiveReader
from articleqa.qa.retriever import reciprocal_rank_fusion

from .conftest import SEED


def test_reciprocal_rank_fusion_rewards_agreement():
    dense = [Hit(1, 0, 0.9), Hit(1, 1, 0.8)]
    sparse = [Hit(1, 1, 7.0), Hit(2, 0, 3.0)]
    fused = reciprocal_rank_fusion([dense, sparse], k=60)
    assert fused[(1, 1)] == 1 / 62 + 1 / 61
    assert max(fused, key=fused.get) == (1, 1)


def test_hybrid_retrieval_finds_the_leader_sentence(tiny_app):
    tiny_app.add_files([SEED])
    passages = tiny_app.retriever.retrieve("Who leads HTS?")
    assert "formed by Jolani" in passages[0].text
    for p in passages:  # passages are exact slices of their article, windows of whole sentences
        article = tiny_app.store.article(p.article_id)
        assert article.text[p.start : p.start + len(p.text)] == p.text
        assert p.first_sentence <= p.last_sentence


def test_reader_spans_are_slices_of_their_passage(tiny_reader_dir):
    reader = ExtractiveReader.from_pretrained(tiny_reader_dir, max_length=64, stride=16)
    passages = ["Short passage about a bridge.", " ".join(f"Sentence number {i} is here." for i in range(60))]
    spans = reader.read("Which sentence is here?", passages, top_k=5).spans
    assert 1 <= len(spans) <= 5
    assert list(spans) == sorted(spans, key=lambda s: -s.probability)
    for span in spans:
        assert passages[span.passage_index][span.start : span.end] == span.text
        assert 0.0 <= span.probability <= 1.0
    # A huge question is cut to max_question_tokens instead of failing.
    assert reader.read("why " * 20_000, passages[:1], top_k=1).spans


def test_scores_share_one_softmax_across_windows_and_passages(tiny_reader_dir):
    import math

    reader = ExtractiveReader.from_pretrained(tiny_reader_dir, max_length=64, stride=16)
    passages = ["The bridge was opened in 1932.", " ".join(f"Sentence number {i} is here." for i in range(40))]
    output = reader.read("When was the bridge opened?", passages, top_k=10_000)
    assert output.windows > 2  # the long passage took several windows
    # every start/end pair plus "no answer" under one normalisation: the masses sum to at most 1
    total = sum(s.probability for s in output.spans) + math.exp(output.no_answer_log_probability)
    assert total <= 1.0 + 1e-4
    for span in output.spans:
        assert math.isclose(span.margin, math.log(span.probability) - output.no_answer_log_probability, abs_tol=1e-4)


def test_policy_abstains_on_the_no_answer_score_or_below_the_calibrated_bar():
    from articleqa.qa.policy import AnswerPolicy
    from articleqa.qa.reader import ReaderOutput, Span

    sure = ReaderOutput((Span("1932", 0, 0, 4, 0.6, 2.0),), -2.5, 1)
    unsure = ReaderOutput((Span("1932", 0, 0, 4, 0.1, -1.0),), -1.3, 1)
    plain = AnswerPolicy()  # uncalibrated: the SQuAD 2.0 rule, abstain when "no answer" out-scores the span
    assert not plain.judge(sure).abstain and plain.judge(unsure).abstain
    assert plain.judge(ReaderOutput((), 0.0, 0)).abstain
    assert not plain.always_answering().judge(unsure).abstain
    calibrated = AnswerPolicy(calibration={"features": ["margin"], "weights": [1.0], "bias": 0.0}, min_confidence=0.9)
    judged = calibrated.judge(sure)
    assert judged.abstain and abs(judged.confidence - 1 / (1 + math.exp(-2.0))) < 1e-9


def test_precision_setting_is_checked_and_bf16_keeps_the_embeddings(embedder):
    import numpy as np
    import pytest

    from articleqa.index.compute import resolve_precision

    assert resolve_precision("fp32") == "fp32"
    assert resolve_precision("auto") in ("bf16", "fp32")
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("int3")
    texts = [f"Sentence {i} says that the rebels took the city of Hama in week {i}." for i in range(16)]
    chosen = embedder.precision
    try:
        embedder.precision = "fp32"
        exact = embedder.embed(texts)
        embedder.precision = "bf16"
        fast = embedder.embed(texts)
    finally:
        embedder.precision = chosen
    assert np.min(np.sum(exact * fast, axis=1)) > 0.999  # cosine: same neighbours for retrieval


def test_query_vectors_are_cached_and_equal_to_fresh_ones(embedder):
    import numpy as np

    query = "Who took Aleppo in the offensive?"
    first = embedder.embed_query(query)
    assert embedder.embed_query(query) is first
    assert np.allclose(first, embedder.embed([query])[0], atol=1e-5)


def test_reader_answers_the_same_in_bf16_and_fp32(tiny_reader_dir):
    passages = ["The bridge over the river was opened in 1932 by the mayor."]
    spans = {p: ExtractiveReader.from_pretrained(tiny_reader_dir, precision=p).read("When?", passages, top_k=3).spans
             for p in ("fp32", "bf16")}
    assert spans["fp32"] and spans["bf16"]
    assert abs(spans["fp32"][0].probability - spans["bf16"][0].probability) < 0.05


def test_answer_features_pool_overlapping_candidates_and_measure_the_rival():
    import math

    from articleqa.qa.policy import answer_features
    from articleqa.qa.reader import Span

    best = Span("$10 million", 0, 40, 51, 0.30, 2.0)
    inner = Span("10 million", 0, 41, 51, 0.15, 1.5)  # overlaps: the same answer, split probability
    echo = Span("$10 million", 1, 5, 16, 0.05, 0.5)  # the same words in another passage
    rival = Span("Jolani", 1, 30, 36, 0.10, 0.2)
    features = answer_features(best, [best, inner, echo, rival])
    assert math.isclose(features["log_support"], math.log(0.30 + 0.15 + 0.05))
    assert math.isclose(features["log_lead"], math.log(0.30) - math.log(0.10))
    assert features["passage_rank"] == 0 and features["margin"] == 2.0
    alone = answer_features(best)
    assert alone["log_support"] == alone["log_probability"] and alone["log_lead"] == 10.0


def test_pooled_encoder_gives_sentence_transformers_vectors():
    """The embedder runs the packaged model on transformers alone (a faster start): same vectors as
    sentence-transformers, whatever the texts' lengths, in fp32 and in bf16."""
    import numpy as np

    from articleqa.index.compute import inference_precision
    from articleqa.index.embedder import _SentenceTransformers, default_embedder_path
    from articleqa.index.pooled import PooledTransformer

    texts = ["  Who leads HTS?  ", "x", "The rebels took Hama. " * 80, "", "Aleppo fell within days."]
    ours = PooledTransformer.load(default_embedder_path())
    theirs = _SentenceTransformers(default_embedder_path())
    assert ours is not None and ours.dimension == theirs.dimension
    for precision in ("fp32", "bf16"):
        with inference_precision(precision):
            a, b = ours.encode(texts, batch_size=2), theirs.encode(texts, batch_size=2)
        assert np.min(np.sum(a * b, axis=1)) > 0.9999, precision


def test_queries_embedded_together_equal_one_at_a_time(embedder):
    import numpy as np

    queries = ["Who leads HTS?", "Where is Hama?", "Who leads HTS?", "What is the bounty on Jolani's head?"]
    together = embedder.embed_queries(queries)
    embedder._queries.clear()
    for query, vector in zip(queries, together, strict=True):
        assert np.allclose(embedder.embed_query(query), vector, atol=1e-5)
