"""The runtime lever: the shipped reader and the packaged embedder on each runtime, side by side.

    python -m benchmarks.runtimes [--sentences 1000] [--rounds 3] [--json benchmarks/results/runtimes.json]

Runs, in one process and interleaved (a shared machine's slow spells hit all alike), the product's own
classes (ExtractiveReader, Embedder) on ONNX Runtime (fp32), torch (fp32, and bf16 autocast where the CPU
has native bf16) and OpenVINO (fp32, and bf16 where native), each on the exports `articleqa prepare`
makes. Reports per runtime: reader ms per seed question read whole one at a time, and per question when
16 are read in one batch (as the server's batcher does); embedder sentences/s over SQuAD sentences in
batches of 32 (an index build) and ms per single query; and agreement with torch fp32 (the same best
answer on every seed question, the largest difference in its probability; the embeddings' least cosine).
Regenerates the runtimes table in docs/runtimes.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.common import load_average, machine, write_doc_section
from benchmarks.embed_build import sentences

ROOT = Path(__file__).resolve().parent.parent


def variants() -> list[tuple[str, str, str]]:
    """(name, runtime, precision) for every runtime this machine can run."""
    from articleqa.runtime.compute import native_bf16

    rows = [("ONNX Runtime fp32", "onnx", "fp32"), ("torch fp32", "torch", "fp32")]
    if native_bf16():
        rows.append(("torch bf16", "torch", "bf16"))
    rows.append(("OpenVINO fp32", "openvino", "fp32"))
    if native_bf16():
        rows.append(("OpenVINO bf16", "openvino", "bf16"))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "runtimes.json")
    parser.add_argument("--no-readme", action="store_true", help="leave the table in docs/runtimes.md as it is")
    args = parser.parse_args(argv)

    from articleqa.config import SEEDS_DIR, SHIPPED_READER
    from articleqa.index.embedder import Embedder, default_embedder_path
    from articleqa.qa.reader import ExtractiveReader
    from articleqa.runtime.exports import export
    from articleqa.seed import SEED_ARTICLE

    for model, kind in ((SHIPPED_READER, "question-answering"), (default_embedder_path(), "features")):
        export(model, kind)  # as `articleqa prepare` does (a no-op when the export is there)
    article = SEED_ARTICLE.read_text(encoding="utf-8")
    questions = [
        q["question"]
        for q in json.loads((SEEDS_DIR / "syrian-rebels-capture-hama.questions.json").read_text())["questions"]
        if q["answers"]
    ]
    batch = (questions * 2)[:16]
    texts = sentences(args.sentences)
    queries = [f"{q} ({i})" for i, q in enumerate(questions)]  # distinct texts: the query cache never answers

    models = {}
    for name, runtime, precision in variants():
        reader = ExtractiveReader.from_pretrained(SHIPPED_READER, runtime=runtime, precision=precision)
        embedder = Embedder(runtime=runtime, precision=precision).warm_up()
        reader.read_many([(q, [article]) for q in batch])  # warm: kernel set-up and compilation are not speed
        embedder.embed(texts[:64])
        embedder.embed([queries[0]], precision="fp32")
        models[name] = (reader, embedder)

    rows: dict[str, dict] = {
        name: {"reader_ms": [], "reader_batched_ms": [], "sentences_per_s": [], "query_ms": []} for name in models
    }
    outputs: dict[str, dict] = {}
    for _ in range(args.rounds):
        for name, (reader, embedder) in models.items():
            row = rows[name]
            start = time.perf_counter()
            answers = [reader.read(q, [article]) for q in questions]
            row["reader_ms"].append(1000 * (time.perf_counter() - start) / len(questions))
            start = time.perf_counter()
            reader.read_many([(q, [article]) for q in batch])
            row["reader_batched_ms"].append(1000 * (time.perf_counter() - start) / len(batch))
            start = time.perf_counter()
            vectors = embedder.embed(texts)
            row["sentences_per_s"].append(len(texts) / (time.perf_counter() - start))
            start = time.perf_counter()
            for query in queries:
                embedder.embed([query], precision="fp32")
            row["query_ms"].append(1000 * (time.perf_counter() - start) / len(queries))
            outputs[name] = {"answers": answers, "vectors": vectors}

    exact = outputs["torch fp32"]
    result = {
        "machine": machine(),
        "load_average": load_average(),
        "rounds": args.rounds,
        "seed_questions": len(questions),
        "sentences": len(texts),
        "variants": {},
    }
    for name, row in rows.items():
        answers = outputs[name]["answers"]
        same = sum(a.spans[0].text == b.spans[0].text for a, b in zip(answers, exact["answers"], strict=True))
        delta = max(
            abs(a.spans[0].probability - b.spans[0].probability) for a, b in zip(answers, exact["answers"], strict=True)
        )
        cosine = np.sum(outputs[name]["vectors"] * exact["vectors"], axis=1)
        result["variants"][name] = {
            "reader_ms": min(row["reader_ms"]),
            "reader_batched_ms": min(row["reader_batched_ms"]),
            "sentences_per_s": max(row["sentences_per_s"]),
            "query_ms": min(row["query_ms"]),
            "same_answers": same,
            "max_probability_difference": delta,
            "cosine_min": float(cosine.min()),
        }

    base = result["variants"]["torch fp32"]
    lines = [
        "| runtime | reader, ms per seed question | batched 16, ms per question | embedder, sentences/s "
        "| one query (ms) | reader speed / torch fp32 | same answers as torch fp32 | embeddings' cosine (min) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, v in result["variants"].items():
        lines.append(
            f"| {name} | {v['reader_ms']:.1f} | {v['reader_batched_ms']:.1f} | {v['sentences_per_s']:,.0f} | "
            f"{v['query_ms']:.1f} | {base['reader_ms'] / v['reader_ms']:.2f} | "
            f"{v['same_answers']}/{len(questions)} (Δp ≤ {v['max_probability_difference']:.3f}) | "
            f"{v['cosine_min']:.5f} |"
        )
    lines.append("")
    lines.append(
        f"Machine: {result['machine']}; best of {args.rounds} interleaved rounds; {len(questions)} answerable "
        f"seed questions, each reading the whole seed article; {len(texts)} SQuAD `val` sentences; "
        f"load average {result['load_average']} at the end."
    )
    rendered = "\n".join(lines)
    print(rendered)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    if not args.no_readme:
        write_doc_section(ROOT / "docs" / "runtimes.md", "runtimes", rendered)


if __name__ == "__main__":
    main()
