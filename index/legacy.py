"""Stores written before the database (formats 1-3): read once, to convert them (index/store.py).

On disk they were
    manifest.json       {"format", "version", "embedder", "dimension", "store", "next_row", "snapshot": "v7"}
    v7/articles.jsonl   one article per line (id, title, text, file, fingerprint, sentences, first_row, metadata)
    v7/dense.faiss      the FAISS index (format 1: v7/vectors.npy, one row per sentence in article order);
                        Milvus kept its vectors in milvus.db or on its server, under the same row ids.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, fields
from pathlib import Path

import faiss
import numpy as np

from articleqa.index.documents import ArticleMeta

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class LegacyArticle:
    id: int
    title: str
    text: str
    file: str
    fingerprint: str
    sentences: tuple[tuple[int, int], ...]
    first_row: int
    meta: ArticleMeta


@dataclass(frozen=True)
class LegacyStore:
    manifest: dict
    folder: Path  # the snapshot folder the manifest names
    articles: tuple[LegacyArticle, ...]  # in row order

    @property
    def next_row(self) -> int:
        ends = [a.first_row + len(a.sentences) for a in self.articles]
        return max([self.manifest.get("next_row", 0), *ends])


def read_legacy(directory: Path) -> LegacyStore | None:
    """The store in `directory` as its manifest names it; None when there is no manifest."""
    manifest_file = directory / MANIFEST
    if not manifest_file.exists():
        return None
    manifest = json.loads(manifest_file.read_text())
    folder = directory / manifest["snapshot"]
    articles, next_row = [], 0
    with open(folder / "articles.jsonl", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            first_row = record.pop("first_row", next_row)  # format 1: rows in file order
            if manifest.get("format", 1) < 3:  # "source" was the file name; no metadata
                record["file"] = record.pop("source", "")
            meta = ArticleMeta(**{f.name: record.pop(f.name, "") for f in fields(ArticleMeta)})
            sentences = tuple(tuple(s) for s in record.pop("sentences"))
            articles.append(
                LegacyArticle(
                    record["id"],
                    record["title"],
                    record["text"],
                    record.get("file", ""),
                    record["fingerprint"],
                    sentences,
                    first_row,
                    meta,
                )
            )
            next_row = max(next_row, first_row + len(sentences))
    articles.sort(key=lambda a: a.first_row)
    return LegacyStore(manifest, folder, tuple(articles))


class LegacyFaissVectors:
    """The vectors of a format 1-3 FAISS store, by row id."""

    def __init__(self, legacy: LegacyStore, dimension: int) -> None:
        self.legacy = legacy
        if (legacy.folder / "vectors.npy").exists():  # format 1: rows in article order
            self.matrix = np.load(legacy.folder / "vectors.npy")
            self.index = None
            offsets = np.cumsum([0] + [len(a.sentences) for a in legacy.articles])
            self.offset = {a.first_row: int(o) for a, o in zip(legacy.articles, offsets, strict=False)}
        else:
            self.index = faiss.read_index(str(legacy.folder / "dense.faiss"))
            if self.index.d != dimension:
                raise ValueError(f"{legacy.folder} holds {self.index.d}-dimensional vectors, not {dimension}")
            if isinstance(self.index, faiss.IndexIVF):
                self.index.make_direct_map(faiss.DirectMap.Hashtable)  # reconstruct by row id

    def article(self, article: LegacyArticle) -> np.ndarray:
        n = len(article.sentences)
        if self.index is None:
            start = self.offset[article.first_row]
            return np.ascontiguousarray(self.matrix[start : start + n], dtype=np.float32)
        ids = np.arange(article.first_row, article.first_row + n, dtype=np.int64)
        return np.ascontiguousarray(self.index.reconstruct_batch(ids), dtype=np.float32)


def remove_legacy(directory: Path) -> None:
    """The old files, once the database holds everything (the manifest last: it is what marks a legacy store)."""
    for path in directory.glob("v*"):
        if path.is_dir() and path.name[1:].removesuffix(".tmp").isdigit():
            shutil.rmtree(path, ignore_errors=True)
    (directory / "manifest.json.tmp").unlink(missing_ok=True)
    (directory / MANIFEST).unlink(missing_ok=True)
