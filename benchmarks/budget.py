"""The reading-budget curve: F1 and time per question against the reader tokens read per question.

    python -m benchmarks.budget [--file squad-v1.1-dev.val.json.gz] [--budgets 256,512,1024,2048] [--limit 300]
                                [--interpolate 0,0.5,1]

One in-memory index of the file's articles (all paragraphs of an article as one story), then every
question at every budget, always answering: F1 of the product's answer (the reading's best span, as
`articleqa eval articles --no-abstain` scores it; abstention is measured there). `--interpolate` also
re-ranks the reading's spans by BERTserini's interpolation of reader and retrieval evidence: the reader's
ranking score (log p + its evidence weight x sentence evidence) + mu * log(story score / best story score);
there, pieces of answers are not put after the whole ones as the reader puts them. Prints a table, writes
benchmarks/results/budget.json.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def interpolated(reader, span, passages, mu: float) -> float:
    """BERTserini: the reader's ranking score plus mu times the log of the story's retrieval score
    relative to the best story's."""
    top = max(p.score for p in passages)
    prior = passages[span.passage_index].score / top
    return reader.ranking_score(span) + mu * math.log(max(prior, 1e-6))


def main(argv: list[str] | None = None) -> None:
    from articleqa.qa.evaluation.run import articles_of
    from articleqa.qa.evaluation.squad_data import load_squad
    from articleqa.qa.evaluation.squad_metric import score_one
    from articleqa.qa.text import holds_answer
    from benchmarks.common import markdown_table, scratch_app
    from training import DEFAULT_DATA_DIR

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=DEFAULT_DATA_DIR / "squad-v1.1-dev.val.json.gz")
    parser.add_argument("--budgets", default="256,512,768,1024,1536,2048")
    parser.add_argument("--interpolate", default="", help="BERTserini weights mu to try (comma-separated)")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--reader", default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "budget.json")
    args = parser.parse_args(argv)

    app = scratch_app(args.reader)
    app.library.add_articles(articles_of(args.file))
    questions = [q for q in load_squad(args.file) if q.answerable][: args.limit]
    mus = [float(m) for m in args.interpolate.split(",") if m]
    rows = []
    for budget in (int(b) for b in args.budgets.split(",")):
        f1 = 0.0
        totals = {mu: 0.0 for mu in mus}
        recall = windows = passages = 0
        started = time.perf_counter()
        for q in questions:
            reading = app.read(q.question, budget=budget)
            windows += reading.output.windows
            passages += len(reading.passages)
            recall += any(holds_answer(p.text, a) for p in reading.passages for a in q.answers)
            f1 += score_one(reading.best.text, q.answers)[1] if reading.best else 0.0
            for mu in mus:
                best = max(
                    reading.spans,
                    key=lambda span, mu=mu: interpolated(app.reader, span, reading.passages, mu),
                    default=None,
                )
                totals[mu] += score_one(best.text, q.answers)[1] if best else 0.0
        seconds = time.perf_counter() - started
        n = len(questions)
        row = {
            "budget": budget,
            "passages": round(passages / n, 2),
            "windows": round(windows / n, 2),
            "recall": round(100 * recall / n, 1),
            "ms_per_question": round(1000 * seconds / n, 1),
            "f1": round(100 * f1 / n, 1),
            **{f"f1_mu{mu:g}": round(100 * totals[mu] / n, 1) for mu in mus},
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"file": args.file.name, "questions": len(questions), "reader": app.settings.reader, "rows": rows}, indent=2
        )
    )
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
