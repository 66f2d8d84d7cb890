"""End to end with the shipped reader (qa/model) on the seed article and on SQuAD articles."""

import itertools
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest
from gradio_client import Client

from articleqa.qa.evaluation.squad_data import load_squad
from articleqa.qa.pipeline import ArticleQA, Turn
from articleqa.qa.policy import AnswerPolicy
from articleqa.ui.server import serve
from benchmarks.common import free_port
from tests.conftest import ROOT, SEED_TITLE, SHARED

# slow: processes, servers or the shipped reader (the fast tier, -m "not slow", leaves them out)
pytestmark = pytest.mark.slow


def test_an_answer_is_a_span_of_its_sentence_with_its_article(shipped_app):
    answer = shipped_app.ask("Which city are the rebels heading for next?")
    assert answer.answer == "Homs"
    assert answer.sentence[answer.start : answer.end] == answer.answer
    assert "Homs" in answer.sentence
    assert answer.article == SEED_TITLE
    assert 0.5 <= answer.score <= 1.0


def test_pronoun_follow_up_is_resolved_to_the_earlier_answer(shipped_app):
    first = shipped_app.ask("Who ordered the military to quash the revolt in 1982?")
    assert "Hafez al-Assad" in first.answer
    son = shipped_app.ask("Who is his son?", [Turn(first.question, first.answer, first.article)])
    assert "Hafez al-Assad" in son.retrieval_query  # "his" is the person named in the previous answer


def test_questions_the_article_does_not_cover_are_declined(shipped_app):
    answer = shipped_app.ask("What is the population of Hama?")
    assert answer.answer is None
    assert "don't say" in answer.message
    assert answer.sentence  # the closest passage is offered


def test_gradio_api_returns_the_answer_as_json(shipped_app):
    demo, url = serve(shipped_app, replace(shipped_app.settings, port=free_port()), block=False)
    try:
        answer = Client(url, verbose=False).predict(
            "Which city are the rebels heading for next?", None, api_name="/ask"
        )
    finally:
        demo.close()
    assert answer["answer"] == "Homs" and answer["article"] == SEED_TITLE
    assert json.loads(json.dumps(answer)) == answer


def test_cli_ask_json_uses_the_shipped_reader(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "articleqa.cli",
            "ask",
            "--json",
            "--data-dir",
            str(tmp_path),
            "Which city are the rebels heading for next?",
            "When did the United States designate HTS a Foreign Terrorist Organization?",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first["answer"] == "Homs" and "2018" in second["answer"]


@pytest.mark.skipif(not (SHARED / "squad-v1.1-dev.val.json.gz").exists(), reason="needs ../shared/data/qa")
def test_conversation_over_squad_articles(shipped_app, tmp_path):
    """Consecutive questions about one paragraph: with the conversation, follow-ups stay on the article."""
    from articleqa.qa.evaluation.run import articles_of

    path = SHARED / "squad-v1.1-dev.val.json.gz"
    settings = replace(shipped_app.settings, data_dir=tmp_path)
    app = ArticleQA.from_settings(
        settings,
        in_memory=True,
        embedder=shipped_app.embedder,
        reader=shipped_app.reader,
        policy=AnswerPolicy(alternatives=settings.alternatives),  # uncalibrated, as this test was written
    )
    app.indexer.add_articles(articles_of(path))
    questions = load_squad(path)
    pairs = [
        (a, b)
        for a, b in itertools.pairwise(questions)
        if a.context == b.context
        and any(f" {w} " in f" {b.question.lower()} " for w in ("it", "its", "he", "his", "they", "their"))
    ]
    assert len(pairs) >= 20
    on_article = {"with": 0, "without": 0}
    for first, follow in pairs[:20]:
        title = first.title.replace("_", " ")
        answer = app.ask(first.question)
        history = [Turn(first.question, answer.answer, answer.article)]
        on_article["with"] += app.ask(follow.question, history).article == title
        on_article["without"] += app.ask(follow.question).article == title
    assert on_article["with"] >= on_article["without"]
    assert on_article["with"] >= 16
