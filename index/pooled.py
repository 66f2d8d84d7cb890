"""A sentence-transformers model of the common shape (Transformer -> mean or CLS Pooling -> Normalize),
run on transformers alone.

Importing sentence-transformers pulls in scikit-learn, SciPy and pandas: about half of `articleqa ask`'s
start-up on this machine, for three lines of pooling. This computes the same vectors (tested against
sentence-transformers); models of any other shape still load through sentence-transformers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

_TYPES = ("Transformer", "Pooling", "Normalize")


class PooledTransformer:
    """`encode(texts)` as SentenceTransformer.encode(normalize_embeddings=True) for a local model folder."""

    def __init__(self, model: torch.nn.Module, tokenizer, max_seq_length: int | None, pooling: str,
                 lower_case: bool = False) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_seq_length = max_seq_length
        self.pooling = pooling  # "mean" or "cls"
        self.lower_case = lower_case
        self.dimension = int(model.config.hidden_size)

    @classmethod
    def load(cls, folder: str | Path) -> PooledTransformer | None:
        """The model in `folder`, or None when it is not of the shape this class computes exactly."""
        folder = Path(folder)
        try:
            modules = json.loads((folder / "modules.json").read_text())
            kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
            if kinds not in (list(_TYPES), list(_TYPES[:2])) or modules[0].get("path", "") != "":
                return None
            pooling_config = json.loads((folder / modules[1]["path"] / "config.json").read_text())
            settings = json.loads((folder / "sentence_bert_config.json").read_text())
        except (OSError, ValueError, KeyError, IndexError):
            return None
        modes = {k for k, v in pooling_config.items() if k.startswith("pooling_mode_") and v}
        pooling = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}.get(next(iter(modes), ""))
        if len(modes) != 1 or pooling is None or len(kinds) != 3:
            return None  # other poolings, or no Normalize (the store needs unit vectors): sentence-transformers
        from transformers import AutoModel, AutoTokenizer

        model = AutoModel.from_pretrained(str(folder))
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        return cls(model, tokenizer, settings.get("max_seq_length"), pooling, bool(settings.get("do_lower_case")))

    @torch.inference_mode()
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
            batch = self.tokenizer([texts[i] for i in rows], padding=True, truncation="longest_first",
                                   max_length=self.max_seq_length, return_tensors="pt")
            tokens = self.model(**batch).last_hidden_state.float()  # pool in fp32, whatever the model ran in
            if self.pooling == "cls":
                pooled = tokens[:, 0]
            else:
                mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vectors[rows] = torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()
        return vectors
