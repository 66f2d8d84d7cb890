"""RSS and Atom feeds, read with feedparser: each entry is an article, from the feed itself when it carries the
full text, else from the page the entry links to."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path

import feedparser

from articleqa.index.documents import Article, ArticleMeta, InvalidArticle, http_url, parse_article
from articleqa.index.fetch import FEED_TYPES, FetchLimits, fetch, fetch_article

# An entry's own text of at least this many words is the article itself; shorter is a teaser for the page.
FULL_TEXT_WORDS = 120


@dataclass(frozen=True)
class FeedEntry:
    title: str
    link: str  # the article's http(s) address, or "" when the entry has none
    meta: ArticleMeta  # the entry's date and author, the feed's title as the source
    article: Article | None  # the article, when the feed carries its full text

    @property
    def name(self) -> str:
        """How to name the entry in a message."""
        return self.title or self.link or "an entry without a title"


@dataclass(frozen=True)
class Feed:
    title: str
    entries: tuple[FeedEntry, ...]


def _date(entry) -> str:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")  # feedparser gives UTC struct_time
    return time.strftime("%Y-%m-%d", stamp) if stamp else ""


def _full_text(entry, title: str, meta: ArticleMeta, max_bytes: int) -> Article | None:
    texts = [c.get("value", "") for c in entry.get("content", [])] + [entry.get("summary", "")]
    longest = max(texts, key=len)
    if len(longest.split()) < FULL_TEXT_WORDS:
        return None
    try:
        article = parse_article(longest, max_bytes=max_bytes, kind="html", url=meta.url, title=title, meta=meta)
    except InvalidArticle:
        return None  # the page it links to may do better
    return article if len(article.text.split()) >= FULL_TEXT_WORDS else None


def parse_feed(raw: bytes, url: str = "", max_bytes: int = 5_000_000) -> Feed:
    """The entries of an RSS or Atom document; InvalidArticle when it is neither."""
    # A stream, never a string: feedparser would open a string that looks like a path or URL itself.
    parsed = feedparser.parse(io.BytesIO(raw), response_headers={"content-location": url} if url else None)
    if not parsed.version and not parsed.entries:
        raise InvalidArticle(f"{url or 'This file'} is not an RSS or Atom feed.")
    source = " ".join(parsed.feed.get("title", "").split())
    entries = []
    for entry in parsed.entries:
        title = " ".join(entry.get("title", "").split())
        link = http_url(entry.get("link", ""))
        meta = ArticleMeta(date=_date(entry), source=source, url=link, author=" ".join(entry.get("author", "").split()))
        entries.append(FeedEntry(title, link, meta, _full_text(entry, title, meta, max_bytes)))
    return Feed(source, tuple(entries))


def read_feed(url_or_path: str, limits: FetchLimits) -> Feed:
    """A feed from an http(s) address or a local file."""
    if http_url(url_or_path):
        fetched = fetch(url_or_path, limits, accept=FEED_TYPES)
        return parse_feed(fetched.body, fetched.url, limits.max_bytes)
    path = Path(url_or_path).expanduser()
    if not path.is_file():
        raise InvalidArticle(f"{url_or_path}: no such feed file, and not an http(s) address.")
    if path.stat().st_size > limits.max_bytes:
        raise InvalidArticle(f"{path.name} is larger than the {limits.max_bytes / 1e6:.1f} MB limit.")
    return parse_feed(path.read_bytes(), max_bytes=limits.max_bytes)


def entry_article(entry: FeedEntry, limits: FetchLimits) -> Article:
    """The entry's article: the feed's full text, else the page it links to, with the entry's metadata
    where the page has none."""
    if entry.article is not None:
        return entry.article
    if not entry.link:
        raise InvalidArticle("the entry has no link and no text.")
    return fetch_article(entry.link, limits, meta=entry.meta)
