"""Sentence evidence: how much of the question the sentence around an answer repeats.

A small reader spreads its probability over plausible spans of every window it reads, and on a long story
the most probable one often sits in a sentence about something else ("When was HTS formed?" -> the year
of a later designation, two sentences on). The words of the question that the answer's own sentence
repeats are evidence the reader under-weighs: the reader ranks candidates by log p + weight x evidence
(qa/reader.py; the weight is chosen on `val` and stored beside the weights).
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Sequence

from articleqa.index.sentences import split_sentences
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
def _split(passage: str) -> tuple[tuple[int, int], ...]:
    return tuple((span.start, span.end) for span in split_sentences(passage))


class SentenceFinder:
    """The one place that locates a span's sentence: which of its passage's sentences a character offset
    falls in. The sentences are the store's (offsets within each passage) when the passages come from one,
    so what the reader, the similarity and the answer call a span's sentence is what the index stored;
    passages read without a store (evaluation) are split here, once each (cached)."""

    def __init__(self, passages: Sequence[str], sentences: Sequence[Sequence[tuple[int, int]]] | None = None) -> None:
        """`sentences`: per passage, the (start, end) of each of its sentences in its text, in order."""
        self.passages = passages
        self._given = sentences
        self._bounds: dict[int, tuple[list[int], list[int]]] = {}  # a reading asks about each passage often

    def spans(self, passage_index: int) -> Sequence[tuple[int, int]]:
        """(start, end) of each sentence of a passage, in order."""
        if self._given is not None:
            return self._given[passage_index]
        return _split(self.passages[passage_index])

    def sentence(self, passage_index: int, offset: int) -> str:
        """The text of the sentence that holds `offset` (the whole passage where none does)."""
        around = self._around(passage_index, offset)
        return self.passages[passage_index][around[0] : around[1]] if around else self.passages[passage_index]

    def crosses(self, passage_index: int, start: int, end: int) -> bool:
        """Whether the text from `start` to `end` runs on past the end of the sentence it starts in."""
        around = self._around(passage_index, start)
        return around is not None and end > around[1]

    def covering(self, passage_index: int, start: int, end: int) -> tuple[int, int]:
        """The first and last sentence (indices within the passage) of the text from `start` to `end`: the
        first that ends after `start`, and the first that ends at or after `end` (the last one where the text
        runs past every sentence)."""
        ends = self._starts_and_ends(passage_index)[1]
        last = max(0, len(ends) - 1)
        return min(bisect.bisect_right(ends, start), last), min(bisect.bisect_left(ends, end), last)

    def _starts_and_ends(self, passage_index: int) -> tuple[list[int], list[int]]:
        if passage_index not in self._bounds:
            spans = self.spans(passage_index)
            self._bounds[passage_index] = [s for s, _ in spans], [e for _, e in spans]
        return self._bounds[passage_index]

    def _around(self, passage_index: int, offset: int) -> tuple[int, int] | None:
        starts, ends = self._starts_and_ends(passage_index)
        k = bisect.bisect_right(starts, offset) - 1
        return (starts[k], ends[k]) if k >= 0 and offset < ends[k] else None
