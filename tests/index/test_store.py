import json
import shutil
from pathlib import Path

import pytest

from articleqa.index.documents import Article
from articleqa.index.indexer import Indexer
from articleqa.index.store import IndexMismatch, SentenceStore
from articleqa.qa.retriever import HybridRetriever
from tests.index.test_vectors import QUESTIONS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

ARTICLES = [
    Article("Harbour bridge reopens", "The harbour bridge reopened on Monday after repairs. Engineers replaced the cables."),
    Article("Bakery wins prize", "A small bakery in Leeds won the national bread prize. Its sourdough impressed judges."),
]


def make_store(path, embedder):
    return SentenceStore(path, embedder.dimension, embedder.model_id).open()


def test_add_search_persist_reload_remove(tmp_path, embedder):
    store = make_store(tmp_path / "index", embedder)
    report = Indexer(store, embedder).add_articles(ARTICLES)
    assert [a.title for a in report.added] == [a.title for a in ARTICLES]
    assert len(store) == 4

    hits = store.search_dense(embedder.embed(["Which bakery won a prize?"])[0], 2)
    assert store.article(hits[0].article_id).title == "Bakery wins prize"
    bm25 = store.search_bm25("cables engineers", 3)
    assert store.article(bm25[0].article_id).sentence(bm25[0].position) == "Engineers replaced the cables."
    assert store.search_bm25("the of and", 3) == []  # stop words only: no hits rather than noise

    reloaded = make_store(tmp_path / "index", embedder)
    assert [a.title for a in reloaded.articles] == [a.title for a in ARTICLES]
    assert len(reloaded) == 4

    removed = reloaded.remove([reloaded.find("harbour bridge REOPENS")[0].id])
    assert [a.title for a in removed] == ["Harbour bridge reopens"]
    again = make_store(tmp_path / "index", embedder)
    assert [a.title for a in again.articles] == ["Bakery wins prize"]
    assert len(again) == 2
    assert all(again.article(h.article_id) for h in again.search_bm25("bridge cables bakery", 5))


def test_exact_duplicates_are_skipped(tmp_path, embedder):
    store = make_store(tmp_path / "index", embedder)
    indexer = Indexer(store, embedder)
    indexer.add_articles(ARTICLES[:1])
    report = indexer.add_articles([ARTICLES[0], Article(ARTICLES[0].title, ARTICLES[0].text + "  "), ARTICLES[1]])
    assert report.duplicates == [ARTICLES[0].title, ARTICLES[0].title]
    assert [a.title for a in report.added] == ["Bakery wins prize"]


def test_other_embedder_is_refused_with_a_clear_message(tmp_path, embedder):
    Indexer(make_store(tmp_path / "index", embedder), embedder).add_articles(ARTICLES[:1])
    with pytest.raises(IndexMismatch, match="another --data-dir"):
        SentenceStore(tmp_path / "index", embedder.dimension, "some-other-model").open()


def test_building_a_store_reads_nothing_until_it_is_opened(tmp_path, embedder):
    Indexer(make_store(tmp_path / "index", embedder), embedder).add_articles(ARTICLES[:1])
    unopened = SentenceStore(tmp_path / "index", embedder.dimension, "some-other-model")  # no mismatch yet
    assert unopened.articles == []
    with pytest.raises(RuntimeError, match=r"open\(\)"):
        unopened.search_dense(embedder.embed_query("bakery"), 3) or unopened.vectors
    with pytest.raises(IndexMismatch):
        unopened.open()


def test_leftovers_of_a_crashed_write_are_ignored(tmp_path, embedder):
    store = make_store(tmp_path / "index", embedder)
    Indexer(store, embedder).add_articles(ARTICLES[:1])
    store.close()
    # A crash mid-conversion leaves a half-built database aside; one mid-checkpoint, a half-written index file.
    (tmp_path / "index" / "store.db.building").write_bytes(b"SQLite format 3\x00half")
    (tmp_path / "index" / "dense-9.faiss.4242.tmp").write_bytes(b"half")
    reloaded = make_store(tmp_path / "index", embedder)
    assert [a.title for a in reloaded.articles] == ["Harbour bridge reopens"]
    Indexer(reloaded, embedder).add_articles(ARTICLES[1:])
    assert len(make_store(tmp_path / "index", embedder).articles) == 2


def test_a_store_written_by_the_format_3_code_is_converted_once_with_the_same_retrieval(tmp_path, embedder):
    # tests/fixtures/store_format3 was written by the store code before the database (two commits, one
    # removal: row ids with a gap), with the passages it retrieved then
    directory = tmp_path / "index"
    shutil.copytree(FIXTURES / "store_format3", directory)
    expected = json.loads((FIXTURES / "store_format3.json").read_text())
    store = make_store(directory, embedder)
    assert [a.title for a in store.articles] == expected["titles"]
    assert [a.id for a in store.articles] == expected["ids"]
    assert len(store) == expected["sentences"] == store.vectors.count
    assert store.snapshot().next_row == expected["next_row"]
    assert store.find("Ferry strike ends")[0].meta.source == "Island Post"
    retriever = HybridRetriever(store, embedder)
    for question in QUESTIONS:
        passages = [[p.title, p.first_sentence, p.last_sentence] for p in retriever.retrieve(question)]
        assert passages == expected["retrieval"][question], question
    assert (directory / "store.db").exists() and not (directory / "manifest.json").exists()
    [added] = Indexer(store, embedder).add_articles(ARTICLES[1:]).added
    assert added.id > max(expected["ids"])  # ids are never reused
    again = make_store(directory, embedder)
    assert [a.title for a in again.articles] == [*expected["titles"], "Bakery wins prize"]
