"""Vector backends of the store: one small interface, FAISS (embedded, default) and Milvus (Lite file or server).

A backend keeps sentence vectors under stable int64 row ids and answers nearest-neighbour queries by inner
product. The store's database, not the backend, says which rows exist (index/store.py): the store adds a
write's vectors *before* its commit and removes an article's *after* the commit that drops it, and ignores
hits on rows its snapshot doesn't name. So a backend needs no transactions of its own, and a search on an
older snapshot stays correct while a write is under way. FAISS lives in each process (rebuilt from a
checkpoint file and the database); a Milvus collection is `shared` by every process on the store.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np

FLAT_LIMIT = 200_000  # up to this many rows: exact search; above: IVF (approximate, much faster)
IVF_PROBES = 24
BATCH_ROWS = 16_384  # rows per backend call: bounds temporary copies, lets searches interleave with a big add
MILVUS_MAX_K = 16_384  # Milvus refuses larger `limit`s


@dataclass(frozen=True)
class Rows:
    """Row ids and the metadata kept with each vector: the article and the sentence's position in it."""

    ids: np.ndarray  # int64, ascending
    articles: np.ndarray  # int64
    positions: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.ids)

    def slice(self, start: int, stop: int) -> Rows:
        return Rows(self.ids[start:stop], self.articles[start:stop], self.positions[start:stop])


class VectorIndex(Protocol):
    """What the store needs from a vector backend."""

    description: str  # e.g. "faiss IndexIVFFlat", "milvus FLAT (milvus.db)"
    shared: bool  # True: every process sees the same rows (Milvus); False: this process's own copy (FAISS)

    def add(self, rows: Rows, blocks: Sequence[np.ndarray]) -> None:
        """Store one vector per row; `blocks` are consecutive slices of the vectors, never joined into one copy."""

    def remove(self, row_ids: np.ndarray) -> None: ...

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, scores) of the `k` best rows by inner product, best first."""

    @property
    def count(self) -> int: ...

    def prune(self, keep: Rows) -> None:
        """Drop every row that is not in `keep` (rows of a write that crashed before its commit)."""


def _batches(blocks: Sequence[np.ndarray], dimension: int) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, vectors) in batches of about BATCH_ROWS, joining small blocks (one article each)."""
    pending: list[np.ndarray] = []
    size = start = 0
    for block in blocks:
        pending.append(np.asarray(block, dtype=np.float32).reshape(-1, dimension))
        size += len(pending[-1])
        if size >= BATCH_ROWS:
            yield start, np.ascontiguousarray(np.concatenate(pending))
            start, pending, size = start + size, [], 0
    if pending:
        yield start, np.ascontiguousarray(np.concatenate(pending))


def _gather(blocks: Sequence[np.ndarray], wanted: np.ndarray, dimension: int) -> np.ndarray:
    """Rows `wanted` (sorted positions across all blocks) copied out of the blocks."""
    out, offset = [], 0
    for block in blocks:
        block = np.asarray(block, dtype=np.float32).reshape(-1, dimension)
        inside = wanted[(wanted >= offset) & (wanted < offset + len(block))] - offset
        if len(inside):
            out.append(block[inside])
        offset += len(block)
    return np.concatenate(out) if out else np.zeros((0, dimension), dtype=np.float32)


_FLAT_TAG = b"IxM2"  # the first bytes faiss.write_index writes for an IndexIDMap2 (the flat index; IVF: "IwFl")


def _flat_index(dimension: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


@dataclass
class FaissVectors:
    """FAISS, in process: exact (flat) up to FLAT_LIMIT rows, then an inverted-file index (IVFFlat).

    Checkpointed with faiss.write_index (a reload needs no retraining). A flat checkpoint is memory-mapped,
    not read: allocating and filling 300 MB for 200,000 rows took seconds at start-up, mapping the file takes
    milliseconds and its pages are the OS cache's, shared by every process on the store. That `base` is
    read-only (FAISS aborts the process on an add to a mapped index), so rows added since go to `index`,
    and base rows removed since are only marked dead and skipped. Calls are serialised by a lock: FAISS
    indexes are not safe to search while they grow.
    """

    dimension: int
    index: faiss.Index | None = None  # this process's own rows: all of them, or those added since `base`
    base: faiss.Index | None = None  # a flat checkpoint, memory-mapped: never added to or removed from
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _base_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)  # sorted
    _dead: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)  # sorted, in base
    _changes: int = 0  # adds and removals so far (a save adopts its file only if none came meanwhile)

    shared = False

    def __post_init__(self) -> None:
        if self.index is None:
            self.index = _flat_index(self.dimension)
        if self.base is not None:
            self._base_ids = np.sort(faiss.vector_to_array(self.base.id_map).astype(np.int64))

    @classmethod
    def load_file(cls, path: Path, dimension: int) -> FaissVectors:
        with open(path, "rb") as handle:
            flat = handle.read(4) == _FLAT_TAG
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if flat else 0)
        if index.d != dimension:
            raise ValueError(f"{path} holds {index.d}-dimensional vectors, not {dimension}")
        if flat:
            return cls(dimension, base=index)
        if isinstance(index, faiss.IndexIVF):
            index.nprobe = IVF_PROBES
        return cls(dimension, index)

    @property
    def description(self) -> str:
        return f"faiss {type(self.index).__name__}"

    @property
    def count(self) -> int:
        return int(self.index.ntotal) + (int(self.base.ntotal) - len(self._dead) if self.base is not None else 0)

    @property
    def is_flat(self) -> bool:
        return self.base is not None or isinstance(self.index, faiss.IndexIDMap2)

    def add(self, rows: Rows, blocks: Sequence[np.ndarray]) -> None:
        if not len(rows):
            return
        with self._lock:
            self._changes += 1
            if self.is_flat and self.count + len(rows) > FLAT_LIMIT:
                self._to_ivf(rows, blocks)
            else:
                for start, batch in _batches(blocks, self.dimension):
                    self.index.add_with_ids(batch, rows.ids[start : start + len(batch)])

    def _flat_parts(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(row ids, vectors) of a flat index's live rows: the base's (views of the mapped file when none
        died) and this process's own (views of its memory: valid while `index` is)."""
        parts = []
        for index in (self.base, self.index):
            if index is None or index.ntotal == 0:
                continue
            flat = faiss.downcast_index(index.index)
            vectors = faiss.rev_swig_ptr(flat.get_xb(), index.ntotal * self.dimension).reshape(-1, self.dimension)
            ids = faiss.vector_to_array(index.id_map).astype(np.int64)
            if index is self.base and len(self._dead):
                keep = ~np.isin(ids, self._dead)
                ids, vectors = ids[keep], vectors[keep]
            parts.append((ids, vectors))
        return parts

    def _to_ivf(self, rows: Rows, blocks: Sequence[np.ndarray]) -> None:
        """Past FLAT_LIMIT: train an IVF on a sample of old and new rows, move the old rows over, add the new."""
        parts = self._flat_parts()
        old = sum(len(ids) for ids, _ in parts)
        total = old + len(rows)
        lists = _ivf_lists(total)
        sample = np.sort(np.random.default_rng(0).choice(total, size=min(total, 40 * lists), replace=False))
        training = _gather([vectors for _, vectors in parts] + list(blocks), sample, self.dimension)
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dimension), self.dimension, lists, faiss.METRIC_INNER_PRODUCT)
        ivf.train(training)
        del training
        ivf.nprobe = IVF_PROBES
        for ids, vectors in parts:
            for start in range(0, len(ids), BATCH_ROWS):
                ivf.add_with_ids(
                    np.ascontiguousarray(vectors[start : start + BATCH_ROWS]), ids[start : start + BATCH_ROWS]
                )
        del parts  # views of the flat indexes: gone before they are
        # the flat index (at most FLAT_LIMIT rows) is freed here, the mapped base unmapped
        self.index, self.base = ivf, None
        self._base_ids = self._dead = np.zeros(0, dtype=np.int64)
        for start, batch in _batches(blocks, self.dimension):
            self.index.add_with_ids(batch, rows.ids[start : start + len(batch)])

    def remove(self, row_ids: np.ndarray) -> None:
        row_ids = np.ascontiguousarray(row_ids, dtype=np.int64)
        if not len(row_ids):
            return
        with self._lock:
            self._changes += 1
            if self.base is not None:
                in_base = np.isin(row_ids, self._base_ids)
                self._dead = np.union1d(self._dead, row_ids[in_base])
                row_ids = np.ascontiguousarray(row_ids[~in_base])
            if len(row_ids):
                self.index.remove_ids(row_ids)

    def prune(self, keep: Rows) -> None:
        ids = np.ascontiguousarray(keep.ids, dtype=np.int64)
        kept = faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids))
        with self._lock:
            self._changes += 1
            if self.base is not None:
                self._dead = np.union1d(self._dead, self._base_ids[~np.isin(self._base_ids, ids)])
            self.index.remove_ids(faiss.IDSelectorNot(kept))

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        with self._lock:
            k = min(k, self.count)
            if k <= 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            if self.base is None:
                scores, ids = self.index.search(query, k)
                found = ids[0] >= 0
                return ids[0][found], scores[0][found]
            # the base's best k live rows (dead ones may take places: ask for that many more) and the own rows'
            base_scores, base_ids = self.base.search(query, min(int(self.base.ntotal), k + len(self._dead)))
            live = (base_ids[0] >= 0) & ~np.isin(base_ids[0], self._dead)
            ids, scores = [base_ids[0][live]], [base_scores[0][live]]
            if self.index.ntotal:
                own_scores, own_ids = self.index.search(query, min(k, int(self.index.ntotal)))
                ids.append(own_ids[0][own_ids[0] >= 0])
                scores.append(own_scores[0][own_ids[0] >= 0])
        ids, scores = np.concatenate(ids), np.concatenate(scores)
        best = np.argsort(-scores, kind="stable")[:k]  # ties: the base's (lower) row ids first, as in one index
        return ids[best], scores[best]

    def save(self, path: Path) -> None:
        """Write the index to `path` atomically: aside, fsynced, renamed into place. A flat index is then
        served from that file, mapped (its copy in this process's memory is freed), unless rows came or
        went while it was written."""
        aside = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with self._lock:
            changes = self._changes
            if self.base is None:
                faiss.write_index(self.index, str(aside))
                merged = None
            else:  # one flat index of the live rows; written outside the lock, searches go on meanwhile
                merged = _flat_index(self.dimension)
                for ids, vectors in self._flat_parts():
                    for start in range(0, len(ids), BATCH_ROWS):
                        merged.add_with_ids(
                            np.ascontiguousarray(vectors[start : start + BATCH_ROWS]), ids[start : start + BATCH_ROWS]
                        )
        if merged is not None:
            faiss.write_index(merged, str(aside))
            del merged
        with open(aside, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(aside, path)
        descriptor = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        if self.is_flat:
            try:
                mapped = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
            except RuntimeError:  # another process's newer checkpoint replaced it already: keep this copy
                return
            with self._lock:
                if self._changes == changes:
                    self.base, self.index = mapped, _flat_index(self.dimension)
                    self._base_ids = np.sort(faiss.vector_to_array(mapped.id_map).astype(np.int64))
                    self._dead = np.zeros(0, dtype=np.int64)

    def close(self) -> None:
        """Nothing to release (the interface's: Milvus has a client to close)."""


def _ivf_lists(rows: int) -> int:
    """Inverted lists for an IVF index of `rows` vectors (both backends)."""
    return int(min(8192, 4 * np.sqrt(max(rows, 1))))


def _in_list(values: Sequence[int]) -> str:
    return "[" + ",".join(str(int(v)) for v in values) + "]"


@dataclass
class MilvusVectors:
    """Milvus: Milvus Lite (a local file, embedded) or a Milvus server/cluster, through pymilvus's MilvusClient.

    One collection; each entity is (row id, article id, sentence position, vector). FLAT + inner product
    is exact search, so results equal FaissVectors' flat index on small corpora.
    """

    uri: str  # a Lite file path, or http://host:19530
    dimension: int
    collection: str = "articleqa_sentences"
    index_type: str = "FLAT"
    client: Any = field(default=None, repr=False)
    _count: int = 0

    shared = True

    def __post_init__(self) -> None:
        from pymilvus import DataType, MilvusClient

        self.client = MilvusClient(self.uri)
        if not self.client.has_collection(self.collection):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("row", DataType.INT64, is_primary=True)
            schema.add_field("article", DataType.INT64)
            schema.add_field("position", DataType.INT32)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
            self.client.create_collection(
                self.collection, schema=schema, index_params=self._index_params(0), consistency_level="Strong"
            )
        else:
            described = self.client.describe_index(self.collection, "vector") or {}
            self.index_type = described.get("index_type", self.index_type)
            self._load(int(described.get("total_rows", 0)))
        self._count = self._count_rows()

    @property
    def is_lite(self) -> bool:
        """Milvus Lite: a local file, embedded (not a server)."""
        return not self.uri.startswith(("http://", "https://", "tcp://"))

    def _load(self, rows: int) -> None:
        from pymilvus import MilvusException

        try:
            self.client.load_collection(self.collection)
        except MilvusException:
            # Milvus Lite 3.2 writes a segment's index file in place (milvus_lite/index/brute_force.py): a kill -9
            # while it saves leaves the file cut short, and the collection no longer loads. The index is
            # derived from the stored rows, so build it again; a second failure is a real one. A server's
            # failure may be passing: its index is left alone.
            if not self.is_lite:
                raise
            self.client.drop_index(self.collection, "vector")
            self.client.create_index(self.collection, self._index_params(rows))
            self.client.load_collection(self.collection)

    def _index_params(self, rows: int):
        """The vector index for `rows` rows: exact (FLAT) or, past FLAT_LIMIT, IVF_FLAT as FaissVectors."""
        params = self.client.prepare_index_params()
        if self.index_type.startswith("IVF"):
            params.add_index(
                field_name="vector", index_type="IVF_FLAT", metric_type="IP", params={"nlist": _ivf_lists(rows)}
            )
        else:
            params.add_index(field_name="vector", index_type=self.index_type, metric_type="IP")
        return params

    @property
    def description(self) -> str:
        return f"milvus {self.index_type} ({self.uri})"

    @property
    def count(self) -> int:
        return self._count

    def _count_rows(self) -> int:
        result = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(result[0]["count(*)"])

    def add(self, rows: Rows, blocks: Sequence[np.ndarray]) -> None:
        for start, batch in _batches(blocks, self.dimension):
            part = rows.slice(start, start + len(batch))
            # upsert: a row id left by a write that crashed before its commit is given to the next write
            self.client.upsert(
                self.collection,
                [
                    {"row": int(r), "article": int(a), "position": int(p), "vector": v}
                    for r, a, p, v in zip(part.ids, part.articles, part.positions, batch, strict=True)
                ],
            )
        self._count = self._count_rows()
        if self.index_type == "FLAT" and self._count > FLAT_LIMIT:
            self._to_ivf()

    def _to_ivf(self) -> None:
        """Past FLAT_LIMIT, as FaissVectors: swap the exact index for IVF_FLAT (searched with IVF_PROBES)."""
        self.client.flush(self.collection)
        self.client.release_collection(self.collection)
        self.client.drop_index(self.collection, "vector")
        self.index_type = "IVF_FLAT"
        self.client.create_index(self.collection, self._index_params(self._count))
        self.client.load_collection(self.collection)

    def remove(self, row_ids: np.ndarray) -> None:
        for start in range(0, len(row_ids), BATCH_ROWS):
            self.client.delete(self.collection, filter=f"row in {_in_list(row_ids[start : start + BATCH_ROWS])}")
        self._count = self._count_rows()

    def prune(self, keep: Rows) -> None:
        articles = np.unique(keep.articles)
        if not len(articles):
            self.client.delete(self.collection, filter="row >= 0")
        else:
            limit = int(keep.ids.max()) + 1
            self.client.delete(self.collection, filter=f"row >= {limit} or article not in {_in_list(articles)}")
        self._count = self._count_rows()

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self._count, MILVUS_MAX_K)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        params: dict[str, Any] = {"metric_type": "IP"}
        if self.index_type.startswith("IVF"):
            params["params"] = {"nprobe": IVF_PROBES}
        hits = self.client.search(
            self.collection,
            data=[np.asarray(vector, dtype=np.float32).tolist()],
            limit=k,
            anns_field="vector",
            output_fields=[],
            search_params=params,
        )[0]
        return (
            np.array([h["row"] for h in hits], dtype=np.int64),
            np.array([h["distance"] for h in hits], dtype=np.float32),
        )

    def row_ids(self) -> np.ndarray:
        """Every row id in the collection (to reconcile it with the store after a crash)."""
        iterator = self.client.query_iterator(
            self.collection, batch_size=BATCH_ROWS, filter="row >= 0", output_fields=["row"]
        )
        found: list[int] = []
        while batch := iterator.next():
            found += [r["row"] for r in batch]
        iterator.close()
        return np.array(sorted(found), dtype=np.int64)

    def fetch(self, row_ids: np.ndarray) -> np.ndarray:
        """The vectors of these rows, in this order (to convert a store of format 1-3)."""
        got: dict[int, list[float]] = {}
        for start in range(0, len(row_ids), 1000):
            part = row_ids[start : start + 1000]
            for r in self.client.query(
                self.collection, filter=f"row in {_in_list(part)}", output_fields=["row", "vector"]
            ):
                got[int(r["row"])] = r["vector"]
        return np.array([got[int(r)] for r in row_ids], dtype=np.float32).reshape(-1, self.dimension)

    def close(self) -> None:
        """Disconnect; a Milvus Lite file is also unlocked, so another process may open it."""
        self.client.close()
        if self.is_lite:
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(self.uri)


def open_vectors(store: str, index_dir: Path | None, dimension: int) -> FaissVectors | MilvusVectors:
    """The backend named by `store`: "faiss" (default, empty: the store fills it), "milvus" (Milvus Lite file
    in the index directory) or "milvus://host:port[/collection]" (a Milvus server or cluster)."""
    kind = backend_kind(store)
    if kind == "faiss":
        return FaissVectors(dimension)
    if store == "milvus":
        if index_dir is None:
            raise ValueError("Milvus Lite keeps its data in a file: it needs a data directory")
        index_dir.mkdir(parents=True, exist_ok=True)
        return MilvusVectors(str(index_dir / "milvus.db"), dimension)
    address, _, collection = store.removeprefix("milvus://").partition("/")
    if not collection:  # one collection per index directory, so two data dirs never prune each other's rows
        where = str(index_dir.resolve()) if index_dir else "memory"
        collection = "articleqa_" + hashlib.sha1(where.encode()).hexdigest()[:12]
    return MilvusVectors(f"http://{address}", dimension, collection)


def backend_kind(store: str) -> str:
    if store in ("", "faiss"):
        return "faiss"
    if store == "milvus" or store.startswith("milvus://"):
        return "milvus"
    raise ValueError(f"unknown store {store!r}: use faiss, milvus (Milvus Lite) or milvus://host:port")
