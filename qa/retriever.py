"""Hybrid retrieval: find the stories first, then spend a token budget on their best passages.

1. Sentences: BM25 and dense rankings fused by reciprocal rank (RRF).
2. Stories: BM25 over whole articles, the article of the best dense sentence and the article of the best
   fused sentence, fused by RRF. On long news stories this puts the right story first far more often than
   two sentence windows do (the answer's sentence rarely repeats the question's words).
3. Reading budget: the top stories' text, counted in reader tokens. The first story is read whole when it
   is at most `whole_first` budgets long, and counts as at most half the budget: the story ranking is right
   far more often than any one window, and a long story's answer is often far from the sentences that
   match the question. Other short stories are read whole; long ones as windows around their best
   sentences, best first, until the budget is spent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from articleqa.index.embedder import Embedder
from articleqa.index.store import Hit, SentenceStore, Snapshot, StoredArticle


@dataclass(frozen=True)
class Passage:
    """Consecutive sentences of one article (possibly all of them)."""

    article_id: int
    title: str
    text: str
    start: int  # character offset of `text` in the article body
    first_sentence: int
    last_sentence: int  # inclusive
    score: float  # the story's fused retrieval score (higher is better)
    rank: int  # 0 = first passage handed to the reader
    sentences: tuple[tuple[int, int], ...]  # (start, end) of each of its sentences in `text`, as stored


Key = TypeVar("Key", bound=Hashable)  # what a ranking ranks: a sentence's (article id, position), a story's id

FILTERED_FETCH = 8  # hits fetched per hit kept when a date range filters the search


def _article_of(hit) -> int:
    """The article of a sentence hit or of a (article id, score) story hit."""
    return hit.article_id if isinstance(hit, Hit) else hit[0]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Key]], k: int = 60) -> dict[Key, float]:
    """Sum of 1 / (k + rank) over the rankings an item (a sentence's key, a story's id) appears in."""
    fused: dict[Key, float] = defaultdict(float)
    for ranking in rankings:
        for rank, key in enumerate(ranking):
            fused[key] += 1.0 / (k + rank + 1)
    return fused


def _sentence_keys(hits: list[Hit]) -> list[tuple[int, int]]:
    return [(hit.article_id, hit.position) for hit in hits]


def _first_seen(ids) -> list[int]:
    return list(dict.fromkeys(ids))


class HybridRetriever:
    def __init__(
        self,
        store: SentenceStore,
        embedder: Embedder,
        *,
        candidates: int = 30,
        window: int = 1,
        rrf_k: int = 60,
        stories: int = 3,
        budget: int = 1024,
        whole_first: float = 3.0,
        count_tokens: Callable[[str], int] | None = None,
        dated_stories: int | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self.window = window  # sentences on each side of a hit in a long story's passage
        self.rrf_k = rrf_k
        self.stories = stories
        # when the best story is dated, more are read: developing news tells one event in several reports
        self.dated_stories = stories if dated_stories is None else dated_stories
        self.budget = budget  # reader tokens of passage text per question
        self.whole_first = whole_first  # the first story is read whole up to this many budgets' tokens
        # ~4 characters per token for English news when no tokenizer is given
        self.count_tokens = count_tokens or (lambda text: max(1, len(text) // 4))

    def retrieve(
        self,
        query: str,
        budget: int | None = None,
        prefer_article: int | None = None,
        snapshot: Snapshot | None = None,
        vector: np.ndarray | None = None,
        allowed: Callable[[StoredArticle], bool] | None = None,
    ) -> list[Passage]:
        """Passages of the best stories within `budget` reader tokens (the retriever's own by default);
        `prefer_article` (a follow-up's article) counts as one more ranking. Pass the store's `snapshot`
        to look the passages' articles up in the same state afterwards, and the query's `vector` when it
        was embedded already (with other questions' queries, in one call). `allowed`: only the articles it
        accepts are searched (a date range)."""
        snapshot = snapshot or self.store.snapshot()
        if snapshot.size == 0:
            return []
        budget = self.budget if budget is None else budget
        if vector is None:
            vector = self.embedder.embed_query(query)
        # with a filter, more hits are fetched so that enough of the allowed articles' remain after it
        k = self.candidates if allowed is None else self.candidates * FILTERED_FETCH

        def kept(hits):
            return hits if allowed is None else [h for h in hits if allowed(snapshot.articles[_article_of(h)])]

        dense = kept(self.store.search_dense(vector, k, snapshot))[: self.candidates]
        sparse = kept(self.store.search_bm25(query, k, snapshot))[: self.candidates]
        if not dense and not sparse:
            return []
        dense_keys = _sentence_keys(dense)
        fused = reciprocal_rank_fusion([dense_keys, _sentence_keys(sparse)], self.rrf_k)
        # RRF ties often (rank 1 + rank 2 either way round): the dense rank breaks them, because the
        # embedding matches paraphrases ("bounty" / "reward") where BM25 only counts shared words.
        dense_rank = {key: r for r, key in enumerate(dense_keys)}
        sentences = sorted(fused, key=lambda key: (fused[key], -dense_rank.get(key, len(dense))), reverse=True)
        story_scores = reciprocal_rank_fusion(
            [
                [article_id for article_id, _ in kept(self.store.search_stories(query, k, snapshot))][
                    : self.candidates
                ],
                _first_seen(h.article_id for h in dense),
                _first_seen(article_id for article_id, _ in sentences),
            ],
            self.rrf_k,
        )
        if prefer_article in snapshot.articles:
            story_scores[prefer_article] += 1.0 / (self.rrf_k + 1)
        ranked = sorted(story_scores, key=story_scores.get, reverse=True)
        stories = ranked[: self.dated_stories if snapshot.articles[ranked[0]].meta.date else self.stories]
        chosen = self._spend(stories, sentences, snapshot.articles, budget)
        passages = []
        for story in stories:
            article = snapshot.articles[story]
            for first, last in sorted(chosen.get(story, [])):
                start, end = article.sentences[first][0], article.sentences[last][1]
                passages.append(
                    Passage(
                        story,
                        article.title,
                        article.text[start:end],
                        start,
                        first,
                        last,
                        story_scores[story],
                        len(passages),
                        tuple((s - start, e - start) for s, e in article.sentences[first : last + 1]),
                    )
                )
        return passages

    def _spend(
        self, stories: list[int], sentences: list[tuple[int, int]], articles: dict[int, StoredArticle], budget: int
    ) -> dict[int, list[tuple[int, int]]]:
        """Sentence ranges to read per story: the first story whole when it is at most `whole_first` budgets
        long (charged at most half the budget, so the next stories still get their best windows), other
        short stories whole (in story order), then windows around the best sentences of the rest, best
        first, while the budget lasts. The first story always gets one."""
        chosen: dict[int, list[tuple[int, int]]] = {}
        whole: set[int] = set()
        used = 0
        for rank, story in enumerate(stories):
            article = articles[story]
            tokens = self.count_tokens(article.text)
            first = rank == 0 and tokens <= budget * self.whole_first
            if first or (tokens <= budget // 2 and used + tokens <= budget):
                chosen[story] = [(0, len(article.sentences) - 1)]
                whole.add(story)
                used += min(tokens, budget // 2) if first else tokens
        for story, position in sentences:
            if story not in stories or story in whole:
                continue
            article = articles[story]
            first = max(0, position - self.window)
            last = min(len(article.sentences) - 1, position + self.window)
            ranges = chosen.setdefault(story, [])
            if any(a <= first and last <= b for a, b in ranges):
                continue
            tokens = self.count_tokens(article.text[article.sentences[first][0] : article.sentences[last][1]])
            if used + tokens > budget and used > 0:
                if not ranges:
                    del chosen[story]
                continue
            used += tokens
            ranges.append((first, last))
            chosen[story] = _merge(ranges)
        if not chosen and stories:  # nothing fitted: the first story's best sentence window all the same
            story = stories[0]
            position = next((p for s, p in sentences if s == story), 0)
            last = len(articles[story].sentences) - 1
            chosen[story] = [(max(0, position - self.window), min(last, position + self.window))]
        return {story: ranges for story, ranges in chosen.items() if ranges}


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sentence ranges that touch or overlap, joined."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged
