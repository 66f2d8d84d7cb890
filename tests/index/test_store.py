import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import articleqa.index.store as store_module
from articleqa.index.database import FORMAT, blob_spans
from articleqa.index.documents import Article
from articleqa.index.indexer import Indexer
from articleqa.index.store import EmbeddedArticle, IndexMismatch, SentenceStore
from articleqa.qa.retriever import HybridRetriever
from tests.index.test_vectors import QUESTIONS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

ARTICLES = [
    Article(
        "Harbour bridge reopens", "The harbour bridge reopened on Monday after repairs. Engineers replaced the cables."
    ),
    Article(
        "Bakery wins prize", "A small bakery in Leeds won the national bread prize. Its sourdough impressed judges."
    ),
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


@pytest.mark.slow
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


def synthetic(first: int, count: int, dimension: int = 16) -> list[EmbeddedArticle]:
    """Articles of 2 sentences with random unit vectors (no model: the store is what is tested)."""
    rng = np.random.default_rng(first)
    items = []
    for n in range(first, first + count):
        text = f"Report {n} one. Report {n} two."
        vectors = rng.standard_normal((2, dimension)).astype(np.float32)
        items.append(
            EmbeddedArticle(
                f"Report {n}",
                text,
                "",
                f"report-{n}",
                ((0, 13), (14, 27)),
                vectors / np.linalg.norm(vectors, axis=1, keepdims=True),
            )
        )
    return items


def exact_top(store: SentenceStore, query: np.ndarray, k: int) -> list[tuple[str, int]]:
    """The k best (title, position) by inner product over the vectors in the database: what any index must give."""
    with store.database.read() as db:
        found = [
            (title, np.frombuffer(data, dtype="<f4").reshape(-1, len(query)))
            for title, data in db.execute("SELECT a.title, v.data FROM articles a JOIN vectors v ON v.article = a.id")
        ]
    scored = sorted(((float(v @ query), t, p) for t, block in found for p, v in enumerate(block)), reverse=True)
    return [(t, p) for _, t, p in scored[:k]]


def dense_top(store: SentenceStore, query: np.ndarray, k: int) -> list[tuple[str, int]]:
    return [(store.article(h.article_id).title, h.position) for h in store.search_dense(query, k)]


def test_flat_checkpoints_are_mapped_and_the_changes_after_them_replayed(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "CHECKPOINT_ROWS", 20)
    directory = tmp_path / "index"
    queries = np.random.default_rng(7).standard_normal((5, 16)).astype(np.float32)

    def same_as_exact(store: SentenceStore) -> None:
        for query in queries:
            assert dense_top(store, query, 8) == exact_top(store, query, 8)

    writer = SentenceStore(directory, 16, "synthetic").open()  # never loads the corpus: builds checkpoints itself
    writer.add(synthetic(0, 12))  # 24 rows: a checkpoint
    assert [p.name for p in directory.glob("dense-*.faiss")] == ["dense-12.faiss"]
    reader = SentenceStore(directory, 16, "synthetic").open()
    same_as_exact(reader)
    assert reader.vectors.base is not None and reader.vectors.base.ntotal == 24  # mapped, not copied

    writer.add(synthetic(100, 3))
    writer.remove([writer.find("Report 4")[0].id, writer.find("Report 101")[0].id])
    same_as_exact(reader)  # caught up: a dead base row and a new one
    assert not any(reader.article(h.article_id).title == "Report 4" for h in reader.search_dense(queries[0], 30))
    fresh = SentenceStore(directory, 16, "synthetic").open()  # the checkpoint plus the log after it
    same_as_exact(fresh)
    assert len(fresh) == fresh.vectors.count == 2 * 13

    (directory / "dense-9.faiss.999999999.tmp").write_bytes(b"half")  # a saver killed mid-write
    fresh.add(synthetic(200, 10))  # a loaded writer: saves its own index, then serves from that file
    assert [p.name for p in directory.glob("dense-*")] == [f"dense-{fresh.snapshot().seq}.faiss"]
    assert fresh.vectors.index.ntotal == 0 and fresh.vectors.base.ntotal == 2 * 23
    same_as_exact(fresh)
    same_as_exact(reader)
    again = SentenceStore(directory, 16, "synthetic").open()
    same_as_exact(again)
    assert [a.title for a in again.articles] == [a.title for a in fresh.articles]


def test_a_format_4_store_is_upgraded_once_in_place(tmp_path, embedder):
    directory = tmp_path / "index"
    store = make_store(directory, embedder)
    Indexer(store, embedder).add_articles(ARTICLES)
    spans = {a.title: a.sentences for a in store.articles}
    store.close()
    with sqlite3.connect(directory / "store.db") as db:  # as format 4 wrote them: JSON text
        for article_id, data in db.execute("SELECT id, sentences FROM articles").fetchall():
            db.execute("UPDATE articles SET sentences = ? WHERE id = ?", (json.dumps(blob_spans(data)), article_id))
        db.execute("UPDATE meta SET value = '4' WHERE key = 'format'")
    upgraded = make_store(directory, embedder)
    assert {a.title: a.sentences for a in upgraded.articles} == spans
    assert upgraded.database.meta()["format"] == str(FORMAT)
    kinds = upgraded.database.connect().execute("SELECT DISTINCT typeof(sentences) FROM articles").fetchall()
    assert kinds == [("blob",)]
