"""index/embedder.py and compute.py: precision settings, bf16 embeddings, the query cache."""

import pytest


@pytest.mark.slow
def test_precision_setting_is_checked_and_bf16_keeps_the_embeddings(embedder):
    import numpy as np
    import pytest

    from articleqa.runtime.compute import resolve_precision

    assert resolve_precision("fp32") == "fp32"
    assert resolve_precision("auto") in ("bf16", "fp32")
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("int3")
    texts = [f"Sentence {i} says that the rebels took the city of Hama in week {i}." for i in range(16)]
    chosen = embedder.precision
    try:
        embedder.precision = "fp32"
        exact = embedder.embed(texts)
        embedder.precision = "bf16"
        fast = embedder.embed(texts)
    finally:
        embedder.precision = chosen
    assert np.min(np.sum(exact * fast, axis=1)) > 0.999  # cosine: same neighbours for retrieval


def test_query_vectors_are_cached_and_equal_to_fresh_ones(embedder):
    import numpy as np

    query = "Who took Aleppo in the offensive?"
    first = embedder.embed_query(query)
    assert embedder.embed_query(query) is first
    assert np.allclose(first, embedder.embed([query])[0], atol=1e-5)


@pytest.mark.slow
def test_pooled_encoder_gives_sentence_transformers_vectors():
    """The embedder runs the packaged model on transformers alone (a faster start): same vectors as
    sentence-transformers, whatever the texts' lengths, in fp32 and in bf16."""
    import numpy as np

    from articleqa.index.embedder import _SentenceTransformers, default_embedder_path
    from articleqa.index.pooled import PooledTransformer
    from articleqa.runtime.compute import inference_precision

    texts = ["  Who leads HTS?  ", "x", "The rebels took Hama. " * 80, "", "Aleppo fell within days."]
    ours = PooledTransformer.load(default_embedder_path())
    theirs = _SentenceTransformers(default_embedder_path())
    assert ours is not None and ours.dimension == theirs.dimension
    for precision in ("fp32", "bf16"):
        with inference_precision(precision):
            a, b = ours.encode(texts, batch_size=2), theirs.encode(texts, batch_size=2)
        assert np.min(np.sum(a * b, axis=1)) > 0.9999, precision


@pytest.mark.slow
def test_queries_embedded_together_equal_one_at_a_time(embedder):
    import numpy as np

    queries = ["Who leads HTS?", "Where is Hama?", "Who leads HTS?", "What is the bounty on Jolani's head?"]
    together = embedder.embed_queries(queries)
    embedder._queries.clear()
    for query, vector in zip(queries, together, strict=True):
        assert np.allclose(embedder.embed_query(query), vector, atol=1e-5)


def test_an_embedder_loads_its_model_in_warm_up_not_when_built(tmp_path):
    import pytest

    from articleqa.index.embedder import Embedder

    missing = Embedder(str(tmp_path / "no-such-model"))  # configuration only: nothing read yet
    assert missing.model is None
    with pytest.raises(OSError):
        missing.warm_up()
    packaged = Embedder()
    assert packaged.model is None and packaged.model_id.startswith("all-MiniLM-L6-v2")
    assert packaged.warm_up() is packaged and packaged.dimension == 384


def test_bad_settings_fail_when_the_embedder_is_made_not_when_it_loads():
    import pytest

    from articleqa.index.embedder import Embedder

    with pytest.raises(ValueError, match="precision must be one of auto, bf16, fp32, not 'int3'"):
        Embedder(precision="int3")
    with pytest.raises(ValueError, match="runtime must be one of"):
        Embedder(runtime="gpu")
