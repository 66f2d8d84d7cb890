import gzip
import json
import os
import subprocess
import sys

import pytest

from articleqa.qa.answer import Answer
from tests.conftest import ROOT

# slow: processes, servers or the shipped reader (the fast tier, -m "not slow", leaves them out)
pytestmark = pytest.mark.slow


def run_cli(*args, env_extra=None, timeout=300):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "articleqa.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_ask_json_index_list_remove(tmp_path, tiny_reader_dir):
    common = ["--data-dir", str(tmp_path / "data"), "--reader", str(tiny_reader_dir)]
    story = tmp_path / "story.html"
    story.write_text("<title>Bridge news</title><p>The bridge reopened on Monday.</p>")
    done = run_cli("index", str(story), *common)
    assert done.returncode == 0 and "added: Bridge news" in done.stdout
    done = run_cli("ask", "--json", "When did the bridge reopen?", "   ", "Who built it?", *common)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1  # one of the questions was empty
    assert [line["question"] for line in lines] == ["When did the bridge reopen?", "   ", "Who built it?"]
    # the same record as the API's /ask
    assert set(lines[0]) == set(Answer("q").to_dict()) >= {"question", "answer", "score", "alternatives", "message"}
    assert "Please type a question" in lines[1]["error"]
    assert "Bridge news" in run_cli("list", *common).stdout
    assert run_cli("remove", "Bridge news", *common).returncode == 0
    assert "Bridge news" not in run_cli("list", *common).stdout
    missing = run_cli("index", str(tmp_path / "nope.txt"), *common)
    assert missing.returncode == 1 and "nope.txt" in missing.stderr and "Traceback" not in missing.stderr


def test_eval_squad_writes_official_predictions(tmp_path, tiny_reader_dir):
    data = {
        "version": "v2.0",
        "data": [
            {
                "title": "T",
                "paragraphs": [
                    {
                        "context": "Paris is the capital of France. It lies on the Seine.",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "What is the capital of France?",
                                "answers": [{"text": "Paris", "answer_start": 0}],
                                "is_impossible": False,
                            },
                            {
                                "id": "q2",
                                "question": "What is the capital of Spain?",
                                "answers": [],
                                "is_impossible": True,
                            },
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "mini.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(data, handle)
    predictions = tmp_path / "pred.json"
    done = run_cli("eval", "squad", str(path), "--reader", str(tiny_reader_dir), "--predictions", str(predictions))
    assert done.returncode == 0, done.stderr
    scores = json.loads(done.stdout)
    assert {"exact", "f1", "HasAns_f1", "NoAns_f1", "ms_per_question"} <= set(scores)
    assert set(json.loads(predictions.read_text())) == {"q1", "q2"}


def test_eval_articles_draws_a_reliability_diagram(tmp_path, tiny_reader_dir):
    data = {
        "version": "v1.1",
        "data": [
            {
                "title": "Seine",
                "paragraphs": [
                    {
                        "context": "Paris is the capital of France. It lies on the Seine. The river is 777 km long.",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "How long is the Seine?",
                                "answers": [{"text": "777 km", "answer_start": 67}],
                            },
                            {
                                "id": "q2",
                                "question": "What is the capital of France?",
                                "answers": [{"text": "Paris", "answer_start": 0}],
                            },
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(data))
    png = tmp_path / "reliability.png"
    done = run_cli("eval", "articles", str(path), "--reader", str(tiny_reader_dir), "--reliability", str(png))
    assert done.returncode == 0, done.stderr
    scores = json.loads(done.stdout)
    assert 0 <= scores["ece"] <= 100 and {"f1", "declined", "recall", "windows_per_question"} <= set(scores)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_feedback_summary(tmp_path):
    from articleqa.qa.feedback import FeedbackStore

    data = tmp_path / "data"
    assert "No feedback yet" in run_cli("feedback", "--data-dir", str(data)).stdout
    store = FeedbackStore.in_data_dir(data)
    for i, (score, vote) in enumerate([(0.9, "up"), (0.7, "up"), (0.65, "down"), (0.2, "up")]):
        store.record(f"a{i}", vote, question="Q?", answer=None if score < 0.4 else "A", score=score, article="T")
    done = run_cli("feedback", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert "4 answers voted on: 3 up, 1 down" in done.stdout
    assert "very likely" in done.stdout and "no answer given" in done.stdout
    summary = json.loads(run_cli("feedback", "--json", "--data-dir", str(data)).stdout)
    assert (summary["up"], summary["down"]) == (3, 1)
    assert {b["band"]: b["share_right"] for b in summary["bands"]}["likely"] == 0.5


def test_ask_imports_neither_gradio_nor_sentence_transformers(tmp_path, tiny_reader_dir):
    """`articleqa ask` starts fast: the web UI and sentence-transformers (with scikit-learn, SciPy's
    statistics, pandas) are never imported to answer on the command line."""
    common = ["--data-dir", str(tmp_path / "data"), "--reader", str(tiny_reader_dir)]
    code = (
        "import sys; from articleqa.cli import main; status = main(sys.argv[1:]); "
        "heavy = sorted(m for m in ('gradio', 'sentence_transformers', 'sklearn', 'pandas') if m in sys.modules); "
        "print('HEAVY', heavy); sys.exit(status)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "ask", "Who leads HTS?", *common],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "HEAVY []" in done.stdout


def test_the_terminal_shows_the_answer_its_sentence_and_the_other_possible_answers():
    from articleqa.cli import answer_text
    from articleqa.index.sentences import split_sentences
    from articleqa.qa.answer import Alternative
    from articleqa.seed import seed_body, seed_title

    # the seed's own sentences, as the indexer splits them, and its title (a CNN story; the file holds no date)
    formed, designated = (
        next(s.text for s in split_sentences(seed_body()) if year in s.text) for year in ("2016", "2018")
    )
    title = seed_title()
    answer = Answer(
        "When was it formed?",
        "2016",
        0.68,
        title,
        formed,
        formed.index("2016"),
        formed.index("2016") + 4,
        article_source="CNN",
        alternatives=[Alternative("2018", 0.27, title, designated)],
    )
    text = answer_text(answer)
    assert text.splitlines()[:2] == ["Q: When was it formed?", f"A: 2016  (score 0.68, {title})"]
    assert f"\u201c{formed}\u201d" in text and "CNN" in text
    assert text.splitlines()[-1] == "   other possible answers: 2018 (doubtful, 27%)"
    declined = answer_text(Answer("Who is the president of France?", None, 0.1, message="The articles don't say."))
    assert "A: The articles don't say." in declined and "other possible" not in declined


@pytest.mark.slow
def test_index_on_a_local_ray_equals_plain_index(tmp_path, tiny_reader_dir):
    pytest.importorskip("ray")
    story = tmp_path / "story.txt"
    story.write_text("Bridge news\n\nThe bridge reopened on Monday. Repairs took two years. The mayor cut a ribbon.")
    listed = {}
    for name, flags in (("plain", []), ("ray", ["--ray"])):
        common = ["--data-dir", str(tmp_path / name), "--reader", str(tiny_reader_dir)]
        done = run_cli("index", *flags, str(story), *common, env_extra={"RAY_num_cpus": "1"}, timeout=600)
        assert done.returncode == 0 and "added: Bridge news (3 sentences)" in done.stdout, done.stderr[-2000:]
        listed[name] = [json.loads(line) for line in run_cli("list", "--json", *common).stdout.splitlines()]
    assert listed["ray"] == listed["plain"] and listed["ray"][0]["title"] == "Bridge news"
