"""The quality report's article figures: one reading per question, two decisions on it."""

import gzip
import json

from tests.conftest import SEED
from training.report import articles_figures


def _seed_squad_file(path, questions):
    """The seed article as a one-article SQuAD file, with questions whose answers are its own words."""
    title, _, body = SEED.read_text(encoding="utf-8").partition("\n")
    qas = [
        {"id": str(i), "question": q, "answers": [{"text": a, "answer_start": body.index(a)}]}
        for i, (q, a) in enumerate(questions)
    ]
    data = {"version": "1.1", "data": [{"title": title, "paragraphs": [{"context": body, "qas": qas}]}]}
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(data, f)
    return path


def test_articles_figures_read_each_question_once_and_abstention_never_adds_to_answerable_f1(tmp_path, tiny_app):
    path = _seed_squad_file(
        tmp_path / "seed.json.gz",
        [
            ("Which city did the rebels capture last week?", "Aleppo"),
            ("In which year was the Hama massacre?", "1982"),
            ("How much is the bounty the United States placed on Jolani?", "$10 million"),
        ],
    )
    figures = articles_figures(tiny_app, path, limit=2)
    assert len(tiny_app.store) > 10  # the article was indexed
    assert 0.0 <= figures["abstain_f1"] <= figures["f1"] <= 100.0  # all answerable: a decline only loses
    assert 0 <= figures["declined"] <= 2 and figures["ms_per_question"] > 0
