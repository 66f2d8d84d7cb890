"""Shared by both sides of the benchmark (stdlib only: it also runs inside the Haystack venv)."""

from __future__ import annotations

import json
import os
import re
import resource
import socket
import statistics
import string
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def normalize(text: str) -> str:  # the official SQuAD normalisation (copied: no project imports here)
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def f1(prediction: str, golds: list[str]) -> float:
    best = 0.0
    for gold in golds:
        p, g = normalize(prediction).split(), normalize(gold).split()
        common = sum((Counter(p) & Counter(g)).values())
        if common:
            precision, recall = common / len(p), common / len(g)
            best = max(best, 2 * precision * recall / (precision + recall))
        elif not p and not g:
            best = 1.0
    return best


def scratch_app(reader: str | None = None):
    """An in-memory ArticleQA over a fresh data folder, reading with `reader` (default: the shipped one).
    Project imports stay inside: this module also runs in the Haystack venv."""
    import tempfile
    from dataclasses import replace

    from articleqa.config import Settings
    from articleqa.qa.pipeline import ArticleQA

    settings = replace(Settings.from_env(), data_dir=Path(tempfile.mkdtemp()))
    if reader:
        settings = replace(settings, reader=reader)
    return ArticleQA.from_settings(settings, in_memory=True)


def markdown_table(rows: list[dict]) -> str:
    """Rows of one shape as a Markdown table, their keys as the header."""
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(row[k]) for k in header) + " |" for row in rows])


def machine() -> str:
    """The CPU the figures come from: absolute times differ several-fold between this project's machines
    (AMX/AVX512-BF16 run the models in bf16; AVX2-only CPUs in fp32)."""
    name, flags = "CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name == "CPU":
                name = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    native = (
        "native bf16 (AMX)"
        if "amx_tile" in flags
        else "native bf16 (AVX512-BF16)"
        if "avx512_bf16" in flags
        else "no native bf16: fp32"
    )
    return f"{os.cpu_count()} cores of {name}, {native}, no GPU"


def load_average() -> str:
    """The machine's 1/5/15-minute load averages, printed beside figures a busy machine would distort."""
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def free_port() -> int:
    """A free TCP port on loopback (for a server a benchmark or test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def measure(answer, questions: list[dict], warmup: int = 3) -> dict:
    """Latency (warm), throughput at 1 and 4 concurrent callers, and F1 of `answer(question) -> str`."""
    for q in questions[:warmup]:
        answer(q["question"])
    latencies, predictions = [], {}
    for q in questions:
        started = time.perf_counter()
        predictions[q["id"]] = answer(q["question"]) or ""
        latencies.append(time.perf_counter() - started)
    result = {
        "questions": len(questions),
        "p50_ms": 1000 * percentile(latencies, 50),
        "p95_ms": 1000 * percentile(latencies, 95),
        "mean_ms": 1000 * statistics.mean(latencies),
        "f1": 100 * statistics.mean(f1(predictions[q["id"]], q["answers"]) for q in questions),
        "qps_1": len(questions) / sum(latencies),
    }
    subset = questions[: max(8, min(len(questions), 60))]
    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda q: answer(q["question"]), subset))
    result["qps_4"] = len(subset) / (time.perf_counter() - started)
    return result


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_side(build, make_answer, process_start: float, settle=None) -> None:
    """argv: TASK.json OUT.json. build(task) -> (state, sentences indexed); make_answer(state) -> fn;
    settle(state), after the first answer: what a long-running server does before steady-state latency."""
    task = json.load(open(sys.argv[1]))
    started = time.perf_counter()
    state, sentences = build(task)
    build_s = time.perf_counter() - started
    answer = make_answer(state, task)
    first = answer(task["questions"][0]["question"])
    cold_s = time.time() - process_start
    if settle is not None:
        settle(state)
    result = {
        "build_s": build_s,
        "sentences": sentences,
        "sentences_per_s": sentences / max(build_s, 1e-9),
        "first_answer": first,
        "process_start_to_first_answer_s": cold_s,
    }
    result.update(measure(answer, task["questions"]))
    result["peak_rss_mb"] = peak_rss_mb()
    json.dump(result, open(sys.argv[2], "w"), indent=2)


def write_doc_section(doc: Path, name: str, rendered: str) -> None:
    """Replace the text between `<!-- name:start -->` and `<!-- name:end -->` in a document (docs/*.md)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = doc.read_text()
    if start in text and end in text:
        head, rest = text.split(start, 1)
        doc.write_text(head + start + "\n" + rendered + "\n" + end + rest.split(end, 1)[1])
