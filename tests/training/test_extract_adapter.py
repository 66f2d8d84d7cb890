"""training/extract_adapter.py: a full fine-tune as a LoRA adapter over its base, merged back by the product."""

import json

import numpy as np
import pytest
import torch
from transformers import AutoModelForQuestionAnswering

from articleqa.runtime.backbone import is_adapter, merged_reader
from training.extract_adapter import extract, logit_gap, low_rank, merged_and_tuned, reading_gap

# slow: loads and saves several models (the fast tier, -m "not slow", leaves them out)
pytestmark = pytest.mark.slow

PAIRS = [("Who leads HTS?", "HTS is led by Abu Mohammed al-Jolani."), ("When?", "It was formed in 2016.")]


@pytest.fixture()
def tuned_dir(tmp_path, tiny_reader_dir):
    """The tiny reader 'fine-tuned': every weight moved, the matrices by a rank-2 change plus a little noise."""
    torch.manual_seed(3)
    model = AutoModelForQuestionAnswering.from_pretrained(tiny_reader_dir)
    with torch.no_grad():
        for weight in model.parameters():
            if weight.dim() == 2:
                out, inner = weight.shape
                weight += 0.3 * torch.randn(out, 2) @ torch.randn(2, inner) / inner**0.5
                weight += 0.01 * torch.randn_like(weight)
            else:
                weight += 0.05 * torch.randn_like(weight)
    directory = tmp_path / "tuned"
    model.save_pretrained(directory)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        if (tiny_reader_dir / name).is_file():
            (directory / name).write_bytes((tiny_reader_dir / name).read_bytes())
    return directory


def _tokenizer(tuned_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tuned_dir)


def test_low_rank_is_the_best_approximation_of_its_rank():
    torch.manual_seed(0)
    delta = torch.randn(12, 3) @ torch.randn(3, 20)
    b, a, kept = low_rank(delta, 3)
    assert b.shape == (12, 3) and a.shape == (3, 20)
    wide, _, _ = low_rank(delta, 16)  # more than the matrix has: padded with zeros
    assert wide.shape == (12, 16) and not wide[:, 12:].any()
    torch.testing.assert_close(b @ a, delta, atol=1e-4, rtol=1e-4)
    assert kept == pytest.approx(1.0)
    _, _, part = low_rank(delta, 1)
    assert 0.2 < part < 1.0


def test_at_full_rank_the_adapter_reads_as_the_fine_tuned_model(tmp_path, tiny_reader_dir, tuned_dir):
    out = tmp_path / "adapter"
    report = extract(str(tiny_reader_dir), str(tuned_dir), rank=64, out=out)  # >= every matrix's rank here
    assert is_adapter(out) and report["kept_min"] == pytest.approx(1.0, abs=1e-5)
    assert "qa_outputs" in report["saved_whole"]
    assert any("LayerNorm" in name for name in report["saved_whole"])
    assert logit_gap(merged_and_tuned(out, str(tuned_dir)), _tokenizer(tuned_dir), PAIRS) < 1e-3
    # and through the product's merge, as a reader folder
    from articleqa.qa.reader import ExtractiveReader

    merged = ExtractiveReader.from_pretrained(
        merged_reader(out, tmp_path / "models"), runtime="torch", precision="fp32"
    )
    tuned = ExtractiveReader.from_pretrained(tuned_dir, runtime="torch", precision="fp32")
    question, context = PAIRS[0]
    a, b = merged.read(question, [context], top_k=3), tuned.read(question, [context], top_k=3)
    assert [s.text for s in a.spans] == [s.text for s in b.spans]
    np.testing.assert_allclose([s.probability for s in a.spans], [s.probability for s in b.spans], rtol=1e-3)


def test_a_lower_rank_keeps_most_of_a_low_rank_change_in_a_smaller_file(tmp_path, tiny_reader_dir, tuned_dir):
    full = extract(str(tiny_reader_dir), str(tuned_dir), rank=64, out=tmp_path / "full")
    small = extract(str(tiny_reader_dir), str(tuned_dir), rank=2, out=tmp_path / "small")
    assert small["adapter_bytes"] < full["adapter_bytes"]
    assert 0.9 < small["kept_mean"] < 1.0  # the rank-2 change, less the noise
    config = json.loads((tmp_path / "small" / "adapter_config.json").read_text())
    assert config["r"] == 2 and config["lora_alpha"] == 2
    # nearer the fine-tuned model than the base it started from (the embeddings' full-rank noise stays out)
    small_gap = logit_gap(merged_and_tuned(tmp_path / "small", str(tuned_dir)), _tokenizer(tuned_dir), PAIRS)
    assert small_gap < 0.5 * _base_gap(tiny_reader_dir, tuned_dir)


def test_the_reading_gap_shrinks_as_the_rank_grows(tmp_path, tiny_reader_dir, tuned_dir):
    from training.train_shared import collate_groups

    tokenizer = _tokenizer(tuned_dir)
    encoded = tokenizer([q for q, _ in PAIRS] * 4, [c for _, c in PAIRS] * 4)
    rows = [
        {"windows": [{**{k: encoded[k][i] for k in ("input_ids", "token_type_ids")}, "starts": [], "ends": []}]}
        for i in range(len(PAIRS) * 4)
    ]
    windows = [collate_groups(rows, tokenizer.pad_token_id, tokenizer.sep_token_id)]
    extract(str(tiny_reader_dir), str(tuned_dir), rank=1, out=tmp_path / "rank1")
    extract(str(tiny_reader_dir), str(tuned_dir), rank=64, out=tmp_path / "whole")
    far = reading_gap(merged_and_tuned(tmp_path / "rank1", str(tuned_dir)), windows)
    near = reading_gap(merged_and_tuned(tmp_path / "whole", str(tuned_dir)), windows)
    assert near["mean_logit_gap"] < 1e-3 and near["mean_kl"] < 1e-6 and near["best_span_ends_kept"] == 1.0
    assert far["mean_logit_gap"] > 100 * near["mean_logit_gap"] and far["mean_kl"] > near["mean_kl"]


def _base_gap(base_dir, tuned_dir) -> float:
    tokenizer = _tokenizer(tuned_dir)
    batch = tokenizer([q for q, _ in PAIRS], [c for _, c in PAIRS], return_tensors="pt", padding=True)
    with torch.no_grad():
        base = AutoModelForQuestionAnswering.from_pretrained(base_dir).eval()(**batch)
        tuned = AutoModelForQuestionAnswering.from_pretrained(tuned_dir).eval()(**batch)
    mask = batch["attention_mask"].bool()
    return float((base.start_logits - tuned.start_logits)[mask].abs().max())


def test_a_run_can_start_from_a_reader_shipped_as_an_adapter(tmp_path, tiny_reader_dir, tuned_dir):
    from training.loop import starting_model

    out = tmp_path / "adapter"
    extract(str(tiny_reader_dir), str(tuned_dir), rank=64, out=out)
    start = starting_model(str(out), tmp_path / "models")
    assert start == merged_reader(out, tmp_path / "models") and not is_adapter(start)
    assert starting_model(str(tuned_dir), tmp_path / "models") == str(tuned_dir)  # a plain folder: as given
