"""ONNX exports of the models, made once per model folder (`articleqa prepare`) into the `onnx_dir`
setting's folder and keyed by the weights file, so new weights never run on an old export."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import warnings
from pathlib import Path

from articleqa.config import Settings

# What each kind of model returns, by name (the ONNX graph's outputs are named the same).
OUTPUTS = {"question-answering": ("start_logits", "end_logits"), "features": ("last_hidden_state",)}
INPUTS = ("input_ids", "attention_mask", "token_type_ids")

# How `export` writes a model; part of the export's name, so a change re-exports. "eager-attention": the
# attention exported as plain matmul + mask + softmax, which OpenVINO fuses into one attention kernel; torch's
# SDPA exports with NaN guards (IsNaN, Select) that it runs op by op. Reader, OpenVINO bf16, AMX machine: 54 ->
# 47 ms per seed question (interleaved, best of 8 rounds; 45 -> 33 ms in OpenVINO's per-op counters).
EXPORT_FORMAT = "eager-attention"


def default_onnx_dir() -> Path:
    """The exports' folder where no setting names one (Settings.onnx_dir: ARTICLEQA_ONNX_DIR)."""
    return Settings().onnx_dir


def export_path(model_dir: str | Path, onnx_dir: Path | None = None) -> Path | None:
    """Where the export of a local model folder lives (None for a hub id or a folder without weights). The
    name holds the folder, its weights' size and time and the export's format, so new weights (or an export
    made the old way) never run on an old export."""
    model_dir = Path(model_dir)
    weights = next((w for w in (model_dir / "model.safetensors", model_dir / "pytorch_model.bin") if w.is_file()), None)
    if weights is None:
        return None
    stat = weights.stat()
    key = f"{model_dir.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{EXPORT_FORMAT}"
    key = hashlib.sha256(key.encode()).hexdigest()[:16]
    return (onnx_dir or default_onnx_dir()) / f"{model_dir.name}-{key}.onnx"


def openvino_cache(export: Path) -> Path:
    """Where OpenVINO keeps the models it compiled from this export (removed with the export)."""
    return export.with_suffix(".openvino")


def export(model_dir: str | Path, kind: str, onnx_dir: Path | None = None) -> Path:
    """Export a local model folder to ONNX (needs torch and transformers) and return the file. Written to a
    temporary name and renamed, so a crash mid-export never leaves a half file that a start would load."""
    import torch
    from transformers import AutoModel, AutoModelForQuestionAnswering

    target = export_path(model_dir, onnx_dir)
    if target is None:
        raise FileNotFoundError(f"{model_dir} is not a model folder with weights")
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    loader = AutoModelForQuestionAnswering if kind == "question-answering" else AutoModel
    model = loader.from_pretrained(str(model_dir), attn_implementation="eager").float().eval()
    accepted = inspect.signature(model.forward).parameters
    names = [name for name in INPUTS if name in accepted]
    outputs = list(OUTPUTS[kind])

    class ByName(torch.nn.Module):  # positional inputs to the model's keywords, its named outputs as a tuple
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, *inputs):
            result = self.inner(**dict(zip(names, inputs, strict=True)))
            return tuple(getattr(result, name) for name in outputs)

    example = tuple(torch.ones(1, 8, dtype=torch.long) for _ in names)
    partial = target.with_suffix(f".{os.getpid()}.partial")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on Python control flow in the model's code
            torch.onnx.export(
                ByName(),
                example,
                str(partial),
                input_names=names,
                output_names=outputs,
                dynamic_axes={name: {0: "batch", 1: "tokens"} for name in names + outputs},
                opset_version=17,
                dynamo=False,
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    source = str(Path(model_dir).resolve())
    # the folder's earlier exports (older weights) go, and those of folders that are gone (a merged reader's
    # earlier merges: runtime/backbone.py)
    for sidecar in target.parent.glob("*.json"):
        try:
            exported_from = json.loads(sidecar.read_text())["model"]
            stale = sidecar != target.with_suffix(".json") and (
                exported_from == source or not Path(exported_from).exists()
            )
        except (OSError, ValueError, KeyError, TypeError):
            stale = False
        if stale:
            sidecar.with_suffix(".onnx").unlink(missing_ok=True)
            shutil.rmtree(openvino_cache(sidecar), ignore_errors=True)
            sidecar.unlink(missing_ok=True)
    target.with_suffix(".json").write_text(json.dumps({"model": source, "kind": kind}))
    return target
