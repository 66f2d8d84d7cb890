"""Retrieval at scale: a synthetic 1,000,000-sentence index (random unit vectors, generated text)."""

import json
import sys
import time

import numpy as np

from benchmarks.common import peak_rss_mb, percentile


def main(sentences: int, out: str) -> None:
    from index.embedder import Embedder
    from index.store import SentenceStore
    from qa.retriever import HybridRetriever

    rng = np.random.default_rng(0)
    words = np.array([f"w{n}" for n in range(50_000)])
    per_article = 100
    embedder = Embedder()
    store = SentenceStore(None, embedder.dimension, embedder.model_id)
    started = time.perf_counter()
    items = []
    for a in range(sentences // per_article):
        texts = [" ".join(row) + "." for row in words[rng.integers(0, len(words), (per_article, 12))]]
        body, spans, position = "", [], 0
        for text in texts:
            spans.append((position, position + len(text)))
            body += text + " "
            position += len(text) + 1
        vectors = rng.standard_normal((per_article, embedder.dimension), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        items.append((f"Synthetic {a}", body, "", f"fp{a}", spans, vectors))
    generated_s = time.perf_counter() - started
    started = time.perf_counter()
    store.add(items)
    del items
    build_s = time.perf_counter() - started
    retriever = HybridRetriever(store, embedder)
    queries = [" ".join(row) for row in words[rng.integers(0, len(words), (60, 6))]]
    for q in queries[:5]:
        retriever.retrieve(q, 4)
    latencies = []
    for q in queries:
        t = time.perf_counter()
        retriever.retrieve(q, 4)
        latencies.append(time.perf_counter() - t)
    json.dump({"sentences": len(store), "dense_index": type(store.snapshot().dense).__name__,
               "generate_s": generated_s, "build_s": build_s,
               "retrieval_p50_ms": 1000 * percentile(latencies, 50),
               "retrieval_p95_ms": 1000 * percentile(latencies, 95), "peak_rss_mb": peak_rss_mb()},
              open(out, "w"), indent=2)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
