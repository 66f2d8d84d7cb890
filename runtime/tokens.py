"""The models' fast tokenizers (the `tokenizers` objects transformers wraps) and padded batches of their
encodings, as every runtime takes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tokenizers import Tokenizer


def load_tokenizer(name_or_path: str | Path) -> Tokenizer:
    """The model's fast tokenizer (the `tokenizers` object transformers wraps), with no truncation or padding
    set: callers set their own on their own copy."""
    file = Path(name_or_path) / "tokenizer.json"
    if file.is_file():
        tokenizer = Tokenizer.from_file(str(file))
    else:  # a hub id, or a folder with only a vocabulary: transformers builds the fast tokenizer
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(name_or_path)).backend_tokenizer
    return plain_copy(tokenizer)


def plain_copy(tokenizer: Tokenizer) -> Tokenizer:
    """A copy of a fast tokenizer with no truncation or padding set: a tokenizer's settings are its state,
    so each use that sets its own (windows, counting, embedding) gets its own copy."""
    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_truncation()
    copy.no_padding()
    return copy


def pad_batch(encodings: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, np.ndarray]:
    """(ids, type ids) of several sequences as right-padded int64 arrays with their attention mask."""
    width = max(len(ids) for ids, _ in encodings)
    input_ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
    token_type_ids = np.zeros((len(encodings), width), dtype=np.int64)
    attention_mask = np.zeros((len(encodings), width), dtype=np.int64)
    for row, (ids, type_ids) in enumerate(encodings):
        input_ids[row, : len(ids)] = ids
        token_type_ids[row, : len(ids)] = type_ids
        attention_mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}


def pad_id(tokenizer: Tokenizer) -> int:
    for token in ("[PAD]", "<pad>"):
        found = tokenizer.token_to_id(token)
        if found is not None:
            return found
    return 0
