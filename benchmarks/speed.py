"""Side-by-side speed benchmark: articleqa vs a Haystack pipeline with the same embedder and reader.

    python -m benchmarks.speed [--reader large|small] [--articles 10000] [--questions 200] [--no-haystack]
                               [--million 1000000] [--levers]

Corpora: the seed article (with hand-written questions and gold answers) and a corpus of SQuAD-style
contexts from ../shared/data/qa (one article per context), asked SQuAD v1.1 `val` questions. Each side
runs in its own process (peak RSS, cold start). `--reader large` (the product's default): articleqa reads
as it ships (the small reader scouts, the large one re-reads and both judge) and Haystack runs the large
reader itself (its merged weights), the only way it can read with it; `--reader small`: both run the small
reader. Haystack runs from `.venv-haystack` (created by `make bench-haystack`). Prints a table with ratios
(ours / theirs), writes benchmarks/results.json and the table in docs/benchmarks.md between the bench
markers.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from articleqa.config import Settings
from benchmarks.common import machine, write_doc_section

ROOT = Path(__file__).resolve().parent.parent
SHARED = Settings.from_env().qa_data_dir
HAYSTACK_PYTHON = ROOT / ".venv-haystack" / "bin" / "python"


def seed_task() -> dict:
    from articleqa.index.documents import load_article
    from articleqa.seed import SEED_ARTICLE, seed_questions

    article = load_article(SEED_ARTICLE)
    questions = [
        {"id": str(i), "question": q.question, "answers": list(q.answers)}
        for i, q in enumerate(seed_questions())
        if q.answers
    ]
    return {"name": "seed", "articles": [[article.title, article.text]], "questions": questions * 3}


def squad_task(articles: int, questions: int) -> dict:
    from articleqa.qa.evaluation.squad_data import load_squad, read_squad_json

    files = [
        "squad-v1.1-dev.val.json.gz",
        "squad-v1.1-dev.train.json.gz",
        "extra/squadshifts-new_wiki.json.gz",
        "extra/qed-nq-train.json.gz",
        "extra/squadshifts-reddit.json.gz",
        "extra/squadshifts-amazon.json.gz",
    ]
    contexts, seen = [], set()
    for name in files:
        for article in read_squad_json(SHARED / name)["data"]:
            for n, paragraph in enumerate(article["paragraphs"]):
                if paragraph["context"] not in seen and len(contexts) < articles:
                    seen.add(paragraph["context"])
                    contexts.append([f"{article.get('title', name)} ({n + 1})", paragraph["context"]])
    val = load_squad(SHARED / "squad-v1.1-dev.val.json.gz")
    picked = random.Random(0).sample(val, min(questions, len(val)))
    return {
        "name": f"squad-{len(contexts)}",
        "articles": contexts,
        "questions": [{"id": q.id, "question": q.question, "answers": q.answers} for q in picked],
    }


def with_passages(task: dict, size: int = 3) -> dict:
    """Haystack gets the same articles as documents of `size` sentences (our splitter)."""
    from articleqa.index.sentences import split_sentences

    passages, count = [], 0
    for title, body in task["articles"]:
        spans = split_sentences(body)
        count += len(spans)
        for i in range(0, len(spans), size):
            chunk = spans[i : i + size]
            passages.append([title, body[chunk[0].start : chunk[-1].end]])
    return {**task, "passages": passages, "sentences": count}


def run(python: Path | str, script: list[str], task: dict, timeout: int = 3000) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        task_file, out_file = Path(scratch) / "task.json", Path(scratch) / "out.json"
        task_file.write_text(json.dumps(task))
        done = subprocess.run(
            [str(python), *script, str(task_file), str(out_file)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PATH": "/usr/bin:/bin"},
        )
        if done.returncode != 0:
            return {"failed": done.stderr[-2000:]}
        return json.loads(out_file.read_text())


ROWS = [
    ("p50_ms", "p50 latency (ms)", "lower"),
    ("p95_ms", "p95 latency (ms)", "lower"),
    ("qps_1", "questions/s, 1 caller", "higher"),
    ("qps_4", "questions/s, 4 callers", "higher"),
    ("sentences_per_s", "index build (sentences/s)", "higher"),
    ("process_start_to_first_answer_s", "cold start to first answer (s)", "lower"),
    ("peak_rss_mb", "peak RSS (MB)", "lower"),
    ("f1", "answer F1", "higher"),
]


def _figure(value) -> str:
    return f"{value:,.1f}" if isinstance(value, (int, float)) else "–"


def _comparison(corpus: str, a: dict, b: dict) -> list[str]:
    """One row per figure: a's value, b's value and a / b."""
    lines = []
    for key, label, _ in ROWS:
        x, y = a.get(key), b.get(key)
        ratio = f"{x / y:.2f}" if isinstance(x, (int, float)) and isinstance(y, (int, float)) and y else "–"
        lines.append(f"| {corpus} | {label} | {_figure(x)} | {_figure(y)} | {ratio} |")
    return lines


def table(results: dict) -> str:
    lines = ["| corpus | figure | articleqa | Haystack | ours / theirs |", "|---|---|---|---|---|"]
    for corpus, sides in results["corpora"].items():
        lines += _comparison(corpus, sides["articleqa"], sides.get("haystack", {}))
    million = results.get("million")
    if million and "failed" not in million:
        lines.append(
            f"| synthetic {million['sentences']:,} sentences | retrieval p50 / p95 (ms) | "
            f"{million['retrieval_p50_ms']:.0f} / {million['retrieval_p95_ms']:.0f} | – | – |"
        )
        lines.append(
            f"| synthetic {million['sentences']:,} sentences | peak RSS (MB), build (s) | "
            f"{million['peak_rss_mb']:,.0f}, {million['build_s']:.0f} ({million['dense_index']}) | – | – |"
        )
    levers = results.get("levers", {})
    if levers:  # the same articleqa side on torch (bf16 where the CPU has it natively) instead of its exports
        lines += [
            "",
            "| corpus | lever: the exports (vs torch) | exports | torch | exports / torch |",
            "|---|---|---|---|---|",
        ]
        for corpus, on_torch in levers.items():
            lines += _comparison(corpus, results["corpora"][corpus]["articleqa"], on_torch)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reader", choices=("large", "small"), default="large", help="see above")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--million", type=int, default=1_000_000, help="synthetic sentences (0: skip)")
    parser.add_argument("--no-haystack", action="store_true")
    parser.add_argument(
        "--levers",
        action="store_true",
        help="also run articleqa on torch (ARTICLEQA_RUNTIME=torch) to show what its exports give",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    parser.add_argument("--no-readme", action="store_true", help="leave the table in docs/benchmarks.md as it is")
    parser.add_argument("--reuse", action="store_true", help="keep the corpora figures of --out; rerun the rest")
    args = parser.parse_args(argv)

    from articleqa.config import READER_NAMES
    from articleqa.index.embedder import default_embedder_path
    from articleqa.runtime.backbone import merged_reader

    # Both sides always answer (Haystack: no_answer=False), so F1 compares the same task.
    common = {
        "embedder": default_embedder_path(),
        "reader": merged_reader(READER_NAMES[args.reader]),
        "ours": {"reader": args.reader},
        "top_k": 4,
        "always_answer": True,
    }
    results: dict = {"machine": machine(), "reader": args.reader, "corpora": {}}
    tasks = [] if args.reuse else [seed_task()]
    if args.reuse:
        previous = json.loads(args.out.read_text())
        results["corpora"], results["levers"] = previous["corpora"], previous.get("levers", {})
    elif args.articles:
        tasks.append(squad_task(args.articles, args.questions))
    for task in tasks:
        task = {**with_passages(task), **common}
        name = task["name"]
        print(f"[{name}] articleqa ...", flush=True)
        sides = {"articleqa": run(sys.executable, ["-m", "benchmarks.side_ours"], task)}
        if not args.no_haystack and HAYSTACK_PYTHON.exists():
            print(f"[{name}] Haystack ...", flush=True)
            sides["haystack"] = run(HAYSTACK_PYTHON, ["benchmarks/side_haystack.py"], task)
        results["corpora"][name] = sides
        if args.levers:  # the same side on torch: what the exports (OpenVINO, else ONNX Runtime) give
            print(f"[{name}] articleqa on torch ...", flush=True)
            results.setdefault("levers", {})[name] = run(
                sys.executable, ["-m", "benchmarks.side_ours"], {**task, "ours": {**task["ours"], "runtime": "torch"}}
            )
        print(json.dumps(sides, indent=1)[:3000], flush=True)
    if args.million:
        print(f"[synthetic {args.million:,}] retrieval ...", flush=True)
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "million.json"
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.side_million", str(args.million), str(out)],
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            results["million"] = (
                json.loads(out.read_text()) if done.returncode == 0 else {"failed": done.stderr[-2000:]}
            )
    args.out.write_text(json.dumps(results, indent=2))
    rendered = table(results)
    print(rendered)
    if not args.no_readme:
        write_doc_section(ROOT / "docs" / "benchmarks.md", "bench", rendered)


if __name__ == "__main__":
    main()
