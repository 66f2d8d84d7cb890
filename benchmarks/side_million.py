"""Retrieval at scale: a synthetic 1,000,000-sentence index (random unit vectors, generated text).

    python -m benchmarks.side_million SENTENCES OUT.json [STORE [DATA_DIR]]

STORE is faiss (default) or milvus (Milvus Lite); with DATA_DIR the index is persisted there (disk size is
reported), without it FAISS stays in memory.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import peak_rss_mb, percentile


def _disk_mb(path: Path | None) -> float | None:
    if path is None:
        return None
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def main(sentences: int, out: str, store_kind: str = "faiss", data_dir: str | None = None) -> None:
    from articleqa.index.embedder import Embedder
    from articleqa.index.store import EmbeddedArticle, SentenceStore
    from articleqa.qa.retriever import HybridRetriever

    rng = np.random.default_rng(0)
    words = np.array([f"w{n}" for n in range(50_000)])
    per_article = 100
    embedder = Embedder()
    directory = Path(data_dir) if data_dir else None
    store = SentenceStore(directory, embedder.dimension, embedder.model_id, store=store_kind).open()

    def articles():  # generated while the store consumes them: the corpus is never all in memory at once
        for a in range(sentences // per_article):
            texts = [" ".join(row) + "." for row in words[rng.integers(0, len(words), (per_article, 12))]]
            body, spans, position = "", [], 0
            for text in texts:
                spans.append((position, position + len(text)))
                body += text + " "
                position += len(text) + 1
            vectors = rng.standard_normal((per_article, embedder.dimension), dtype=np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            yield EmbeddedArticle(f"Synthetic {a}", body, "", f"fp{a}", tuple(spans), vectors)

    started = time.perf_counter()
    store.add(articles())  # one commit, as before (generation is included in build_s)
    build_s = time.perf_counter() - started
    retriever = HybridRetriever(store, embedder)
    queries = [" ".join(row) for row in words[rng.integers(0, len(words), (60, 6))]]
    for q in queries[:5]:
        retriever.retrieve(q, 4)
    latencies, dense = [], []
    for q in queries:
        t = time.perf_counter()
        retriever.retrieve(q, 4)
        latencies.append(time.perf_counter() - t)
    for q in rng.standard_normal((60, embedder.dimension), dtype=np.float32):
        t = time.perf_counter()
        store.search_dense(q / np.linalg.norm(q), 30)
        dense.append(time.perf_counter() - t)
    json.dump(
        {
            "store": store_kind,
            "sentences": len(store),
            "dense_index": store.vectors.description,
            "build_s": build_s,
            "disk_mb": _disk_mb(directory),
            "retrieval_p50_ms": 1000 * percentile(latencies, 50),
            "retrieval_p95_ms": 1000 * percentile(latencies, 95),
            "dense_p50_ms": 1000 * percentile(dense, 50),
            "dense_p95_ms": 1000 * percentile(dense, 95),
            "peak_rss_mb": peak_rss_mb(),
        },
        open(out, "w"),
        indent=2,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], *sys.argv[3:5])
