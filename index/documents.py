"""Articles from .txt, .md and .html: text and title, with input checks that give clear messages."""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")


class InvalidArticle(ValueError):
    """An article that cannot be indexed; the message is meant for the user."""


@dataclass(frozen=True)
class Article:
    title: str
    text: str  # the body; sentence offsets refer to this text
    source: str = ""

    @property
    def fingerprint(self) -> str:
        """Same title and body (modulo white space) -> same fingerprint: exact duplicates are skipped."""
        normal = " ".join(self.title.split()) + "\n" + " ".join(self.text.split())
        return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:32]


class _TextExtractor(HTMLParser):
    """Visible text of an HTML page; <script>/<style> dropped, block tags become line breaks."""

    BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article",
              "header", "footer", "blockquote", "pre", "title", "ul", "ol", "table"}
    SKIP = {"script", "style", "noscript", "template", "head"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._skip_depth = 0
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self._in_title = True
        elif tag in self.SKIP:
            self._skip_depth += 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag in self.SKIP and self._skip_depth:
            self._skip_depth -= 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if self._in_title:
            self.title_parts.append(data)
        elif not self._skip_depth:
            self.parts.append(data)


def _html_to_text(markup: str) -> tuple[str, str]:
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()  # broken HTML is tolerated: whatever parsed so far is kept
    title = " ".join("".join(parser.title_parts).split())
    return title, "".join(parser.parts)


_MD_MARKUP = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links -> link text
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.M), ""),  # headings
    (re.compile(r"^\s{0,3}>\s?", re.M), ""),  # quotes
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])[*_](?!\s)(.+?)(?<!\s)[*_](?![\w*])"), r"\1"),  # italics
    (re.compile(r"`([^`]*)`"), r"\1"),  # inline code
]


def _markdown_to_text(markdown: str) -> str:
    for pattern, replacement in _MD_MARKUP:
        markdown = pattern.sub(replacement, markdown)
    return markdown


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


def parse_article(raw: bytes | str, name: str = "", max_bytes: int = 5_000_000) -> Article:
    """An article from its bytes; `name` (a file name) picks the format: HTML, Markdown or plain text."""
    size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
    if size > max_bytes:
        raise InvalidArticle(f"The article is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB.")
    text = _refuse_binary(raw) if isinstance(raw, str) else decode_text(raw)
    text = "".join(ch for ch in text if ch in "\n\t" or ord(ch) >= 32)
    suffix = Path(name).suffix.lower()
    looks_like_html = suffix in (".html", ".htm") or (
        not suffix and re.match(r"\s*(<!doctype html|<html|<head|<body)", text, re.I) is not None
    )
    title = ""
    if looks_like_html:
        title, text = _html_to_text(text)
    elif suffix in (".md", ".markdown"):
        text = _markdown_to_text(text)
    text = _tidy(text)
    if not title:
        first, _, text = text.partition("\n")
        title = first.strip()
        text = text.strip()
    title = html.unescape(title)[:300]
    if not title:
        raise InvalidArticle("The article is empty.")
    if not text:
        raise InvalidArticle("The article has a title but no text: the title goes on the first line, the text below it.")
    return Article(title=title, text=text, source=Path(name).name if name else "")


def load_article(path: str | Path, max_bytes: int = 5_000_000) -> Article:
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InvalidArticle(f"{path.name}: unsupported file type; use {', '.join(SUPPORTED_SUFFIXES)}.")
    size = path.stat().st_size
    if size > max_bytes:
        raise InvalidArticle(f"{path.name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB.")
    return parse_article(path.read_bytes(), path.name, max_bytes)
