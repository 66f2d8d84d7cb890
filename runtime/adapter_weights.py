"""A LoRA adapter's factors stored in 8 or 4 bits: two or four times the rank in the bytes of fp16.

The large reader ships as a LoRA adapter over its packaged backbone (`training.extract_adapter`): a
truncated SVD of each layer's change. Its rank, not the precision of its factors, is what limits how
closely it reads like the fine-tuned model: at the same bytes, rank 256 in 4 bits reads far closer than
rank 64 in fp16 (docs/reader-mpnet.md). So each factor is kept as integers with one fp16 scale per group of
numbers along its rows (symmetric: the group's largest magnitude maps to the largest level), two 4-bit
levels packed in a byte; every other tensor (biases, LayerNorms, the span head) stays as it is. `articleqa
prepare` turns them back into floats before peft merges the adapter (`runtime.backbone.merged_reader`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

ADAPTER_WEIGHTS = "adapter_model.safetensors"
FORMAT_KEY = "articleqa_quantized"  # in the file's safetensors metadata: "int<bits>/<group>"
SCALE_SUFFIX = ".scale"
SHAPE_SUFFIX = ".shape"  # a packed factor's own shape
GROUPS = {4: 32, 8: 64}  # numbers per scale: smaller groups where the levels are coarser


def is_factor(name: str, tensor: torch.Tensor) -> bool:
    """A LoRA factor (peft's lora_A / lora_B, and the embeddings' lora_embedding_A / _B)."""
    return "lora_" in name and tensor.is_floating_point() and tensor.dim() == 2


def _grouped(tensor: torch.Tensor, group: int) -> torch.Tensor:
    """(rows, groups, group): the rows cut into groups, the last padded with zeros."""
    rows, width = tensor.shape
    padded = torch.zeros(rows, -(-width // group) * group, dtype=torch.float32)
    padded[:, :width] = tensor.float()
    return padded.view(rows, -1, group)


def _levels(bits: int) -> int:
    return 2 ** (bits - 1) - 1  # symmetric: 127, or 7


def quantized(
    weights: dict[str, torch.Tensor], bits: int = 8, group: int | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) for safetensors: each factor as `bits`-bit levels beside its fp16 scales (4-bit
    levels two to a byte, with the factor's shape), the rest as given."""
    if bits not in GROUPS or (group or GROUPS[bits]) % 2:
        raise ValueError(f"factors are stored in {' or '.join(map(str, GROUPS))} bits, in groups of an even size")
    group = group or GROUPS[bits]
    top = _levels(bits)
    out: dict[str, torch.Tensor] = {}
    for name, tensor in weights.items():
        if not is_factor(name, tensor):
            out[name] = tensor
            continue
        groups = _grouped(tensor, group)
        scale = (groups.abs().amax(-1, keepdim=True) / top).half()
        safe = scale.float().clamp(min=torch.finfo(torch.float16).tiny)  # an all-zero group stays zero
        levels = (groups / safe).round().clamp(-top, top).to(torch.int8).view(tensor.shape[0], -1)
        if bits == 8:
            out[name] = levels[:, : tensor.shape[1]].contiguous()
        else:
            nibbles = (levels + 8).to(torch.uint8)  # 1..15
            out[name] = (nibbles[:, 0::2] | nibbles[:, 1::2] << 4).contiguous()
            out[name + SHAPE_SUFFIX] = torch.tensor(tensor.shape, dtype=torch.int64)
        out[name + SCALE_SUFFIX] = scale.squeeze(-1).contiguous()
    return out, {FORMAT_KEY: f"int{bits}/{group}"}


def dequantized(tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None) -> dict[str, torch.Tensor]:
    """The adapter's weights as floats (fp32 factors): what peft loads. A file without the format key is
    returned as it is."""
    if not metadata or FORMAT_KEY not in metadata:
        return tensors
    bits, group = (int(part) for part in metadata[FORMAT_KEY].removeprefix("int").split("/"))
    out: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        if name.endswith((SCALE_SUFFIX, SHAPE_SUFFIX)):
            continue
        scale = tensors.get(name + SCALE_SUFFIX)
        if scale is None:
            out[name] = tensor
            continue
        if bits == 4:
            rows, width = (int(n) for n in tensors[name + SHAPE_SUFFIX])
            tensor = torch.stack([tensor & 15, tensor >> 4], dim=-1).view(rows, -1).to(torch.int8) - 8
        else:
            rows, width = tensor.shape
        values = _grouped(tensor, group) * scale.float().unsqueeze(-1)
        out[name] = values.view(rows, -1)[:, :width].contiguous()
    return out


def is_quantized(adapter: Path) -> bool:
    from safetensors import safe_open

    with safe_open(str(adapter / ADAPTER_WEIGHTS), framework="pt") as file:
        return FORMAT_KEY in (file.metadata() or {})


def save_quantized(weights: dict[str, torch.Tensor], path: Path, bits: int = 8) -> None:
    from safetensors.torch import save_file

    tensors, metadata = quantized(weights, bits)
    save_file(tensors, str(path), metadata=metadata)


def loadable_adapter(adapter: Path, scratch: Path) -> Path:
    """The adapter folder as peft can load it: itself, or for 8- or 4-bit factors a copy in `scratch` with
    them turned back into floats."""
    if not is_quantized(adapter):
        return adapter
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(adapter / ADAPTER_WEIGHTS), framework="pt") as file:
        metadata = file.metadata()
        tensors = {name: file.get_tensor(name) for name in file.keys()}  # noqa: SIM118 (not a dict)
    scratch.mkdir(parents=True, exist_ok=True)
    for path in adapter.iterdir():
        if path.is_file() and path.name != ADAPTER_WEIGHTS:
            shutil.copy(path, scratch / path.name)
    save_file(dequantized(tensors, metadata), str(scratch / ADAPTER_WEIGHTS))
    return scratch
