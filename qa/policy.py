"""The answer policy: how sure an answer is (calibrated confidence) and whether to give it at all.

One place decides, once per reading: the reader only scores spans and "no answer" (qa/reader.py). The
confidence is a logistic regression over an answer's features, fitted on `val` where the product uses it
(over retrieved passages; training/calibrate.py), so a shown 0.8 means right ~80 % of the time for
the stated question mix. Abstention is a threshold on that confidence, chosen on `val` to maximise F1
for the mix; without a calibration, the SQuAD 2.0 rule: abstain when "no answer" out-scores the best span.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from articleqa.qa.reader import ReaderOutput, Span, reader_settings
from articleqa.qa.text import normalize_answer

FEATURES = ("margin", "log_probability", "log_support", "log_lead", "passage_rank", "evidence", "similarity")


@dataclass(frozen=True)
class Judgement:
    """The policy's verdict on one reading."""

    best: Span | None
    confidence: float  # P(best is right), in [0, 1]
    abstain: bool  # True: the articles (as far as the reader sees) don't hold the answer
    alternatives: tuple[tuple[Span, float], ...] = ()  # other distinct answers worth showing, with confidence


@dataclass(frozen=True)
class AnswerPolicy:
    calibration: dict | None = None  # {"features", "weights", "bias"} from training/calibrate.py
    min_confidence: float | None = None  # abstain below this (with a calibration)
    abstains: bool = True  # False: always answer (to measure the reader alone, or compare with readers that do)
    alternatives: int = 3

    @classmethod
    def for_reader(cls, name_or_path: str | Path, **overrides) -> AnswerPolicy:
        """The policy stored beside a reader's weights (an uncalibrated one for readers without it)."""
        settings = reader_settings(name_or_path)
        return cls(calibration=settings.get("calibration"), min_confidence=settings.get("min_confidence"), **overrides)

    def always_answering(self) -> AnswerPolicy:
        return replace(self, abstains=False)

    def confidence(self, span: Span, spans: tuple[Span, ...] | list[Span] = ()) -> float:
        """P(the span is right), given all candidates of its reading (they tell how much the evidence agrees)."""
        if not self.calibration:
            return _sigmoid(span.margin)
        return calibrated_confidence(self.calibration, answer_features(span, spans))

    def _declines(self, confidence: float, span: Span) -> bool:
        if not self.abstains:
            return False
        if self.calibration and self.min_confidence is not None:
            return confidence < self.min_confidence
        return span.margin < 0.0

    def judge(self, output: ReaderOutput) -> Judgement:
        spans = output.spans
        if not spans:
            return Judgement(None, 0.0, True)
        best = spans[0]
        confidence = self.confidence(best, spans)
        if self._declines(confidence, best):
            return Judgement(best, confidence, True)
        return Judgement(best, confidence, False, self._alternatives(best, spans, confidence))

    def _alternatives(
        self, best: Span, spans: tuple[Span, ...], best_confidence: float
    ) -> tuple[tuple[Span, float], ...]:
        candidates = list(distinct_alternatives(best, spans))
        confidences = (self.confidence_of_alternative(span, spans, best_confidence) for span in candidates)
        shown = alternatives_shown(
            best_confidence,
            confidences,
            lambda i, confidence: not self._declines(confidence, candidates[i]),
            self.alternatives,
        )
        return tuple((candidates[i], confidence) for i, confidence in shown)

    def confidence_of_alternative(
        self, span: Span, spans: tuple[Span, ...] | list[Span], best_confidence: float
    ) -> float:
        """P(an answer ranked below the best one is right). The best answer's calibration overstates it
        (on `val` such answers were shown at 0.50 on average and right 0.30 of the time): a second fit over
        the alternatives (`calibrate`) rescales their own confidence given the best answer's."""
        return alternative_confidence(
            (self.calibration or {}).get("alternatives"), self.confidence(span, spans), best_confidence
        )


def distinct_alternatives(best: Span, spans: tuple[Span, ...] | list[Span]) -> Iterator[Span]:
    """Candidates after the best that say something else, close enough in probability to be worth a look
    (at least a third of the best), one per distinct answer text, best first."""
    seen = [normalize_answer(best.text)]
    for span in spans[1:]:
        key = normalize_answer(span.text)
        # "in 2016" is not an alternative to "2016": skip answers that contain one another
        if not key or any(key in other or other in key for other in seen) or span.probability < best.probability / 3:
            continue
        seen.append(key)
        yield span


def alternative_confidence(fitted: dict | None, confidence: float, best_confidence: float) -> float:
    """An alternative's own calibrated confidence, rescaled by the fit over alternatives (`calibrate`:
    logistic regression on its logit and the best answer's); unchanged without one."""
    if not fitted:
        return confidence
    return _sigmoid(
        fitted["bias"] + fitted["weights"][0] * logit(confidence) + fitted["weights"][1] * logit(best_confidence)
    )


def alternatives_shown(
    best_confidence: float, confidences: Iterable[float], keep: Callable[[int, float], bool], limit: int
) -> list[tuple[int, float]]:
    """(index, confidence) of the alternatives to show, best first, at most `limit`: each one's confidence is
    capped so that the best answer's and theirs together never exceed 1 (distinct answers can't all be
    right), and `keep` (the abstention rule) drops the ones it would not give as an answer."""
    result: list[tuple[int, float]] = []
    for i, confidence in enumerate(confidences):
        confidence = max(0.0, min(confidence, 1.0 - best_confidence - sum(c for _, c in result)))
        if keep(i, confidence):
            result.append((i, confidence))
            if len(result) == limit:
                break
    return result


def logit(p: float) -> float:
    """log(p / (1 - p)), p clipped to [1e-6, 1 - 1e-6]."""
    p = min(max(p, 1e-6), 1.0 - 1e-6)
    return math.log(p / (1.0 - p))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def _overlaps(a: Span, b: Span) -> bool:
    return a.passage_index == b.passage_index and a.start < b.end and b.start < a.end


def answer_features(best: Span, spans: tuple[Span, ...] | list[Span] = ()) -> dict[str, float | None]:
    """What the calibration sees of an answer. Besides the span's own scores (its margin over "no answer"
    and its probability): `log_support`, the mass of all candidates that overlap it or say the same
    ("$10 million" and "10 million" split the model's probability between them); `log_lead`, how far it
    is ahead of the best different answer; the rank of its passage in retrieval; how much of the question
    its sentence repeats (qa/evidence.py), and how close it is to the question in meaning (qa/similarity.py)."""
    key = normalize_answer(best.text)
    support = best.probability
    rival = 0.0
    for span in spans:
        if (span.passage_index, span.start, span.end) == (best.passage_index, best.start, best.end):
            continue
        if _overlaps(span, best) or normalize_answer(span.text) == key:
            support += span.probability
        else:
            rival = max(rival, span.probability)
    log_p = math.log(max(best.probability, 1e-9))
    return {
        "margin": best.margin,
        "log_probability": log_p,
        "log_support": math.log(max(min(support, 1.0), 1e-9)),
        "log_lead": min(10.0, log_p - math.log(max(rival, 1e-9))),
        "passage_rank": float(best.passage_index),
        "evidence": best.evidence,
        "similarity": best.similarity,
    }


def calibrated_confidence(calibration: dict, features: dict[str, float | None]) -> float:
    """Logistic regression over the answer's features (weights fitted by training/calibrate.py). A feature
    that was not measured (None: a follow-up's similarity) counts as its mean over the calibration's
    observations, so it moves the confidence neither way."""
    names = calibration.get("features", FEATURES)
    means = calibration.get("means", {})
    z = calibration["bias"] + sum(
        w * (means.get(name, 0.0) if features[name] is None else features[name])
        for w, name in zip(calibration["weights"], names, strict=True)
    )
    return _sigmoid(z)
