from articleqa.qa.evaluation.squad_metric import normalize_answer, score_one, squad_scores


def test_normalisation_is_the_official_one():
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert normalize_answer("an apple, a pear") == "apple pear"


def test_em_and_f1():
    assert score_one("Denver Broncos", ["Denver Broncos", "Broncos"]) == (1.0, 1.0)
    em, f1 = score_one("the Denver Broncos team", ["Denver Broncos"])
    assert em == 0.0 and abs(f1 - 0.8) < 1e-9  # precision 2/3, recall 1
    assert score_one("", ["Broncos"]) == (0.0, 0.0)


def test_v2_no_answer_rules_and_split():
    golds = {"a": ["Paris"], "b": [], "c": []}
    scores = squad_scores({"a": "Paris", "b": "", "c": "London"}, golds)
    assert scores["exact"] == 100 * 2 / 3
    assert scores["HasAns_exact"] == 100 and scores["NoAns_exact"] == 50
    assert scores["NoAns_total"] == 2
    assert "HasAns_f1" not in squad_scores({"a": "Paris"}, {"a": ["Paris"]})  # v1.1: no split


def test_passage_recall_counts_an_answer_held_word_for_word(tiny_app, tmp_path):
    """A gold "4%" is not in a passage that says "4.25%", though the normalised characters "425" hold "4"."""
    import json

    from articleqa.qa.evaluation.run import evaluate_articles

    context = "The central bank raised its main rate to 4.25% on Tuesday."
    questions = [
        ("held", "What rate did the central bank set?", "4.25%"),
        ("not-held", "What rate did the central bank set before?", "4%"),
    ]
    squad = {
        "version": "1.1",
        "data": [
            {
                "title": "Rates",
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {"id": key, "question": q, "answers": [{"text": a, "answer_start": context.find(a)}]}
                            for key, q, a in questions
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(squad))
    result = evaluate_articles(tiny_app, path)
    assert result.extra["recall"] == 50.0
