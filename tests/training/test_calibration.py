import math

from articleqa.qa.evaluation.reliability import draw_reliability, expected_calibration_error
from articleqa.qa.policy import calibrated_confidence
from training.calibrate import MIX, Observation, fit, mix_weights, outcome, threshold_for_precision


def _observation(kind: str, margin: float, right: bool, title: str = "A") -> Observation:
    features = {
        "margin": margin,
        "log_probability": math.log(0.5),
        "log_support": math.log(0.6),
        "log_lead": 1.0,
        "passage_rank": 0.0,
        "evidence": 0.5,
        "similarity": 0.4,
    }
    return Observation(title, kind, "x", 1.0 if right else 0.0, features)


def test_ece_is_zero_when_confidence_matches_the_share_right_and_weights_count():
    confidences = [0.8] * 10
    right = [True] * 8 + [False] * 2
    ece, table = expected_calibration_error(confidences, right)
    assert math.isclose(ece, 0.0, abs_tol=1e-9) and table[0][2] == 10
    # Weighting the two wrong answers up makes 0.8 overconfident.
    ece, _ = expected_calibration_error(confidences, right, weights=[1] * 8 + [4, 4])
    assert math.isclose(ece, 100 * abs(0.8 - 8 / 16))


def test_mix_weights_make_each_kind_count_as_stated():
    sample = (
        [_observation("answerable", 1, True)] * 6
        + [_observation("unanswerable", 0, False)] * 3
        + [_observation("out-of-corpus", -1, False)] * 1
    )
    weights = mix_weights(sample)
    for kind, share in MIX.items():
        total = sum(w for w, o in zip(weights, sample, strict=True) if o.kind == kind)
        assert math.isclose(total / sum(weights), share)


def test_threshold_reaches_the_stated_precision_and_fit_orders_by_evidence(tmp_path):
    sample = []
    for i in range(200):  # higher margin, more often right
        margin = i / 20
        sample.append(_observation("answerable", margin, right=(i % 10) < i / 20, title=f"T{i % 4}"))
        sample.append(_observation("out-of-corpus", margin - 6, right=False, title=f"T{i % 4}"))
        sample.append(_observation("unanswerable", margin - 3, right=False, title=f"T{i % 4}"))
    calibration = fit(sample)
    # a feature's mean over the stated mix, for answers where it was not measured
    assert (
        calibration["means"]["similarity"] == 0.4
        and calibration["means"]["margin"] < sum(o.features["margin"] for o in sample if o.kind == "answerable") / 200
    )
    confidences = [calibrated_confidence(calibration, o.features) for o in sample]
    assert confidences[3 * 150] > confidences[3 * 20]  # more margin, more confidence
    threshold = threshold_for_precision(confidences, [o.right for o in sample], mix_weights(sample), 0.8)
    seen = outcome(sample, confidences, [threshold] * len(sample))
    assert seen["precision_of_answers_shown"] >= 80.0
    assert seen["out_of_corpus_declined_pct"] > 90.0
    png = tmp_path / "r.png"
    draw_reliability({"calibrated": expected_calibration_error(confidences, [o.right for o in sample])[1]}, png, "t")
    assert png.stat().st_size > 1000


def test_alternatives_are_fitted_below_the_best_answers_calibration():
    from training.calibrate import alternatives_outcome, fit_alternatives

    sample = []
    for i in range(200):  # a reading's second answer, as sure-looking as the first, right one time in five
        o = _observation("answerable", i / 20, right=(i % 10) < i / 20, title=f"T{i % 4}")
        o.alternatives.append({"answer": "y", "f1": 1.0 if i % 5 == 0 else 0.0, "features": dict(o.features)})
        sample.append(o)
        sample.append(_observation("out-of-corpus", i / 20 - 6, right=False, title=f"T{i % 4}"))
    calibration = fit(sample)
    plain = alternatives_outcome(sample, [calibration] * len(sample), [0.0] * len(sample), capped=False)
    calibration["alternatives"] = fit_alternatives(sample, calibration)
    fitted = alternatives_outcome(sample, [calibration] * len(sample), [0.0] * len(sample))
    assert plain["mean_confidence"] > plain["right_pct"] + 20  # the best answer's calibration overstates them
    assert fitted["ece"] < plain["ece"] / 2 and fitted["shown"] == plain["shown"] == 200
    assert abs(fitted["mean_confidence"] - fitted["right_pct"]) < 5


def test_stated_mix_f1_has_a_standard_error_that_shrinks_with_more_questions_and_pairs_a_change():
    from training.calibrate import expected_f1, stated_mix_f1_se

    def sample(n: int) -> list[Observation]:
        return [
            _observation(kind, 0.0, right=i % 3 != 0, title=f"T{i % 4}")
            for i in range(n)
            for kind in ("answerable", "unanswerable", "out-of-corpus")
        ]

    small, large = sample(40), sample(640)
    se_small = stated_mix_f1_se(small, [o.kind == "answerable" for o in small])
    se_large = stated_mix_f1_se(large, [o.kind == "answerable" for o in large])
    assert 0 < se_large < se_small / 2  # 16 times the questions: about a quarter of the error
    # two choices of what to show that differ on two questions of 120: their difference is surer than either
    shown = [o.kind == "answerable" for o in small]
    changed = [not s if i % 60 == 1 else s for i, s in enumerate(shown)]  # two unanswerable shown
    assert expected_f1(small, shown, mix_weights(small), None) != expected_f1(small, changed, mix_weights(small), None)
    assert 0 < stated_mix_f1_se(small, changed, shown) < se_small
