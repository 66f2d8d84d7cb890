"""Several real processes on one store: concurrent writers, kill -9 beside a second writer, a reader catching
up, a legacy store converted while two processes open it. Real SQLite, FAISS and processes (tests/crash_child.py)."""

import json
import os
import random
import shutil
import subprocess
import sys
import time

import pytest

from articleqa.index.store import SentenceStore
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def writer(directory, first: int, count: int) -> subprocess.Popen:
    """A process adding articles "Report <first>" ... one commit each, printing "added Report <n>" after each."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.crash_child", str(directory), str(first), str(count)],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        text=True,
    )


def added(output: str) -> list[str]:
    return [line.removeprefix("added ") for line in output.splitlines() if line.startswith("added ")]


def assert_whole(store: SentenceStore) -> None:
    """Every article has all its sentences, its vectors and its full text indexed, and nothing else is there."""
    for article in store.articles:
        assert len(article.sentences) == 6
        hits = store.search_bm25(f"keyword{article.title.split()[-1]}x", 10)
        assert {store.article(h.article_id).title for h in hits} == {article.title}
    assert len(store) == 6 * len(store.articles) == store.vectors.count


@pytest.mark.slow
def test_two_processes_adding_at_once_lose_nothing(tmp_path, embedder):
    directory = tmp_path / "index"
    children = [writer(directory, 0, 30), writer(directory, 1000, 30)]
    outputs = [child.communicate(timeout=900)[0] for child in children]
    assert all(child.returncode == 0 for child in children)
    reported = [title for output in outputs for title in added(output)]
    assert len(reported) == 60
    store = SentenceStore(directory, embedder.dimension, embedder.model_id).open()
    assert sorted(a.title for a in store.articles) == sorted(reported)
    assert_whole(store)
    probe = store.find("Report 1017")[0]  # the other writer's vectors, rebuilt in this process
    hit = store.search_dense(embedder.embed([probe.sentence(3)])[0], 1)[0]
    assert store.article(hit.article_id).title == "Report 1017"


@pytest.mark.slow
def test_kill_9_mid_write_beside_a_second_writer(tmp_path, embedder):
    rng = random.Random(3)
    directory = tmp_path / "index"
    steady = writer(directory, 5000, 40)  # writes all along, and must lose nothing
    reported: list[str] = []
    for round_ in range(6):
        victim = writer(directory, 100 * round_, 50)
        assert victim.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 2.0))
        victim.kill()  # SIGKILL: no clean-up runs, a transaction may be half written
        reported += added(victim.communicate()[0])
        store = SentenceStore(directory, embedder.dimension, embedder.model_id).open()  # must load
        assert set(reported) <= {a.title for a in store.articles}
        store.close()
    steady_out = steady.communicate(timeout=900)[0]
    assert steady.returncode == 0 and len(added(steady_out)) == 40
    store = SentenceStore(directory, embedder.dimension, embedder.model_id).open()
    titles = {a.title for a in store.articles}
    assert set(reported) | set(added(steady_out)) <= titles
    assert_whole(store)
    assert reported, "the kills came too early to test anything"


@pytest.mark.slow
def test_a_running_reader_sees_another_process_article_within_seconds(tmp_path, embedder):
    directory = tmp_path / "index"
    first = writer(directory, 1, 1)
    first.communicate(timeout=600)
    reader = SentenceStore(directory, embedder.dimension, embedder.model_id).open()
    assert [a.title for a in reader.articles] == ["Report 1"]
    later = writer(directory, 77, 1)
    out = later.communicate(timeout=600)[0]
    assert added(out) == ["Report 77"]
    reported_at = time.monotonic()
    while not reader.find("Report 77") and time.monotonic() - reported_at < 5:
        time.sleep(0.05)
    assert reader.find("Report 77"), "the reader did not see the new article within 5 s"
    [hit] = reader.search_bm25("keyword77x", 1)
    assert reader.article(hit.article_id).title == "Report 77"
    sentence = reader.find("Report 77")[0].sentence(2)
    dense = reader.search_dense(embedder.embed([sentence])[0], 1)[0]
    assert reader.article(dense.article_id).title == "Report 77"
    assert [article_id for article_id, _ in reader.search_stories("keyword77x", 1)] == [hit.article_id]


@pytest.mark.slow
def test_a_legacy_store_opened_by_two_processes_at_once_is_converted_once(tmp_path, embedder):
    directory = tmp_path / "index"
    shutil.copytree(FIXTURES / "store_format3", directory)
    expected = json.loads((FIXTURES / "store_format3.json").read_text())
    children = [writer(directory, 1, 1), writer(directory, 2, 1)]
    outputs = [child.communicate(timeout=600)[0] for child in children]
    assert [added(o) for o in outputs] == [["Report 1"], ["Report 2"]]
    store = SentenceStore(directory, embedder.dimension, embedder.model_id).open()
    titles = [a.title for a in store.articles]
    assert titles[: len(expected["titles"])] == expected["titles"]
    assert sorted(titles[len(expected["titles"]) :]) == ["Report 1", "Report 2"]
    assert len(store) == expected["sentences"] + 12 == store.vectors.count
    assert not (directory / "manifest.json").exists() and not list(directory.glob("v[0-9]*"))
