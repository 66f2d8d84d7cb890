"""Index-build lever: the embedder in torch fp32, torch bf16 (what `--precision auto` runs) and ONNX Runtime.

    python -m benchmarks.embed_build [--sentences 2000] [--json runs/embed_build.json]

Embeds the same sentences (SQuAD contexts from ../shared/data/qa, split by our splitter; the seed article
when those are missing) with each variant, in batches of 32 sorted by length as the embedder does,
--rounds times interleaved, and reports the best sentences/s, the least CPU time per sentence and the
cosine of each vector to torch fp32's. ONNX Runtime needs `onnxruntime`
(and `onnx` to export the model); variants whose packages are missing are reported as such. ONNX
Runtime gets as many threads as torch.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from articleqa.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = Settings.from_env().qa_data_dir


def sentences(limit: int) -> list[str]:
    from articleqa.index.sentences import split_sentences

    texts: list[str] = []
    source = SHARED / "squad-v1.1-dev.val.json.gz"
    if source.exists():
        from articleqa.qa.evaluation.squad_data import read_squad_json

        for article in read_squad_json(source)["data"]:
            for paragraph in article["paragraphs"]:
                texts.extend(s.text for s in split_sentences(paragraph["context"]))
                if len(texts) >= limit:
                    return texts[:limit]
    from articleqa.seed import SEED_ARTICLE

    seed = [s.text for s in split_sentences(SEED_ARTICLE.read_text(encoding="utf-8"))]
    return (texts + seed * (1 + limit // max(1, len(seed))))[:limit]


def onnx_encoder(folder: Path, variant: str = "fp32"):
    """An `encode(texts)` running the packaged embedder on ONNX Runtime: "fp32" as `articleqa prepare`
    exports it (what the product runs), "fused" through ONNX Runtime's BERT graph optimiser (fused
    attention, GELU and layer norm), "int8" dynamically quantised."""
    from articleqa.index.embedder import default_embedder_path
    from articleqa.index.pooled import PooledTransformer
    from articleqa.runtime.exports import export
    from articleqa.runtime.forward import OnnxForward

    model = default_embedder_path()
    path = export(model, "features", folder)
    encoder = PooledTransformer.load(model, runtime="onnx", onnx_dir=folder)
    if variant == "fused":
        from onnxruntime.transformers import optimizer

        config = json.loads((Path(model) / "config.json").read_text())
        fused = optimizer.optimize_model(
            str(path), model_type="bert", num_heads=config["num_attention_heads"], hidden_size=config["hidden_size"]
        )
        path = folder / "model.fused.onnx"
        fused.save_model_to_file(str(path))
    elif variant == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantized = folder / "model.int8.onnx"
        quantize_dynamic(str(path), str(quantized), weight_type=QuantType.QInt8)
        path = quantized
    if variant != "fp32":
        encoder.forward = OnnxForward(path)
    return lambda texts: encoder.encode(texts, batch_size=32)


def measure(encoders: dict, texts: list[str], rounds: int) -> dict[str, dict]:
    """Each encoder `rounds` times, interleaved (a shared machine's slow spells hit all alike): the best
    sentences/s and the least CPU ms per sentence, and the vectors."""
    rows: dict[str, dict] = {}
    for encode in encoders.values():
        encode(texts[:64])  # warm: kernel set-up is not build speed
    for _ in range(rounds):
        for name, encode in encoders.items():
            wall, cpu = time.perf_counter(), time.process_time()
            vectors = encode(texts)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            row = rows.setdefault(name, {"sentences_per_s": 0.0, "cpu_ms_per_sentence": float("inf")})
            row["sentences_per_s"] = max(row["sentences_per_s"], len(texts) / wall)
            row["cpu_ms_per_sentence"] = min(row["cpu_ms_per_sentence"], 1000 * cpu / len(texts))
            row["vectors"] = vectors
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import torch

    from articleqa.index.embedder import default_embedder_path
    from articleqa.index.pooled import PooledTransformer
    from articleqa.runtime.compute import inference_precision, native_bf16

    texts = sentences(args.sentences)
    encoder = PooledTransformer.load(default_embedder_path(), runtime="torch")

    def torch_encode(precision: str):
        def encode(batch: list[str]) -> np.ndarray:
            with inference_precision(precision):
                return encoder.encode(batch, batch_size=32)

        return encode

    encoders = {"torch fp32": torch_encode("fp32"), "torch bf16 (autocast)": torch_encode("bf16")}
    missing: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, variant in (
            ("ONNX Runtime fp32", "fp32"),
            ("ONNX Runtime fp32, fused BERT graph", "fused"),
            ("ONNX Runtime int8 (dynamic)", "int8"),
        ):
            try:
                encoders[name] = onnx_encoder(Path(scratch) / variant, variant)
            except ImportError as error:
                missing[name] = str(error)
        rows = measure(encoders, texts, args.rounds)
    exact = rows["torch fp32"]["vectors"]
    for row in rows.values():
        cosine = np.sum(exact * row.pop("vectors"), axis=1)
        row.update(cosine_min=float(cosine.min()), cosine_mean=float(cosine.mean()))
    rows.update({name: {"missing": why} for name, why in missing.items()})
    result = {
        "sentences": len(texts),
        "threads": torch.get_num_threads(),
        "native_bf16": native_bf16(),
        "variants": rows,
    }
    lines = [
        "| embedder | sentences/s (best) | / fp32 | CPU ms per sentence | cosine to fp32 (min / mean) |",
        "|---|---|---|---|---|",
    ]
    base = rows["torch fp32"]["sentences_per_s"]
    for name, row in rows.items():
        if "missing" in row:
            lines.append(f"| {name} | not installed ({row['missing']}) | – | – | – |")
        else:
            lines.append(
                f"| {name} | {row['sentences_per_s']:,.0f} | {row['sentences_per_s'] / base:.2f} | "
                f"{row['cpu_ms_per_sentence']:.1f} | {row['cosine_min']:.5f} / {row['cosine_mean']:.5f} |"
            )
    print("\n".join(lines))
    print(f"{len(texts)} sentences, {result['threads']} threads, native bf16: {result['native_bf16']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
