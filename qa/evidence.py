"""Sentence evidence: how much of the question the sentence around an answer repeats.

A small reader spreads its probability over plausible spans of every window it reads, and on a long story
the most probable one often sits in a sentence about something else ("When was HTS formed?" -> the year
of a later designation, two sentences on). The words of the question that the answer's own sentence
repeats are evidence the reader under-weighs: the reader ranks candidates by log p + weight x evidence
(qa/reader.py; the weight is chosen on `val` and stored beside the weights).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from articleqa.index.sentences import SentenceSpan, split_sentences
from articleqa.qa.text import STOPWORDS

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@functools.lru_cache(maxsize=4096)  # candidates share sentences, and a chat re-reads the same passages
def content_words(text: str) -> frozenset[str]:
    """Lower-cased words of `text` that carry meaning (English stop words and question words dropped)."""
    return frozenset(w for w in _WORD.findall(text.lower()) if w not in STOPWORDS)


def sentence_evidence(question_words: frozenset[str], answer: str, sentence: str) -> float:
    """The share of the question's content words, other than the answer's own, found in the sentence."""
    asked = question_words - content_words(answer)
    if not asked:
        return 0.0
    return len(asked & content_words(sentence)) / len(asked)


@functools.lru_cache(maxsize=1024)  # every question about a story reads the same passages
def _sentences_of(passage: str) -> tuple[SentenceSpan, ...]:
    return tuple(split_sentences(passage))


class SentenceFinder:
    """The sentence around a character offset of each passage (a passage's text is split once, then cached)."""

    def __init__(self, passages: Sequence[str]) -> None:
        self.passages = passages
        self._found: dict[tuple[int, int], SentenceSpan | None] = {}  # a candidate asks for its sentence twice

    def sentence(self, passage_index: int, offset: int) -> str:
        around = self._around(passage_index, offset)
        return around.text if around else self.passages[passage_index]

    def crosses(self, passage_index: int, start: int, end: int) -> bool:
        """Whether the text from `start` to `end` runs on past the end of the sentence it starts in."""
        around = self._around(passage_index, start)
        return around is not None and end > around.end

    def _around(self, passage_index: int, offset: int) -> SentenceSpan | None:
        key = (passage_index, offset)
        if key not in self._found:
            self._found[key] = next(
                (span for span in _sentences_of(self.passages[passage_index]) if span.start <= offset < span.end), None
            )
        return self._found[key]
