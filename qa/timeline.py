"""Developing news: several dated reports of one event answer one question differently (a death toll rises,
a city falls, a leader resigns). The newest report's answer is given, the older ones come with it as earlier
reports, and a question that names a time is answered from the reports of that time.

Which report answers is judged on each report read alone (ReaderOutput.apart): read together, the shared
softmax gives nearly all its mass to the report whose words match the question, and the newest report's
answer was under 1 % of it on most developing stories (docs/developing-news.md). A report counts when the
policy's confidence in its own best answer is at least `comparable` times that of the surest report; among
those, the newest wins. Reports that are not about the story asked are left out: a newer report of another
event must not win. A report is about the story when it repeats at least half of the question's words that
the answer's report repeats, or when it names a person or place by a name of two words or more ("Helen
Okafor", "Petra Novak") that a report about the story names: a follow-up report often calls the story by
other words ("Policymakers in Valoria" for "the Central Bank of Valoria") but keeps its people.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from articleqa.qa.dates import format_date
from articleqa.qa.evidence import content_words
from articleqa.qa.periods import Period
from articleqa.qa.policy import Judgement
from articleqa.qa.text import normalize_answer, same_answer


@dataclass(frozen=True)
class ReportReading:
    """One dated report read alone, as the policy judged it."""

    article_id: int
    date: str  # ISO 8601 publication date
    judgement: Judgement
    words: frozenset[str]  # the question's story words (story_words) that the report (title and text) repeats
    names: frozenset[str] = frozenset()  # the names of two words or more in its text (proper_names)

    @property
    def answer(self) -> str:
        return self.judgement.best.text if self.judgement.best else ""


@dataclass(frozen=True)
class Timeline:
    chosen: ReportReading  # the report the answer comes from
    earlier: tuple[ReportReading, ...]  # older reports that said something else, newest first
    period: str  # the period the answer used, in words ("as of 4 Mar 2025"); "" when none was named
    note: str  # what to tell the reader about it


def story_words(question: str) -> frozenset[str]:
    """The words that name the story asked about: the question's capitalised content words after its first
    word ("Karvan", "Storm", "Edda"), or all its content words where it capitalises none."""
    names = content_words(" ".join(word for word in question.split()[1:] if word[:1].isupper()))
    return names or content_words(question)


@functools.lru_cache(maxsize=256)  # every question about a story looks at the same reports
def proper_names(text: str) -> frozenset[str]:
    """Names of two or more capitalised words in running text, and each run of two or more of their words
    ("Governor Petra Novak" also gives "Petra Novak"; "The Northern Front" gives "Northern Front": a function
    word is not a name's). Titles are left out by the caller: a headline in title case would make a name of
    every phrase."""
    names = set()
    for match in _NAME.finditer(text):
        words = match.group().split()
        while words and not content_words(words[0]):
            words = words[1:]
        names.update(" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 2, len(words) + 1))
    return frozenset(names)


_NAME = re.compile(r"\b[A-Z][\w'-]*[a-z][\w'-]*(?:\s+[A-Z][\w'-]*[a-z][\w'-]*)+")


def same_story(reports: Sequence[ReportReading], anchor: frozenset[str]) -> list[ReportReading]:
    """The reports about the story of the reading's answer (`anchor`: the story words its report repeats):
    each repeats at least half of them (rounded up), or shares a name with one that is about the story."""
    answering = [r for r in reports if r.judgement.best is not None]
    story = [r for r in answering if len(r.words & anchor) >= (len(anchor) + 1) // 2]
    names = frozenset().union(*(r.names for r in story))
    grew = True
    while grew:  # a name links a report to the story, and that report's names may link another
        linked = [r for r in answering if r not in story and r.names & names]
        story += linked
        names = names.union(*(r.names for r in linked))
        grew = bool(linked)
    return [r for r in answering if r in story]


def _distinct(answer: str, others: Sequence[str]) -> bool:
    return bool(normalize_answer(answer)) and not any(same_answer(answer, other) for other in others)


def follow(
    reports: Sequence[ReportReading], anchor: frozenset[str], comparable: float, period: Period | None = None
) -> Timeline | None:
    """The newest report's answer among the comparably sure ones (of `period`, when the question names one),
    with the earlier reports' other answers; None when fewer than two dated reports answer and no period
    is named (the answer stays as the reader ranked it). `anchor`: the story words that the report of the
    reading's answer repeats."""
    story = same_story(reports, anchor)
    pool, note, used = story, "", ""
    if period is not None:
        used = period.label
        pool = [r for r in story if period.contains(r.date)]
        if not pool and period.end is not None:  # nothing from then: what had been reported by then
            pool = [r for r in story if period.until_end().contains(r.date)]
            if pool:
                note = f"No report from {period.label.removeprefix('on ').removeprefix('in ')}: the latest before it is used."
        if not pool:
            pool, used = story, ""
            note = f"No report {period.label}: the newest report is used."
    if not pool or (period is None and len(pool) < 2):
        return None
    surest = max(r.judgement.confidence for r in pool)
    sure = [r for r in pool if r.judgement.confidence >= comparable * surest]
    chosen = max(sure, key=lambda r: (r.date, r.judgement.confidence))
    earlier: list[ReportReading] = []
    for report in sorted(sure, key=lambda r: (r.date, r.judgement.confidence), reverse=True):
        if report.date < chosen.date and _distinct(report.answer, [r.answer for r in (chosen, *earlier)]):
            earlier.append(report)
    if earlier and not note:
        note = f"The newest of {len(earlier) + 1} reports that answer differently ({format_date(chosen.date)})."
    return Timeline(chosen, tuple(earlier), used, note)
