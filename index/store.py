"""The searchable store: sentence vectors in FAISS, BM25 beside them, article metadata; crash-safe on disk.

On disk (`index_dir`):
    manifest.json   {"format", "version", "embedder", "dimension", "snapshot": "v7"}, replaced atomically
    v7/articles.jsonl   one article per line (id, title, text, source, fingerprint, sentence spans)
    v7/vectors.npy      one row per sentence, in the order of the articles' sentences
A write builds a new `vN/` directory, fsyncs it, then swaps the manifest with an atomic rename: a crash at
any moment leaves the old or the new state. In memory the same swap happens on an immutable snapshot,
so searches running during an add see one consistent state.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import faiss
import numpy as np

FORMAT = 1
FLAT_LIMIT = 200_000  # up to this many sentences: exact search; above: IVF (approximate, much faster)
IVF_PROBES = 24


@dataclass(frozen=True)
class StoredArticle:
    id: int
    title: str
    text: str
    source: str
    fingerprint: str
    sentences: tuple[tuple[int, int], ...]  # (start, end) of each sentence in `text`

    def sentence(self, position: int) -> str:
        start, end = self.sentences[position]
        return self.text[start:end]


@dataclass(frozen=True)
class Hit:
    article_id: int
    position: int  # sentence index within the article
    score: float


class IndexMismatch(RuntimeError):
    """The index on disk was built with another embedder or format."""


@dataclass
class Snapshot:
    """Immutable once published: everything one search needs."""

    articles: dict[int, StoredArticle] = field(default_factory=dict)
    vectors: np.ndarray | None = None
    row_article: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    row_position: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    dense: faiss.Index | None = None
    bm25: bm25s.BM25 | None = None

    @property
    def size(self) -> int:
        return len(self.row_article)


def _tokenize(texts: list[str]):
    return bm25s.tokenize(texts, stopwords="en", show_progress=False)


def _build(articles: dict[int, StoredArticle], vectors: np.ndarray, dimension: int) -> Snapshot:
    row_article = np.fromiter((a.id for a in articles.values() for _ in a.sentences), dtype=np.int64)
    row_position = np.fromiter((p for a in articles.values() for p in range(len(a.sentences))), dtype=np.int64)
    dense = _dense_index(vectors, dimension)
    bm25 = None
    if len(row_article):
        bm25 = bm25s.BM25()
        bm25.index(_tokenize([a.sentence(p) for a in articles.values() for p in range(len(a.sentences))]),
                   show_progress=False)
    return Snapshot(articles, vectors, row_article, row_position, dense, bm25)


def _dense_index(vectors: np.ndarray, dimension: int) -> faiss.Index:
    """Exact inner-product search for small corpora; an inverted-file index for large ones."""
    count = len(vectors)
    if count <= FLAT_LIMIT:
        index = faiss.IndexFlatIP(dimension)
    else:
        lists = int(min(8192, 4 * np.sqrt(count)))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(count, size=min(count, 40 * lists), replace=False)
        index.train(vectors[np.sort(sample)])
        index.nprobe = IVF_PROBES
    if count:
        index.add(vectors)
    return index


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
    """Articles, their sentence vectors (FAISS, inner product) and a BM25 index, persisted atomically."""

    def __init__(self, directory: str | Path | None, dimension: int, embedder_id: str) -> None:
        self.directory = Path(directory) if directory else None
        self.dimension = dimension
        self.embedder_id = embedder_id
        self._write_lock = threading.Lock()
        self._version = 0
        self._snapshot = _build({}, np.zeros((0, dimension), dtype=np.float32), dimension)
        if self.directory is not None:
            self._load()

    # ---- reading -------------------------------------------------------------------------------
    @property
    def articles(self) -> list[StoredArticle]:
        return list(self._snapshot.articles.values())

    def article(self, article_id: int) -> StoredArticle | None:
        return self._snapshot.articles.get(article_id)

    def find(self, title_or_id: str, snapshot: Snapshot | None = None) -> list[StoredArticle]:
        snapshot = snapshot or self._snapshot
        if title_or_id.isdigit() and int(title_or_id) in snapshot.articles:
            return [snapshot.articles[int(title_or_id)]]
        wanted = " ".join(title_or_id.split()).casefold()
        return [a for a in snapshot.articles.values() if " ".join(a.title.split()).casefold() == wanted]

    def has_fingerprint(self, fingerprint: str) -> bool:
        return any(a.fingerprint == fingerprint for a in self._snapshot.articles.values())

    def __len__(self) -> int:
        return self._snapshot.size

    def search_dense(self, vector: np.ndarray, k: int, snapshot: Snapshot | None = None) -> list[Hit]:
        snapshot = snapshot or self._snapshot
        if snapshot.size == 0:
            return []
        scores, rows = snapshot.dense.search(vector.reshape(1, -1).astype(np.float32), min(k, snapshot.size))
        return [Hit(int(snapshot.row_article[r]), int(snapshot.row_position[r]), float(s))
                for s, r in zip(scores[0], rows[0]) if r >= 0]

    def search_bm25(self, query: str, k: int, snapshot: Snapshot | None = None) -> list[Hit]:
        snapshot = snapshot or self._snapshot
        if snapshot.size == 0 or not query.strip():
            return []
        tokens = _tokenize([query])
        if not tokens.vocab:
            return []  # only stop words
        rows, scores = snapshot.bm25.retrieve(tokens, k=min(k, snapshot.size), show_progress=False, n_threads=1)
        return [Hit(int(snapshot.row_article[r]), int(snapshot.row_position[r]), float(s))
                for r, s in zip(rows[0], scores[0]) if s > 0]

    def snapshot(self) -> Snapshot:
        """The current state, unchanged by later writes: use it for every lookup of one question."""
        return self._snapshot

    # ---- writing -------------------------------------------------------------------------------
    def add(self, items: Iterable[tuple[str, str, str, str, list[tuple[int, int]], np.ndarray]]) -> list[StoredArticle]:
        """Add (title, text, source, fingerprint, sentence spans, vectors) tuples; one atomic commit."""
        with self._write_lock:
            current = self._snapshot
            articles = dict(current.articles)
            next_id = max(articles, default=0) + 1
            added, blocks = [], [current.vectors]
            for title, text, source, fingerprint, spans, vectors in items:
                if len(spans) != len(vectors):
                    raise ValueError("one vector per sentence is required")
                article = StoredArticle(next_id, title, text, source, fingerprint, tuple(map(tuple, spans)))
                articles[next_id] = article
                blocks.append(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimension))
                added.append(article)
                next_id += 1
            if added:
                self._publish(_build(articles, np.concatenate(blocks), self.dimension))
            return added

    def remove(self, article_ids: Iterable[int]) -> list[StoredArticle]:
        with self._write_lock:
            current = self._snapshot
            doomed = {i for i in article_ids if i in current.articles}
            if not doomed:
                return []
            keep = ~np.isin(current.row_article, list(doomed))
            articles = {i: a for i, a in current.articles.items() if i not in doomed}
            removed = [current.articles[i] for i in sorted(doomed)]
            self._publish(_build(articles, current.vectors[keep], self.dimension))
            return removed

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
                handle.write(json.dumps({"id": a.id, "title": a.title, "text": a.text, "source": a.source,
                                         "fingerprint": a.fingerprint, "sentences": a.sentences},
                                        ensure_ascii=False) + "\n")
        np.save(staging / "vectors.npy", snapshot.vectors)
        for name in ("articles.jsonl", "vectors.npy"):
            _fsync_file(staging / name)
        _fsync_dir(staging)
        os.rename(staging, final)
        manifest = {"format": FORMAT, "version": version, "embedder": self.embedder_id,
                    "dimension": self.dimension, "snapshot": final.name,
                    "articles": len(snapshot.articles), "sentences": snapshot.size}
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

    def _load(self) -> None:
        manifest_file = self.directory / "manifest.json"
        if not manifest_file.exists():
            return
        manifest = json.loads(manifest_file.read_text())
        if manifest.get("format") != FORMAT:
            raise IndexMismatch(f"{self.directory}: index format {manifest.get('format')} is not {FORMAT}")
        if manifest["embedder"] != self.embedder_id or manifest["dimension"] != self.dimension:
            raise IndexMismatch(
                f"The index in {self.directory} was built with the embedder {manifest['embedder']!r}, "
                f"not {self.embedder_id!r}. Use that embedder, or another --data-dir for this one."
            )
        folder = self.directory / manifest["snapshot"]
        articles = {}
        with open(folder / "articles.jsonl", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                record["sentences"] = tuple(tuple(s) for s in record["sentences"])
                articles[record["id"]] = StoredArticle(**record)
        vectors = np.load(folder / "vectors.npy")
        self._version = manifest["version"]
        self._snapshot = _build(articles, vectors, self.dimension)
        self._remove_stale(keep=folder.name)
