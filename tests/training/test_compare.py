"""training/compare.py: two readers' readings of the same questions, compared question by question."""

import math

import pytest

pytest.importorskip("sklearn")  # the `train` extra

from tests.training.test_report import _seed_squad_file  # noqa: E402


def _reading(f1: float, margin: float | None = None, answerable: bool = True, answer: str = "x") -> dict:
    declined = 0.0 if answerable else 1.0
    return {"answer": answer, "f1": f1, "f1_declined": declined, "margin": margin, "shown": f1}


def test_paired_difference_is_the_mean_of_per_question_differences_with_their_standard_error():
    from training.compare import paired

    a = {"1": _reading(1.0), "2": _reading(0.0), "3": _reading(0.5), "4": _reading(1.0), "only-a": _reading(0.0)}
    b = {"1": _reading(1.0), "2": _reading(1.0, answer="y"), "3": _reading(0.0, answer="z"), "4": _reading(1.0)}
    result = paired(a, b)
    differences = [0.0, 1.0, -0.5, 0.0]  # the questions both read
    mean = sum(differences) / 4
    se = math.sqrt(sum((d - mean) ** 2 for d in differences) / 3) / 2
    assert result.questions == 4 and result.changed == 2
    assert result.a == pytest.approx(62.5) and result.b == pytest.approx(75.0)
    assert result.difference == pytest.approx(100 * mean) and result.standard_error == pytest.approx(100 * se)


def test_a_margin_that_separates_answerable_from_unanswerable_scores_auc_one_and_a_perfect_threshold():
    from training.compare import best_threshold, f1_with_threshold, margin_auc, two_fold_f1

    # answerable questions (right when answered) have margins 1..20, unanswerable ones -20..-1
    separating = {f"a{i}": _reading(1.0, float(i)) for i in range(1, 21)}
    separating |= {f"u{i}": _reading(0.0, float(-i), answerable=False) for i in range(1, 21)}
    # the other reader's margins say nothing: the same order for both kinds
    blind = {f"a{i}": _reading(1.0, float(i)) for i in range(1, 21)}
    blind |= {f"u{i}": _reading(0.0, float(i) + 0.5, answerable=False) for i in range(1, 21)}
    rows = list(separating.values())
    assert f1_with_threshold(rows, best_threshold(rows)) == 100.0
    assert f1_with_threshold(rows, math.inf) == 50.0  # declining everything: right on the unanswerable half
    # a threshold fitted on one half sits at that half's least sure answerable question: a few of the other
    # half's fall under it
    assert 90.0 < two_fold_f1(separating) < 100.0
    assert two_fold_f1(blind) < 60.0
    auc_blind, auc_separating, difference, se = margin_auc(blind, separating)
    assert auc_separating == 1.0 and auc_blind < 0.6
    assert difference == pytest.approx(auc_separating - auc_blind) and 0 < se < difference


def test_a_sample_with_only_answerable_questions_says_why_it_has_no_auc_instead_of_nan():
    from training.compare import comparison

    answered = {f"a{i}": _reading(1.0, float(i)) for i in range(1, 6)}
    readings = {"squad2": answered, "gold": answered}
    rows = comparison(readings, readings)
    figures = [row["figure"] for row in rows]
    assert not any("AUC of the margin" == figure.split(": ", 1)[-1] for figure in figures)
    note = [row for row in rows if "a" not in row]
    assert len(note) == 1 and "both kinds" in note[0]["figure"]
    assert all(not math.isnan(row["a"]) for row in rows if "a" in row)


def test_readings_keep_what_the_product_shows_for_each_question(tmp_path, tiny_app):
    from articleqa.qa.evaluation.squad_data import load_squad
    from training.compare import article_readings, paragraph_readings

    path = _seed_squad_file(
        tmp_path / "seed.json.gz",
        [("Which city did the rebels capture last week?", "Aleppo"), ("In which year was the Hama massacre?", "1982")],
    )
    questions = load_squad(path)
    always = paragraph_readings(tiny_app, tiny_app.policy.always_answering(), questions)
    judged = paragraph_readings(tiny_app, tiny_app.policy, questions)
    for q in questions:
        assert always[q.id]["answer"] and not always[q.id]["declined"]  # always answering: a span every time
        assert always[q.id]["shown"] == always[q.id]["f1"] and always[q.id]["f1_declined"] == 0.0
        reading = judged[q.id]
        assert reading["shown"] == (reading["f1_declined"] if reading["declined"] else reading["f1"])
        assert isinstance(reading["margin"], float)
    indexed = article_readings(tiny_app, path, questions)
    assert len(tiny_app.store) > 10  # the article was indexed
    assert set(indexed) == {q.id for q in questions}
    assert all(0.0 <= r["f1"] == r["shown"] <= 1.0 for r in indexed.values())


def test_a_reading_says_how_it_read_and_an_unknown_set_is_refused_before_anything_loads(tmp_path, capsys):
    from training.compare import described, main

    older = {"reader": "large", "scout": "/x/qa/model"}  # written before re-reading and weight were kept
    newer = {**older, "reread": 3, "scout_weight": 0.5}
    alone = {"reader": "large", "scout": "", "reread": 1, "scout_weight": 0.5}
    assert described(older) == "large (scout /x/qa/model)"
    assert described(newer) == "large (scout /x/qa/model, re-reading 3, scout weight 0.5)"
    assert described(alone) == "large (scout none)"
    budgeted = {**newer, "budget": 1536}
    assert described(budgeted) == "large (scout /x/qa/model, re-reading 3, scout weight 0.5, a budget of 1536 tokens)"
    with pytest.raises(SystemExit):
        main(["read", "large", "--out", str(tmp_path / "r.json"), "--sets", "articles,nonsense"])
    assert "unknown sets: nonsense" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
