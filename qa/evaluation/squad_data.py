"""Reading SQuAD-format JSON files (plain or gzip)."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    context: str
    title: str
    answers: list[str] = field(default_factory=list)  # empty: unanswerable
    answer_starts: list[int] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def read_squad_json(path: str | Path) -> dict:
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def load_squad(path: str | Path) -> list[SquadQuestion]:
    """Every question of a SQuAD v1.1/v2.0 file, with its own paragraph."""
    questions = []
    for article in read_squad_json(path)["data"]:
        title = article.get("title", "")
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                questions.append(
                    SquadQuestion(
                        id=str(qa["id"]),
                        question=qa["question"],
                        context=context,
                        title=title,
                        answers=[a["text"] for a in answers],
                        answer_starts=[int(a["answer_start"]) for a in answers],
                    )
                )
    return questions
