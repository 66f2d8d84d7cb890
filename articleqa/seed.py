"""The default corpus: the user's article in seeds/, and the questions about it with gold answers from its text."""

from __future__ import annotations

import json
from dataclasses import dataclass

from articleqa.config import SEEDS_DIR

SEED_ARTICLE = SEEDS_DIR / "syrian-rebels-capture-hama.txt"
SEED_QUESTIONS = SEEDS_DIR / "syrian-rebels-capture-hama.questions.json"


@dataclass(frozen=True)
class SeedQuestion:
    question: str
    answers: tuple[str, ...]  # empty: the article does not say


def _load(key: str) -> list[SeedQuestion]:
    data = json.loads(SEED_QUESTIONS.read_text(encoding="utf-8"))
    return [SeedQuestion(item["question"], tuple(item["answers"])) for item in data[key]]


def seed_questions() -> list[SeedQuestion]:
    """Single questions about the seed article (the last ones may be unanswerable)."""
    return _load("questions")


def seed_conversation() -> list[SeedQuestion]:
    """A conversation about the seed article, with pronoun follow-ups, in order."""
    return _load("conversation")


def seed_follow_ups() -> list[SeedQuestion]:
    """A second conversation, of terse follow-ups (an elided question, a pronoun for what the previous
    question asked about) and follow-ups the article cannot answer, in order."""
    return _load("follow_ups")


def seed_paraphrases() -> list[SeedQuestion]:
    """Further questions on the seed's facts, worded apart from the acceptance ones (a robustness probe)."""
    return _load("paraphrases")


def seed_title() -> str:
    """The seed article's title: its first line, as the indexer reads plain text."""
    return SEED_ARTICLE.read_text(encoding="utf-8").partition("\n")[0].strip()


def seed_body() -> str:
    """The seed article's text below its title line."""
    return SEED_ARTICLE.read_text(encoding="utf-8").partition("\n")[2].strip()


def example_questions(titles: list[str], count: int = 4) -> list[str]:
    """Questions to offer as examples: the first answerable seed questions when the seed article is among
    `titles`, else none (for another corpus nothing is known to be answerable, and none are made up)."""
    wanted = " ".join(seed_title().split()).casefold()
    if not any(" ".join(t.split()).casefold() == wanted for t in titles):
        return []
    return [q.question for q in seed_questions() if q.answers][:count]
