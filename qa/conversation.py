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
    # Where "it" could mean two things ("Who placed it?" after "How big is the bounty on him?": the bounty, or
    # the conversation's topic), the question read the other way: both are read, the surer answers.
    other: FollowUp | None = None


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
# "the bounty" of "How big is the bounty on him?": a definite noun phrase of lower-case words, up to the first
# word that ends it (a preposition, a verb the question is built with, a conjunction)
_DEFINITE = re.compile(r"\bthe((?:\s+[a-z][a-z-]*)+)")
_ENDS_A_PHRASE = {
    *("about after as at before by during for from in into of on over since than to under with".split()),
    *("and or that which who whom is was are were be been has have had do does did will would can could".split()),
}


def _topic(question: str) -> str | None:
    """The named thing a question is about: its capitalised words that are not question words."""
    words = re.findall(r"[\w'-]+", question)
    names = [w for i, w in enumerate(words) if w[:1].isupper() and (i > 0 or w.lower() not in _QUESTION_WORDS)]
    return " ".join(names) or None


def _is_name(text: str | None) -> bool:
    words = [w for w in (text or "").split() if any(ch.isalpha() for ch in w)]
    # "Abu Mohammed al-Jolani": name particles (al-, bin, de, van) may be lower-case
    return 0 < len(words) <= 5 and words[0][:1].isupper() and 2 * sum(w[:1].isupper() for w in words) >= len(words)


def _asked_about(question: str) -> str | None:
    """The thing a question asks about by a common noun ("the bounty" of "How big is the bounty on him?"):
    its first definite noun phrase in the singular that no name qualifies ("the capital of Syria" is about
    Syria, for "it"). Without a tagger, a phrase counts only where a word that ends phrases follows it, or
    where it is a single word ending the question: in "How long did the offensive last?" the last word is a
    verb, in "Who runs the central prison?" a noun."""
    for match in _DEFINITE.finditer(question):
        words = match.group(1).split()
        ended = next((i for i, word in enumerate(words) if word in _ENDS_A_PHRASE), None)
        phrase = words[:ended] if ended is not None else words if len(words) == 1 else []
        after = words[len(phrase) :] + question[match.end(1) :].split()
        qualified = len(after) > 1 and after[0] == "of" and after[1][:1].isupper()
        plural = bool(phrase) and phrase[-1].endswith("s") and not phrase[-1].endswith("ss")
        if 0 < len(phrase) <= 3 and not plural and not qualified:
            return "the " + " ".join(phrase)
    return None


def _rewritten(question: str, person: str | None, it: str | None, topic: str | None) -> str:
    rewritten = question
    if person:
        rewritten = _PERSON_PRONOUN.sub(person, rewritten)
        rewritten = _POSSESSIVE_PERSON.sub(f"{person}'s", rewritten)
    if it:
        rewritten = _IT.sub(it, rewritten)
        rewritten = _ITS.sub(f"{it}'s", rewritten)
    if topic:
        rewritten = _THEY.sub(topic, rewritten)
        rewritten = _THEIR.sub(f"{topic}'s", rewritten)
    return rewritten


class PronounResolver:
    """Rules over pronouns. "he/him/his" become the latest answer that is a name; "it/its" the previous
    answer when it names a place or thing (its question didn't ask "who"), else the conversation's topic;
    "they/their" the topic. The topic is the named subject of the latest self-contained question (one
    without a pronoun): "When was it formed?" after "Who leads HTS?" asks "When was HTS formed?", and
    "Which country designated it a Foreign Terrorist Organization?" keeps HTS as the topic. Where the
    previous question asked about a thing by a common noun ("How big is the bounty on him?"), "it" may mean
    that instead of the topic: the follow-up carries both readings (`FollowUp.other`). When nothing could be
    resolved ("And in 2015?"), retrieval also gets the previous question and answer, and so does the reader
    where the follow-up names nothing of its own ("In what year?" after "What did Jolani dismantle to form
    HTS?"). The previous answer's article is preferred either way."""

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
        # what was asked about by a common noun since the topic was last named ("the bounty", which "Who
        # placed it?" went on asking about): a second meaning of "it" beside the topic
        asked_about = None
        if not thing and (_IT.search(question) or _ITS.search(question)):
            named_last = next((i for i, turn in enumerate(turns) if turn in self_contained), len(turns) - 1)
            asked = (_asked_about(_rewritten(turn.question, person, None, None)) for turn in turns[: named_last + 1])
            asked_about = next(filter(None, asked), None)
        it = thing or topic or asked_about
        rewritten = _rewritten(question, person, it, topic)
        if rewritten != question:  # the pronoun now names what it meant: more words would only blur retrieval
            if asked_about and it != asked_about:
                other = _rewritten(question, person, asked_about, topic)
                return FollowUp(rewritten, rewritten, previous.article, FollowUp(other, other, previous.article))
            return FollowUp(rewritten, rewritten, previous.article)
        query = " ".join(part for part in (rewritten, previous.question, previous.answer) if part)
        # an elided question ("In what year?") names nothing of its own: the reader reads it with the exchange
        # it continues, else it answers the year of whatever the article dates best
        elided = _topic(question) is None
        return FollowUp(query if elided else rewritten, query, previous.article)
