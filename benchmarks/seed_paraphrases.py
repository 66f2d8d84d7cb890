"""How the shipped product answers the seed's facts asked in other words than its acceptance questions.

    python -m benchmarks.seed_paraphrases [--reader DIR] [--out benchmarks/results/seed_paraphrases.json]

The acceptance test's 27 checks all pass, and readers have been chosen on them, so they no longer tell how
well the product reads the seed. The "paraphrases" of seeds/syrian-rebels-capture-hama.questions.json ask
about the same facts in other words (some unanswerable); this probe asks each of the product as the app
does (seed corpus, shipped reader, abstention on) and prints every answer with the official SQuAD F1 and
EM, where a decline scores 1 on an unanswerable question and 0 on an answerable one. A probe, not a test:
compare readers or reading rules on it side by side, in one run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    from articleqa.qa.evaluation.squad_metric import score_one
    from articleqa.seed import SEED_ARTICLE, seed_paraphrases
    from benchmarks.common import machine, scratch_app

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reader", default=None, help="a reader directory or HF id (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "seed_paraphrases.json")
    args = parser.parse_args(argv)

    app = scratch_app(args.reader)
    app.add_files([SEED_ARTICLE])
    rows = []
    for item in seed_paraphrases():
        answer = app.ask(item.question)
        exact, f1 = score_one(answer.answer or "", item.answers)  # a decline is "": right only without a gold
        rows.append(
            {
                "question": item.question,
                "gold": list(item.answers),
                "answer": answer.answer,
                "confidence": round(answer.score, 3),
                "exact": exact,
                "f1": round(f1, 3),
            }
        )
        print(f"{f1:4.2f}  {item.question}  ->  {answer.answer!r} ({answer.score:.2f})", flush=True)
    answerable = [r for r in rows if r["gold"]]
    summary = {
        "machine": machine(),
        "reader": app.settings.reader.replace(str(ROOT) + "/", ""),
        "questions": len(rows),
        "unanswerable": len(rows) - len(answerable),
        "f1": round(100 * sum(r["f1"] for r in rows) / len(rows), 1),
        "exact": round(100 * sum(r["exact"] for r in rows) / len(rows), 1),
        "answerable_f1": round(100 * sum(r["f1"] for r in answerable) / len(answerable), 1),
        "answerable_declined": sum(r["answer"] is None for r in answerable),
        "unanswerable_declined": sum(r["answer"] is None for r in rows if not r["gold"]),
    }
    print(json.dumps(summary, indent=2))
    args.out.write_text(json.dumps({**summary, "rows": rows}, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
