"""Sentence splitting with character offsets (blingfire), paragraph breaks always ending a sentence."""

from __future__ import annotations

import re
from dataclasses import dataclass

import blingfire

_PARAGRAPH = re.compile(r"\n\s*\n|\n")


@dataclass(frozen=True)
class SentenceSpan:
    start: int
    end: int
    text: str


def split_sentences(text: str) -> list[SentenceSpan]:
    """Sentences of `text` with their offsets: text[start:end] == sentence text."""
    spans: list[SentenceSpan] = []
    position = 0
    for block in _PARAGRAPH.split(text):
        block_start = text.index(block, position) if block else position
        position = block_start + len(block)
        if not block.strip():
            continue
        _, offsets = blingfire.text_to_sentences_and_offsets(block)
        for start, end in offsets:
            piece = block[start:end]
            if piece.strip():
                spans.append(SentenceSpan(block_start + start, block_start + end, piece))
    return spans
