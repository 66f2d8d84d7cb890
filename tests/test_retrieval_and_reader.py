from index.store import Hit
from qa.reader import ExtractiveReader
from qa.retriever import reciprocal_rank_fusion

from .conftest import SEED


def test_reciprocal_rank_fusion_rewards_agreement():
    dense = [Hit(1, 0, 0.9), Hit(1, 1, 0.8)]
    sparse = [Hit(1, 1, 7.0), Hit(2, 0, 3.0)]
    fused = reciprocal_rank_fusion([dense, sparse], k=60)
    assert fused[(1, 1)] == 1 / 62 + 1 / 61
    assert max(fused, key=fused.get) == (1, 1)


def test_hybrid_retrieval_finds_the_leader_sentence(tiny_app):
    tiny_app.add_files([SEED])
    passages = tiny_app.retriever.retrieve("Who leads HTS?", top_k=3)
    assert "led by Abu Mohammed al-Jolani" in passages[0].text
    for p in passages:  # passages are exact slices of their article, windows of whole sentences
        article = tiny_app.store.article(p.article_id)
        assert article.text[p.start : p.start + len(p.text)] == p.text
        assert p.first_sentence <= p.last_sentence


def test_reader_spans_are_slices_of_their_passage(tiny_reader_dir):
    reader = ExtractiveReader.from_pretrained(tiny_reader_dir, max_length=64, stride=16)
    passages = ["Short passage about a bridge.", " ".join(f"Sentence number {i} is here." for i in range(60))]
    spans = reader.read("Which sentence is here?", passages, top_k=5)
    assert 1 <= len(spans) <= 5
    assert spans == sorted(spans, key=lambda s: -s.probability)
    for span in spans:
        assert passages[span.passage_index][span.start : span.end] == span.text
        assert 0.0 <= span.probability <= 1.0
    # A huge question is cut to max_question_tokens instead of failing.
    assert reader.read("why " * 20_000, passages[:1], top_k=1)


def test_abstention_uses_the_stored_threshold(tiny_reader_dir):
    reader = ExtractiveReader.from_pretrained(tiny_reader_dir)
    best = reader.read("What?", ["Something happened."], top_k=1)[0]
    reader.null_threshold = best.margin + 1
    assert reader.abstains(best)
    reader.null_threshold = best.margin - 1
    assert not reader.abstains(best)
    assert reader.abstains(None)
