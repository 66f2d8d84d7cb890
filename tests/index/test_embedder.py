"""index/embedder.py and compute.py: precision settings, bf16 embeddings, the query cache."""


def test_precision_setting_is_checked_and_bf16_keeps_the_embeddings(embedder):
    import numpy as np
    import pytest

    from articleqa.index.compute import resolve_precision

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
