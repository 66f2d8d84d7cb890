"""A reading cascade: a small, fast reader (the scout) reads everything retrieved, and a large reader re-reads
only the stretches of text that the scout's best answers come from.

A large reader costs several times a small one per window; most of what retrieval hands over holds no
answer, and the small reader is good at finding where one is, if not at reading it exactly. The large reader
then reads the few stretches around the scout's most probable answers (and, for developing news, around each
dated report's best answer, so every report is still judged read alone), each a window of its own: whole
sentences around the answer, as many as fit. The answers, their probabilities and "no answer" are the large
reader's, over those stretches under one softmax, at offsets into the whole passages.

With a scout weight, both readers judge: each answer's log probability is the weighted mean of the scout's
and the large reader's (a product of experts). Two readers of different sizes and tokenisers disagree on
about two questions in five (`val` gold paragraphs), mostly on where an answer starts and ends; an answer
both find likely is more often the right one than either reader's own best (docs/reader-mpnet.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from articleqa.qa.evidence import SentenceFinder
from articleqa.qa.reader import ExtractiveReader, ReaderOutput, Span, Stretch
from articleqa.qa.text import normalize_answer

# The windows' special tokens beside the question and the passage text ([CLS] q [SEP] c [SEP] for BERT,
# <s> q </s></s> c </s> for MPNet): the room a stretch has is the window less these and the question.
SPECIAL_TOKENS = 4


class CascadeReader:
    """Reads as an ExtractiveReader does (read, read_many, count_tokens, take_over): the scout reads all of
    it, `reader` re-reads the stretches around the scout's `reread` best answers. `scout_weight`: the share of
    the scout's log probability in each answer's (0: the large reader's alone). `reread_tokens`: at most this
    many passage tokens in a stretch (0: as many as fit the large reader's window)."""

    def __init__(
        self,
        scout: ExtractiveReader,
        reader: ExtractiveReader,
        reread: int = 2,
        scout_weight: float = 0.0,
        reread_tokens: int = 0,
    ) -> None:
        self.scout = scout
        self.reader = reader
        self.reread = reread
        self.scout_weight = scout_weight
        self.reread_tokens = reread_tokens

    def count_tokens(self, text: str) -> int:
        """The scout's tokens: the reading budget is what the scout reads."""
        return self.scout.count_tokens(text)

    def take_over(self, wait: bool = True) -> None:
        self.scout.take_over(wait)
        self.reader.take_over(wait)

    def ranking_score(self, span: Span) -> float:
        return self.reader.ranking_score(span)

    def read(self, question: str, passages: Sequence[str], top_k: int = 5) -> ReaderOutput:
        return self.read_many([(question, passages)], top_k)[0]

    def read_many(
        self,
        readings: Sequence[tuple[str, Sequence[str]]],
        top_k: int = 5,
        groups: Sequence[Sequence[Sequence[int]]] | None = None,
        sentences: Sequence[SentenceFinder] | None = None,
    ) -> list[ReaderOutput]:
        """As ExtractiveReader.read_many; each group read apart is re-read around its own best answer too."""
        finders = sentences or [SentenceFinder(passages) for _, passages in readings]
        # a judging scout lists as many answers as the reader ranks, to weigh the large reader's against
        listed = ExtractiveReader.RANKED_BY_EVIDENCE if self.scout_weight else self.reread
        scouted = self.scout.read_many(readings, top_k=max(listed, self.reread), groups=groups, sentences=finders)
        stretches = [
            stretches_to_reread(
                [*output.spans[: self.reread], *(apart.spans[0] for apart in output.apart if apart.spans)],
                finder,
                room=self._room(question),
                count_tokens=self.reader.count_tokens,
            )
            for (question, _), output, finder in zip(readings, scouted, finders, strict=True)
        ]
        if not self.scout_weight:
            return self.reader.read_many(readings, top_k, groups, finders, stretches)
        reread = self.reader.read_many(
            readings, max(top_k, ExtractiveReader.RANKED_BY_EVIDENCE), groups, finders, stretches
        )
        return [
            self._judged(question, scout, large, finder, top_k)
            for (question, _), scout, large, finder in zip(readings, scouted, reread, finders, strict=True)
        ]

    def _judged(
        self, question: str, scout: ReaderOutput, large: ReaderOutput, finder: SentenceFinder, top_k: int
    ) -> ReaderOutput:
        """Both readings judged together, and each group read apart likewise, ranked as the large reader ranks."""
        output = self.reader.ranked_output(question, finder, jointly(scout, large, self.scout_weight), top_k)
        apart = tuple(
            self.reader.ranked_output(question, finder, jointly(s, g, self.scout_weight), top_k)
            for s, g in zip(scout.apart, large.apart, strict=True)
        )
        return replace(output, apart=apart)

    def _room(self, question: str) -> int:
        """Passage tokens that fit in one of the large reader's windows beside the question."""
        asked = min(self.reader.count_tokens(question), self.reader.max_question_tokens)
        room = self.reader.max_length - asked - SPECIAL_TOKENS
        return min(room, self.reread_tokens) if self.reread_tokens > 0 else room


def jointly(scout: ReaderOutput, large: ReaderOutput, scout_weight: float) -> ReaderOutput:
    """One reading of both: every answer either lists (one per answer text, as a reader merges them), scored
    by the weighted mean of the two log probabilities, and "no answer" likewise, renormalised over these.
    An answer a reader did not list counts at the least probability it listed (at most that, or it would have
    been listed); one that lists nothing counts its answers at its no-answer probability. Each answer is shown
    where the large reader read it, else where the scout did (`_shown`). Spans come most probable first,
    unranked by evidence (ExtractiveReader.ranked_output does that)."""
    weights = (scout_weight, 1.0 - scout_weight)
    readings = (scout, large)
    floors = [
        min((math.log(max(s.probability, 1e-12)) for s in r.spans), default=r.no_answer_log_probability)
        for r in readings
    ]
    read: list[dict[str, Span]] = [{}, {}]  # each reader's span of each answer
    logs: dict[str, list[float]] = {}
    for which, reading in enumerate(readings):
        for span in reading.spans:
            key = normalize_answer(span.text) or span.text
            read[which][key] = span
            logs.setdefault(key, list(floors))[which] = math.log(max(span.probability, 1e-12))
    shown = {key: _shown(read[0].get(key), read[1].get(key)) for key in logs}
    scores = {key: sum(w * lp for w, lp in zip(weights, logs[key], strict=True)) for key in shown}
    null = sum(w * r.no_answer_log_probability for w, r in zip(weights, readings, strict=True))
    total = float(np.logaddexp.reduce([null, *scores.values()]))
    spans = [
        replace(shown[key], probability=math.exp(score - total), margin=score - null, similarity=None)
        for key, score in scores.items()
    ]
    spans.sort(key=lambda s: s.probability, reverse=True)
    return ReaderOutput(tuple(spans), null - total, large.windows)


def _shown(scout: Span | None, large: Span | None) -> Span:
    """Where an answer is shown: where the large reader read it, unless the scout's span of the same answer
    holds it and more that answers are compared without ("$10 million" for "10 million", "the rebel
    movement" for "rebel movement")."""
    if large is None:
        return scout
    if scout is not None and large.text in scout.text and len(scout.text) > len(large.text):
        return scout
    return large


def stretches_to_reread(
    spans: Sequence[Span], finder: SentenceFinder, room: int, count_tokens: Callable[[str], int]
) -> list[Stretch]:
    """A stretch of whole sentences around each span (its own, then the next and the one before in turn, while
    the stretch keeps within `room` tokens), overlapping stretches of one passage joined; in passage order."""
    stretches = [_around(span, finder, room, count_tokens) for span in spans]
    joined: list[Stretch] = []
    for stretch in sorted(set(stretches), key=lambda s: (s.passage, s.start)):
        last = joined[-1] if joined else None
        if last is not None and last.passage == stretch.passage and stretch.start < last.end:
            joined[-1] = Stretch(last.passage, last.start, max(last.end, stretch.end))
        else:
            joined.append(stretch)
    return joined


def _around(span: Span, finder: SentenceFinder, room: int, count_tokens: Callable[[str], int]) -> Stretch:
    text = finder.passages[span.passage_index]
    sentences = list(finder.spans(span.passage_index)) or [(0, len(text))]
    first, last = finder.covering(span.passage_index, span.start, span.end)
    start, end = min(sentences[first][0], span.start), max(sentences[last][1], span.end)
    grew = True
    while grew:
        grew = False
        if last + 1 < len(sentences) and count_tokens(text[start : sentences[last + 1][1]]) <= room:
            last += 1
            end = sentences[last][1]
            grew = True
        if first > 0 and count_tokens(text[sentences[first - 1][0] : end]) <= room:
            first -= 1
            start = sentences[first][0]
            grew = True
    return Stretch(span.passage_index, start, end)
