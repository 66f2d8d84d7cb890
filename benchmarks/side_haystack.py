"""Haystack's side (runs in its own venv): sentence-transformers embedder + in-memory embedding
retriever + TransformersExtractiveReader, with the same embedder and reader weights as articleqa."""

import time

START = time.time()

import os  # noqa: E402
import sys  # noqa: E402

os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import run_side  # noqa: E402


def build(task):
    from haystack import Document, Pipeline
    from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack_integrations.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder,
        SentenceTransformersTextEmbedder,
    )
    from haystack_integrations.components.readers.transformers import TransformersExtractiveReader

    store = InMemoryDocumentStore()
    documents = [Document(content=text, meta={"title": title}) for title, text in task["passages"]]
    embedder = SentenceTransformersDocumentEmbedder(
        model=task["embedder"], progress_bar=False, normalize_embeddings=True, local_files_only=True
    )
    embedder.warm_up()
    store.write_documents(embedder.run(documents)["documents"])
    pipeline = Pipeline()
    pipeline.add_component(
        "embed",
        SentenceTransformersTextEmbedder(
            model=task["embedder"], progress_bar=False, normalize_embeddings=True, local_files_only=True
        ),
    )
    pipeline.add_component("retrieve", InMemoryEmbeddingRetriever(store, top_k=task["top_k"]))
    pipeline.add_component("read", TransformersExtractiveReader(model=task["reader"], top_k=1, no_answer=False))
    pipeline.connect("embed.embedding", "retrieve.query_embedding")
    pipeline.connect("retrieve.documents", "read.documents")
    pipeline.warm_up()
    return pipeline, task["sentences"]


def make_answer(pipeline, task):
    def answer(question: str) -> str:
        result = pipeline.run({"embed": {"text": question}, "read": {"query": question}})
        answers = result["read"]["answers"]
        return (answers[0].data or "") if answers else ""

    return answer


if __name__ == "__main__":
    run_side(build, make_answer, START)
