"""Developing news: does the newest report answer, with the earlier ones listed, and does a question that
names a time get that time's answer?

    python -m benchmarks.developing_news [--comparable 0.15] [--sweep] [--out benchmarks/results/developing_news.json]
    python -m benchmarks.developing_news --dateless [--limit 300]

benchmarks/developing_news.json holds 21 events told by three dated reports each (saved pages with
article:published_time, indexed in a shuffled order, all 63 in one index) and four kinds of question:
`latest` (the newest report's answer is right; at least one earlier report's answer should be listed),
`period` (the question names a time: "as of March 4", "on Tuesday", "in 2018", "before 20 October 2024"),
`same` (every report agrees: still right), `none` (about the story, but no report says: right when declined).
A prediction is right when its words contain a gold answer's or
are contained in them, after SQuAD normalisation. `--sweep` prints the figures for several `comparable` shares
(the reading is done once per question; only the choice is repeated).

`--dateless` checks the other side: on corpora without dates (the seed, SQuAD val articles, TimeQA's test
articles) every answer (text, confidence, sentence, message) is the same with the developing-news step as
with it switched off (no report read alone, `dated_stories` = `stories`), question by question.
"""

from __future__ import annotations

import argparse
import json
import random
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from datetime import date
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "developing_news.json"
SWEEP = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0)
# what is counted: the question kinds, and "earlier" (a `latest` question's earlier report listed)
FIGURES = ("latest", "earlier", "period", "same", "none")


def page(report: dict, source: str) -> bytes:
    """A saved news page: the date in its article:published_time, as publishers mark it."""
    paragraphs = "".join(f"<p>{escape(s.strip())}</p>" for s in report["text"].split(". "))
    return (
        f'<html><head><meta property="article:published_time" content="{report["date"]}T08:00:00Z">'
        f'<meta property="og:site_name" content="{escape(source)}"><title>{escape(report["title"])}</title>'
        f"</head><body><article><h1>{escape(report['title'])}</h1>{paragraphs}</article></body></html>"
    ).encode()


def index_events(app, events: list[dict], seed: int = 41) -> None:
    pages = [(report, event["source"]) for event in events for report in event["reports"]]
    random.Random(seed).shuffle(pages)  # mixed order: the index's order must not decide
    for report, source in pages:
        app.add_text(page(report, source), report["title"].lower().replace(" ", "-")[:60] + ".html")


def right(prediction: str | None, golds: list[str]) -> bool:
    """The prediction holds a gold answer, or is held in one, word for word after SQuAD normalisation:
    "9,500" is right for "9,500 hectares", but "4.25%" is not right for "4%". Without gold answers (no
    report says) only a decline is right."""
    from articleqa.qa.text import same_answer

    if not golds:
        return prediction is None
    return bool(prediction) and any(same_answer(prediction, gold) for gold in golds)


def score(app, events: list[dict], readings: dict) -> dict:
    """The figures for the app's current settings, from readings made once."""
    counts = {kind: [0, 0] for kind in FIGURES}
    rows = []
    for event in events:
        for item in event["questions"]:
            answer = app.decide(readings[item["q"]])
            ok = right(answer.answer, item["answers"])
            counts[item["kind"]][0] += ok
            counts[item["kind"]][1] += 1
            listed = [r.answer for r in answer.earlier_reports]
            row = {
                "kind": item["kind"],
                "question": item["q"],
                "gold": item["answers"],
                "answer": answer.answer,
                "as_of": answer.as_of,
                "period": answer.period,
                "earlier": listed,
                "right": ok,
            }
            if item["kind"] == "latest":
                found = any(right(text, item["earlier"]) for text in listed)
                counts["earlier"][0] += found
                counts["earlier"][1] += 1
                row["earlier_right"] = found
            rows.append(row)
    return {
        "figures": {k: round(100 * a / b, 1) if b else 0.0 for k, (a, b) in counts.items()},
        "counts": {k: f"{a}/{b}" for k, (a, b) in counts.items()},
        "rows": rows,
    }


def read_all(app, events: list[dict]) -> dict:
    from articleqa.qa.periods import Scope

    items = [
        (item["q"], None, Scope(today=date.fromisoformat(item["today"]) if "today" in item else None))
        for event in events
        for item in event["questions"]
    ]
    readings = app.read_many(items)
    return {item[0]: reading for item, reading in zip(items, readings, strict=True)}


@contextmanager
def step_off(app):
    """The developing-news step switched off: no report read alone (so no timeline and no named period), and
    as many stories read for dated articles as for undated ones: the product as it was before it."""
    from articleqa.qa import pipeline

    dated, stories = pipeline._dated, app.retriever.dated_stories
    pipeline._dated = lambda passages, articles: ()
    app.retriever.dated_stories = app.retriever.stories
    try:
        yield
    finally:
        pipeline._dated, app.retriever.dated_stories = dated, stories


CORPORA = {
    "seed": None,
    "squad-val": "squad-v1.1-dev.val.json.gz",
    "timeqa-test": "extra/timeqa-human-test.json.gz",
}


def dateless(limit: int | None, names: list[str], articles: int | None = None) -> dict:
    """Answers on undated corpora with the developing-news step and without it: how many differ. `articles`:
    index only the first so many articles of a file, and ask only about them."""
    from articleqa.config import SEEDS_DIR
    from articleqa.qa.evaluation.run import articles_of
    from articleqa.qa.evaluation.squad_data import load_squad, read_squad_json
    from articleqa.seed import seed_questions
    from benchmarks.common import scratch_app

    figures = {}
    for name in names:
        file = CORPORA[name]
        app = scratch_app()
        if file is None:
            app.add_files([SEEDS_DIR])
            questions = [q.question for q in seed_questions()]
        else:
            path = app.settings.qa_data_dir / file
            if not path.is_file():
                print(f"{name}: {path} is not here; skipped")
                continue
            kept = articles_of(path)[:articles]
            app.indexer.add_articles(kept)
            # the questions about the articles indexed (load_squad keeps the file's order)
            asked = sum(len(p["qas"]) for a in read_squad_json(path)["data"][: len(kept)] for p in a["paragraphs"])
            questions = [q.question for q in load_squad(path)][:asked]
        questions = questions[:limit] if limit else questions
        on = [a.to_dict() for a in app.ask_many([(q, None) for q in questions])]
        with step_off(app):
            off = [a.to_dict() for a in app.ask_many([(q, None) for q in questions])]
        keys = ("answer", "score", "sentence", "message", "article", "alternatives", "as_of", "earlier_reports")
        differ = sum(any(a[k] != b[k] for k in keys) for a, b in zip(on, off, strict=True))
        figures[name] = {
            "articles": len(app.store.articles),
            "questions": len(questions),
            "different": differ,
            "dated_articles": sum(bool(a.meta.date) for a in app.store.articles),
        }
        print(
            f"{name}: {len(questions)} questions, {differ} answers differ with the step on and off "
            f"({figures[name]['dated_articles']} dated articles)",
            flush=True,
        )
    return figures


def main(argv: list[str] | None = None) -> None:
    from benchmarks.common import machine, scratch_app

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comparable", type=float, default=None, help="the share to measure (default: the setting)")
    parser.add_argument("--sweep", action="store_true", help="also print the figures for several shares")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "developing_news.json")
    parser.add_argument("--dateless", action="store_true", help="undated corpora: answers with the step on and off")
    parser.add_argument("--limit", type=int, default=None, help="--dateless: questions per corpus")
    parser.add_argument("--articles", type=int, default=None, help="--dateless: articles indexed per corpus")
    parser.add_argument(
        "--corpora", nargs="+", choices=sorted(CORPORA), default=list(CORPORA), help="--dateless: which corpora"
    )
    parser.add_argument("--baseline", action="store_true", help="the step switched off: answers by word match alone")
    args = parser.parse_args(argv)
    if args.dateless:
        figures = dateless(args.limit, args.corpora, args.articles)
        out = args.out.with_name("developing_news_dateless.json")
        kept = json.loads(out.read_text()) if out.is_file() else {}  # the corpora not run this time stay
        out.write_text(json.dumps({**kept, "machine": machine(), "limit": args.limit, **figures}, indent=1) + "\n")
        return

    events = json.loads(DATA.read_text(encoding="utf-8"))["events"]
    app = scratch_app()
    if args.comparable is not None:
        app.settings = replace(app.settings, comparable=args.comparable)
    index_events(app, events)
    with step_off(app) if args.baseline else nullcontext():
        readings = read_all(app, events)
        result = score(app, events, readings)
    for row in result["rows"]:
        mark = "ok " if row["right"] else "-- "
        extra = f"  earlier {row['earlier']}" if row["kind"] == "latest" else f"  [{row['period']}]"
        print(f"{mark}{row['kind']:<7}{row['question']}  ->  {row['answer']!r} ({row['as_of']}){extra}")
    sweep = {}
    if args.sweep:
        print(f"\n{'comparable':>10}  " + "  ".join(f"{kind:>6}" for kind in FIGURES))
        chosen = app.settings
        for share in SWEEP:
            app.settings = replace(chosen, comparable=share)
            figures = score(app, events, readings)["figures"]
            sweep[share] = figures
            print(f"{share:>10}  " + "  ".join(f"{figures[kind]:>{max(6, len(kind))}}" for kind in FIGURES))
        app.settings = chosen
    print(
        f"\n{'baseline (the step off)' if args.baseline else f'comparable {app.settings.comparable}'}: newest report's answer {result['counts']['latest']} "
        f"({result['figures']['latest']} %), an earlier report listed {result['counts']['earlier']} "
        f"({result['figures']['earlier']} %), questions naming a time {result['counts']['period']} "
        f"({result['figures']['period']} %), facts that never changed {result['counts']['same']} "
        f"({result['figures']['same']} %), declined where no report says {result['counts']['none']} "
        f"({result['figures']['none']} %)"
    )
    out = args.out.with_name(args.out.stem + "_baseline.json") if args.baseline else args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "machine": machine(),
                "comparable": None if args.baseline else app.settings.comparable,
                **result,
                "sweep": sweep,
            },
            indent=1,
            ensure_ascii=False,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
