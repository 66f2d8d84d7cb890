"""Scale-out: the Milvus backend answers as FAISS does, FAISS grows past its flat limit, Ray ingest = plain ingest."""

import os
import random
import subprocess
import sys
import time

import numpy as np
import pytest

import articleqa.index.vectors as vectors_module
from articleqa.index.documents import Article
from articleqa.index.indexer import Indexer
from articleqa.index.store import SentenceStore
from articleqa.index.vectors import FaissVectors, Rows
from articleqa.qa.retriever import HybridRetriever
from tests.conftest import ROOT, SEED

pytest.importorskip("pymilvus")

NEWS = [
    Article(
        "Harbour bridge reopens",
        "The harbour bridge reopened on Monday after two years of repairs. "
        "Engineers replaced all of the steel cables. The mayor said traffic would ease by summer.",
    ),
    Article(
        "Bakery wins prize",
        "A small bakery in Leeds won the national bread prize. Its sourdough impressed "
        "the judges. The owner, Maria Lopez, opened the shop in 2015.",
    ),
    Article(
        "Storm closes schools",
        "Storm Edna closed 300 schools across Wales on Tuesday. Winds reached 90 miles "
        "per hour on the coast. Power was cut to 20,000 homes.",
    ),
    Article(
        "Council approves budget",
        "The city council approved a budget of 2.1 billion pounds. Spending on "
        "buses rises by ten percent. Libraries will stay open on Sundays.",
    ),
    Article(
        "Striker signs for Leeds",
        "Leeds United signed the striker Tom Hale for 12 million pounds. He scored "
        "31 goals last season. Hale joins on a four-year contract.",
    ),
    Article(
        "Museum returns bronzes",
        "The museum returned 40 bronze statues to Nigeria. The statues were taken "
        "in 1897. A ceremony was held in Benin City.",
    ),
]
QUESTIONS = [
    "Who leads HTS?",
    "When did the bridge reopen?",
    "Who owns the bakery?",
    "How fast were the winds?",
    "How much did Leeds pay for the striker?",
    "Where was the ceremony held?",
    "What happened to libraries?",
    "Which city did the rebels capture?",
]


def _with_seed():
    from articleqa.index.documents import load_article

    return [load_article(SEED, 5_000_000), *NEWS]


def _top_passages(store, embedder, question):
    retriever = HybridRetriever(store, embedder)
    return [(p.title, p.first_sentence, p.last_sentence) for p in retriever.retrieve(question)]


@pytest.mark.slow
def test_ray_ingest_equals_plain_ingest(tmp_path, embedder):
    # First in this module: Ray forks its head processes, which can hang while another thread of this
    # process is inside gRPC (a Milvus Lite server). The CLI likewise starts Ray before opening the store.
    ray = pytest.importorskip("ray")
    from articleqa.index.parallel import RayEmbedder

    plain = SentenceStore(tmp_path / "plain", embedder.dimension, embedder.model_id).open()
    Indexer(plain, embedder).add_articles(_with_seed())
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with RayEmbedder(chunk=8) as remote:
            assert (remote.model_id, remote.dimension) == (embedder.model_id, embedder.dimension)
            parallel = SentenceStore(tmp_path / "ray", embedder.dimension, embedder.model_id).open()
            indexer = Indexer(parallel, remote, commit_chars=2000)  # several commits
            first = indexer.add_articles(_with_seed()[:3])
            report = indexer.add_articles(_with_seed())  # resumed: the first three are skipped
    finally:
        ray.shutdown()
    assert len(first.added) == 3 and len(report.duplicates) == 3
    assert [(a.title, a.sentences) for a in parallel.articles] == [(a.title, a.sentences) for a in plain.articles]
    for question in QUESTIONS:
        assert _top_passages(parallel, embedder, question) == _top_passages(plain, embedder, question)


@pytest.mark.slow
def test_faiss_and_milvus_lite_give_the_same_top_passages(tmp_path, embedder):
    faiss_store = SentenceStore(tmp_path / "faiss", embedder.dimension, embedder.model_id).open()
    milvus_store = SentenceStore(tmp_path / "milvus", embedder.dimension, embedder.model_id, store="milvus").open()
    try:
        for store in (faiss_store, milvus_store):
            Indexer(store, embedder).add_articles(_with_seed())
        assert len(faiss_store) == len(milvus_store) > 20
        assert "milvus" in milvus_store.vectors.description
        for question in QUESTIONS:
            vector = embedder.embed([question])[0]
            dense_f = faiss_store.search_dense(vector, 10)
            dense_m = milvus_store.search_dense(vector, 10)
            assert [(h.article_id, h.position) for h in dense_f] == [(h.article_id, h.position) for h in dense_m]
            assert np.allclose([h.score for h in dense_f], [h.score for h in dense_m], atol=1e-4)
            assert _top_passages(faiss_store, embedder, question) == _top_passages(milvus_store, embedder, question)
    finally:
        milvus_store.vectors.close()


@pytest.mark.slow
def test_milvus_lite_remove_persist_reload(tmp_path, embedder):
    directory = tmp_path / "index"
    store = SentenceStore(directory, embedder.dimension, embedder.model_id, store="milvus").open()
    Indexer(store, embedder).add_articles(NEWS)
    bakery = store.find("Bakery wins prize")[0]
    store.remove([bakery.id])
    vector = embedder.embed(["Which bakery won the bread prize?"])[0]
    assert bakery.id not in {h.article_id for h in store.search_dense(vector, 50)}
    assert store.vectors.count == len(store)
    store.vectors.close()

    reloaded = SentenceStore(directory, embedder.dimension, embedder.model_id, store="milvus").open()
    assert [a.title for a in reloaded.articles] == [a.title for a in NEWS if a.title != "Bakery wins prize"]
    assert reloaded.vectors.count == len(reloaded)
    hits = reloaded.search_dense(embedder.embed(["When did the bridge reopen?"])[0], 3)
    assert reloaded.article(hits[0].article_id).title == "Harbour bridge reopens"
    Indexer(reloaded, embedder).add_articles(NEWS[1:2])  # re-adding after a remove gets fresh rows
    assert reloaded.vectors.count == len(reloaded) == 18
    reloaded.vectors.close()


@pytest.mark.slow
def test_a_milvus_lite_index_file_cut_short_by_a_crash_is_built_again(tmp_path, embedder):
    # Milvus Lite 3.2 saves a segment's index file in place; a kill -9 during the save (seen once in the
    # kill -9 test below, under load) leaves it truncated, and the collection would no longer load.
    directory = tmp_path / "index"
    store = SentenceStore(directory, embedder.dimension, embedder.model_id, store="milvus").open()
    Indexer(store, embedder).add_articles(NEWS)
    sentences = len(store)
    store.vectors.close()
    index_files = [f for f in directory.rglob("*.idx") if f.is_file()]
    assert index_files  # where Milvus Lite keeps them: if this moves, the test must follow
    for path in index_files:
        path.write_bytes(path.read_bytes()[:-512])
    reloaded = SentenceStore(directory, embedder.dimension, embedder.model_id, store="milvus").open()
    assert reloaded.vectors.count == len(reloaded) == sentences
    hits = reloaded.search_dense(embedder.embed(["Which bakery won the bread prize?"])[0], 1)
    assert reloaded.article(hits[0].article_id).title == "Bakery wins prize"
    reloaded.vectors.close()


@pytest.mark.slow
def test_milvus_rows_the_manifest_does_not_name_are_ignored_then_pruned(tmp_path, embedder):
    directory = tmp_path / "index"
    store = SentenceStore(directory, embedder.dimension, embedder.model_id, store="milvus").open()
    Indexer(store, embedder).add_articles(NEWS[:2])
    # What a crash between the insert and the manifest swap leaves: rows of an article nobody committed.
    stray = embedder.embed(["The harbour bridge reopened on Monday after two years of repairs."])
    store.vectors.add(Rows(np.array([store.snapshot().next_row]), np.array([99]), np.array([0])), [stray])
    hits = store.search_dense(stray[0], 3)
    assert len(hits) == 3 and all(store.article(h.article_id) for h in hits)
    store.vectors.close()
    reloaded = SentenceStore(directory, embedder.dimension, embedder.model_id, store="milvus").open()
    assert reloaded.vectors.count == len(reloaded) == 6
    reloaded.vectors.close()


@pytest.mark.slow
def test_kill_9_while_adding_to_milvus_lite_never_breaks_the_index(tmp_path, embedder):
    rng = random.Random(11)
    directory = tmp_path / "index"
    reported: list[str] = []
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    for round_ in range(2):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.crash_child", str(directory), str(50 * round_), "50", "milvus"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.5, 2.0))
        child.kill()
        out, _ = child.communicate()
        reported += [line.removeprefix("added ") for line in out.splitlines() if line.startswith("added ")]

        store = SentenceStore(directory, embedder.dimension, embedder.model_id, store="milvus").open()
        titles = {a.title for a in store.articles}
        assert set(reported) <= titles
        assert store.vectors.count == len(store) == 6 * len(titles)
        probes = embedder.embed([a.sentence(2) for a in store.articles])
        for article, probe in zip(store.articles, probes, strict=True):  # every committed article's vectors are there
            assert store.article(store.search_dense(probe, 1)[0].article_id).title == article.title
        store.vectors.close()
    assert reported


def test_faiss_goes_from_flat_to_ivf_past_the_limit_and_reloads(tmp_path, monkeypatch):
    monkeypatch.setattr(vectors_module, "FLAT_LIMIT", 1000)
    rng = np.random.default_rng(0)
    data = rng.standard_normal((3000, 32)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    index = FaissVectors(32)
    ids = np.arange(3000, dtype=np.int64) + 10
    index.add(Rows(ids[:800], ids[:800] // 100, ids[:800] % 100), [data[:800]])
    assert index.is_flat
    index.add(Rows(ids[800:], ids[800:] // 100, ids[800:] % 100), [data[800:2000], data[2000:]])
    assert not index.is_flat and index.count == 3000
    found, _ = index.search(data[5], 1)
    assert found[0] == 15  # an old (moved) row
    index.remove(ids[:100])
    index.save(tmp_path / "dense-1.faiss")
    again = FaissVectors.load_file(tmp_path / "dense-1.faiss", 32)
    assert again.count == 2900 and again.search(data[2500], 1)[0][0] == 2510
    again.prune(Rows(ids[100:200], ids[100:200] // 100, ids[100:200] % 100))
    assert again.count == 100


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["faiss", "milvus"])
def test_a_snapshot_taken_before_an_add_does_not_see_it(tmp_path, embedder, backend):
    store = SentenceStore(tmp_path / backend, embedder.dimension, embedder.model_id, store=backend).open()
    indexer = Indexer(store, embedder)
    indexer.add_articles(NEWS[:3])
    before = store.snapshot()
    indexer.add_articles(NEWS[3:])  # the backend now holds rows `before` doesn't name
    vector = embedder.embed(["Leeds United signed the striker Tom Hale"])[0]
    old_hits = store.search_dense(vector, 4, before)
    assert len(old_hits) == 4 and all(h.article_id in before.articles for h in old_hits)
    assert store.article(store.search_dense(vector, 1)[0].article_id).title == "Striker signs for Leeds"
    if backend == "milvus":
        store.vectors.close()
