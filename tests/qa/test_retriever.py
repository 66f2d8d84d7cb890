"""qa/retriever.py: sentence fusion, story ranking, the reading budget."""

from articleqa.index.store import Hit
from articleqa.qa.retriever import reciprocal_rank_fusion
from tests.conftest import SEED


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
