"""Articles from .txt, .md and .html: text, title and what the page says about itself, with clear messages.

HTML goes through trafilatura, which keeps the story and drops the page around it (menus, cookie banners,
promos, "most read" lists, comments, footers) and reads the title, date, author, site and canonical URL
from the page's metadata (meta tags, JSON-LD). Markdown is parsed with markdown-it-py.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

from markdown_it import MarkdownIt

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
# Fewer words than this after extraction: a front page, a login wall or a page built by JavaScript.
MIN_ARTICLE_WORDS = 4


class InvalidArticle(ValueError):
    """An article that cannot be indexed; the message is meant for the user."""


@dataclass(frozen=True)
class ArticleMeta:
    """Where and when an article was published; empty strings where the page doesn't say."""

    date: str = ""  # publication date, ISO 8601 (YYYY-MM-DD)
    source: str = ""  # the publisher or site, e.g. "The Coastal Herald"
    url: str = ""  # the article's canonical http(s) address
    author: str = ""

    def filled_from(self, fallback: ArticleMeta) -> ArticleMeta:
        """These values, with `fallback`'s where these are empty (a feed entry's date for a page without one)."""
        return replace(self, **{f.name: getattr(fallback, f.name) for f in fields(self) if not getattr(self, f.name)})


@dataclass(frozen=True)
class Article:
    title: str
    text: str  # the body; sentence offsets refer to this text
    file: str = ""  # the file name it came from, if any
    meta: ArticleMeta = field(default_factory=ArticleMeta)

    @property
    def fingerprint(self) -> str:
        """Same title and body (modulo white space) -> same fingerprint: exact duplicates are skipped."""
        normal = " ".join(self.title.split()) + "\n" + " ".join(self.text.split())
        return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:32]


def http_url(url: str) -> str:
    """`url` when it is an absolute http(s) address, else "": the only links stored, fetched or shown."""
    try:
        parts = urlsplit((url or "").strip())
    except ValueError:
        return ""
    return parts.geturl() if parts.scheme in ("http", "https") and parts.hostname else ""


def same_url_key(url: str) -> str:
    """A key under which two spellings of one address are equal: scheme and host case, default port,
    fragment and a trailing slash don't make another article."""
    url = http_url(url)
    if not url:
        return ""
    parts = urlsplit(url)
    port = parts.port
    host = parts.hostname + (f":{port}" if port and port != {"http": 80, "https": 443}[parts.scheme] else "")
    path = parts.path.rstrip("/") or "/"
    return f"{parts.scheme}://{host}{path}" + (f"?{parts.query}" if parts.query else "")


def _html_article(markup: str, url: str) -> tuple[str, str, ArticleMeta]:
    """(title, text, metadata) of a web page: the story alone, without the page around it."""
    import trafilatura  # here, not at the top: answering questions never needs it (0.7 s of start-up)

    document = trafilatura.bare_extraction(
        markup,
        url=http_url(url) or None,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_precision=True,  # boilerplate answers are worse than a lost standfirst; keeps inline tags inline
        # Dates from the page's markup only: the extensive search takes "© 2022" in a footer for the date.
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    text = (document.text if document else "") or ""
    if len(text.split()) < MIN_ARTICLE_WORDS:
        raise InvalidArticle(
            "No article text was found on this page (it may be a front page, a login or "
            "cookie wall, or a page that is built by JavaScript). Nothing was added."
        )
    page_url = http_url(document.url or "") or http_url(url)
    site = " ".join((document.sitename or "").split())
    if site in {urlsplit(page_url).netloc, urlsplit(page_url).hostname}:
        site = ""  # trafilatura's stand-in, the host: a feed's title says more (parse_article falls back to it)
    meta = ArticleMeta(
        date=document.date or "", source=site, url=page_url, author=" ".join((document.author or "").split())
    )
    return document.title or "", text, meta


def _html_fragment_text(markup: str) -> str:
    # Raw HTML inside Markdown: its text, without scripts and styles.
    import trafilatura

    return trafilatura.html2txt(f"<html><body>{markup}</body></html>")


_MARKDOWN = MarkdownIt("commonmark").enable("table")


def _markdown_to_text(markdown: str) -> str:
    """The text of a Markdown document, one line per block (heading, paragraph, list item, table cell)."""
    lines = []
    for token in _MARKDOWN.parse(markdown):
        if token.type == "inline":
            lines.append("".join(_INLINE.get(child.type, lambda c: "")(child) for child in token.children or []))
        elif token.type in ("fence", "code_block"):
            lines.append(token.content)
        elif token.type == "html_block":
            lines.append(_html_fragment_text(token.content))
    return "\n".join(lines)


_INLINE = {  # inline token -> its text; markup (emphasis, links, inline HTML tags) contributes none
    "text": lambda t: t.content,
    "code_inline": lambda t: t.content,
    "image": lambda t: t.content,  # the alt text
    "softbreak": lambda t: " ",
    "hardbreak": lambda t: "\n",
}


def _tidy(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def decode_text(raw: bytes) -> str:
    """UTF-8 (with or without BOM), else a clear error: binary files and other encodings are refused."""
    if b"\x00" in raw[:8192]:
        raise InvalidArticle("This looks like a binary file, not text. Upload .txt, .md or .html.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidArticle(f"The file is not valid UTF-8 text (byte {error.start}). Save it as UTF-8.") from None
    return _refuse_binary(text)


def _refuse_binary(text: str) -> str:
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if "\x00" in text[:8192] or controls > 0.01 * min(len(text), 8192) + 2:
        raise InvalidArticle("This looks like a binary file, not text. Upload .txt, .md or .html.")
    return text


def _kind(name: str, text: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in (".html", ".htm") or (
        not suffix and re.match(r"\s*(<!doctype html|<html|<head|<body)", text, re.I) is not None
    ):
        return "html"
    return "markdown" if suffix in (".md", ".markdown") else "text"


def parse_article(
    raw: bytes | str,
    name: str = "",
    max_bytes: int = 5_000_000,
    *,
    kind: str = "",
    url: str = "",
    title: str = "",
    meta: ArticleMeta | None = None,
) -> Article:
    """An article from its bytes or text.

    `kind` ("html", "markdown", "text") is the format; by default `name` (a file name) picks it. `url`: where
    a fetched page came from. `title` (a feed entry's) replaces the page's; `meta` fills what the page
    doesn't say. Without a title, HTML's is the page's headline and plain text's is the first line."""
    size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
    if size > max_bytes:
        raise InvalidArticle(f"The article is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB.")
    text = _refuse_binary(raw) if isinstance(raw, str) else decode_text(raw)
    text = "".join(ch for ch in text if ch in "\n\t" or ord(ch) >= 32)
    kind = kind or _kind(name, text)
    page_title, page_meta = "", ArticleMeta(url=http_url(url))
    if kind == "html":
        page_title, text, page_meta = _html_article(text, url)
    elif kind == "markdown":
        text = _markdown_to_text(text)
    text = _tidy(text)
    title = " ".join(title.split()) or page_title
    first, _, rest = text.partition("\n")
    if kind == "html" and title and first == title:  # the headline again at the top of the story
        text = rest.strip()
    if not title:
        first, _, text = text.partition("\n")
        title = first.strip()
        text = text.strip()
    title = html.unescape(title)[:300]
    if not title:
        raise InvalidArticle("The article is empty.")
    if not text:
        raise InvalidArticle(
            "The article has a title but no text: the title goes on the first line, the text below it."
        )
    meta = page_meta.filled_from(meta) if meta else page_meta
    if meta.url and not meta.source:  # the site's name, else its host
        meta = replace(meta, source=(urlsplit(meta.url).hostname or "").removeprefix("www."))
    return Article(title=title, text=text, file=Path(name).name if name else "", meta=meta)


def load_article(path: str | Path, max_bytes: int = 5_000_000) -> Article:
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InvalidArticle(f"{path.name}: unsupported file type; use {', '.join(SUPPORTED_SUFFIXES)}.")
    size = path.stat().st_size
    if size > max_bytes:
        raise InvalidArticle(f"{path.name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB.")
    return parse_article(path.read_bytes(), path.name, max_bytes)
