"""Article administration for the faces: add pasted, uploaded and on-disk articles, list them, remove them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from articleqa.index.documents import Article, InvalidArticle, parse_article
from articleqa.index.fetch import FetchLimits
from articleqa.index.indexer import Indexer, IndexReport
from articleqa.index.store import SentenceStore


class ArticleLibrary:
    """What is indexed, and changes to it; every problem comes back in an IndexReport, never raised."""

    def __init__(
        self, store: SentenceStore, indexer: Indexer, max_article_bytes: int, fetch_limits: FetchLimits | None = None
    ) -> None:
        self.store = store
        self.indexer = indexer
        self.max_article_bytes = max_article_bytes
        self.fetch_limits = fetch_limits or FetchLimits(max_bytes=max_article_bytes)

    def add_text(self, text: str | bytes, name: str = "") -> IndexReport:
        """One pasted or uploaded article; `name` (a file name) picks the format."""
        try:
            article = parse_article(text, name, self.max_article_bytes)
        except InvalidArticle as error:
            return IndexReport(errors=[str(error)])
        return self.indexer.add_articles([article])

    def add_files(self, paths: Iterable[str | Path], progress: bool = False) -> IndexReport:
        return self.indexer.add_files(paths, self.max_article_bytes, progress=progress)

    def add_articles(self, articles: Iterable[Article], progress: bool = False) -> IndexReport:
        return self.indexer.add_articles(articles, progress=progress)

    def add_url(self, url: str) -> IndexReport:
        """Fetch a page and index its article (a changed page replaces its older version)."""
        return self.indexer.add_url(url, self.fetch_limits)

    def add_feed(self, url_or_path: str, progress: bool = False) -> IndexReport:
        """Index the entries of an RSS/Atom feed that are not indexed yet."""
        return self.indexer.add_feed(url_or_path, self.fetch_limits, progress=progress)

    def articles(self) -> list[dict]:
        """id, title, sentences, date, source (the publisher), url, author and file of each article."""
        return [
            {
                "id": a.id,
                "title": a.title,
                "sentences": len(a.sentences),
                "date": a.meta.date,
                "source": a.meta.source,
                "url": a.meta.url,
                "author": a.meta.author,
                "file": a.file,
            }
            for a in self.store.articles
        ]

    def article(self, article_id: int, evidence: str | None = None) -> dict | None:
        """One article in full: id, title, text, sentences ((start, end) in text), date, source, url, and
        `evidence`: the (start, end) of an answer's sentence or passage in text, when it is given and found."""
        stored = self.store.article(article_id)
        if stored is None:
            return None
        found = stored.text.find(evidence) if evidence else -1
        return {
            "id": stored.id,
            "title": stored.title,
            "text": stored.text,
            "sentences": [list(span) for span in stored.sentences],
            "date": stored.meta.date,
            "source": stored.meta.source,
            "url": stored.meta.url,
            "evidence": [found, found + len(evidence)] if found >= 0 else None,
        }

    def remove(self, title_id_or_url: str) -> list[str]:
        """Remove the articles with this title (or id, or URL); their titles, empty when none matched."""
        found = self.store.find(title_id_or_url)
        return [a.title for a in self.store.remove(a.id for a in found)]
