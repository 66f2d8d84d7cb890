"""A sentence-transformers model of the common shape (Transformer -> mean or CLS Pooling -> Normalize),
run on ONNX Runtime or torch (runtime/forward.py) without sentence-transformers.

Importing sentence-transformers pulls in scikit-learn, SciPy and pandas: about half of `articleqa ask`'s
start-up on this machine, for three lines of pooling. This computes the same vectors (tested against
sentence-transformers); models of any other shape still load through sentence-transformers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from articleqa.runtime.forward import Forward, TieredForward, load_forward
from articleqa.runtime.tokens import load_tokenizer, pad_batch, pad_id, plain_copy

_TYPES = ("Transformer", "Pooling", "Normalize")


class PooledTransformer:
    """`encode(texts)` as SentenceTransformer.encode(normalize_embeddings=True) for a local model folder."""

    def __init__(
        self,
        forward: Forward,
        tokenizer: Tokenizer,
        dimension: int,
        max_seq_length: int | None,
        pooling: str,
        lower_case: bool = False,
    ) -> None:
        self.forward = forward
        self.tokenizer = plain_copy(tokenizer)
        self.tokenizer.enable_truncation(max_seq_length or 512)
        self._pad_id = pad_id(tokenizer)
        self.dimension = dimension
        self.pooling = pooling  # "mean" or "cls"
        self.lower_case = lower_case

    def take_over(self, wait: bool = True) -> None:
        """Move to torch, where the model is tiered (runtime/forward.py TieredForward); else nothing."""
        if isinstance(self.forward, TieredForward):
            self.forward.take_over(wait)

    @classmethod
    def load(
        cls, folder: str | Path, runtime: str = "auto", onnx_dir: Path | None = None, precision: str = "auto"
    ) -> PooledTransformer | None:
        """The model in `folder`, or None when it is not of the shape this class computes exactly. On torch
        it runs in fp32 unless the caller wraps `encode` in `inference_precision("bf16")`; `precision` is
        what the caller will run it in (it decides whether torch takes over from ONNX Runtime)."""
        folder = Path(folder)
        try:
            modules = json.loads((folder / "modules.json").read_text())
            kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
            if kinds not in (list(_TYPES), list(_TYPES[:2])) or modules[0].get("path", "") != "":
                return None
            pooling_config = json.loads((folder / modules[1]["path"] / "config.json").read_text())
            settings = json.loads((folder / "sentence_bert_config.json").read_text())
            dimension = int(json.loads((folder / "config.json").read_text())["hidden_size"])
        except (OSError, ValueError, KeyError, IndexError):
            return None
        modes = {k for k, v in pooling_config.items() if k.startswith("pooling_mode_") and v}
        pooling = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}.get(next(iter(modes), ""))
        if len(modes) != 1 or pooling is None or len(kinds) != 3:
            return None  # other poolings, or no Normalize (the store needs unit vectors): sentence-transformers
        forward = load_forward(folder, "features", runtime, precision, onnx_dir, autocast=False)
        return cls(
            forward,
            load_tokenizer(folder),
            dimension,
            settings.get("max_seq_length"),
            pooling,
            bool(settings.get("do_lower_case")),
        )

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        # As sentence-transformers: stripped texts, longest first (batches of similar length pad little).
        texts = [t.strip().lower() if self.lower_case else t.strip() for t in texts]
        order = np.argsort([-len(t) for t in texts], kind="stable")
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        for start in starts:
            rows = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in rows])
            batch = pad_batch([(e.ids, e.type_ids) for e in encodings], self._pad_id)
            (tokens,) = self.forward(batch)  # pooled in fp32, whatever the model ran in
            tokens = tokens.astype(np.float32)
            if self.pooling == "cls":
                pooled = tokens[:, 0]
            else:
                mask = batch["attention_mask"][:, :, None].astype(np.float32)
                pooled = (tokens * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
            norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            vectors[rows] = pooled / norms
        return vectors
