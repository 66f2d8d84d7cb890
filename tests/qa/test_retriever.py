"""qa/retriever.py: sentence fusion, story ranking, the reading budget."""

from articleqa.qa.retriever import reciprocal_rank_fusion
from tests.conftest import SEED


def test_reciprocal_rank_fusion_rewards_agreement():
    dense = [(1, 0), (1, 1)]  # (article id, sentence position), best first
    sparse = [(1, 1), (2, 0)]
    fused = reciprocal_rank_fusion([dense, sparse], k=60)
    assert fused[(1, 1)] == 1 / 62 + 1 / 61
    assert max(fused, key=fused.get) == (1, 1)


def test_story_ranking_fuses_article_ids_the_same_way():
    fused = reciprocal_rank_fusion([[7, 3], [3], [3, 7]], k=60)
    assert fused[3] == 1 / 62 + 1 / 61 + 1 / 61
    assert max(fused, key=fused.get) == 3


def test_hybrid_retrieval_finds_the_leader_sentence(tiny_app):
    tiny_app.add_files([SEED])
    passages = tiny_app.retriever.retrieve("Who leads HTS?")
    assert "formed by Jolani" in passages[0].text
    for p in passages:  # passages are exact slices of their article, windows of whole sentences
        article = tiny_app.store.article(p.article_id)
        assert article.text[p.start : p.start + len(p.text)] == p.text
        assert p.first_sentence <= p.last_sentence


def test_the_best_story_is_read_whole_up_to_whole_first_budgets_and_leaves_room_for_the_next(tiny_app):
    from articleqa.index.documents import Article

    # a long story (over one budget of reader tokens) about one bridge, and a short one that shares words
    long_story = " ".join(
        f"In {1900 + i} the council of Ardmore repainted the old bridge over the Senn, and the work took {i + 2} weeks."
        for i in range(60)
    )
    tiny_app.indexer.add_articles(
        [
            Article("Ardmore bridge", long_story),
            Article("Other towns", "The council of Brill also painted a bridge once."),
        ]
    )
    question = "When did the council of Ardmore first repaint the bridge?"
    assert 1024 < tiny_app.reader.count_tokens(long_story) <= 3 * 1024

    tiny_app.retriever.whole_first = 3.0
    whole = tiny_app.retriever.retrieve(question, budget=1024)
    assert whole[0].title == "Ardmore bridge" and whole[0].text == long_story  # all of it, past the budget
    assert any(p.title == "Other towns" for p in whole)  # it counted as half the budget: the next story is read

    tiny_app.retriever.whole_first = 1.0  # longer than that: windows around its best sentences, within budget
    windows = tiny_app.retriever.retrieve(question, budget=1024)
    assert windows[0].title == "Ardmore bridge" and all(p.text != long_story for p in windows)
    assert sum(tiny_app.reader.count_tokens(p.text) for p in windows) <= 1024


def test_passages_carry_the_sentences_the_store_split(tiny_app):
    tiny_app.add_files([SEED])
    for passage in tiny_app.retriever.retrieve("Who leads HTS?"):
        article = tiny_app.store.article(passage.article_id)
        stored = article.sentences[passage.first_sentence : passage.last_sentence + 1]
        assert [(passage.start + s, passage.start + e) for s, e in passage.sentences] == list(stored)
