"""The searchable store: sentence vectors in a vector backend, BM25 beside them, article metadata; crash-safe.

On disk (`index_dir`):
    manifest.json   {"format", "version", "embedder", "dimension", "store", "next_row", "snapshot": "v7"},
                    replaced atomically
    v7/articles.jsonl   one article per line (id, title, text, file, fingerprint, sentence spans, first row id,
                        and what the page said about itself: date, source, url, author)
    v7/dense.faiss      the FAISS index (FAISS backend; Milvus keeps the vectors in its own file or server)
A write builds a new `vN/` directory, fsyncs it, then swaps the manifest with an atomic rename: a crash at
any moment leaves the old or the new state. Vectors are added to the backend before the swap and removed
after it, and the manifest is the truth: rows it doesn't name are ignored by searches and pruned on load
(see index/vectors.py). In memory the same swap happens on an immutable snapshot, so searches running
during an add see one consistent state.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import bm25s
import numpy as np

from articleqa.index.documents import ArticleMeta, same_url_key
from articleqa.index.vectors import BATCH_ROWS, FLAT_LIMIT, IVF_PROBES, Rows, VectorIndex, backend_kind, open_vectors

logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets itself to DEBUG when imported

__all__ = ["FLAT_LIMIT", "IVF_PROBES", "EmbeddedArticle", "Hit", "IndexMismatch", "SentenceStore", "Snapshot", "StoredArticle"]

# 1: vectors.npy beside articles.jsonl; 2: no article metadata, "source" named the file (both still read, and
# converted on the next write)
FORMAT = 3


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
    """Immutable once published: everything one search needs except the vectors (the backend holds those)."""

    articles: dict[int, StoredArticle] = field(default_factory=dict)
    first_rows: dict[int, int] = field(default_factory=dict)  # article id -> row id of its first sentence
    row_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # ascending
    row_article: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    row_position: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    next_row: int = 0
    bm25: bm25s.BM25 | None = None  # over sentences, rows in row order
    story_bm25: bm25s.BM25 | None = None  # over whole articles (title and text), in `story_ids` order
    story_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    by_url: dict[str, int] = field(default_factory=dict)  # same_url_key(url) -> article id

    @property
    def size(self) -> int:
        return len(self.row_article)

    @property
    def rows(self) -> Rows:
        return Rows(self.row_ids, self.row_article, self.row_position)


def _tokenize(texts: list[str]):
    return bm25s.tokenize(texts, stopwords="en", show_progress=False)


def _build(articles: dict[int, StoredArticle], first_rows: dict[int, int], next_row: int) -> Snapshot:
    counts = np.fromiter((len(a.sentences) for a in articles.values()), dtype=np.int64, count=len(articles))
    ids = np.fromiter(articles, dtype=np.int64, count=len(articles))
    firsts = np.fromiter((first_rows[i] for i in articles), dtype=np.int64, count=len(articles))
    row_article = np.repeat(ids, counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    row_position = np.arange(len(row_article), dtype=np.int64) - starts
    row_ids = np.repeat(firsts, counts) + row_position
    bm25 = story_bm25 = None
    if len(row_article):
        bm25 = bm25s.BM25()
        bm25.index(_tokenize([a.sentence(p) for a in articles.values() for p in range(len(a.sentences))]),
                   show_progress=False)
        # Whole stories too: on news, BM25 over the story finds the right one far more often than its best
        # sentence does (the answer's sentence rarely repeats the question's words).
        story_bm25 = bm25s.BM25()
        story_bm25.index(_tokenize([f"{a.title}\n{a.text}" for a in articles.values()]), show_progress=False)
    by_url = {same_url_key(a.meta.url): i for i, a in articles.items() if a.meta.url}
    return Snapshot(articles, first_rows, row_ids, row_article, row_position, next_row, bm25, story_bm25, ids, by_url)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class SentenceStore:
    """Articles, their sentence vectors (a VectorIndex, inner product) and a BM25 index, persisted atomically.

    `store`: "faiss" (default, embedded), "milvus" (Milvus Lite file in `directory`) or "milvus://host:port".
    """

    def __init__(self, directory: str | Path | None, dimension: int, embedder_id: str, store: str = "faiss") -> None:
        self.directory = Path(directory) if directory else None
        self.dimension = dimension
        self.embedder_id = embedder_id
        self.store = store or "faiss"
        self.kind = backend_kind(self.store)
        self._write_lock = threading.Lock()
        self._version = 0
        self._snapshot = _build({}, {}, 0)
        self._vectors: VectorIndex | None = None

    def open(self) -> SentenceStore:
        """Load the index from `directory` (or start an empty one), once; until then the store is empty and
        cannot be written or searched by vector. Raises IndexMismatch for an index built otherwise."""
        with self._write_lock:
            if self._vectors is None:
                self._vectors = self._load() if self.directory is not None else \
                    open_vectors(self.store, None, self.dimension)
        return self

    @property
    def vectors(self) -> VectorIndex:
        if self._vectors is None:
            raise RuntimeError("SentenceStore.open() must be called before its vectors are used")
        return self._vectors

    # ---- reading -------------------------------------------------------------------------------
    @property
    def articles(self) -> list[StoredArticle]:
        return list(self._snapshot.articles.values())

    def article(self, article_id: int) -> StoredArticle | None:
        return self._snapshot.articles.get(article_id)

    def find(self, title_or_id: str, snapshot: Snapshot | None = None) -> list[StoredArticle]:
        """The articles with this id, URL or title (case and white space ignored)."""
        snapshot = snapshot or self._snapshot
        if title_or_id.isdigit() and int(title_or_id) in snapshot.articles:
            return [snapshot.articles[int(title_or_id)]]
        if by_url := self.find_url(title_or_id, snapshot):
            return [by_url]
        wanted = " ".join(title_or_id.split()).casefold()
        return [a for a in snapshot.articles.values() if " ".join(a.title.split()).casefold() == wanted]

    def find_url(self, url: str, snapshot: Snapshot | None = None) -> StoredArticle | None:
        """The article from this address (another spelling of it too: case, fragment, trailing slash)."""
        snapshot = snapshot or self._snapshot
        article_id = snapshot.by_url.get(same_url_key(url)) if url else None
        return snapshot.articles.get(article_id) if article_id is not None else None

    def has_fingerprint(self, fingerprint: str) -> bool:
        return any(a.fingerprint == fingerprint for a in self._snapshot.articles.values())

    def __len__(self) -> int:
        return self._snapshot.size

    def search_dense(self, vector: np.ndarray, k: int, snapshot: Snapshot | None = None) -> list[Hit]:
        snapshot = snapshot or self._snapshot
        if snapshot.size == 0:
            return []
        # Rows the backend holds beyond this snapshot (a write under way) may crowd the top k: ask for more.
        extra = max(0, self.vectors.count - snapshot.size)
        ids, scores = self.vectors.search(vector, min(k, snapshot.size) + extra)
        where = np.minimum(np.searchsorted(snapshot.row_ids, ids), snapshot.size - 1)
        known = snapshot.row_ids[where] == ids  # hits on rows this snapshot doesn't name are ignored
        return [Hit(int(snapshot.row_article[w]), int(snapshot.row_position[w]), float(s))
                for w, s in zip(where[known], scores[known], strict=True)][:k]

    def search_bm25(self, query: str, k: int, snapshot: Snapshot | None = None) -> list[Hit]:
        snapshot = snapshot or self._snapshot
        if snapshot.size == 0 or not query.strip():
            return []
        tokens = _tokenize([query])
        if not tokens.vocab:
            return []  # only stop words
        rows, scores = snapshot.bm25.retrieve(tokens, k=min(k, snapshot.size), show_progress=False, n_threads=0)
        return [Hit(int(snapshot.row_article[r]), int(snapshot.row_position[r]), float(s))
                for r, s in zip(rows[0], scores[0], strict=True) if s > 0]

    def search_stories(self, query: str, k: int, snapshot: Snapshot | None = None) -> list[tuple[int, float]]:
        """(article id, BM25 score) of the best `k` whole articles for the query."""
        snapshot = snapshot or self._snapshot
        if snapshot.story_bm25 is None or not query.strip():
            return []
        tokens = _tokenize([query])
        if not tokens.vocab:
            return []
        n = len(snapshot.story_ids)
        docs, scores = snapshot.story_bm25.retrieve(tokens, k=min(k, n), show_progress=False, n_threads=0)
        return [(int(snapshot.story_ids[d]), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def snapshot(self) -> Snapshot:
        """The current state, unchanged by later writes: use it for every lookup of one question."""
        return self._snapshot

    # ---- writing -------------------------------------------------------------------------------
    def add(self, items: Iterable[EmbeddedArticle], replacing: Iterable[int] = ()) -> list[StoredArticle]:
        """Add articles and remove the ones `replacing` names (older versions of the same pages); one atomic
        commit.

        Vectors go to the backend in batches as `items` is consumed, so a generator of items never has all
        its vectors in memory at once."""
        with self._write_lock:
            return self._commit(items, set(replacing))

    def remove(self, article_ids: Iterable[int]) -> list[StoredArticle]:
        with self._write_lock:
            current = self._snapshot
            removed = [current.articles[i] for i in sorted(set(article_ids)) if i in current.articles]
            self._commit((), {a.id for a in removed})
            return removed

    def _commit(self, items: Iterable[EmbeddedArticle], doomed: set[int]) -> list[StoredArticle]:
        current = self._snapshot
        doomed &= current.articles.keys()
        articles = {i: a for i, a in current.articles.items() if i not in doomed}
        first_rows = {i: current.first_rows[i] for i in articles}
        next_id = max(current.articles, default=0) + 1
        next_row = current.next_row
        added: list[StoredArticle] = []
        batch: list[tuple[StoredArticle, np.ndarray]] = []
        try:
            for item in items:
                if len(item.sentences) != len(item.vectors):
                    raise ValueError("one vector per sentence is required")
                article = StoredArticle(next_id, item.title, item.text, item.file, item.fingerprint,
                                        tuple(map(tuple, item.sentences)), item.meta)
                articles[next_id], first_rows[next_id] = article, next_row
                batch.append((article, item.vectors))
                added.append(article)
                next_id += 1
                next_row += len(item.sentences)
                if next_row - first_rows[batch[0][0].id] >= BATCH_ROWS:
                    self._add_vectors(batch, first_rows)
                    batch = []
            self._add_vectors(batch, first_rows)  # before the manifest names them; invisible to `current`
            if added or doomed:
                self._publish(_build(articles, first_rows, next_row))
        except BaseException:
            self.vectors.remove(np.arange(current.next_row, next_row, dtype=np.int64))
            raise
        if doomed:  # after the manifest stops naming them: a crash before this leaves rows that load prunes
            self.vectors.remove(current.row_ids[np.isin(current.row_article, list(doomed))])
        return added

    def _add_vectors(self, batch: list[tuple[StoredArticle, np.ndarray]], first_rows: dict[int, int]) -> None:
        if not batch:
            return
        counts = [len(a.sentences) for a, _ in batch]
        start = first_rows[batch[0][0].id]
        self.vectors.add(Rows(np.arange(start, start + sum(counts), dtype=np.int64),
                              np.repeat([a.id for a, _ in batch], counts).astype(np.int64),
                              np.concatenate([np.arange(n, dtype=np.int64) for n in counts])),
                         [v for _, v in batch])

    def _publish(self, snapshot: Snapshot) -> None:
        if self.directory is not None:
            self._persist(snapshot)
        self._snapshot = snapshot

    # ---- disk ----------------------------------------------------------------------------------
    def _persist(self, snapshot: Snapshot) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        version = self._version + 1
        final = self.directory / f"v{version}"
        staging = self.directory / f"v{version}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)  # left by a crash after rename, before the manifest
        staging.mkdir()
        with open(staging / "articles.jsonl", "w", encoding="utf-8") as handle:
            for a in snapshot.articles.values():
                handle.write(json.dumps({"id": a.id, "title": a.title, "text": a.text, "file": a.file,
                                         "fingerprint": a.fingerprint, "sentences": a.sentences,
                                         "first_row": snapshot.first_rows[a.id], **asdict(a.meta)},
                                        ensure_ascii=False) + "\n")
        for name in ["articles.jsonl", *self.vectors.persist(staging)]:
            _fsync_file(staging / name)
        _fsync_dir(staging)
        os.rename(staging, final)
        manifest = {"format": FORMAT, "version": version, "embedder": self.embedder_id,
                    "dimension": self.dimension, "store": self.kind, "next_row": snapshot.next_row,
                    "snapshot": final.name, "articles": len(snapshot.articles), "sentences": snapshot.size}
        temporary = self.directory / "manifest.json.tmp"
        temporary.write_text(json.dumps(manifest, indent=2))
        _fsync_file(temporary)
        os.replace(temporary, self.directory / "manifest.json")
        _fsync_dir(self.directory)
        self._version = version
        self._remove_stale(keep=final.name)

    def _remove_stale(self, keep: str) -> None:
        for path in self.directory.glob("v*"):
            if path.is_dir() and path.name != keep:
                shutil.rmtree(path, ignore_errors=True)

    def _load(self) -> VectorIndex:
        manifest_file = self.directory / "manifest.json"
        if not manifest_file.exists():
            vectors = open_vectors(self.store, self.directory, self.dimension)
            if vectors.count:  # a crash before the very first manifest
                vectors.prune(self._snapshot.rows)
            return vectors
        manifest = json.loads(manifest_file.read_text())
        if manifest.get("format") not in (1, 2, FORMAT):
            raise IndexMismatch(f"{self.directory}: index format {manifest.get('format')} is not {FORMAT}")
        if manifest["embedder"] != self.embedder_id or manifest["dimension"] != self.dimension:
            raise IndexMismatch(
                f"The index in {self.directory} was built with the embedder {manifest['embedder']!r}, "
                f"not {self.embedder_id!r}. Use that embedder, or another --data-dir for this one."
            )
        if manifest.get("store", "faiss") != self.kind:
            raise IndexMismatch(f"The index in {self.directory} keeps its vectors in {manifest.get('store', 'faiss')}, "
                                f"not {self.kind}. Use --store {manifest.get('store', 'faiss')}, or another --data-dir.")
        folder = self.directory / manifest["snapshot"]
        articles, first_rows, next_row = {}, {}, 0
        with open(folder / "articles.jsonl", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                record["sentences"] = tuple(tuple(s) for s in record["sentences"])
                first_rows[record["id"]] = record.pop("first_row", next_row)  # format 1: rows in file order
                if manifest["format"] < 3:  # "source" was the file name; no metadata
                    record["file"] = record.pop("source", "")
                meta = ArticleMeta(**{f.name: record.pop(f.name, "") for f in fields(ArticleMeta)})
                articles[record["id"]] = StoredArticle(**record, meta=meta)
                next_row = max(next_row, first_rows[record["id"]] + len(record["sentences"]))
        self._version = manifest["version"]
        self._snapshot = _build(articles, first_rows, manifest.get("next_row", next_row))
        vectors = open_vectors(self.store, self.directory, self.dimension, folder)
        if manifest["format"] == 1:  # vectors.npy, one row per sentence in article order
            vectors.add(self._snapshot.rows, [np.load(folder / "vectors.npy")])
        if vectors.count != self._snapshot.size:
            vectors.prune(self._snapshot.rows)
        self._remove_stale(keep=folder.name)
        return vectors
