"""The training mix for the shipped reader: only sets whose licence allows a shipped model."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from articleqa.qa.evaluation.squad_data import SquadQuestion, load_squad


@dataclass(frozen=True)
class Source:
    file: str  # relative to the data directory
    cap: int | None = None  # at most this many questions (random, seeded)
    repeat: int = 1
    unanswerable_only: bool = False


# Licence-checked in ../shared/data/qa/README.md and extra/README.md: SQuAD, SQuAD-shifts, QED-NQ,
# QAMR, FairytaleQA, TweetQA, the Quoref/ROPES/DROP contrast sets and TAT-QA may train a shipped model.
# A run here sees ~50k windows (CPU budget), so the mix leans to Wikipedia-style prose like news: SQuAD
# train is seen twice; Reddit/Amazon/tweets are capped to keep some variety without taking the budget;
# QAMR's one-sentence contexts are capped so they don't dominate; SQuAD 2.0's unanswerable questions
# (same 33 training articles) and wrong-paragraph pairs teach abstention.
DEFAULT_MIX: dict[str, Source] = {
    "squad": Source("squad-v1.1-dev.train.json.gz", repeat=2),
    "squad2-unanswerable": Source("squad-v2.0-dev.train.json.gz", unanswerable_only=True),
    "squadshifts-wiki": Source("extra/squadshifts-new_wiki.json.gz"),
    "squadshifts-reddit": Source("extra/squadshifts-reddit.json.gz", cap=3000),
    "squadshifts-amazon": Source("extra/squadshifts-amazon.json.gz", cap=3000),
    "qed-train": Source("extra/qed-nq-train.json.gz"),
    "qed-dev": Source("extra/qed-nq-dev.json.gz"),
    "qamr-dev": Source("extra/qamr-filtered-dev.json.gz", cap=1000),
    "qamr-test": Source("extra/qamr-filtered-test.json.gz", cap=1000),
    "fairytale-train": Source("extra/fairytaleqa-train.json.gz"),
    "fairytale-val": Source("extra/fairytaleqa-val.json.gz"),
    "fairytale-test": Source("extra/fairytaleqa-test.json.gz"),
    "tweetqa": Source("extra/tweetqa-train.json.gz", cap=1500),
    "quoref-o": Source("extra/quoref-contrast-original.json.gz"),
    "quoref-p": Source("extra/quoref-contrast-perturbed.json.gz"),
    "ropes-o": Source("extra/ropes-contrast-original.json.gz"),
    "ropes-p": Source("extra/ropes-contrast-perturbed.json.gz"),
    "drop": Source("extra/drop-contrast-spans.json.gz"),
    "tatqa-dev": Source("extra/tatqa-textspan-dev.json.gz"),
    "tatqa-test": Source("extra/tatqa-textspan-test.json.gz"),
}

# A second, shorter phase (started from a trained reader with --backbone) on the Wikipedia-style sets only.
WIKI_MIX: dict[str, Source] = {name: DEFAULT_MIX[name] for name in (
    "squad", "squad2-unanswerable", "squadshifts-wiki", "qed-train", "qed-dev")}
MIXES = {"default": DEFAULT_MIX, "wiki": WIKI_MIX}

WRONG_CONTEXT_NEGATIVES = 2000  # SQuAD train questions paired with another article's paragraph


def wrong_context_negatives(questions: list[SquadQuestion], count: int, rng: random.Random) -> list[SquadQuestion]:
    """Questions paired with a paragraph of a different article: the right answer is "no answer"."""
    answerable = [q for q in questions if q.answerable]
    picked = rng.sample(answerable, min(count, len(answerable)))
    result = []
    for q in picked:
        other = rng.choice(answerable)
        while other.title == q.title:
            other = rng.choice(answerable)
        result.append(SquadQuestion(id=f"neg-{q.id}", question=q.question, context=other.context, title=other.title))
    return result


def present_sources(data_dir: Path, mix: dict, counts: dict[str, int]) -> Iterator[tuple[str, object, Path]]:
    """(name, source, path) of each entry of a mix whose file is in `data_dir`; a missing one counts 0."""
    for name, source in mix.items():
        path = data_dir / source.file
        if path.exists():
            yield name, source, path
        else:
            counts[name] = 0


def build_mix(data_dir: Path, seed: int, mix: dict[str, Source] = DEFAULT_MIX) -> tuple[list[SquadQuestion], dict[str, int]]:
    rng = random.Random(seed)
    examples: list[SquadQuestion] = []
    counts: dict[str, int] = {}
    for name, source, path in present_sources(data_dir, mix, counts):
        questions = load_squad(path)
        if source.unanswerable_only:
            questions = [q for q in questions if not q.answerable]
        if source.cap is not None and len(questions) > source.cap:
            questions = rng.sample(questions, source.cap)
        counts[name] = len(questions) * source.repeat
        examples.extend(questions * source.repeat)
        if name == "squad" and WRONG_CONTEXT_NEGATIVES:
            negatives = wrong_context_negatives(questions, WRONG_CONTEXT_NEGATIVES, rng)
            counts["squad-wrong-context"] = len(negatives)
            examples.extend(negatives)
    rng.shuffle(examples)
    return examples, counts
