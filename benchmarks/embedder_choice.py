"""Finding the story: all-MiniLM-L6-v2 (the default embedder) against all-mpnet-base-v2 (the packaged backbone,
which is also a sentence-transformers model), side by side in one run.

    python -m benchmarks.embedder_choice [--timeqa-articles 60] [--questions 300]

For each corpus (TimeQA's human test set: whole Wikipedia articles, ~11,000 characters each; the SQuAD `val`
articles) both embedders index the same articles into a fresh store, then the product's hybrid retriever
(FAISS + BM25, fused) answers every question's search. Reported per embedder: index build (sentences/s),
the right article ranked first, the right article among the passages the reader gets, the gold answer in
those passages (what the reader could find at all), and the median query time. The right article is the
one the question was asked about. Results: benchmarks/results/embedder_choice.json and
docs/answer-quality.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from articleqa.config import Settings

ROOT = Path(__file__).resolve().parent.parent
EMBEDDERS = {"all-MiniLM-L6-v2": "", "all-mpnet-base-v2": "mpnet"}


def corpus(path: Path, articles: int | None, questions: int) -> tuple[list, list[tuple[str, list[str], str]]]:
    """(articles, [(question, gold answers, title of its article)]) of a SQuAD-format file."""
    from articleqa.index.documents import Article
    from articleqa.qa.evaluation.squad_data import read_squad_json

    data = read_squad_json(path)["data"][:articles]
    kept, asked = [], []
    for number, article in enumerate(data):
        title = article.get("title", "").replace("_", " ") or f"Article {number}"
        title = f"{title} ({number})"  # TimeQA repeats titles across its easy and hard variants
        kept.append(Article(title, "\n\n".join(p["context"] for p in article["paragraphs"])))
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                golds = [a["text"] for a in qa.get("answers", [])]
                if golds:  # recall of an answer needs one
                    asked.append((qa["question"], golds, title))
    step = max(1, len(asked) // questions)  # spread over the articles, not the first few
    return kept, asked[::step][:questions]


def measure(embedder_name: str, articles: list, asked: list) -> dict:
    from articleqa.qa.pipeline import ArticleQA
    from articleqa.qa.text import holds_answer
    from articleqa.runtime.backbone import resolve_backbone

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), embedder=resolve_backbone(embedder_name) if embedder_name else "")
        app = ArticleQA.from_settings(settings, in_memory=True)
        # loading (and a first ONNX export) is not build speed
        app.embedder.embed(["A warm-up sentence."] * 8)
        app.retriever.retrieve("a warm-up query")
        started = time.perf_counter()
        app.indexer.add_articles(articles)
        build = time.perf_counter() - started
        snapshot = app.store.snapshot()
        sentences = sum(len(a.sentences) for a in snapshot.articles.values())
        first = among = answer_in = 0
        times = []
        for question, golds, title in asked:
            began = time.perf_counter()
            passages = app.retriever.retrieve(question, snapshot=snapshot)
            times.append(time.perf_counter() - began)
            titles = [snapshot.articles[p.article_id].title for p in passages]
            first += bool(titles) and titles[0] == title
            among += title in titles
            answer_in += any(holds_answer(p.text, g) for p in passages for g in golds)
        n = len(asked)
        return {
            "sentences": sentences,
            "build_s": round(build, 1),
            "sentences_per_s": round(sentences / build, 1),
            "article_first": round(100 * first / n, 1),
            "article_read": round(100 * among / n, 1),
            "answer_read": round(100 * answer_in / n, 1),
            "query_ms_p50": round(1000 * statistics.median(times), 1),
            "questions": n,
        }


def main(argv: list[str] | None = None) -> None:
    from benchmarks.common import machine

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeqa-articles", type=int, default=60, help="TimeQA test articles indexed")
    parser.add_argument("--questions", type=int, default=300, help="questions per corpus, spread over it")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "embedder_choice.json")
    args = parser.parse_args(argv)
    shared = Settings.from_env().qa_data_dir
    corpora = {
        "timeqa-human-test": (shared / "extra" / "timeqa-human-test.json.gz", args.timeqa_articles),
        "squad-val": (shared / "squad-v1.1-dev.val.json.gz", None),
    }
    results: dict = {"machine": machine()}
    for name, (path, limit) in corpora.items():
        if not path.is_file():
            print(f"{name}: {path} is not here; skipped")
            continue
        articles, asked = corpus(path, limit, args.questions)
        results[name] = {label: measure(model, articles, asked) for label, model in EMBEDDERS.items()}
        print(f"\n{name}: {len(articles)} articles, {len(asked)} questions")
        print(f"{'':<20}{'sent/s':>8}{'build s':>9}{'first %':>9}{'read %':>8}{'answer %':>10}{'query ms':>10}")
        for label, row in results[name].items():
            print(
                f"{label:<20}{row['sentences_per_s']:>8}{row['build_s']:>9}{row['article_first']:>9}"
                f"{row['article_read']:>8}{row['answer_read']:>10}{row['query_ms_p50']:>10}"
            )
        small, large = results[name].values()
        print(
            f"mpnet / MiniLM: build speed x{large['sentences_per_s'] / small['sentences_per_s']:.2f}, "
            f"article first {large['article_first'] - small['article_first']:+.1f} points, "
            f"answer read {large['answer_read'] - small['answer_read']:+.1f} points"
        )
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
