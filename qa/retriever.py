"""Hybrid retrieval: BM25 and dense rankings fused by reciprocal rank, hits widened to sentence windows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from articleqa.index.embedder import Embedder
from articleqa.index.store import Hit, SentenceStore, Snapshot


@dataclass(frozen=True)
class Passage:
    """A window of consecutive sentences of one article."""

    article_id: int
    title: str
    text: str
    start: int  # character offset of `text` in the article body
    first_sentence: int
    last_sentence: int  # inclusive
    score: float  # fused retrieval score (higher is better)
    rank: int  # 0 = best passage


def reciprocal_rank_fusion(rankings: list[list[Hit]], k: int = 60) -> dict[tuple[int, int], float]:
    """Sum of 1 / (k + rank) over the rankings a sentence appears in."""
    fused: dict[tuple[int, int], float] = defaultdict(float)
    for ranking in rankings:
        for rank, hit in enumerate(ranking):
            fused[(hit.article_id, hit.position)] += 1.0 / (k + rank + 1)
    return fused


class HybridRetriever:
    def __init__(self, store: SentenceStore, embedder: Embedder, candidates: int = 30, window: int = 1,
                 rrf_k: int = 60) -> None:
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self.window = window
        self.rrf_k = rrf_k

    def retrieve(self, query: str, top_k: int = 4, prefer_article: int | None = None,
                 snapshot: Snapshot | None = None) -> list[Passage]:
        """The best `top_k` passages; `prefer_article` (a follow-up's article) counts as one more ranking.
        Pass the store's `snapshot` to look the passages' articles up in the same state afterwards."""
        snapshot = snapshot or self.store.snapshot()
        if snapshot.size == 0:
            return []
        vector = self.embedder.embed_query(query)
        rankings = [self.store.search_dense(vector, self.candidates, snapshot),
                    self.store.search_bm25(query, self.candidates, snapshot)]
        fused = reciprocal_rank_fusion(rankings, self.rrf_k)
        if prefer_article is not None:
            for key in fused:
                if key[0] == prefer_article:
                    fused[key] += 1.0 / (self.rrf_k + 1)
        # Merge the windows of hits that touch within one article; a passage scores as its best sentence.
        # RRF ties often (rank 1 + rank 2 either way round): the dense rank breaks them, because the
        # embedding matches paraphrases ("bounty" / "reward") where BM25 only counts shared words.
        dense_rank = {(hit.article_id, hit.position): rank for rank, hit in enumerate(rankings[0])}
        windows: dict[int, list[tuple[int, int, tuple[float, int]]]] = defaultdict(list)
        for (article_id, position), score in fused.items():
            article = snapshot.articles[article_id]
            first = max(0, position - self.window)
            last = min(len(article.sentences) - 1, position + self.window)
            windows[article_id].append((first, last, (score, -dense_rank.get((article_id, position), len(dense_rank)))))
        merged: list[tuple[tuple[float, int], int, int, int]] = []
        for article_id, spans in windows.items():
            spans.sort()
            first, last, best = spans[0]
            for span_first, span_last, score in spans[1:]:
                if span_first <= last + 1 and span_last - first < 4 * self.window + 3:
                    last, best = max(last, span_last), max(best, score)
                else:
                    merged.append((best, article_id, first, last))
                    first, last, best = span_first, span_last, score
            merged.append((best, article_id, first, last))
        merged.sort(key=lambda m: m[0], reverse=True)
        passages = []
        for rank, ((score, _), article_id, first, last) in enumerate(merged[:top_k]):
            article = snapshot.articles[article_id]
            start, end = article.sentences[first][0], article.sentences[last][1]
            passages.append(Passage(article_id, article.title, article.text[start:end], start, first, last,
                                    score, rank))
        return passages
