"""Conversation: reads a follow-up question in the light of the earlier turns ("When was it formed?").

`FollowUpResolver` is the interface the pipeline uses; `PronounResolver` is the rule-based one shipped
today (a learned rewriter can replace it without touching the pipeline).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation, as the faces hand it back."""

    question: str
    answer: str | None = None
    article: str | None = None


@dataclass(frozen=True)
class FollowUp:
    question: str  # what the reader is asked
    query: str  # what retrieval searches for
    article: str | None = None  # title of the article to lean towards (the previous answer's)


class FollowUpResolver(Protocol):
    def resolve(self, question: str, history: Sequence[Turn]) -> FollowUp: ...


_PERSON_PRONOUN = re.compile(r"\b(he|him|she|her)\b", re.I)
_POSSESSIVE_PERSON = re.compile(r"\b(his|hers)\b", re.I)
_IT = re.compile(r"\b(it)\b", re.I)
_ITS = re.compile(r"\b(its)\b", re.I)
_THEY = re.compile(r"\b(they|them)\b", re.I)
_THEIR = re.compile(r"\b(their)\b", re.I)
_FOLLOW_UP = re.compile(r"\b(he|him|his|she|her|hers|it|its|they|them|their|theirs|this|that|there|then)\b", re.I)
_QUESTION_WORDS = {
    "who",
    "what",
    "when",
    "where",
    "which",
    "why",
    "how",
    "whom",
    "whose",
    "is",
    "are",
    "was",
    "were",
    "did",
    "does",
    "do",
    "can",
    "in",
    "on",
    "the",
    "a",
    "an",
    "and",
    "but",
    "so",
}
_ABOUT_A_PERSON = re.compile(r"^\s*(and\s+)?(who|whom|whose)\b", re.I)


def _topic(question: str) -> str | None:
    """The named thing a question is about: its capitalised words that are not question words."""
    words = re.findall(r"[\w'-]+", question)
    names = [w for i, w in enumerate(words) if w[:1].isupper() and (i > 0 or w.lower() not in _QUESTION_WORDS)]
    return " ".join(names) or None


def _is_name(text: str | None) -> bool:
    words = [w for w in (text or "").split() if any(ch.isalpha() for ch in w)]
    # "Abu Mohammed al-Jolani": name particles (al-, bin, de, van) may be lower-case
    return 0 < len(words) <= 5 and words[0][:1].isupper() and 2 * sum(w[:1].isupper() for w in words) >= len(words)


class PronounResolver:
    """Rules over pronouns. "he/him/his" become the latest answer that is a name; "it/its" the previous
    answer when it names a place or thing (its question didn't ask "who"), else the conversation's topic;
    "they/their" the topic. The topic is the named subject of the latest self-contained question (one
    without a pronoun): "When was it formed?" after "Who leads HTS?" asks "When was HTS formed?", and
    "Which country designated it a Foreign Terrorist Organization?" keeps HTS as the topic. When nothing
    could be resolved ("And in 2015?"), retrieval also gets the previous question and answer, and so does
    the reader where the follow-up names nothing of its own ("In what year?" after "What did Jolani
    dismantle to form HTS?"). The previous answer's article is preferred either way."""

    def resolve(self, question: str, history: Sequence[Turn]) -> FollowUp:
        turns = [t for t in reversed(history) if t.question]
        if not turns or not (_FOLLOW_UP.search(question) or len(question.split()) <= 3):
            return FollowUp(question, question)
        previous = turns[0]
        self_contained = [t for t in turns if not _FOLLOW_UP.search(t.question)]
        topic = next(filter(None, (_topic(t.question) for t in self_contained + turns)), None)
        person = next((t.answer for t in turns if _is_name(t.answer) and _ABOUT_A_PERSON.match(t.question)), None)
        person = person or next((t.answer for t in turns if _is_name(t.answer)), None) or topic
        thing = previous.answer if _is_name(previous.answer) and not _ABOUT_A_PERSON.match(previous.question) else None
        topic = topic or person
        rewritten = question
        if person:
            rewritten = _PERSON_PRONOUN.sub(person, rewritten)
            rewritten = _POSSESSIVE_PERSON.sub(f"{person}'s", rewritten)
        if thing or topic:
            rewritten = _IT.sub(thing or topic, rewritten)
            rewritten = _ITS.sub(f"{thing or topic}'s", rewritten)
        if topic:
            rewritten = _THEY.sub(topic, rewritten)
            rewritten = _THEIR.sub(f"{topic}'s", rewritten)
        if rewritten != question:  # the pronoun now names what it meant: more words would only blur retrieval
            return FollowUp(rewritten, rewritten, previous.article)
        query = " ".join(part for part in (rewritten, previous.question, previous.answer) if part)
        # an elided question ("In what year?") names nothing of its own: the reader reads it with the exchange
        # it continues, else it answers the year of whatever the article dates best
        elided = _topic(question) is None
        return FollowUp(query if elided else rewritten, query, previous.article)
