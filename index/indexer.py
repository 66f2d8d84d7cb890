"""Articles into the store: split into sentences, embed, add; exact duplicates are skipped, and a page indexed
again from the same URL with other text replaces its older version."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from articleqa.index.documents import SUPPORTED_SUFFIXES, Article, InvalidArticle, load_article, same_url_key
from articleqa.index.embedder import Embedder
from articleqa.index.feed_state import record_feed
from articleqa.index.feeds import entry_article, read_feed
from articleqa.index.fetch import FetchLimits, fetch_article
from articleqa.index.sentences import split_sentences
from articleqa.index.store import EmbeddedArticle, SentenceStore, StoredArticle


@dataclass
class IndexReport:
    added: list[StoredArticle] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # titles skipped as exact duplicates
    replaced: list[str] = field(default_factory=list)  # titles of older versions of pages indexed again
    errors: list[str] = field(default_factory=list)  # one clear message per file that could not be read


def article_files(paths: Iterable[str | Path]) -> list[Path]:
    """The article files named, directories expanded (sorted, supported suffixes only)."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES))
        else:
            files.append(path)
    return files


class Indexer:
    def __init__(self, store: SentenceStore, embedder: Embedder, commit_chars: int = 1_000_000) -> None:
        self.store = store
        self.embedder = embedder
        # One database transaction per ~1 MB of text: a commit costs an fsync, and other processes see the
        # articles of a long run as it goes rather than at its end.
        self.commit_chars = commit_chars

    def add_articles(self, articles: Iterable[Article], progress: bool = False) -> IndexReport:
        report = IndexReport()
        pending: list[Article] = []
        replacing: list[int] = []  # ids of the older versions the pending articles replace
        pending_chars = 0
        seen: set[str] = set()
        articles = list(articles)
        self.store.refresh()  # what other processes added since: their articles are duplicates here too
        bar = tqdm(total=len(articles), desc="indexing", unit="article", disable=not progress)
        for article in articles:
            url = same_url_key(article.meta.url)
            older = self.store.find_url(url) if url else None
            indexed = (
                older.fingerprint == article.fingerprint if older else self.store.has_fingerprint(article.fingerprint)
            )
            if indexed or article.fingerprint in seen or url in seen:
                report.duplicates.append(article.title)
                bar.update(1)
                continue
            seen.update(key for key in (article.fingerprint, url) if key)
            if older is not None:  # the same page with other text: the new version replaces it
                replacing.append(older.id)
                report.replaced.append(older.title)
            pending.append(article)
            pending_chars += len(article.text)
            if pending_chars >= self.commit_chars:
                self._commit(pending, replacing, report)
                bar.update(len(pending))
                pending, replacing, pending_chars = [], [], 0
        if pending:
            self._commit(pending, replacing, report)
            bar.update(len(pending))
        bar.close()
        return report

    def add_files(self, paths: Iterable[str | Path], max_bytes: int, progress: bool = False) -> IndexReport:
        articles, errors = [], []
        for path in article_files(paths):
            try:
                articles.append(load_article(path, max_bytes))
            except (InvalidArticle, OSError) as error:
                errors.append(f"{path}: {error}")
        report = self.add_articles(articles, progress=progress)
        report.errors = errors + report.errors
        return report

    def add_url(self, url: str, limits: FetchLimits) -> IndexReport:
        """Fetch one page and index its article; a problem comes back in report.errors."""
        try:
            article = fetch_article(url, limits)
        except InvalidArticle as error:
            return IndexReport(errors=[str(error)])
        return self.add_articles([article])

    def add_feed(self, url_or_path: str, limits: FetchLimits, progress: bool = False) -> IndexReport:
        """Index the entries of an RSS/Atom feed (an address or a file). Entries linking to a page that is
        indexed already are skipped unfetched; a failing entry is reported and the others go on. The read is
        recorded in the store's feed state (index/feed_state.py)."""
        try:
            feed = read_feed(url_or_path, limits)
        except InvalidArticle as error:
            record_feed(self.store.database, url_or_path, added=0, errors=1)
            return IndexReport(errors=[str(error)])
        articles, skipped, errors = [], [], []
        for entry in tqdm(feed.entries, desc="fetching", unit="entry", disable=not progress):
            if entry.article is None and self.store.find_url(entry.link):
                skipped.append(entry.name)
                continue
            try:
                articles.append(entry_article(entry, limits))
            except InvalidArticle as error:
                errors.append(f"{entry.name}: {error}")
        report = self.add_articles(articles, progress=progress)
        report.duplicates[:0] = skipped
        report.errors[:0] = errors
        record_feed(self.store.database, url_or_path, added=len(report.added), errors=len(report.errors))
        return report

    def _commit(self, articles: list[Article], replacing: list[int], report: IndexReport) -> None:
        spans = [split_sentences(a.text) for a in articles]
        texts = [s.text for article_spans in spans for s in article_spans]
        vectors = self.embedder.embed(texts)
        items, row = [], 0
        for article, article_spans in zip(articles, spans, strict=True):
            n = len(article_spans)
            items.append(
                EmbeddedArticle(
                    article.title,
                    article.text,
                    article.file,
                    article.fingerprint,
                    tuple((s.start, s.end) for s in article_spans),
                    vectors[row : row + n],
                    article.meta,
                )
            )
            row += n
        added = self.store.add(items, replacing=replacing)
        report.added.extend(added)
        # the store skips what another process added between our look and our write: duplicates too
        stored = {a.fingerprint for a in added}
        report.duplicates.extend(a.title for a in articles if a.fingerprint not in stored)
