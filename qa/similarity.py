"""Sentence similarity: how close in meaning an answer's sentence is to the question.

The calibrated confidence (qa/policy.py) weighs it with the reader's scores. Sentence evidence
(qa/evidence.py) counts the question's words that the sentence repeats; the embedder's cosine also tells
a sentence about the thing asked from one that shares a word with it ("Who is the president of Russia?"
and the seed's sentence about "President Hafez al-Assad" and the 1982 massacre). It pays most on questions
the articles don't answer (docs/answer-quality.md). The question is already embedded for
retrieval; only the candidates' sentences are embedded here, those of a batch of readings in one call
(and kept in the embedder's cache of recent texts). Ranking is left alone: the cosine in the ranking cost
long stories and search-style questions more than it gained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from articleqa.index.embedder import Embedder
from articleqa.qa.evidence import SentenceFinder
from articleqa.qa.reader import ReaderOutput


class SentenceSimilarity:
    """Sets each span's `similarity`: the cosine between the question's vector and its sentence's."""

    def __init__(self, embedder: Embedder) -> None:
        """`embedder`: the one that embedded the questions (for retrieval)."""
        self.embedder = embedder

    def annotate_one(self, question: str, passages: Sequence[str], output: ReaderOutput) -> ReaderOutput:
        """One reading, the question embedded here."""
        return self.annotate([(self.embedder.embed_query(question), SentenceFinder(passages), output)])[0]

    def annotate(
        self, readings: Sequence[tuple[np.ndarray | None, SentenceFinder, ReaderOutput]]
    ) -> list[ReaderOutput]:
        """(question vector, the sentences of the passages read, reader output) per reading -> the outputs,
        spans annotated; a reading without a vector is left as it is (its spans' similarity not measured)."""
        sentences_of = [
            [finder.sentence(span.passage_index, span.start) for span in output.spans] if vector is not None else []
            for vector, finder, output in readings
        ]
        unique = list(dict.fromkeys(sentence for sentences in sentences_of for sentence in sentences))
        row = {sentence: i for i, sentence in enumerate(unique)}
        # as the questions are: fp32 (a cosine must not depend on what else is in the batch), and cached
        # (the answers to questions about one story come from its few sentences)
        vectors = self.embedder.embed_queries(unique)
        annotated = []
        for (question_vector, _, output), sentences in zip(readings, sentences_of, strict=True):
            if question_vector is None:
                annotated.append(output)
                continue
            spans = tuple(
                replace(span, similarity=float(np.dot(vectors[row[sentence]], question_vector)))
                for span, sentence in zip(output.spans, sentences, strict=True)
            )
            annotated.append(replace(output, spans=spans))
        return annotated
