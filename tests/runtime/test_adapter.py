"""A reader shipped as a LoRA adapter: merged once into its base (runtime/backbone.py), it reads as the
adapted model does, exports like any reader, and the product answers with it."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from articleqa.runtime.backbone import MERGED_FROM, VERIFIED, is_adapter, merged_reader

# slow: processes, servers or the shipped reader (the fast tier, -m "not slow", leaves them out)
pytestmark = pytest.mark.slow


@pytest.fixture()
def adapter_dir(tmp_path, tiny_reader_dir):
    """A LoRA adapter over the tiny reader, its weights moved off zero so that merging changes the model."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForQuestionAnswering

    torch.manual_seed(1)
    base = AutoModelForQuestionAnswering.from_pretrained(tiny_reader_dir)
    model = get_peft_model(
        base,
        LoraConfig(
            task_type=TaskType.QUESTION_ANS, r=4, target_modules=["query", "value"], modules_to_save=["qa_outputs"]
        ),
    )
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if "lora_B" in name or "modules_to_save" in name:
                weight.normal_(0, 0.5)
    directory = tmp_path / "adapter"
    model.save_pretrained(directory)
    for name in ("tokenizer.json", "tokenizer_config.json", "articleqa_reader.json"):
        if (tiny_reader_dir / name).is_file():
            shutil.copy(tiny_reader_dir / name, directory / name)
    return directory, model.eval()


def test_merged_once_and_reads_as_the_adapted_model(adapter_dir, tmp_path):
    from articleqa.qa.reader import ExtractiveReader

    directory, adapted = adapter_dir
    assert is_adapter(directory) and not is_adapter(tmp_path)
    merged = merged_reader(directory, tmp_path / "models")
    assert (tmp_path / "models").resolve() in Path(merged).resolve().parents
    assert (Path(merged) / VERIFIED).is_file()
    assert merged_reader(directory, tmp_path / "models") == merged  # found the second time, not merged again
    assert merged_reader(str(tmp_path), tmp_path / "models") == str(tmp_path)  # not an adapter: as given
    (directory / "MODEL.md").write_text("# a card edited after the merge\n")
    assert merged_reader(directory, tmp_path / "models") == merged  # the card does not make another merge
    reading = directory / "articleqa_reader.json"
    settings = json.loads(reading.read_text()) if reading.is_file() else {}
    reading.write_text(json.dumps({**settings, "min_confidence": 0.5}))
    remerged = merged_reader(directory, tmp_path / "models")
    assert remerged != merged  # how it reads does
    assert not Path(merged).exists() and Path(remerged).is_dir()  # the earlier merge is removed, not left to pile up

    reader = ExtractiveReader.from_pretrained(remerged, runtime="torch", precision="fp32")  # the same weights
    batch = {
        "input_ids": np.array([[101, 2040, 5260, 102, 1996, 8431, 2003, 2419, 102]]),
        "attention_mask": np.ones((1, 9), dtype=np.int64),
        "token_type_ids": np.array([[0] * 4 + [1] * 5]),
    }
    start, end = reader.forward(batch)
    with torch.no_grad():
        # the adapted transformers model: PeftModelForQuestionAnswering.forward drops token_type_ids
        expected = adapted.get_base_model()(**{k: torch.from_numpy(v) for k, v in batch.items()})
    np.testing.assert_allclose(start, expected.start_logits.numpy(), atol=1e-4)
    np.testing.assert_allclose(end, expected.end_logits.numpy(), atol=1e-4)
    base_start, _ = ExtractiveReader.from_pretrained(
        json.loads((directory / "adapter_config.json").read_text())["base_model_name_or_path"],
        runtime="torch",
        precision="fp32",
    ).forward(batch)
    assert not np.allclose(base_start, start, atol=1e-3)  # the adapter changed what the model reads


def test_a_new_merge_replaces_only_the_same_adapter_folders_earlier_merges(adapter_dir, tmp_path):
    directory, _ = adapter_dir
    models = tmp_path / "models"
    namesake = tmp_path / "elsewhere" / directory.name  # another checkout's adapter of the same name
    shutil.copytree(directory, namesake)
    (namesake / "articleqa_reader.json").write_text(json.dumps({"min_confidence": 0.2}))
    theirs = Path(merged_reader(namesake, models))
    first = Path(merged_reader(directory, models))
    assert (first / MERGED_FROM).read_text().strip() == str(directory.resolve())
    legacy = models / f"{directory.name}-merged-0000000000000000"  # made before merges recorded their adapter
    shutil.copytree(first, legacy)
    (legacy / MERGED_FROM).unlink()
    (directory / "articleqa_reader.json").write_text(json.dumps({"min_confidence": 0.7}))
    second = Path(merged_reader(directory, models))
    assert second != first and (second / VERIFIED).is_file()
    assert not first.exists() and not legacy.exists()
    assert theirs.is_dir() and (theirs / VERIFIED).is_file()  # the namesake's merge is another folder's: kept


def test_the_product_answers_with_an_adapter_reader(adapter_dir, tmp_path, embedder):
    from articleqa.config import Settings
    from articleqa.qa.pipeline import ArticleQA
    from tests.conftest import SEED

    directory, _ = adapter_dir
    settings = Settings(data_dir=tmp_path / "data", reader=str(directory), models_dir=tmp_path / "models")
    app = ArticleQA.from_settings(settings, embedder=embedder, always_answering=True)
    app.add_files([SEED])
    answer = app.ask("Who leads HTS?")
    assert answer.answer and answer.sentence[answer.start : answer.end] == answer.answer


@pytest.mark.parametrize(("bits", "within"), [(8, 0.01), (4, 0.1)])
def test_an_adapter_with_factors_in_fewer_bits_merges_and_reads_as_the_adapted_model(
    adapter_dir, tmp_path, bits, within
):
    from safetensors.torch import load_file
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from articleqa.runtime.adapter_weights import ADAPTER_WEIGHTS, save_quantized

    directory, adapted = adapter_dir
    small = tmp_path / f"adapter-int{bits}"
    shutil.copytree(directory, small)
    save_quantized(load_file(str(directory / ADAPTER_WEIGHTS)), small / ADAPTER_WEIGHTS, bits)
    merged = merged_reader(small, tmp_path / "models")
    assert (Path(merged) / VERIFIED).is_file() and not list(Path(merged).parent.glob(".*"))  # no scratch left
    tokenizer = AutoTokenizer.from_pretrained(directory)
    batch = tokenizer(["Who leads HTS?"], ["HTS is led by Abu Mohammed al-Jolani."], return_tensors="pt")
    with torch.no_grad():
        got = AutoModelForQuestionAnswering.from_pretrained(merged).eval()(**batch)
        want = adapted.get_base_model()(**batch)
    scale = float(want.start_logits.abs().max())
    np.testing.assert_allclose(got.start_logits.numpy(), want.start_logits.numpy(), atol=within * scale)
    np.testing.assert_allclose(got.end_logits.numpy(), want.end_logits.numpy(), atol=within * scale)
    assert not np.allclose(got.start_logits.numpy(), want.start_logits.numpy(), atol=1e-6)  # it was rounded
