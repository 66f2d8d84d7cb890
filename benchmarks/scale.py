"""FAISS vs Milvus Lite on one synthetic corpus, each in its own process (issue 7's proof at scale).

    python -m benchmarks.scale [--sentences 1000000] [--stores faiss milvus] [--out runs/scale.json]

Reports build time, peak RSS, disk size and question latency (retrieval: embed + BM25 + dense + fusion;
dense: the vector search alone) side by side, and writes them as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROWS = [
    ("build (s)", "build_s", "{:,.0f}"),
    ("peak RSS (MB)", "peak_rss_mb", "{:,.0f}"),
    ("disk (MB)", "disk_mb", "{:,.0f}"),
    ("retrieval p50 (ms)", "retrieval_p50_ms", "{:.1f}"),
    ("retrieval p95 (ms)", "retrieval_p95_ms", "{:.1f}"),
    ("dense search p50 (ms)", "dense_p50_ms", "{:.1f}"),
    ("dense search p95 (ms)", "dense_p95_ms", "{:.1f}"),
    ("vector index", "dense_index", "{}"),
]


def run(sentences: int, store: str) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"scale-{store}-") as scratch:
        out = Path(scratch) / "result.json"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.side_million",
                str(sentences),
                str(out),
                store,
                str(Path(scratch) / "index"),
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            return {"failed": done.stderr[-3000:]}
        return json.loads(out.read_text())


def table(results: dict[str, dict], sentences: int) -> str:
    stores = list(results)
    lines = [f"| {sentences:,} sentences | " + " | ".join(stores) + " |", "|---|" + "---|" * len(stores)]
    for label, key, fmt in ROWS:
        cells = [("failed" if "failed" in results[s] else fmt.format(results[s].get(key))) for s in stores]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=1_000_000)
    parser.add_argument("--stores", nargs="+", default=["faiss", "milvus"])
    parser.add_argument("--out", type=Path, default=Path("runs/scale.json"))
    args = parser.parse_args()
    results = {}
    for store in args.stores:
        print(f"[{store}] {args.sentences:,} sentences ...", flush=True)
        results[store] = run(args.sentences, store)
        print(json.dumps(results[store], indent=2), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"sentences": args.sentences, "results": results}, indent=2))
    print(table(results, args.sentences))


if __name__ == "__main__":
    main()
