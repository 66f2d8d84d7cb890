"""A large reader's quality against its time: reading the whole budget, a cascade (the shipped reader scouts
the budget and the large one re-reads the stretches around its best answers), and smaller budgets.

    python -m benchmarks.cascade --reader DIR [--rereads 1,2,3] [--scout-weights 0,0.5] [--budgets 1024,512]
        [--reread-tokens 0,128] [--limit 100]

One in-memory index of the val articles (all paragraphs of an article as one story) per configuration, the
same questions in each, always answering (the reading's best span, as `articleqa eval articles --no-abstain`
scores it). Side by side in one run: the shipped reader alone at the first budget (the reference), the large
reader alone at each budget, and the cascade at the first budget for each scout weight (the scout's share in
judging the answers: 0, the large reader alone), number of answers re-read and stretch size. Prints
F1, exact match, windows read per question (scout + large), and ms per question, with ratios to the shipped
reader; writes benchmarks/results/cascade.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    from articleqa.config import SHIPPED_READER, Settings
    from articleqa.index.embedder import Embedder
    from articleqa.qa.cascade import CascadeReader
    from articleqa.qa.evaluation.run import articles_of
    from articleqa.qa.evaluation.squad_data import load_squad
    from articleqa.qa.evaluation.squad_metric import score_one
    from articleqa.qa.pipeline import ArticleQA, load_reader
    from benchmarks.common import machine, markdown_table
    from training import DEFAULT_DATA_DIR

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reader", required=True, help="the large reader (a directory, adapter or HF id)")
    parser.add_argument("--file", type=Path, default=DEFAULT_DATA_DIR / "squad-v1.1-dev.val.json.gz")
    parser.add_argument("--budgets", default="1024,512")
    parser.add_argument("--rereads", default="1,2,3")
    parser.add_argument("--scout-weights", default="0,0.5", help="the scout's share in judging the answers")
    parser.add_argument(
        "--reread-tokens", default="0", help="the cascade's stretch sizes to try (0: as many as fit a window)"
    )
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "cascade.json")
    args = parser.parse_args(argv)

    settings = replace(Settings.from_env(), data_dir=Path(tempfile.mkdtemp()))
    embedder = Embedder(settings.embedder, precision=settings.precision, runtime=settings.runtime)
    articles = articles_of(args.file)
    questions = [q for q in load_squad(args.file) if q.answerable][: args.limit]
    shipped, large = load_reader(settings, str(SHIPPED_READER)), load_reader(settings, args.reader)
    budgets = [int(b) for b in args.budgets.split(",")]
    configurations = [("shipped", shipped, budgets[0], None)]
    configurations += [("large", large, budget, None) for budget in budgets]
    configurations += [
        (
            f"cascade, scout weight {w}" + (f", stretches of {t} tokens" if int(t) else ""),
            CascadeReader(shipped, large, int(n), float(w), int(t)),
            budgets[0],
            int(n),
        )
        for w in args.scout_weights.split(",")
        for n in args.rereads.split(",")
        for t in args.reread_tokens.split(",")
    ]
    rows = []
    for name, reader, budget, reread in configurations:
        app = ArticleQA.from_settings(settings, in_memory=True, embedder=embedder, reader=reader)
        app.library.add_articles(articles)
        app.read(questions[0].question, budget=budget)  # first-call set-up is not a question's time
        f1 = exact = windows = 0.0
        started = time.perf_counter()
        for q in questions:
            reading = app.read(q.question, budget=budget)
            windows += reading.output.windows
            em, f = score_one(reading.best.text, q.answers) if reading.best else (0.0, 0.0)
            f1, exact = f1 + f, exact + em
        seconds = time.perf_counter() - started
        n = len(questions)
        row = {
            "reader": name,
            "budget": budget,
            "reread": reread,
            "reread_tokens": reader.reread_tokens if isinstance(reader, CascadeReader) else None,
            "f1": round(100 * f1 / n, 1),
            "em": round(100 * exact / n, 1),
            "large_windows": round(windows / n, 2),  # the windows the answering reader read
            "ms_per_question": round(1000 * seconds / n, 1),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    reference = rows[0]["ms_per_question"]
    for row in rows:
        row["time_vs_shipped"] = round(row["ms_per_question"] / reference, 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": machine(),
                "file": args.file.name,
                "questions": len(questions),
                "reader": args.reader,
                "rows": rows,
            },
            indent=1,
        )
        + "\n"
    )
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
