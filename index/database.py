"""The store's database: SQLite (WAL) holding articles, sentence vectors, full-text indexes and a change log.

One file, `store.db`, shared by every process on a data dir. Each write is one transaction taken with
BEGIN IMMEDIATE (writers queue on SQLite's lock, across processes); readers never wait for writers (WAL).
`changes` numbers every article added or removed, so a process catches up on other processes' writes by
reading the log past the last number it applied. BM25 is FTS5's, over text tokenised as bm25s tokenised it
before (lower case, words of 2+ characters, English stop words dropped), so the vocabulary is the same.
"""

from __future__ import annotations

import json
import re
import sqlite3
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bm25s.stopwords import STOPWORDS_EN

# 1-3: manifest.json + vN/ snapshot folders (index/legacy.py reads them, once); 4: sentence spans as JSON text
# (upgraded in place, once: index/store.py)
FORMAT = 5
FILE = "store.db"
BUSY_TIMEOUT_S = 120.0  # a writer waits this long for another process's write to finish

_WORDS = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default token pattern
_STOPWORDS = frozenset(STOPWORDS_EN)
# FTS5 splits the stored tokens again: keep bm25s's word characters (underscore, accents) inside tokens
_TOKENIZER = "unicode61 remove_diacritics 0 tokenchars '_'"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: an id names one version of one article
    title TEXT NOT NULL, text TEXT NOT NULL, file TEXT NOT NULL, fingerprint TEXT NOT NULL,
    sentences BLOB NOT NULL,  -- (start, end) of each sentence in text: little-endian int32 pairs (spans_blob)
    first_row INTEGER NOT NULL,  -- row id of its first sentence; the others follow consecutively
    date TEXT NOT NULL, source TEXT NOT NULL, url TEXT NOT NULL, author TEXT NOT NULL,
    url_key TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS articles_fingerprint ON articles (fingerprint);
CREATE INDEX IF NOT EXISTS articles_url_key ON articles (url_key);
CREATE TABLE IF NOT EXISTS vectors (article INTEGER PRIMARY KEY, data BLOB NOT NULL);  -- float32 (sentences, d)
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, article INTEGER NOT NULL, first_row INTEGER NOT NULL,
    rows INTEGER NOT NULL, added INTEGER NOT NULL);  -- added 1: the article came, 0: it went
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY, checked TEXT NOT NULL, added INTEGER NOT NULL, errors INTEGER NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS sentence_fts USING fts5(tokens, tokenize="{_TOKENIZER}");  -- rowid: row id
CREATE VIRTUAL TABLE IF NOT EXISTS story_fts USING fts5(tokens, tokenize="{_TOKENIZER}");  -- rowid: article id
"""


def spans_blob(spans: tuple[tuple[int, int], ...]) -> bytes:
    """Sentence spans as stored: a flat run of little-endian int32 (start, end) pairs. Read back with one
    unpack and a zip, they decode ~3x faster than JSON (100,000 articles: 0.16 s instead of 0.45 s at start-up)."""
    return struct.pack(f"<{2 * len(spans)}i", *(bound for span in spans for bound in span))


def blob_spans(data: bytes | str) -> tuple[tuple[int, int], ...]:
    """The spans of `spans_blob`; JSON text (format 4) too, for a store being upgraded."""
    if isinstance(data, str):
        return tuple((int(start), int(end)) for start, end in json.loads(data))
    bounds = iter(struct.unpack(f"<{len(data) // 4}i", data))
    return tuple(zip(bounds, bounds, strict=False))  # consecutive pairs (an even count, as written)


def tokens(text: str) -> list[str]:
    """bm25s's tokens of `text` (stemming off, English stop words dropped)."""
    return [t for t in _WORDS.findall(text.lower()) if t not in _STOPWORDS]


def match_query(words: list[str]) -> str | None:
    """An FTS5 query matching any of these tokens (None for none)."""
    return " OR ".join(f'"{w}"' for w in words) if words else None  # \w tokens: no quote to escape


def query_words(db: sqlite3.Connection, table: str, text: str, documents: int) -> list[str]:
    """The text's tokens worth looking up in `table` of `documents` rows. FTS5's BM25 gives a term in more
    than half the rows an IDF of ~0 (1e-6): on a large table such a term cannot change the ranking but
    costs a score for every row it is in, so it is left out (on a small one, it is kept: cheap, and it
    still breaks ties between rows that match nothing else)."""
    words = list(dict.fromkeys(tokens(text)))
    if documents < 1000 or not words:
        return words
    counts = dict(
        db.execute(f"SELECT term, doc FROM temp.{table}_vocab WHERE term IN ({','.join('?' * len(words))})", words)
    )
    return [w for w in words if 0 < counts.get(w, 0) <= documents / 2]


class Database:
    """Connections to one store file: one per thread (sqlite3 connections are not shared between threads)."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        self.path = Path(path)
        self.durable = durable  # False: a scratch store (in memory for the user), no fsync
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._guard = threading.Lock()

    def connect(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            # autocommit mode (isolation_level=None): transactions are the explicit BEGIN ... COMMIT below
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA journal_mode=WAL")
            # FULL: each commit is on disk when it returns (a power cut keeps what was reported added)
            connection.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'OFF'}")
            for table in ("sentence_fts", "story_fts"):  # each term's document count (no storage of its own)
                connection.execute(
                    f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{table}_vocab USING fts5vocab(main, {table}, row)"
                )
            self._local.connection = connection
            with self._guard:
                self._all.append(connection)
        return connection

    def create(self) -> None:
        self.connect().executescript(f"BEGIN IMMEDIATE;{SCHEMA}COMMIT;")  # one transaction: all tables or none

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; other processes' writers wait (up to BUSY_TIMEOUT_S), readers don't."""
        db = self.connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """One consistent view across several queries (other processes' commits meanwhile are not seen)."""
        db = self.connect()
        if db.in_transaction:  # inside this thread's write: it sees its own state
            yield db
            return
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    def last_change(self) -> int:
        row = self.connect().execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
        return int(row[0]) if row else 0

    def meta(self) -> dict[str, str]:
        return dict(self.connect().execute("SELECT key, value FROM meta"))

    def close(self) -> None:
        with self._guard:
            for connection in self._all:
                connection.close()
            self._all.clear()
        self._local = threading.local()
