"""The searchable store: articles, sentence vectors and BM25 in an embedded database, shared by processes.

On disk (`index_dir`):
    store.db            SQLite (WAL): articles, their sentence vectors, FTS5 indexes for BM25, a change log
                        (index/database.py). The truth: every write is one transaction in it.
    dense-<seq>.faiss   FAISS backend: a checkpoint of the vector index as of change <seq>. The index in
                        memory is that checkpoint (a flat one memory-mapped, not read) plus the changes after
                        it, read from the database, so a write never rewrites the file; after CHECKPOINT_ROWS
                        rows since the newest checkpoint, the writer saves a new one (a process that never
                        loaded the corpus builds it from that checkpoint and the database).
    milvus.db           Milvus Lite backend (or a Milvus server): the vectors under the same row ids.
Any number of processes may read and write one store: writers queue on the database's lock, and each
process catches up on the others' writes from the change log when it next takes a snapshot. A crash at
any moment leaves the database's old or new state; vectors added to a backend for a write that never
committed are removed, or ignored (searches skip rows the snapshot doesn't name) and dropped at the next
open. In memory each catch-up or write publishes a new immutable snapshot, so searches running meanwhile
see one consistent state. Stores of formats 1-3 (manifest.json and vN/ folders) are converted once, and
format 4 (sentence spans as JSON) is upgraded in place, once.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from articleqa.index.database import (
    FILE,
    FORMAT,
    Database,
    blob_spans,
    match_query,
    query_words,
    spans_blob,
    tokens,
)
from articleqa.index.documents import ArticleMeta, same_url_key
from articleqa.index.legacy import MANIFEST, LegacyFaissVectors, LegacyStore, read_legacy, remove_legacy
from articleqa.index.vectors import (
    BATCH_ROWS,
    FLAT_LIMIT,
    IVF_PROBES,
    FaissVectors,
    Rows,
    VectorIndex,
    backend_kind,
    open_vectors,
)

__all__ = [
    "FLAT_LIMIT",
    "IVF_PROBES",
    "EmbeddedArticle",
    "Hit",
    "IndexMismatch",
    "SentenceStore",
    "Snapshot",
    "StoredArticle",
]

log = logging.getLogger(__name__)

# FAISS: rows added since the newest checkpoint that make a writer (or an opening process) save a new one.
# Replaying them at start costs ~1 s per 50,000 rows; saving costs a full write of the index (300 MB at 200,000).
CHECKPOINT_ROWS = 50_000
_ARTICLE_COLUMNS = "id, title, text, file, fingerprint, sentences, first_row, date, source, url, author"


@dataclass(frozen=True)
class StoredArticle:
    id: int
    title: str
    text: str
    file: str  # the file it came from, if any
    fingerprint: str
    sentences: tuple[tuple[int, int], ...]  # (start, end) of each sentence in `text`
    meta: ArticleMeta = field(default_factory=ArticleMeta)  # date, source, url, author

    def sentence(self, position: int) -> str:
        start, end = self.sentences[position]
        return self.text[start:end]


@dataclass(frozen=True)
class EmbeddedArticle:
    """An article ready to store: its text, sentence spans and one unit vector per sentence."""

    title: str
    text: str
    file: str
    fingerprint: str
    sentences: tuple[tuple[int, int], ...]
    vectors: np.ndarray = field(repr=False)  # (len(sentences), dimension)
    meta: ArticleMeta = field(default_factory=ArticleMeta)


@dataclass(frozen=True)
class Hit:
    article_id: int
    position: int  # sentence index within the article
    score: float


class IndexMismatch(RuntimeError):
    """The index on disk was built with another embedder, format or vector store."""


@dataclass(frozen=True)
class Snapshot:
    """Immutable once published: everything one search needs except the vectors (the backend holds those)
    and the full-text indexes (the database holds those; hits outside the snapshot are ignored)."""

    articles: dict[int, StoredArticle] = field(default_factory=dict)
    first_rows: dict[int, int] = field(default_factory=dict)  # article id -> row id of its first sentence
    row_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # ascending
    row_article: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    row_position: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    next_row: int = 0
    by_url: dict[str, int] = field(default_factory=dict)  # same_url_key(url) -> article id
    by_fingerprint: dict[str, int] = field(default_factory=dict)
    seq: int = 0  # the last change of the database this state includes

    @property
    def size(self) -> int:
        return len(self.row_article)

    @property
    def rows(self) -> Rows:
        return Rows(self.row_ids, self.row_article, self.row_position)

    def locate(self, row_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions in the row arrays, whether this snapshot names the row) of each row id."""
        if self.size == 0:
            return np.zeros(len(row_ids), dtype=np.int64), np.zeros(len(row_ids), dtype=bool)
        where = np.minimum(np.searchsorted(self.row_ids, row_ids), self.size - 1)
        return where, self.row_ids[where] == row_ids


def _row_arrays(placed: list[tuple[StoredArticle, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    counts = np.fromiter((len(a.sentences) for a, _ in placed), dtype=np.int64, count=len(placed))
    ids = np.fromiter((a.id for a, _ in placed), dtype=np.int64, count=len(placed))
    firsts = np.fromiter((f for _, f in placed), dtype=np.int64, count=len(placed))
    row_article = np.repeat(ids, counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    row_position = np.arange(len(row_article), dtype=np.int64) - starts
    return np.repeat(firsts, counts) + row_position, row_article, row_position


def _extend(
    base: Snapshot, added: list[tuple[StoredArticle, int]], removed: set[int], next_row: int, seq: int
) -> Snapshot:
    """`base` with articles added (rows above all of base's) and removed: a new snapshot, base unchanged."""
    removed = removed & base.articles.keys()
    articles = {i: a for i, a in base.articles.items() if i not in removed} if removed else dict(base.articles)
    first_rows = {i: r for i, r in base.first_rows.items() if i not in removed} if removed else dict(base.first_rows)
    by_url = {k: i for k, i in base.by_url.items() if i not in removed} if removed else dict(base.by_url)
    by_fingerprint = (
        {k: i for k, i in base.by_fingerprint.items() if i not in removed} if removed else dict(base.by_fingerprint)
    )
    row_ids, row_article, row_position = base.row_ids, base.row_article, base.row_position
    if removed:
        keep = ~np.isin(row_article, np.fromiter(removed, dtype=np.int64))
        row_ids, row_article, row_position = row_ids[keep], row_article[keep], row_position[keep]
    if added:
        new_ids, new_article, new_position = _row_arrays(added)
        row_ids = np.concatenate([row_ids, new_ids])
        row_article = np.concatenate([row_article, new_article])
        row_position = np.concatenate([row_position, new_position])
    for article, first_row in added:
        articles[article.id], first_rows[article.id] = article, first_row
        by_fingerprint[article.fingerprint] = article.id
        if article.meta.url:
            by_url[same_url_key(article.meta.url)] = article.id
    return Snapshot(
        articles,
        first_rows,
        row_ids,
        row_article,
        row_position,
        max(next_row, base.next_row),
        by_url,
        by_fingerprint,
        seq,
    )


class _View:
    """What a write checks against, inside its transaction: the loaded snapshot (caught up first), or the
    database itself in a process that has not loaded the corpus."""

    def __init__(self, store: SentenceStore, db: sqlite3.Connection) -> None:
        self.db = db
        self.snapshot = None
        if store._loaded:
            store._catch_up(db)
            self.snapshot = store._snapshot
        stored_next = int(db.execute("SELECT value FROM meta WHERE key = 'next_row'").fetchone()[0])
        self.next_row = max(stored_next, self.snapshot.next_row if self.snapshot else 0)

    def has_fingerprint(self, fingerprint: str) -> bool:
        if self.snapshot is not None:
            return fingerprint in self.snapshot.by_fingerprint
        return self.db.execute("SELECT 1 FROM articles WHERE fingerprint = ?", (fingerprint,)).fetchone() is not None

    def url_owner(self, url: str) -> int | None:
        if not url:
            return None
        if self.snapshot is not None:
            return self.snapshot.by_url.get(same_url_key(url))
        found = self.db.execute("SELECT id FROM articles WHERE url_key = ?", (same_url_key(url),)).fetchone()
        return found[0] if found else None

    def present(self, ids: Iterable[int]) -> dict[int, tuple[StoredArticle, int]]:
        """(article, first row) of those of `ids` that are stored."""
        ids = sorted(set(ids))
        if self.snapshot is not None:
            return {
                i: (self.snapshot.articles[i], self.snapshot.first_rows[i]) for i in ids if i in self.snapshot.articles
            }
        return {a.id: (a, first) for a, first in SentenceStore._read_articles(self.db, ids)}


def _stored(record: tuple) -> tuple[StoredArticle, int]:
    """(article, first row) from a row of `SELECT {_ARTICLE_COLUMNS} FROM articles`."""
    article_id, title, text, file, fingerprint, sentences, first_row, date, source, url, author = record
    return StoredArticle(
        article_id, title, text, file, fingerprint, blob_spans(sentences), ArticleMeta(date, source, url, author)
    ), first_row


def _placed_rows(placed: list[tuple[int, int, int]]) -> Rows:
    """The rows of (article id, first row, sentences) records: an article's rows are consecutive; between
    articles there are gaps where removed ones were."""
    counts = np.fromiter((n for _, _, n in placed), dtype=np.int64, count=len(placed))
    positions = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    firsts = np.fromiter((f for _, f, _ in placed), dtype=np.int64, count=len(placed))
    ids = np.fromiter((a for a, _, _ in placed), dtype=np.int64, count=len(placed))
    return Rows(np.repeat(firsts, counts) + positions, np.repeat(ids, counts), positions)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """(change number, path) of the FAISS checkpoints in `folder`, newest first."""
    found = [(int(p.stem.split("-")[1]), p) for p in folder.glob("dense-*.faiss") if p.stem.split("-")[1].isdigit()]
    return sorted(found, reverse=True)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock across processes (released by the OS if the holder dies): one process converts."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class SentenceStore:
    """Articles, their sentence vectors (a VectorIndex, inner product) and BM25, in a database shared by processes.

    `store`: "faiss" (default, embedded), "milvus" (Milvus Lite file in `directory`) or "milvus://host:port".
    `directory` None: a scratch store for this process only (a temporary database, removed at exit).
    """

    def __init__(self, directory: str | Path | None, dimension: int, embedder_id: str, store: str = "faiss") -> None:
        self.directory = Path(directory) if directory else None
        self.dimension = dimension
        self.embedder_id = embedder_id
        self.store = store or "faiss"
        self.kind = backend_kind(self.store)
        self._lock = threading.RLock()  # this process's writes and catch-ups, one at a time
        self._snapshot = Snapshot()
        self._vectors: VectorIndex | None = None
        self._db: Database | None = None
        self._folder: Path | None = None
        # FAISS: articles and vectors are read on the first search or lookup, not at open: a process that
        # only adds (`articleqa index`, `follow`) writes to the database without loading the corpus
        self._loaded = False

    def open(self) -> SentenceStore:
        """Load the index from `directory` (or start an empty one), once; until then the store is empty and
        cannot be written or searched by vector. Raises IndexMismatch for an index built otherwise."""
        with self._lock:
            if self._vectors is None:
                self._open()
        return self

    @property
    def vectors(self) -> VectorIndex:
        if self._vectors is None:
            raise RuntimeError("SentenceStore.open() must be called before its vectors are used")
        self._ensure_loaded()
        return self._vectors

    def _ensure_loaded(self) -> Snapshot:
        if self._db is not None and not self._loaded:
            with self._lock:
                if self._db is not None and not self._loaded:
                    self._load(self._folder)
                    self._loaded = True
        return self._snapshot

    @property
    def database(self) -> Database:
        if self._db is None:
            raise RuntimeError("SentenceStore.open() must be called before its database is used")
        return self._db

    def close(self) -> None:
        """Close the database connections (and a Milvus client); the store must be opened again to be used."""
        with self._lock:
            if self._vectors is not None and hasattr(self._vectors, "close"):
                self._vectors.close()
            if self._db is not None:
                self._db.close()
            self._vectors = self._db = None
            self._loaded = False

    # ---- reading -------------------------------------------------------------------------------
    @property
    def articles(self) -> list[StoredArticle]:
        return list(self.snapshot().articles.values())

    def article(self, article_id: int) -> StoredArticle | None:
        return self._ensure_loaded().articles.get(article_id)

    def find(self, title_or_id: str, snapshot: Snapshot | None = None) -> list[StoredArticle]:
        """The articles with this id, URL or title (case and white space ignored)."""
        snapshot = snapshot or self.snapshot()
        if title_or_id.isdigit() and int(title_or_id) in snapshot.articles:
            return [snapshot.articles[int(title_or_id)]]
        if by_url := self.find_url(title_or_id, snapshot):
            return [by_url]
        wanted = " ".join(title_or_id.split()).casefold()
        return [a for a in snapshot.articles.values() if " ".join(a.title.split()).casefold() == wanted]

    def find_url(self, url: str, snapshot: Snapshot | None = None) -> StoredArticle | None:
        """The article from this address (another spelling of it too: case, fragment, trailing slash)."""
        if snapshot is None and not self._loaded and self._db is not None:  # a writer: ask the database
            found = (
                self._db.connect()
                .execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE url_key = ?", (same_url_key(url),))
                .fetchone()
                if url
                else None
            )
            return _stored(found)[0] if found else None
        snapshot = snapshot or self.snapshot()
        article_id = snapshot.by_url.get(same_url_key(url)) if url else None
        return snapshot.articles.get(article_id) if article_id is not None else None

    def has_fingerprint(self, fingerprint: str) -> bool:
        if not self._loaded and self._db is not None:
            return (
                self._db.connect().execute("SELECT 1 FROM articles WHERE fingerprint = ?", (fingerprint,)).fetchone()
                is not None
            )
        return fingerprint in self.snapshot().by_fingerprint

    def __len__(self) -> int:
        return self.snapshot().size

    def search_dense(self, vector: np.ndarray, k: int, snapshot: Snapshot | None = None) -> list[Hit]:
        snapshot = snapshot or self.snapshot()
        if snapshot.size == 0:
            return []
        # Rows the backend holds beyond this snapshot (a write under way, here or in another process's
        # Milvus) may crowd the top k: ask for more.
        extra = max(0, self.vectors.count - snapshot.size)
        ids, scores = self.vectors.search(vector, min(k, snapshot.size) + extra)
        where, known = snapshot.locate(ids)  # hits on rows this snapshot doesn't name are ignored
        return [
            Hit(int(snapshot.row_article[w]), int(snapshot.row_position[w]), float(s))
            for w, s in zip(where[known], scores[known], strict=True)
        ][:k]

    def search_bm25(self, query: str, k: int, snapshot: Snapshot | None = None) -> list[Hit]:
        """The best `k` sentences by BM25 (FTS5's bm25(): k1 1.2, b 0.75), best first."""
        snapshot = snapshot or self.snapshot()
        found = self._full_text("sentence_fts", query, k, snapshot)
        if not found:
            return []
        rows, scores = np.array([r for r, _ in found], dtype=np.int64), [s for _, s in found]
        where, known = snapshot.locate(rows)
        return [
            Hit(int(snapshot.row_article[w]), int(snapshot.row_position[w]), s)
            for w, s, ok in zip(where, scores, known, strict=True)
            if ok
        ][:k]

    def search_stories(self, query: str, k: int, snapshot: Snapshot | None = None) -> list[tuple[int, float]]:
        """(article id, BM25 score) of the best `k` whole articles (title and text) for the query."""
        snapshot = snapshot or self.snapshot()
        return [(a, s) for a, s in self._full_text("story_fts", query, k, snapshot) if a in snapshot.articles][:k]

    def _full_text(self, table: str, query: str, k: int, snapshot: Snapshot) -> list[tuple[int, float]]:
        if snapshot.size == 0 or self._db is None:
            return []
        db = self._db.connect()
        documents = snapshot.size if table == "sentence_fts" else len(snapshot.articles)
        if not (match := match_query(query_words(db, table, query, documents))):
            return []  # only stop words (or, on a large table, only words in most rows): no hits rather than noise
        # The database may be a write or two ahead of the snapshot: ask for a few more than k
        limit = k + 16
        found = db.execute(
            f"SELECT rowid, bm25({table}) FROM {table} WHERE {table} MATCH ? ORDER BY rank LIMIT ?", (match, limit)
        )
        return [(int(rowid), -float(score)) for rowid, score in found if score < 0]

    def snapshot(self) -> Snapshot:
        """The current state, unchanged by later writes: use it for every lookup of one question. Takes in
        what other processes wrote since the last call (unless this process is busy doing so already)."""
        self._ensure_loaded()
        if self._db is not None and self._lock.acquire(blocking=False):
            try:
                if self._db is not None and self._db.last_change() != self._snapshot.seq:
                    with self._db.read() as db:
                        self._catch_up(db)
            finally:
                self._lock.release()
        return self._snapshot

    def refresh(self) -> Snapshot:
        """As `snapshot`, waiting for this process's write under way, if any; nothing to do (and the empty
        snapshot) before the first read, when lookups go to the database."""
        with self._lock:
            return self.snapshot() if self._loaded else self._snapshot

    # ---- writing -------------------------------------------------------------------------------
    def add(self, items: Iterable[EmbeddedArticle], replacing: Iterable[int] = ()) -> list[StoredArticle]:
        """Add articles and remove the ones `replacing` names (older versions of the same pages); one atomic
        commit. An article whose exact text is stored already (another process may have added it since the
        caller looked) is skipped: the result lists only the articles added.

        Vectors go to the backend in batches as `items` is consumed, so a generator of items never has all
        its vectors in memory at once."""
        return self._write(items, set(replacing))

    def remove(self, article_ids: Iterable[int]) -> list[StoredArticle]:
        with self._lock:
            self._ensure_loaded()
            current = self.refresh()
            removed = [current.articles[i] for i in sorted(set(article_ids)) if i in current.articles]
            self._write((), {a.id for a in removed})
            return removed

    def _write(self, items: Iterable[EmbeddedArticle], doomed: set[int]) -> list[StoredArticle]:
        with self._lock:
            db = self.database
            start = next_row = None
            try:
                with db.write() as connection:
                    view = _View(self, connection)  # what is stored now, other processes' writes included
                    start = next_row = view.next_row
                    dropping = view.present(doomed)
                    added: list[tuple[StoredArticle, int]] = []
                    batch: list[tuple[StoredArticle, int, np.ndarray]] = []
                    fingerprints: set[str] = set()
                    for item in items:
                        if len(item.sentences) != len(item.vectors):
                            raise ValueError("one vector per sentence is required")
                        if view.has_fingerprint(item.fingerprint) or item.fingerprint in fingerprints:
                            continue
                        fingerprints.add(item.fingerprint)
                        older = view.url_owner(item.meta.url)
                        if older is not None:  # another process stored this page meanwhile: this version replaces it
                            dropping |= view.present({older})
                        article = self._insert(connection, item, next_row)
                        added.append((article, next_row))
                        if self._loaded:  # vectors of a loaded store's backend; else the next load reads them
                            batch.append((article, next_row, item.vectors))
                        next_row += len(item.sentences)
                        if batch and next_row - batch[0][1] >= BATCH_ROWS:
                            self._add_vectors(batch)
                            batch = []
                    self._add_vectors(batch)  # before the commit; nothing names them until it
                    for article, first_row in dropping.values():
                        self._delete(connection, article, first_row)
                    connection.execute("UPDATE meta SET value = ? WHERE key = 'next_row'", (str(next_row),))
                    seq = self._last_change(connection)
            except BaseException:
                if self._loaded and start is not None and next_row > start:
                    self._vectors.remove(np.arange(start, next_row, dtype=np.int64))
                raise
            if self._loaded:
                self._publish(added, set(dropping), next_row, seq)
            self._maybe_checkpoint(loaded=self._loaded)
            return [article for article, _ in added]

    def _insert(self, db: sqlite3.Connection, item: EmbeddedArticle, first_row: int) -> StoredArticle:
        spans = tuple((int(s), int(e)) for s, e in item.sentences)
        meta = item.meta
        cursor = db.execute(
            f"INSERT INTO articles ({_ARTICLE_COLUMNS[4:]}, url_key) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                item.title,
                item.text,
                item.file,
                item.fingerprint,
                spans_blob(spans),
                first_row,
                meta.date,
                meta.source,
                meta.url,
                meta.author,
                same_url_key(meta.url),
            ),
        )
        article = StoredArticle(cursor.lastrowid, item.title, item.text, item.file, item.fingerprint, spans, meta)
        self._index_text(db, article, first_row, np.asarray(item.vectors, dtype=np.float32))
        return article

    def _index_text(self, db: sqlite3.Connection, article: StoredArticle, first_row: int, vectors: np.ndarray) -> None:
        """The article's vectors, full text and change record (the article's own row is in already)."""
        if vectors.shape != (len(article.sentences), self.dimension):
            raise ValueError(
                f"{article.title!r}: {vectors.shape} vectors, not ({len(article.sentences)}, {self.dimension})"
            )
        db.execute(
            "INSERT INTO vectors (article, data) VALUES (?, ?)",
            (article.id, np.ascontiguousarray(vectors, dtype="<f4").tobytes()),
        )
        db.executemany(
            "INSERT INTO sentence_fts (rowid, tokens) VALUES (?, ?)",
            [(first_row + p, " ".join(tokens(article.sentence(p)))) for p in range(len(article.sentences))],
        )
        # Whole stories too: on news, BM25 over the story finds the right one far more often than its best
        # sentence does (the answer's sentence rarely repeats the question's words).
        db.execute(
            "INSERT INTO story_fts (rowid, tokens) VALUES (?, ?)",
            (article.id, " ".join(tokens(f"{article.title}\n{article.text}"))),
        )
        db.execute(
            "INSERT INTO changes (article, first_row, rows, added) VALUES (?, ?, ?, 1)",
            (article.id, first_row, len(article.sentences)),
        )

    @staticmethod
    def _delete(db: sqlite3.Connection, article: StoredArticle, first_row: int) -> None:
        n = len(article.sentences)
        db.execute("DELETE FROM articles WHERE id = ?", (article.id,))
        db.execute("DELETE FROM vectors WHERE article = ?", (article.id,))
        db.execute("DELETE FROM sentence_fts WHERE rowid >= ? AND rowid < ?", (first_row, first_row + n))
        db.execute("DELETE FROM story_fts WHERE rowid = ?", (article.id,))
        db.execute(
            "INSERT INTO changes (article, first_row, rows, added) VALUES (?, ?, ?, 0)", (article.id, first_row, n)
        )

    def _add_vectors(self, batch: list[tuple[StoredArticle, int, np.ndarray]]) -> None:
        if batch:
            self._vectors.add(
                _placed_rows([(a.id, first, len(a.sentences)) for a, first, _ in batch]), [v for _, _, v in batch]
            )

    def _publish(self, added: list[tuple[StoredArticle, int]], removed: set[int], next_row: int, seq: int) -> None:
        """The state after a change (vectors of `added` are in the backend already); then the removed
        articles' vectors go: a search on an older snapshot, which still names them, just misses them."""
        current = self._snapshot
        gone = current.row_ids[np.isin(current.row_article, list(removed))] if removed else np.zeros(0, np.int64)
        self._snapshot = _extend(current, added, removed, next_row, seq)
        if len(gone):
            self._vectors.remove(gone)

    # ---- other processes' writes ------------------------------------------------------------------
    def _catch_up(self, db: sqlite3.Connection) -> None:
        """Take in the changes after this snapshot's (inside a read or write transaction of `db`)."""
        current = self._snapshot
        seq = self._last_change(db)
        if seq == current.seq:
            return
        changes = db.execute(
            "SELECT article, added FROM changes WHERE seq > ? AND seq <= ? ORDER BY seq", (current.seq, seq)
        ).fetchall()
        came = [a for a, added in changes if added]
        went = {a for a, added in changes if not added}
        arrived = self._read_articles(db, [a for a in came if a not in went])
        if not self._vectors.shared:  # a Milvus collection has them already (the writer put them there)
            self._add_vectors(list(self._with_vectors(db, arrived)))
        self._publish(arrived, went, self._meta_next_row(db), seq)

    @staticmethod
    def _read_articles(db: sqlite3.Connection, ids: list[int]) -> list[tuple[StoredArticle, int]]:
        found: list[tuple[StoredArticle, int]] = []
        for start in range(0, len(ids), 500):  # SQLite's limit on bound parameters
            part = ids[start : start + 500]
            found += [
                _stored(r)
                for r in db.execute(
                    f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id IN ({','.join('?' * len(part))})", part
                )
            ]
        return sorted(found, key=lambda placed: placed[1])

    def _with_vectors(
        self, db: sqlite3.Connection, placed: list[tuple[StoredArticle, int]]
    ) -> Iterator[tuple[StoredArticle, int, np.ndarray]]:
        for article, first_row in placed:
            (data,) = db.execute("SELECT data FROM vectors WHERE article = ?", (article.id,)).fetchone()
            yield article, first_row, np.frombuffer(data, dtype="<f4").reshape(-1, self.dimension)

    @staticmethod
    def _last_change(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _meta_next_row(db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT value FROM meta WHERE key = 'next_row'").fetchone()[0])

    # ---- disk ----------------------------------------------------------------------------------
    def _open(self) -> None:
        if self.directory is None:  # scratch: a temporary database, gone with the process
            folder = Path(tempfile.mkdtemp(prefix="articleqa-memory-"))
            weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
        else:
            folder = self.directory
            folder.mkdir(parents=True, exist_ok=True)
        path = folder / FILE
        vectors = open_vectors(self.store, self.directory, self.dimension) if self.kind == "milvus" else None
        try:
            if not path.exists() or (folder / MANIFEST).exists():
                with _file_lock(folder / "store.lock"):  # one process creates or converts; the others wait
                    if not path.exists():
                        self._create(path, read_legacy(folder) if self.directory else None, vectors)
                    remove_legacy(folder)  # converted (a crash may have left them after the database was in place)
            self._db = Database(path, durable=self.directory is not None)
            self._check(meta := self._db.meta())
            if int(meta["format"]) < FORMAT:
                self._upgrade()
            self._vectors = vectors or FaissVectors(self.dimension)
            self._folder = folder
            if self.kind == "milvus":  # reconciled at open, as before (Milvus Lite serves one process anyway)
                self._load(folder)
                self._loaded = True
        except BaseException:
            if vectors is not None:
                vectors.close()
            if self._db is not None:
                self._db.close()
            self._db = self._vectors = None
            raise

    def _check(self, meta: dict[str, str]) -> None:
        if int(meta.get("format", 0)) > FORMAT:
            raise IndexMismatch(
                f"{self.directory}: index format {meta.get('format')} is newer than this "
                f"articleqa's ({FORMAT}); upgrade articleqa"
            )
        if meta.get("embedder") != self.embedder_id or int(meta.get("dimension", 0)) != self.dimension:
            raise IndexMismatch(
                f"The index in {self.directory} was built with the embedder {meta.get('embedder')!r}, "
                f"not {self.embedder_id!r}. Use that embedder, or another --data-dir for this one."
            )
        if meta.get("store", "faiss") != self.kind:
            raise IndexMismatch(
                f"The index in {self.directory} keeps its vectors in {meta.get('store', 'faiss')}, "
                f"not {self.kind}. Use --store {meta.get('store', 'faiss')}, or another --data-dir."
            )

    def _create(self, path: Path, legacy: LegacyStore | None, milvus: VectorIndex | None) -> None:
        """A new database at `path`, holding the legacy store's articles and vectors if there is one: built
        aside and renamed into place, so a crash leaves no database (and the legacy store) or the whole one."""
        meta = {
            "format": str(FORMAT),
            "embedder": self.embedder_id,
            "dimension": str(self.dimension),
            "store": self.kind,
            "next_row": "0",
        }
        if legacy is not None:
            self._check({**legacy.manifest, "format": "1"})  # refuse before converting, as the old code did
            meta["next_row"] = str(legacy.next_row)
        building = path.with_name(path.name + ".building")
        for leftover in (
            building,
            building.with_name(building.name + "-wal"),
            building.with_name(building.name + "-shm"),
        ):
            leftover.unlink(missing_ok=True)
        db = Database(building, durable=self.directory is not None)
        try:
            db.create()
            with db.write() as connection:
                connection.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
                if legacy is not None:
                    self._convert(connection, legacy, milvus)
        finally:
            db.close()  # the last connection folds the WAL into the file
        if self.directory is not None:
            _fsync(building)
        os.replace(building, path)
        if self.directory is not None:
            _fsync(path.parent)

    def _convert(self, db: sqlite3.Connection, legacy: LegacyStore, milvus: VectorIndex | None) -> None:
        log.warning("converting the index in %s to format %d (once)", self.directory, FORMAT)
        source = LegacyFaissVectors(legacy, self.dimension) if milvus is None else None
        for old in legacy.articles:
            db.execute(
                f"INSERT INTO articles ({_ARTICLE_COLUMNS}, url_key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    old.id,
                    old.title,
                    old.text,
                    old.file,
                    old.fingerprint,
                    spans_blob(old.sentences),
                    old.first_row,
                    old.meta.date,
                    old.meta.source,
                    old.meta.url,
                    old.meta.author,
                    same_url_key(old.meta.url),
                ),
            )
            article = StoredArticle(old.id, old.title, old.text, old.file, old.fingerprint, old.sentences, old.meta)
            rows = np.arange(old.first_row, old.first_row + len(old.sentences), dtype=np.int64)
            vectors = source.article(old) if source is not None else milvus.fetch(rows)
            self._index_text(db, article, old.first_row, vectors)

    def _upgrade(self) -> None:
        """Format 4 -> 5, once, in one transaction (a crash leaves format 4): sentence spans from JSON text
        to binary. Whichever process gets the write lock first upgrades; the others find it done."""
        with self._db.write() as db:
            if int(db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()[0]) >= FORMAT:
                return
            log.warning("upgrading the index in %s to format %d (once)", self.directory, FORMAT)
            found = db.execute("SELECT id, sentences FROM articles WHERE typeof(sentences) = 'text'").fetchall()
            db.executemany(
                "UPDATE articles SET sentences = ? WHERE id = ?",
                [(spans_blob(blob_spans(spans)), article_id) for article_id, spans in found],
            )
            db.execute("UPDATE meta SET value = ? WHERE key = 'format'", (str(FORMAT),))

    def _load(self, folder: Path) -> None:
        """The snapshot from the database; FAISS: the newest checkpoint plus the changes after it."""
        with self._db.read() as db:
            seq = self._last_change(db)
            placed = [_stored(r) for r in db.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles ORDER BY first_row")]
            self._snapshot = _extend(Snapshot(), placed, set(), self._meta_next_row(db), seq)
            if not self._vectors.shared:
                self._vectors = self._faiss_as_of(db, folder, seq)
        if self._vectors.shared:
            self._reconcile()
        else:
            self._maybe_checkpoint(loaded=True)

    def _faiss_as_of(self, db: sqlite3.Connection, folder: Path, seq: int) -> FaissVectors:
        """The FAISS index as of change `seq` (inside a read transaction of `db` at `seq`): the newest
        checkpoint at or before it, plus the vectors of the articles added after it and still there, less
        the rows of those removed after it."""
        since, vectors = 0, FaissVectors(self.dimension)
        if self.directory is not None and (checkpoint := self._checkpoint(folder, seq)) is not None:
            since, vectors = checkpoint
        if since == 0:  # every vector, streamed from the database in row order
            found = db.execute(
                "SELECT a.id, a.first_row, v.data FROM articles a JOIN vectors v ON v.article = a.id "
                "ORDER BY a.first_row"
            )
        else:
            gone = [
                np.arange(first, first + n, dtype=np.int64)
                for first, n in db.execute(
                    "SELECT first_row, rows FROM changes WHERE seq > ? AND seq <= ? AND added = 0 AND article NOT IN "
                    "(SELECT article FROM changes WHERE seq > ? AND seq <= ? AND added = 1)",
                    (since, seq, since, seq),
                )
            ]
            if gone:  # in the checkpoint, removed since
                vectors.remove(np.concatenate(gone))
            # an article added and removed since has no vectors left: the join leaves it out
            found = db.execute(
                "SELECT c.article, c.first_row, v.data FROM changes c JOIN vectors v "
                "ON v.article = c.article WHERE c.seq > ? AND c.seq <= ? AND c.added = 1 "
                "ORDER BY c.first_row",
                (since, seq),
            )
        placed: list[tuple[int, int, int]] = []
        blocks: list[np.ndarray] = []
        for article_id, first_row, data in found:
            blocks.append(np.frombuffer(data, dtype="<f4").reshape(-1, self.dimension))
            placed.append((article_id, first_row, len(blocks[-1])))
            if first_row + len(blocks[-1]) - placed[0][1] >= BATCH_ROWS:
                vectors.add(_placed_rows(placed), blocks)
                placed, blocks = [], []
        if placed:
            vectors.add(_placed_rows(placed), blocks)
        return vectors

    def _checkpoint(self, folder: Path, seq: int) -> tuple[int, FaissVectors] | None:
        """(its change number, the index) of the newest FAISS checkpoint at or before `seq`."""
        for _ in range(3):  # another process may replace (and delete) the newest one while we look
            saved = [(s, p) for s, p in _checkpoints(folder) if s <= seq]
            if not saved:
                return None
            try:
                return saved[0][0], FaissVectors.load_file(saved[0][1], self.dimension)
            except (OSError, RuntimeError):
                time.sleep(0.05)
        return None

    def _maybe_checkpoint(self, loaded: bool) -> None:
        """After a write or a load: save a FAISS checkpoint when CHECKPOINT_ROWS rows were added since the
        newest one on disk (whoever saved it). A loaded process saves its index as of its snapshot; one that
        only writes (`index`, `follow`) builds it from the newest checkpoint and the database, so that the
        next process to open the store after a large `articleqa index` maps it rather than rebuilding it."""
        if self.directory is None or self.kind != "faiss" or self._db is None:
            return
        newest = max((s for s, _ in _checkpoints(self.directory)), default=0)
        with self._db.read() as db:
            seq = self._snapshot.seq if loaded else self._last_change(db)
            (rows,) = db.execute(
                "SELECT COALESCE(SUM(rows), 0) FROM changes WHERE seq > ? AND seq <= ? AND added = 1", (newest, seq)
            ).fetchone()
            if rows < CHECKPOINT_ROWS:
                return
            vectors = self._vectors if loaded else self._faiss_as_of(db, self.directory, seq)
        target = self.directory / f"dense-{seq}.faiss"
        try:
            vectors.save(target)  # written aside, fsynced, renamed into place
        except (OSError, RuntimeError) as error:  # the write it follows is committed: only start-up is slower
            log.warning("could not save the vector checkpoint %s: %s", target, error)
            return
        for number, path in _checkpoints(self.directory):
            if number < seq:
                path.unlink(missing_ok=True)
        for path in self.directory.glob("dense-*.faiss.*.tmp"):  # left by a saver that died (300 MB at 200,000)
            if (pid := path.name.split(".")[-2]).isdigit() and not _alive(int(pid)):
                path.unlink(missing_ok=True)

    def _reconcile(self) -> None:
        """Milvus: make the collection hold exactly the snapshot's rows, when its count says it doesn't (a
        crash between a commit and the backend, or before the commit). Under the write lock: no other
        process is adding rows meanwhile."""
        if self._vectors.count == self._snapshot.size:
            return
        with self._db.write() as db:
            self._catch_up(db)
            snapshot = self._snapshot
            self._vectors.prune(snapshot.rows)
            present = self._vectors.row_ids()
            missing = snapshot.row_ids[~np.isin(snapshot.row_ids, present)]
            articles = sorted(set(snapshot.row_article[np.isin(snapshot.row_ids, missing)].tolist()))
            self._add_vectors(
                list(self._with_vectors(db, [(snapshot.articles[a], snapshot.first_rows[a]) for a in articles]))
            )
