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
