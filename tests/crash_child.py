"""Child process for the crash test: adds articles one at a time, reporting each commit on stdout."""

import sys

from articleqa.index.documents import Article
from articleqa.index.embedder import Embedder
from articleqa.index.indexer import Indexer
from articleqa.index.store import SentenceStore

if __name__ == "__main__":
    directory, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    store = sys.argv[4] if len(sys.argv) > 4 else "faiss"
    embedder = Embedder()
    indexer = Indexer(SentenceStore(directory, embedder.dimension, embedder.model_id, store=store).open(), embedder)
    print("ready", flush=True)
    for n in range(first, first + count):
        body = " ".join(f"Sentence {k} of report {n} mentions keyword{n}x." for k in range(6))
        indexer.add_articles([Article(f"Report {n}", body)])
        print(f"added Report {n}", flush=True)
