"""runtime/adapter_weights.py: LoRA factors kept in int8 with fp16 scales, turned back into floats for peft."""

import pytest
import torch
from safetensors.torch import load_file, save_file

from articleqa.runtime.adapter_weights import (
    ADAPTER_WEIGHTS,
    FORMAT_KEY,
    SCALE_SUFFIX,
    SHAPE_SUFFIX,
    dequantized,
    is_quantized,
    loadable_adapter,
    quantized,
    save_quantized,
)


def weights() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    b = torch.randn(48, 100) * torch.linspace(3.0, 0.01, 100)  # columns of very different sizes, as U S
    b[5] = 0.0  # a row with nothing in it
    return {
        "base_model.model.layer.0.q.lora_B.default.weight": b,
        "base_model.model.layer.0.q.lora_A.default.weight": torch.randn(100, 70) / 70**0.5,
        "base_model.model.embeddings.lora_embedding_A.default": torch.randn(8, 130),
        "base_model.model.layer.0.q.bias": torch.randn(48),
        "base_model.model.qa_outputs.modules_to_save.default.weight": torch.randn(2, 48).half(),
        "base_model.model.position_ids": torch.arange(10),
    }


@pytest.mark.parametrize(("bits", "group", "finer_than"), [(8, 32, 0.01), (8, 64, 0.01), (4, 32, 0.15)])
def test_factors_come_back_within_half_a_step_of_their_group(bits, group, finer_than):
    given = weights()
    stored, metadata = quantized(given, bits, group)
    assert metadata == {FORMAT_KEY: f"int{bits}/{group}"}
    back = dequantized(stored, metadata)
    assert back.keys() == given.keys()
    top = 2 ** (bits - 1) - 1
    for name, tensor in given.items():
        if "lora_" not in name:
            assert stored[name] is tensor and back[name] is tensor  # biases, heads, ids: untouched
            continue
        rows, width = tensor.shape
        if bits == 8:
            assert stored[name].dtype == torch.int8 and stored[name].shape == tensor.shape
        else:  # two levels to a byte, the row padded to whole groups
            assert stored[name].dtype == torch.uint8 and stored[name].shape == (rows, -(-width // group) * group // 2)
            assert stored[name + SHAPE_SUFFIX].tolist() == [rows, width]
        assert stored[name + SCALE_SUFFIX].dtype == torch.float16
        padded = torch.nn.functional.pad(tensor, (0, -width % group)).view(rows, -1, group)
        step = (padded.abs().amax(-1) / top).repeat_interleave(group, dim=1)[:, :width]
        assert back[name].shape == tensor.shape
        assert ((back[name] - tensor).abs() <= 0.5 * step * 1.01 + 1e-7).all()
        assert (back[name][tensor == 0] == 0).all()
        assert (back[name] - tensor).norm() < finer_than * tensor.norm()


def test_a_file_without_the_format_is_read_as_it_is(tmp_path):
    given = weights()
    assert dequantized(given, None) is given and dequantized(given, {"format": "pt"}) is given
    folder = tmp_path / "adapter"
    folder.mkdir()
    save_file({k: v.contiguous() for k, v in given.items()}, str(folder / ADAPTER_WEIGHTS))
    assert not is_quantized(folder)
    assert loadable_adapter(folder, tmp_path / "scratch") == folder
    assert not (tmp_path / "scratch").exists()


@pytest.mark.parametrize("bits", [8, 4])
def test_an_adapter_in_fewer_bits_is_loaded_from_a_copy_with_float_factors(tmp_path, bits):
    given = weights()
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text('{"r": 8}')
    save_quantized(given, folder / ADAPTER_WEIGHTS, bits)
    assert is_quantized(folder)
    halves = {k: v.half() if v.is_floating_point() else v for k, v in given.items()}
    save_file({k: v.contiguous() for k, v in halves.items()}, str(tmp_path / "fp16.safetensors"))
    size, fp16 = (folder / ADAPTER_WEIGHTS).stat().st_size, (tmp_path / "fp16.safetensors").stat().st_size
    assert size < (bits / 16 + 0.2) * fp16  # these small rows pad out to whole groups: a real adapter's hardly do
    loadable = loadable_adapter(folder, tmp_path / "scratch")
    assert loadable == tmp_path / "scratch" and not is_quantized(loadable)
    assert (loadable / "adapter_config.json").read_text() == '{"r": 8}'
    loaded = load_file(str(loadable / ADAPTER_WEIGHTS))
    assert loaded.keys() == given.keys()
    for name, tensor in given.items():
        assert loaded[name].dtype == (torch.float32 if "lora_" in name else tensor.dtype)
        if "lora_" in name:  # within half a step of the largest group
            half_step = 0.5 * float(tensor.abs().max()) / (2 ** (bits - 1) - 1)
            assert float((loaded[name] - tensor).abs().max()) <= half_step * 1.01
        else:
            assert torch.equal(loaded[name], tensor)


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("width", [1, 31, 32, 63, 64, 65])
def test_any_width_of_row(width, bits):
    tensor = torch.randn(3, width)
    stored, metadata = quantized({"x.lora_A.default.weight": tensor}, bits)
    back = dequantized(stored, metadata)["x.lora_A.default.weight"]
    assert back.shape == tensor.shape
    assert (back - tensor).abs().max() <= 0.5 * tensor.abs().max() / (2 ** (bits - 1) - 1) * 1.01


def test_only_4_and_8_bits_in_even_groups():
    with pytest.raises(ValueError, match="4 or 8 bits"):
        quantized(weights(), bits=6)
    with pytest.raises(ValueError, match="even size"):
        quantized(weights(), bits=4, group=33)
