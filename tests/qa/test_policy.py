"""qa/policy.py: abstention, confidence and what the calibration sees of an answer."""

import math


def test_policy_abstains_on_the_no_answer_score_or_below_the_calibrated_bar():
    from articleqa.qa.policy import AnswerPolicy
    from articleqa.qa.reader import ReaderOutput, Span

    sure = ReaderOutput((Span("1932", 0, 0, 4, 0.6, 2.0),), -2.5, 1)
    unsure = ReaderOutput((Span("1932", 0, 0, 4, 0.1, -1.0),), -1.3, 1)
    plain = AnswerPolicy()  # uncalibrated: the SQuAD 2.0 rule, abstain when "no answer" out-scores the span
    assert not plain.judge(sure).abstain and plain.judge(unsure).abstain
    assert plain.judge(ReaderOutput((), 0.0, 0)).abstain
    assert not plain.always_answering().judge(unsure).abstain
    calibrated = AnswerPolicy(calibration={"features": ["margin"], "weights": [1.0], "bias": 0.0}, min_confidence=0.9)
    judged = calibrated.judge(sure)
    assert judged.abstain and abs(judged.confidence - 1 / (1 + math.exp(-2.0))) < 1e-9


def test_answer_features_pool_overlapping_candidates_and_measure_the_rival():
    import math
    from dataclasses import replace

    from articleqa.qa.policy import answer_features
    from articleqa.qa.reader import Span

    best = Span("$10 million", 0, 40, 51, 0.30, 2.0)
    inner = Span("10 million", 0, 41, 51, 0.15, 1.5)  # overlaps: the same answer, split probability
    echo = Span("$10 million", 1, 5, 16, 0.05, 0.5)  # the same words in another passage
    rival = Span("Jolani", 1, 30, 36, 0.10, 0.2)
    features = answer_features(best, [best, inner, echo, rival])
    assert math.isclose(features["log_support"], math.log(0.30 + 0.15 + 0.05))
    assert math.isclose(features["log_lead"], math.log(0.30) - math.log(0.10))
    assert features["passage_rank"] == 0 and features["margin"] == 2.0
    alone = answer_features(best)
    assert alone["log_support"] == alone["log_probability"] and alone["log_lead"] == 10.0
    # what the pipeline measured of its sentence (qa/similarity.py) passes through as it is
    assert answer_features(replace(best, evidence=0.5, similarity=0.7))["similarity"] == 0.7


def test_a_feature_not_measured_counts_as_its_calibration_mean():
    from articleqa.qa.policy import calibrated_confidence

    calibration = {
        "features": ["margin", "similarity"],
        "weights": [1.0, 4.0],
        "bias": -1.0,
        "means": {"margin": 0.0, "similarity": 0.5},
    }
    assert calibrated_confidence(calibration, {"margin": 1.0, "similarity": None}) == calibrated_confidence(
        calibration, {"margin": 1.0, "similarity": 0.5}
    )
    assert calibrated_confidence(calibration, {"margin": 1.0, "similarity": 0.1}) < calibrated_confidence(
        calibration, {"margin": 1.0, "similarity": None}
    )


def test_alternatives_are_distinct_answers_whose_confidences_never_add_up_past_one():
    from articleqa.qa.policy import AnswerPolicy
    from articleqa.qa.reader import ReaderOutput, Span

    best = Span("2016", 0, 100, 104, 0.40, 2.0)
    contains_it = Span("in 2016", 0, 97, 104, 0.30, 1.9)  # not another answer: it says the same
    rival = Span("2018", 0, 200, 204, 0.30, 1.5)
    third = Span("2011", 1, 10, 14, 0.20, 1.4)
    faint = Span("1982", 1, 50, 54, 0.05, 1.3)  # under a third of the best's probability
    output = ReaderOutput((best, contains_it, rival, third, faint), -2.0, 2)
    policy = AnswerPolicy(calibration={"features": ["margin"], "weights": [1.0], "bias": 0.0}, min_confidence=0.05)
    judged = policy.judge(output)
    # on its own each would be shown at ~0.8, and 2016, 2018 and 2011 can't all be right
    shown = [span.text for span, _ in judged.alternatives]
    assert shown == ["2018"]  # 2011 had nothing left above the bar
    assert judged.confidence + sum(c for _, c in judged.alternatives) <= 1.0 + 1e-9
    assert all(c < policy.confidence(span, output.spans) for span, c in judged.alternatives)


def test_a_fit_over_alternatives_rescales_their_confidence_by_the_best_answers():
    from articleqa.qa.policy import alternative_confidence

    fitted = {"weights": [1.0, -1.0], "bias": -0.5}
    assert alternative_confidence(None, 0.6, 0.7) == 0.6  # no fit: its own confidence
    assert alternative_confidence(fitted, 0.6, 0.9) < alternative_confidence(fitted, 0.6, 0.5)
    assert alternative_confidence(fitted, 0.7, 0.5) > alternative_confidence(fitted, 0.4, 0.5)
    assert math.isclose(alternative_confidence(fitted, 0.5, 0.5), 1 / (1 + math.exp(0.5)))
