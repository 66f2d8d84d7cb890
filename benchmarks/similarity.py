"""The sentence-similarity lever: what comparing each answer's sentence with the question costs per question.

    python -m benchmarks.similarity [--articles 3000] [--questions 200] [--rounds 2]

One process, one index per corpus, the shipped reader; each round asks every question once with the
similarity (qa/similarity.py: the candidates' sentences embedded, through the embedder's cache of recent
texts) and once without it (spans left unmeasured, as before the confidence weighed it), the two interleaved and
alternating which goes first, each pass starting with the embedder's cache empty. Corpora: the seed (its
questions with gold answers, three times: its figures include the cache's help within a pass) and
SQuAD-style contexts (speed.py's `squad_task`). Prints p50/p95 ms per question and the ratio with/without.
"""

from __future__ import annotations

import argparse
import json
import time

from benchmarks.common import load_average, machine, percentile, scratch_app
from benchmarks.speed import seed_task, squad_task


def timed(app, questions: list[str]) -> list[float]:
    times = []
    for question in questions:
        started = time.perf_counter()
        app.ask(question)
        times.append(time.perf_counter() - started)
    return times


def lever(task: dict, rounds: int) -> dict:
    from articleqa.index.documents import Article

    app = scratch_app()
    app.indexer.add_articles([Article(title, body) for title, body in task["articles"]])
    app.ready_for_serving()
    questions = [q["question"] for q in task["questions"]]
    annotate = app.similarity.annotate
    times: dict[str, list[float]] = {"with": [], "without": []}
    for round_ in range(rounds):
        for mode in ("with", "without") if round_ % 2 else ("without", "with"):
            app.similarity.annotate = annotate if mode == "with" else (lambda readings: [o for _, _, o in readings])
            app.embedder.forget()  # cold: every question and sentence embedded afresh, as on a first visit
            times[mode] += timed(app, questions)
    app.similarity.annotate = annotate
    result = {
        mode: {"p50_ms": round(1000 * percentile(t, 50), 1), "p95_ms": round(1000 * percentile(t, 95), 1)}
        for mode, t in times.items()
    }
    result["p50_ratio"] = round(result["with"]["p50_ms"] / result["without"]["p50_ms"], 2)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    figures = {
        task["name"]: lever(task, args.rounds) for task in (seed_task(), squad_task(args.articles, args.questions))
    }
    print(json.dumps({"machine": machine(), **figures, "load_average": load_average()}, indent=2))


if __name__ == "__main__":
    main()
