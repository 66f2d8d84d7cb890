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

    calibration = {"features": ["margin", "similarity"], "weights": [1.0, 4.0], "bias": -1.0,
                   "means": {"margin": 0.0, "similarity": 0.5}}
    assert calibrated_confidence(calibration, {"margin": 1.0, "similarity": None}) == \
        calibrated_confidence(calibration, {"margin": 1.0, "similarity": 0.5})
    assert calibrated_confidence(calibration, {"margin": 1.0, "similarity": 0.1}) < \
        calibrated_confidence(calibration, {"margin": 1.0, "similarity": None})
