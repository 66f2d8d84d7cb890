"""`articleqa eval`: the reader on gold paragraphs, and the whole pipeline over a corpus of articles."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from articleqa.index.documents import Article
from articleqa.qa.evaluation.reliability import draw_reliability, expected_calibration_error
from articleqa.qa.evaluation.squad_data import SquadQuestion, load_squad, read_squad_json
from articleqa.qa.evaluation.squad_metric import score_one, squad_scores
from articleqa.qa.policy import AnswerPolicy, Judgement
from articleqa.qa.reader import ExtractiveReader
from articleqa.qa.similarity import SentenceSimilarity
from articleqa.qa.text import holds_answer


@dataclass
class EvalResult:
    scores: dict[str, float]
    predictions: dict[str, str]
    seconds_per_question: float
    extra: dict[str, float] = field(default_factory=dict)

    def write_predictions(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.predictions, ensure_ascii=False, indent=1))


def _timed_predictions(
    questions: list[SquadQuestion], predict: Callable[[SquadQuestion], str], progress: bool
) -> tuple[dict[str, str], float]:
    started = time.perf_counter()
    predictions = {q.id: predict(q) for q in tqdm(questions, disable=not progress, desc="questions")}
    return predictions, (time.perf_counter() - started) / max(1, len(questions))


def judged_in_context(
    reader: ExtractiveReader, policy: AnswerPolicy, q: SquadQuestion, similarity: SentenceSimilarity | None
) -> Judgement:
    """The question read against its own context and judged by `policy`; the spans get their `similarity`
    where it is given (the policy's confidence needs it, a decision always to answer does not)."""
    output = reader.read(q.question, [q.context], top_k=4)
    if similarity is not None:
        output = similarity.annotate_one(q.question, [q.context], output)
    return policy.judge(output)


def evaluate_gold_paragraphs(
    reader: ExtractiveReader,
    policy: AnswerPolicy,
    questions: list[SquadQuestion],
    progress: bool = False,
    similarity: SentenceSimilarity | None = None,
) -> EvalResult:
    """Each question against its own paragraph. In a v2.0 file (with unanswerable questions) an
    abstention is predicted as ""; a v1.1 file is scored as v1.1 is: every question gets a span. The
    policy's confidence needs each span's `similarity` (the product's, given as `similarity`)."""
    if not any(not q.answerable for q in questions):
        policy = policy.always_answering()

    def predict(q: SquadQuestion) -> str:
        judgement = judged_in_context(reader, policy, q, similarity if policy.abstains else None)
        return "" if judgement.abstain or judgement.best is None else judgement.best.text

    predictions, per_question = _timed_predictions(questions, predict, progress)
    return EvalResult(squad_scores(predictions, {q.id: q.answers for q in questions}), predictions, per_question)


def articles_of(path: str | Path) -> list[Article]:
    """Each article of a SQuAD file, titled, its paragraphs whole as its body."""
    result = []
    for article in read_squad_json(path)["data"]:
        title = article.get("title", "").replace("_", " ") or "Untitled"
        result.append(Article(title, "\n\n".join(p["context"] for p in article["paragraphs"])))
    return result


def evaluate_articles(
    app, path: str | Path, limit: int | None = None, progress: bool = False, reliability_png: str | Path | None = None
) -> EvalResult:
    """Index every article of the file into `app` (a fresh ArticleQA), then ask every question."""
    started = time.perf_counter()
    app.indexer.add_articles(articles_of(path), progress=progress)
    build_seconds = time.perf_counter() - started
    questions = load_squad(path)[:limit] if limit else load_squad(path)
    recall_hits, windows = 0, 0
    always: dict[str, str] = {}  # the best span of each reading, whatever the policy decides
    confidences: list[float] = []
    right: list[bool] = []  # would the best span be right (F1 >= 0.5) if it were shown

    def predict(q: SquadQuestion) -> str:
        nonlocal recall_hits, windows
        reading = app.read(q.question)
        windows += reading.output.windows
        # recall: the gold answer is in the text the reader got
        if any(holds_answer(p.text, a) for p in reading.passages for a in q.answers):
            recall_hits += 1
        answer = app.decide(reading)
        always[q.id] = reading.best.text if reading.best is not None else ""
        if reading.best is not None:
            confidences.append(answer.score)
            right.append(bool(q.answers) and score_one(reading.best.text, q.answers)[1] >= 0.5)
        return answer.answer or ""

    predictions, per_question = _timed_predictions(questions, predict, progress)
    golds = {q.id: q.answers for q in questions}
    scores, always_scores = squad_scores(predictions, golds), squad_scores(always, golds)
    answerable = sum(1 for q in questions if q.answers) or 1
    ece, table = expected_calibration_error(confidences, right)
    if reliability_png:
        draw_reliability(
            {"articleqa confidence": table}, Path(reliability_png), f"Reliability on {Path(path).name} (ECE {ece:.1f})"
        )
    return EvalResult(
        scores,
        predictions,
        per_question,
        {
            "recall": 100.0 * recall_hits / answerable,
            "windows_per_question": windows / max(1, len(questions)),
            "index_seconds": build_seconds,
            "sentences": len(app.store),
            "ece": ece,
            "declined": float(sum(1 for p in predictions.values() if not p)),
            "always_answering_f1": always_scores["f1"],
            "always_answering_exact": always_scores["exact"],
        },
    )
