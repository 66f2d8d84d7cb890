from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from articleqa.config import Settings  # noqa: E402  (after the environment it reads)

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "syrian-rebels-capture-hama.txt"
SEED_TITLE = "Syrian Rebels Capture Hama, Weaken Assad’s Grip on Nation"
SHARED = Settings.from_env().qa_data_dir


@pytest.fixture(scope="session")
def tiny_reader_dir(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer QA model with the real tokenizer: exercises the code, not quality."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    from articleqa.index.embedder import default_embedder_path

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("tiny-reader")
    tokenizer = AutoTokenizer.from_pretrained(default_embedder_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertForQuestionAnswering(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def embedder():
    from articleqa.index.embedder import Embedder

    return Embedder()


@pytest.fixture()
def settings(tmp_path, tiny_reader_dir):
    from articleqa.config import Settings

    return Settings(data_dir=tmp_path / "data", reader=str(tiny_reader_dir))


@pytest.fixture()
def tiny_app(settings, embedder):
    """The real pipeline (FAISS, BM25, the real embedder) with the tiny reader, on a fresh data dir."""
    from articleqa.qa.pipeline import ArticleQA

    return ArticleQA.from_settings(settings, embedder=embedder)


@pytest.fixture()
def answering_app(settings, embedder):
    """tiny_app whose policy never abstains: the tiny reader is random, so every reply has a source to check
    the plumbing with."""
    from articleqa.qa.pipeline import ArticleQA

    return ArticleQA.from_settings(settings, embedder=embedder, always_answering=True)


@pytest.fixture(scope="session")
def shipped_app(tmp_path_factory, embedder):
    """The product as shipped: default reader, seed article indexed."""
    from articleqa.config import SEEDS_DIR, Settings
    from articleqa.qa.pipeline import ArticleQA

    # By default the reader runs as the product does: on its export in OpenVINO, bf16 on CPUs with native
    # bf16; ARTICLEQA_RUNTIME=onnx|torch and ARTICLEQA_PRECISION=bf16|fp32 run it elsewhere
    settings = Settings.from_env(data_dir=tmp_path_factory.mktemp("shipped"))
    app = ArticleQA.from_settings(settings, embedder=embedder)
    app.add_files([SEEDS_DIR])
    return app
