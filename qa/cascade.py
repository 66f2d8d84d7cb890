"""A reading cascade: a small, fast reader (the scout) reads everything retrieved, and a large reader re-reads
only the stretches of text that the scout's best answers come from.

A large reader costs several times a small one per window; most of what retrieval hands over holds no
answer, and the small reader is good at finding where one is, if not at reading it exactly. The large reader
then reads the few stretches around the scout's most probable answers (and, for developing news, around each
dated report's best answer, so every report is still judged read alone), each a window of its own: whole
sentences around the answer, as many as fit. The answers, their probabilities and "no answer" are the large
reader's, over those stretches under one softmax, at offsets into the whole passages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from articleqa.qa.evidence import SentenceFinder
from articleqa.qa.reader import ExtractiveReader, ReaderOutput, Span, Stretch

# The windows' special tokens beside the question and the passage text ([CLS] q [SEP] c [SEP] for BERT,
# <s> q </s></s> c </s> for MPNet): the room a stretch has is the window less these and the question.
SPECIAL_TOKENS = 4


class CascadeReader:
    """Reads as an ExtractiveReader does (read, read_many, count_tokens, take_over): the scout reads all of
    it, `reader` re-reads the stretches around the scout's `reread` best answers."""

    def __init__(self, scout: ExtractiveReader, reader: ExtractiveReader, reread: int = 2) -> None:
        self.scout = scout
        self.reader = reader
        self.reread = reread

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
        scouted = self.scout.read_many(readings, top_k=self.reread, groups=groups, sentences=finders)
        stretches = [
            stretches_to_reread(
                [*output.spans[: self.reread], *(apart.spans[0] for apart in output.apart if apart.spans)],
                finder,
                room=self._room(question),
                count_tokens=self.reader.count_tokens,
            )
            for (question, _), output, finder in zip(readings, scouted, finders, strict=True)
        ]
        return self.reader.read_many(readings, top_k, groups, finders, stretches)

    def _room(self, question: str) -> int:
        """Passage tokens that fit in one of the large reader's windows beside the question."""
        asked = min(self.reader.count_tokens(question), self.reader.max_question_tokens)
        return self.reader.max_length - asked - SPECIAL_TOKENS


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
