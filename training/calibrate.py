"""Calibrate a reader's confidence where the product uses it, and store the result beside its weights.

    python -m training.calibrate MODEL_DIR [--data-dir ../shared/data/qa] [--report OUT_DIR] [--precision 0.7]

Observations come from the whole pipeline (hybrid retrieval over articles, then the reader), not from
gold paragraphs: a reader that is sure of a span in its gold paragraph is often less sure across two
retrieved passages, and a threshold fitted on gold paragraphs declined half of the answerable questions.
* in-corpus: every SQuAD 1.1 `val` question and every SQuAD 2.0 `val` unanswerable one, asked of an
  index of all `val` articles;
* out-of-corpus: questions about one `val` article asked of an index of the other articles (the right
  reply is "the articles don't say", like "What is the population of Hama?" on the seed).
Confidence: a logistic regression over `answer_features` (span margin and probability, the mass of
agreeing candidates, the lead over the best rival, the passage's retrieval rank) predicting whether the
shown answer is right (token F1 >= 0.5), for the stated MIX of questions. Abstention: the confidence
threshold that maximises F1 over the MIX (a decline scores 1 on a question without an answer, 0 on one
with), or with --precision the lowest confidence at which that share of the answers shown is right. Every
figure is cross-validated by article (fit on the other articles, measured on the held-out one); the stored
calibration is then fitted on all of `val`. The other answers a reading offers (policy.distinct_alternatives)
get a fit of their own over the same readings, from their calibrated confidence and the best answer's: the
best answer's calibration, applied to them, said 50 % where 28 % were right.
Writes `articleqa_reader.json` into MODEL_DIR, and `calibration.json`, `reliability.png`,
`reliability-alternatives.png` and the raw observations into --report.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from tqdm import tqdm

from articleqa.config import Settings
from articleqa.index.documents import Article
from articleqa.index.embedder import Embedder
from articleqa.qa.cascade import CascadeReader
from articleqa.qa.evaluation.reliability import draw_reliability, expected_calibration_error
from articleqa.qa.evaluation.run import articles_of
from articleqa.qa.evaluation.squad_data import SquadQuestion, load_squad
from articleqa.qa.evaluation.squad_metric import score_one
from articleqa.qa.pipeline import ArticleQA, reader_from_settings
from articleqa.qa.policy import (
    FEATURES,
    alternative_confidence,
    alternatives_shown,
    answer_features,
    calibrated_confidence,
    distinct_alternatives,
    logit,
)
from articleqa.qa.reader import READER_CONFIG, ExtractiveReader
from training import DEFAULT_DATA_DIR

# The mix of questions the confidence is calibrated for. Observations are weighted to it, because a
# confidence means "right this often" only for a given mix: SQuAD 2.0's unanswerable questions are
# adversarial (written to have a plausible wrong answer in the paragraph) and make up a third of the raw
# sample; unweighted, they capped the share right at ~60 % even for the surest answers. Users of a news
# QA tool mostly ask what the articles cover, sometimes what they don't, rarely a trap.
MIX = {"answerable": 0.7, "out-of-corpus": 0.2, "unanswerable": 0.1}


@dataclass
class Observation:
    title: str  # the article the question is about (the fold it belongs to)
    kind: str  # "answerable", "unanswerable" (in the corpus, no answer) or "out-of-corpus"
    answer: str
    f1: float  # token F1 of the best span against the gold answers (0 when there is no answer)
    features: dict[str, float]
    # the other answers the reading could show (policy.distinct_alternatives): {"answer", "f1", "features"}
    alternatives: list[dict] = field(default_factory=list)

    @property
    def right(self) -> bool:
        return self.f1 >= 0.5


def observe(app: ArticleQA, questions: list[SquadQuestion], kind: str) -> list[Observation]:
    result = []
    for q in tqdm(questions, desc=kind, mininterval=10):
        reading = app.read(q.question)
        best = reading.best
        if best is None:
            continue

        def f1(text: str, golds: list[str] = q.answers) -> float:
            return score_one(text, golds)[1] if kind == "answerable" else 0.0

        alternatives = [
            {"answer": span.text, "f1": f1(span.text), "features": answer_features(span, reading.spans)}
            for span in distinct_alternatives(best, reading.spans)
        ]
        result.append(
            Observation(q.title, kind, best.text, f1(best.text), answer_features(best, reading.spans), alternatives)
        )
    return result


def collect(
    reader: ExtractiveReader | CascadeReader,
    embedder: Embedder,
    data_dir: Path,
    out_of_corpus_per_article: int,
    seed: int,
) -> list[Observation]:
    settings = replace(Settings.from_env(), data_dir=Path(tempfile.mkdtemp()))
    v1 = data_dir / "squad-v1.1-dev.val.json.gz"
    articles = articles_of(v1)
    answerable = load_squad(v1)
    unanswerable = [q for q in load_squad(data_dir / "squad-v2.0-dev.val.json.gz") if not q.answerable]

    def app_over(chosen: list[Article]) -> ArticleQA:
        app = ArticleQA.from_settings(settings, in_memory=True, embedder=embedder, reader=reader)
        app.indexer.add_articles(chosen)
        return app

    everything = app_over(articles)
    observations = observe(everything, answerable, "answerable") + observe(everything, unanswerable, "unanswerable")
    rng = random.Random(seed)
    for article in articles:
        title = article.title.replace(" ", "_")
        about = [q for q in answerable if q.title == title]
        others = app_over([a for a in articles if a is not article])
        observations += observe(others, rng.sample(about, min(out_of_corpus_per_article, len(about))), "out-of-corpus")
    return observations


def mix_weights(observations: list[Observation]) -> list[float]:
    """Per observation: its kind's share in MIX over its share in the sample."""
    counts = {kind: sum(o.kind == kind for o in observations) for kind in MIX}
    return [MIX[o.kind] * len(observations) / counts[o.kind] for o in observations]


def fit(observations: list[Observation]) -> dict:
    """Logistic regression on standardised features, stored with the scaling folded into the weights."""
    x = np.array([[o.features[name] for name in FEATURES] for o in observations])
    y = np.array([o.right for o in observations], dtype=int)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    sample_weight = mix_weights(observations)
    model = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, y, sample_weight=sample_weight)
    weights = model.coef_[0] / scale
    bias = float(model.intercept_[0] - np.sum(model.coef_[0] * mean / scale))
    # what a feature counts as where it was not measured (calibrated_confidence): its mean over the MIX
    means = np.average(x, axis=0, weights=sample_weight)
    return {
        "features": list(FEATURES),
        "weights": weights.tolist(),
        "bias": bias,
        "means": dict(zip(FEATURES, means.round(6).tolist(), strict=True)),
        "target": "token F1 >= 0.5 of the answer shown, over retrieved passages",
        "mix": MIX,
    }


def fit_alternatives(observations: list[Observation], calibration: dict) -> dict | None:
    """P(an alternative is right) from its own calibrated confidence and the best answer's: a logistic
    regression over every alternative a reading offers, weighted to the MIX as its reading is. Applied
    unchanged to answers ranked below the best, `calibration` overstates them."""
    x, y, sample_weight = [], [], []
    for o, weight in zip(observations, mix_weights(observations), strict=True):
        best = calibrated_confidence(calibration, o.features)
        for alternative in o.alternatives:
            x.append([logit(calibrated_confidence(calibration, alternative["features"])), logit(best)])
            y.append(alternative["f1"] >= 0.5)
            sample_weight.append(weight)
    if len(set(y)) < 2:
        return None
    model = LogisticRegression(C=1.0, max_iter=1000).fit(
        np.array(x), np.array(y, dtype=int), sample_weight=sample_weight
    )
    return {
        "features": ["logit_confidence", "logit_best_confidence"],
        "weights": model.coef_[0].tolist(),
        "bias": float(model.intercept_[0]),
        "target": "token F1 >= 0.5 of an alternative answer shown",
    }


def alternatives_outcome(
    observations: list[Observation],
    calibrations: list[dict],
    thresholds: list[float],
    limit: int = 3,
    capped: bool = True,
) -> dict:
    """The alternatives a user sees beside the answers shown (per observation its fold's calibration and
    threshold), how sure they are said to be and how often they are right, over the weighted MIX.
    `capped=False`: as the product showed them up to session 19, each at its own confidence."""
    confidences, right, weights = [], [], []
    for o, calibration, threshold, weight in zip(
        observations, calibrations, thresholds, mix_weights(observations), strict=True
    ):
        best = calibrated_confidence(calibration, o.features)
        if best < threshold:
            continue
        own = [calibrated_confidence(calibration, a["features"]) for a in o.alternatives]
        fitted = calibration.get("alternatives")
        if capped:
            shown = alternatives_shown(
                best,
                (alternative_confidence(fitted, c, best) for c in own),
                lambda i, c, threshold=threshold: c >= threshold,
                limit,
            )
        else:
            shown = [(i, c) for i, c in enumerate(own) if c >= threshold][:limit]
        for i, confidence in shown:
            confidences.append(confidence)
            right.append(o.alternatives[i]["f1"] >= 0.5)
            weights.append(weight)
    ece, table = expected_calibration_error(confidences, right, weights=weights) if confidences else (0.0, [])
    total = sum(weights) or 1.0
    return {
        "shown": len(confidences),
        "mean_confidence": round(100 * sum(c * w for c, w in zip(confidences, weights, strict=True)) / total, 1),
        "right_pct": round(100 * sum(w for r, w in zip(right, weights, strict=True) if r) / total, 1),
        "ece": round(ece, 2),
        "reliability": table,
    }


def threshold_for_precision(
    confidences: list[float], right: list[bool], weights: list[float], precision: float
) -> float:
    """The lowest confidence above which the answers shown are right at least `precision` of the time."""
    order = np.argsort(confidences)[::-1]
    hits = shown = 0.0
    best = 1.01
    for i in order:
        hits += weights[i] * right[i]
        shown += weights[i]
        if hits / shown >= precision:
            best = confidences[i]
    return float(best)


def threshold_for_f1(confidences: list[float], observations: list[Observation], weights: list[float]) -> float:
    """The confidence threshold that maximises F1 over the weighted MIX: an answer shown scores its token
    F1 (0 for a question the articles don't answer), a decline scores 1 where there is no answer, else 0."""
    order = np.argsort(confidences)[::-1]
    # start from declining everything, then show answers from the most confident down
    total = sum(w for w, o in zip(weights, observations, strict=True) if o.kind != "answerable")
    best_total, best = total, 1.01
    for i in order:
        o = observations[i]
        total += weights[i] * (o.f1 if o.kind == "answerable" else -1.0)
        if total > best_total:
            best_total, best = total, confidences[i]
    return float(best)


def expected_f1(
    observations: list[Observation], shown: list[bool], weights: list[float] | None = None, digits: int | None = 1
) -> float:
    """F1 (in %) of showing the answers marked `shown` and declining the rest, over the weighted MIX."""
    weights = weights or [1.0] * len(observations)
    score = sum(
        w * ((o.f1 if o.kind == "answerable" else 0.0) if s else float(o.kind != "answerable"))
        for w, s, o in zip(weights, shown, observations, strict=True)
    )
    f1 = 100 * score / sum(weights)
    return round(f1, digits) if digits is not None else f1


def stated_mix_f1_se(
    observations: list[Observation], shown: list[bool], baseline: list[bool] | None = None, resamples: int = 300
) -> float:
    """The bootstrap standard error of expected_f1 over the weighted MIX, or with `baseline` (another choice
    of answers shown, the same observations) of the difference from it (questions resampled, each draw
    weighted to the MIX anew), so that two calibrations' figures can be told apart from noise."""
    rng = np.random.default_rng(0)
    scores = []
    for _ in range(resamples):
        drawn = rng.integers(0, len(observations), len(observations))
        sample = [observations[i] for i in drawn]
        if {o.kind for o in sample} != set(MIX):  # a draw without a kind has no weight for it
            continue
        weights = mix_weights(sample)
        score = expected_f1(sample, [shown[i] for i in drawn], weights, digits=None)
        if baseline is not None:
            score -= expected_f1(sample, [baseline[i] for i in drawn], weights, digits=None)
        scores.append(score)
    return round(float(np.std(scores)), 2)


def outcome(observations: list[Observation], confidences: list[float], thresholds: list[float]) -> dict[str, float]:
    """What the user sees with these confidences and thresholds (one per observation: cross-validation
    uses each fold's own); precision is over the weighted MIX, the rest per kind of question."""
    weights = mix_weights(observations)
    shown = [c >= t for c, t in zip(confidences, thresholds, strict=True)]
    shown_weight = sum(w for w, s in zip(weights, shown, strict=True) if s)

    def share(kind: str, test) -> float:
        members = [i for i, o in enumerate(observations) if o.kind == kind]
        return round(100 * sum(1 for i in members if test(i)) / max(1, len(members)), 1)

    answerable = [o for o in observations if o.kind == "answerable"]
    return {
        "f1_stated_mix": expected_f1(observations, shown, weights),
        "f1_stated_mix_se": stated_mix_f1_se(observations, shown),
        "f1_answerable_only": expected_f1(
            answerable, [s for s, o in zip(shown, observations, strict=True) if o.kind == "answerable"]
        ),
        "f1_answerable_only_always_answering": expected_f1(answerable, [True] * len(answerable)),
        "precision_of_answers_shown": round(
            100
            * sum(w for w, s, o in zip(weights, shown, observations, strict=True) if s and o.right)
            / max(shown_weight, 1e-9),
            1,
        ),
        "answerable_answered_pct": share("answerable", lambda i: shown[i]),
        "answerable_answered_right_pct": share("answerable", lambda i: shown[i] and observations[i].right),
        "unanswerable_declined_pct": share("unanswerable", lambda i: not shown[i]),
        "out_of_corpus_declined_pct": share("out-of-corpus", lambda i: not shown[i]),
    }


def choose_threshold(confidences: list[float], observations: list[Observation], precision: float | None) -> float:
    weights = mix_weights(observations)
    if precision:
        return threshold_for_precision(confidences, [o.right for o in observations], weights, precision)
    return threshold_for_f1(confidences, observations, weights)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument(
        "--precision",
        type=float,
        default=None,
        help="abstain for this share of answers shown right (default: maximise F1 on the mix)",
    )
    parser.add_argument("--out-of-corpus", type=int, default=100, help="questions per held-out article")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--runtime", default="auto", help="auto (ONNX Runtime where exported), onnx or torch")
    parser.add_argument("--reuse", action="store_true", help="refit from the report's stored observations")
    parser.add_argument(
        "--scout",
        default="",
        help="calibrate the cascade this smaller reader scouts for MODEL_DIR (qa/cascade.py; 'shipped': the shipped one)",
    )
    parser.add_argument(
        "--reread", type=int, default=None, help="with --scout: the scout's answers re-read (default: the product's)"
    )
    parser.add_argument(
        "--scout-weight",
        type=float,
        default=None,
        help="with --scout: the share of the scout's judgement (default: the product's)",
    )
    args = parser.parse_args(argv)
    # the product's settings, with the reading named here (unnamed: the product's own reread and weight)
    settings = Settings.from_env(
        reader=str(args.model),
        runtime=args.runtime,
        scout=args.scout,
        reread=args.reread,
        scout_weight=args.scout_weight,
    )
    report_dir = args.report or args.model
    report_dir.mkdir(parents=True, exist_ok=True)
    stored = report_dir / "calibration-observations.jsonl"

    if args.reuse and stored.exists():
        observations = [Observation(**json.loads(line)) for line in stored.read_text().splitlines()]
    else:
        # read as the product reads with these settings (a cascade where --scout names one)
        reader = reader_from_settings(settings)
        observations = collect(reader, Embedder(runtime=args.runtime), args.data_dir, args.out_of_corpus, args.seed)
        stored.write_text("".join(json.dumps(asdict(o)) + "\n" for o in observations))

    right = [o.right for o in observations]
    weights = mix_weights(observations)
    folds: dict[str, tuple[dict, float]] = {}  # article -> (calibration, threshold) fitted without it
    for title in sorted({o.title for o in observations}):  # leave one article out: fit on the others
        train = [o for o in observations if o.title != title]
        calibration = fit(train)
        calibration["alternatives"] = fit_alternatives(train, calibration)
        folds[title] = (
            calibration,
            choose_threshold([calibrated_confidence(calibration, o.features) for o in train], train, args.precision),
        )
    # each observation measured with its own article's fold
    held_calibration = [folds[o.title][0] for o in observations]
    held_threshold = [folds[o.title][1] for o in observations]
    held = [calibrated_confidence(c, o.features) for c, o in zip(held_calibration, observations, strict=True)]

    raw = [float(np.exp(o.features["log_probability"])) for o in observations]
    ece_raw, table_raw = expected_calibration_error(raw, right, weights=weights)
    ece_held, table_held = expected_calibration_error(held, right, weights=weights)
    tables = {"raw span probability": table_raw, "calibrated (held-out articles)": table_held}
    figures = {
        "observations": {kind: sum(o.kind == kind for o in observations) for kind in MIX},
        "mix": MIX,
        "ece_raw_probability": round(ece_raw, 2),
    }
    config_path = args.model / READER_CONFIG
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    if config.get("calibration"):
        previous = [calibrated_confidence(config["calibration"], o.features) for o in observations]
        ece_previous, tables["previous calibration"] = expected_calibration_error(previous, right, weights=weights)
        figures["ece_previous_calibration"] = round(ece_previous, 2)
        previous_threshold = config.get("min_confidence") or 0.0
        figures["previous_threshold_outcome"] = outcome(
            observations, previous, [previous_threshold] * len(observations)
        )
        # the refit against the calibration it replaces, on these readings: is the change more than noise?
        held_shown = [c >= t for c, t in zip(held, held_threshold, strict=True)]
        previous_shown = [c >= previous_threshold for c in previous]
        figures["stated_mix_f1_refit_minus_previous"] = {
            "difference": round(
                expected_f1(observations, held_shown, weights, None)
                - expected_f1(observations, previous_shown, weights, None),
                2,
            ),
            "standard_error": stated_mix_f1_se(observations, held_shown, previous_shown),
        }

    calibration = fit(observations)
    calibration["alternatives"] = fit_alternatives(observations, calibration)
    confidences = [calibrated_confidence(calibration, o.features) for o in observations]
    threshold = choose_threshold(confidences, observations, args.precision)
    unfitted = [{**c, "alternatives": None} for c in held_calibration]
    alternatives = {
        "cross_validated": alternatives_outcome(observations, held_calibration, held_threshold),
        "best_answer_calibration_capped": alternatives_outcome(observations, unfitted, held_threshold),
    }
    if config.get("calibration"):
        alternatives["previous_calibration_uncapped"] = alternatives_outcome(
            observations,
            [config["calibration"]] * len(observations),
            [config.get("min_confidence") or 0.0] * len(observations),
            capped=False,
        )
    figures.update(
        {
            "ece_calibrated_cross_validated": round(ece_held, 2),
            "target_precision": args.precision,
            "min_confidence": round(threshold, 4),
            "cross_validated_outcome": outcome(observations, held, held_threshold),
            "reliability_calibrated_cross_validated": table_held,
            "reliability_answerable_only_cross_validated": expected_calibration_error(
                [c for c, o in zip(held, observations, strict=True) if o.kind == "answerable"],
                [o.right for o in observations if o.kind == "answerable"],
            )[1],
            "alternatives": alternatives,
        }
    )
    config.update(
        {
            "calibration": calibration,
            "min_confidence": round(threshold, 4),
            "abstention": f"precision {args.precision}" if args.precision else "max F1 on the stated mix",
            # the readings it was fitted on: the reader alone, or a cascade that a scout reads for
            "calibrated_reading": (
                {"scout": args.scout, "reread": settings.reread, "scout_weight": settings.scout_weight}
                if args.scout
                else "alone"
            ),
        }
    )
    config_path.write_text(json.dumps(config, indent=2))
    (report_dir / "calibration.json").write_text(json.dumps(figures, indent=2))
    draw_reliability(
        {
            "own confidence, as shown up to session 19": alternatives.get(
                "previous_calibration_uncapped", alternatives["best_answer_calibration_capped"]
            )["reliability"],
            "capped (best's and theirs <= 1)": alternatives["best_answer_calibration_capped"]["reliability"],
            "fitted and capped (held-out articles)": alternatives["cross_validated"]["reliability"],
        },
        report_dir / "reliability-alternatives.png",
        "Reliability of the other possible answers shown",
    )
    draw_reliability(tables, report_dir / "reliability.png", "Reliability over retrieved passages, SQuAD val articles")
    print(json.dumps({k: v for k, v in figures.items() if not k.startswith("reliability")}, indent=2))


if __name__ == "__main__":
    main()
