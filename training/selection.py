"""Which reader is better: the figures a training run keeps its best checkpoint by, and the GPU sweep ranks
its candidates by (SQuAD `val` only), and the seed checks that come first.

The seed article is what the product is judged on, and every CPU run since session 9 that moved `val` also
lost seed answers: a reader that gets fewer seed questions right than the one it started from ranks after
every one that doesn't, whatever its `val` figures (selection_key).
"""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path

from articleqa.config import SHIPPED_READER, Settings
from articleqa.qa.cascade import CascadeReader
from articleqa.qa.evaluation.squad_data import SquadQuestion, load_squad, read_squad_json
from articleqa.qa.evaluation.squad_metric import score_one
from articleqa.qa.reader import ExtractiveReader, reading_settings

log = logging.getLogger("articleqa.train")


def article_paragraphs(path: Path) -> dict[str, list[str]]:
    return {a.get("title", ""): [p["context"] for p in a["paragraphs"]] for a in read_squad_json(path)["data"]}


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def multi_passage_items(
    questions: list[SquadQuestion], paragraphs: dict[str, list[str]], others: int, seed: int
) -> list[tuple[SquadQuestion, list[str]]]:
    """Each question with its own paragraph and the `others` paragraphs of its article that share the most
    words with the question (what retrieval would also hand over), in random order."""
    rng = random.Random(seed)
    items = []
    for q in questions:
        words = _words(q.question)
        rest = [p for p in paragraphs[q.title] if p != q.context]
        rest.sort(key=lambda p: -len(words & _words(p)))
        passages = [q.context, *rest[:others]]
        rng.shuffle(passages)
        items.append((q, passages))
    return items


def val_samples(data_dir: Path, questions: int, seed: int) -> tuple[list[SquadQuestion], list, list[SquadQuestion]]:
    """What evaluate_reader scores, drawn from `val` with `seed`: `questions` gold-paragraph questions,
    as many with their paragraph among 3 of its article's (multi_passage_items), and as many SQuAD 2.0
    questions (0: all of each)."""
    rng = random.Random(seed)

    def sample(items: list) -> list:
        return rng.sample(items, min(questions, len(items))) if questions > 0 else items

    v1 = data_dir / "squad-v1.1-dev.val.json.gz"
    val = load_squad(v1)
    gold = sample(val)
    multi = multi_passage_items(sample(val), article_paragraphs(v1), 3, seed)
    return gold, multi, sample(load_squad(data_dir / "squad-v2.0-dev.val.json.gz"))


def evaluate_reader(
    reader: ExtractiveReader,
    gold: list[SquadQuestion],
    multi: list[tuple[SquadQuestion, list[str]]],
    v2: list[SquadQuestion],
    chunk: int = 32,
) -> dict[str, float]:
    """Gold-paragraph F1; F1 with each question's paragraph among look-alikes of its article (always
    answering); SQuAD 2.0 F1 at the best no-answer margin (how well the no-answer score separates).
    Questions are read `chunk` at a time (read_many: shared forward passes, the same answers)."""

    def f1(pred: str, q: SquadQuestion) -> float:
        return score_one(pred, q.answers)[1] if q.answers else float(not pred)

    def best_spans(items: list[tuple[SquadQuestion, list[str]]]) -> list:
        outputs = []
        for begin in range(0, len(items), chunk):
            part = items[begin : begin + chunk]
            outputs.extend(reader.read_many([(q.question, passages) for q, passages in part], top_k=1))
        return [out.spans[0] if out.spans else None for out in outputs]

    def mean_f1(items: list[tuple[SquadQuestion, list[str]]]) -> float:
        scores = [f1(span.text if span else "", q) for span, (q, _) in zip(best_spans(items), items, strict=True)]
        return 100 * sum(scores) / max(1, len(scores))

    result = {"gold_f1": mean_f1([(q, [q.context]) for q in gold]), "multi_f1": mean_f1(multi)}
    margins = [
        (span.margin if span else -1e9, f1(span.text, q) if span else 0.0, f1("", q))
        for span, q in zip(best_spans([(q, [q.context]) for q in v2]), v2, strict=True)
    ]
    best = 0.0
    for threshold in sorted({m for m, _, _ in margins} | {1e9}):
        total = sum(answer if m >= threshold else empty for m, answer, empty in margins)
        best = max(best, total)
    result["v2_best_f1"] = 100 * best / max(1, len(margins))
    return result


def seed_checks(reader: ExtractiveReader) -> tuple[int, int]:
    """How many of the seed article's answerable questions, conversation turns (rewritten with the gold
    answers as the history) and paraphrases the reader's best span gets right, reading the whole article as
    the product does: a proxy for the seed acceptance test where the product can't run (its abstention
    depends on a calibration fitted afterwards, so unanswerable questions are left out)."""
    from articleqa.qa.conversation import PronounResolver, Turn
    from articleqa.seed import seed_body, seed_conversation, seed_paraphrases, seed_questions, seed_title

    body, title = seed_body(), seed_title()
    asked, history, resolver = [], [], PronounResolver()
    for item in seed_conversation():
        asked.append((resolver.resolve(item.question, history).question, item.answers))
        history.append(Turn(item.question, item.answers[0] if item.answers else None, title))
    asked += [(item.question, item.answers) for item in seed_questions() + seed_paraphrases()]
    asked = [(question, answers) for question, answers in asked if answers]
    outputs = reader.read_many([(question, [body]) for question, _ in asked], top_k=1)
    right = sum(
        1
        for out, (_, answers) in zip(outputs, asked, strict=True)
        if out.spans and score_one(out.spans[0].text, answers)[0]
    )  # exact match, official normalisation
    return right, len(asked)


def scores_with_seed(reader: ExtractiveReader, scores: dict[str, float]) -> dict[str, float]:
    """`scores` with the seed checks added (seed_right, seed_asked); without them where they fail, since
    they are a proxy and the `val` figures still count."""
    try:
        right, asked = seed_checks(reader)
    except Exception:
        log.exception("seed checks failed")
        return scores
    return {**scores, "seed_right": right, "seed_asked": asked}


def val_mean(scores: dict[str, float]) -> float:
    """The mean of evaluate_reader's three figures: gold paragraphs, look-alike paragraphs, SQuAD 2.0."""
    return (scores["gold_f1"] + scores["multi_f1"] + scores["v2_best_f1"]) / 3


def selection_key(scores: dict[str, float], seed_floor: int) -> tuple[bool, float]:
    """Higher is better: as many seed questions right as `seed_floor` (the starting reader's) first, then
    val_mean. Scores whose seed checks failed count as losing seed answers, unless the floor is 0 (the
    starting reader's failed too)."""
    return scores.get("seed_right", 0) >= seed_floor, val_mean(scores)


def evaluation_settings(settings_from: str | Path | None, reader: str | Path) -> dict:
    """The reading settings a reader is evaluated with: those of `settings_from`, else the reader's own, else
    the shipped reader's. A run's checkpoints of a bare backbone (the packaged MPNet) have none: read without
    the shipped evidence weight, one of them scored 16.5 look-alike F1 less than the product reads with it."""
    for source in (settings_from, reader, SHIPPED_READER):
        if source is not None and (settings := reading_settings(source)):
            return settings
    return {}


def as_judged(
    reader: ExtractiveReader, scout: ExtractiveReader | None, settings: Settings
) -> ExtractiveReader | CascadeReader:
    """The reader as an evaluation reads it: alone, or, with a scout, as the product reads a large reader (the
    scout reads everything, `reader` re-reads around its best answers and both judge, at the settings'
    `reread` and `scout_weight`), so that a run selects on what would ship."""
    if scout is None:
        return reader
    return CascadeReader(scout, reader, settings.reread, settings.scout_weight)
