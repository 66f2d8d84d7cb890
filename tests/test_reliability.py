"""Crashes mid-write, concurrent users, hostile input, authentication."""

import json
import os
import random
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from articleqa.index.embedder import Embedder
from articleqa.index.store import SentenceStore
from articleqa.qa.pipeline import Answer, InvalidQuestion
from articleqa.ui.server import serve
from benchmarks.common import free_port
from benchmarks.load import run_load, table
from tests.conftest import ROOT, SEED

# slow: processes, servers or the shipped reader (the fast tier, -m "not slow", leaves them out)
pytestmark = pytest.mark.slow

FULL = os.environ.get("ARTICLEQA_FULL_TESTS") == "1"  # the benchmark-sized run
KILLS = 50 if FULL else 20
FUZZ_CASES = 1000 if FULL else 150


def test_kill_9_while_adding_never_breaks_the_index(tmp_path, embedder: Embedder):
    rng = random.Random(7)
    directory = tmp_path / "index"
    reported: list[str] = []
    next_article = 0
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    for _ in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.crash_child", str(directory), str(next_article), "50"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + rng.uniform(0.05, 1.5)
        while time.monotonic() < deadline:
            time.sleep(0.01)
        child.kill()  # SIGKILL: no clean-up runs
        out, _ = child.communicate()
        reported += [line.removeprefix("added ") for line in out.splitlines() if line.startswith("added ")]
        next_article += 50

        store = SentenceStore(directory, embedder.dimension, embedder.model_id).open()  # must load
        titles = {a.title for a in store.articles}
        assert set(reported) <= titles  # everything reported as added survived
        for article in store.articles:  # and nothing is half-present
            assert len(article.sentences) == 6
            keyword = article.title.split()[-1]
            hits = store.search_bm25(f"keyword{keyword}x", 10)
            assert {store.article(h.article_id).title for h in hits} == {article.title}
        assert len(store) == 6 * len(titles)
    assert reported, "the child never got to commit: the kills came too early to test anything"


@given(
    question=st.one_of(
        st.text(max_size=3000),
        st.binary(max_size=300),
        st.sampled_from(["<img src=x onerror=alert(1)>", "\x00" * 50, "🙂" * 400, "؟من يقود"]),
    )
)
@settings(max_examples=FUZZ_CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzz_ask_answers_or_explains(seeded_tiny_app, question):
    try:
        answer = seeded_tiny_app.ask(question)
    except InvalidQuestion as error:
        assert str(error)
        return
    assert isinstance(answer, Answer)
    if answer.answer is not None:
        assert answer.sentence[answer.start : answer.end] == answer.answer


@given(
    raw=st.one_of(st.binary(max_size=2000), st.text(max_size=2000)),
    name=st.sampled_from(["a.txt", "a.md", "a.html", ""]),
)
@settings(max_examples=FUZZ_CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzz_add_article_indexes_or_explains(seeded_tiny_app, raw, name):
    before = len(seeded_tiny_app.store.articles)
    report = seeded_tiny_app.add_text(raw, name)
    after = len(seeded_tiny_app.store.articles)
    assert after == before + len(report.added)
    assert report.added or report.duplicates or (report.errors and all(report.errors))
    seeded_tiny_app.store.remove(a.id for a in report.added)


@pytest.fixture(scope="module")
def seeded_tiny_app(tmp_path_factory, tiny_reader_dir, embedder):
    from articleqa.config import Settings
    from articleqa.qa.pipeline import ArticleQA

    settings = Settings(data_dir=tmp_path_factory.mktemp("fuzz"), reader=str(tiny_reader_dir))
    app = ArticleQA.from_settings(settings, in_memory=True, embedder=embedder)
    app.add_files([SEED])
    return app


def test_concurrent_callers_while_articles_are_added(shipped_app):
    demo, url = serve(shipped_app, replace(shipped_app.settings, port=free_port()), block=False)
    try:
        result = run_load(url, callers=8, questions=5, deadline_s=300)
        # the benchmark's default callers: Gradio's plain HTTP API, as curl calls it
        rest = run_load(url, callers=4, questions=3, deadline_s=300, add_articles=False, client="rest")
    finally:
        demo.close()
    assert result["errors"] == 0, result["error_samples"]
    assert result["answered"] == 40
    assert rest["errors"] == 0, rest["error_samples"]
    assert rest["answered"] == 12 and rest["client_cpu_ms"] >= 0
    # the benchmark's README table renders alike from a measured result and from its JSON copy (string keys)
    report = {
        "levels": {"batched": {8: result}},
        "machine": "test",
        "questions_per_level": 40,
        "load_before": "-",
        "load_after": "-",
    }
    rendered = table(report)
    assert rendered == table(json.loads(json.dumps(report)))
    assert rendered.splitlines()[2].startswith("| 8 | batched | ")


def test_login_is_required_when_auth_is_set(seeded_tiny_app):
    from gradio_client import Client

    settings = replace(seeded_tiny_app.settings, port=free_port(), auth="editor:s3cret")
    demo, url = serve(seeded_tiny_app, settings, block=False)
    try:
        with pytest.raises(Exception):  # noqa: B017  (gradio_client raises different types per version)
            Client(url, verbose=False).predict("Who leads HTS?", None, api_name="/ask")
        answer = Client(url, auth=("editor", "s3cret"), verbose=False).predict("Who leads HTS?", None, api_name="/ask")
        assert "question" in answer
    finally:
        demo.close()
