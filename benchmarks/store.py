"""Store benchmark: the database store against an earlier revision's, side by side in one run.

    python -m benchmarks.store [--baseline b0c57d6] [--now HEAD] [--sizes 1000,10000,100000] [--no-parity]

Both sides are git revisions exported into a scratch folder (benchmarks/startup.py's export) and run in
fresh processes with this checkout's virtual environment. Figures:
- add: a fresh process opens a store of N synthetic articles (2 sentences each, random unit vectors, words
  drawn from a Zipf vocabulary; 100,000 articles are 199,990 sentences, under FLAT_LIMIT: exact search on
  both sides) and adds one 3-sentence article; "open" and "add" are timed from before the open (the
  interpreter and imports excluded: identical on both sides);
- first answer: a fresh process opens the store and runs one full retrieval (dense with a fixed vector,
  BM25 over sentences and stories, the token budget); models excluded (identical on both sides); peak RSS
  of that process;
- load: 4 threads retrieve without pause from one open store while another process adds 50 articles one
  commit at a time; errors, and whether each new article is then found by its keyword;
- parity: the SQuAD val articles (5) and the seed indexed with the real embedder on each side; for each of
  the 1,008 val questions and the seed's questions: the top story and the passages retrieved, the story
  recall@1 and the answer recall (a gold answer inside the passages), and agreement between the sides;
- answers: the product as shipped (default settings and reader, the seed indexed) answers the seed's
  questions on each side: the same answer, article and evidence sentence?
Results go to docs/store.md between the store markers, and benchmarks/results/store.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIMENSION = 384
EMBEDDER_ID = "synthetic"
VAL = ROOT.parent / "shared" / "data" / "qa" / "squad-v1.1-dev.val.json.gz"


# ---- the worker: runs in a fresh process on one side's code (only the store's public interface) ----------
def _synthetic(first: int, count: int, sentences: int = 2, seed: int = 0):
    import numpy as np

    from articleqa.index.documents import ArticleMeta
    from articleqa.index.store import EmbeddedArticle

    rng = np.random.default_rng(seed + first)
    vocabulary = [f"w{i}" for i in range(20_000)]
    for n in range(first, first + count):
        parts, spans, start = [], [], 0
        for s in range(sentences):
            words = [vocabulary[min(int(z), 19_999)] for z in rng.zipf(1.3, 14)]
            sentence = f"Item {n} keyword{n}x says " + " ".join(words) + f" part {s}."
            spans.append((start, start + len(sentence)))
            parts.append(sentence)
            start += len(sentence) + 1
        vectors = rng.standard_normal((sentences, DIMENSION)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        yield EmbeddedArticle(
            f"Synthetic {n}", " ".join(parts), "", f"synthetic-{n}", tuple(spans), vectors, ArticleMeta()
        )


class _FixedQuery:
    """An embedder stand-in: one fixed unit vector for every query (models are not what is measured)."""

    dimension, model_id = DIMENSION, EMBEDDER_ID

    def embed_query(self, query):
        import numpy as np

        vector = np.random.default_rng(1).standard_normal(DIMENSION).astype(np.float32)
        return vector / np.linalg.norm(vector)

    def embed_queries(self, queries):
        return [self.embed_query(q) for q in queries]


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(task: str, directory: str, size: int) -> dict:
    from articleqa.index.store import SentenceStore

    started = time.perf_counter()
    if task == "build":
        store = SentenceStore(directory, DIMENSION, EMBEDDER_ID).open()
        first = 10  # 10 one-sentence articles first: 100,000 articles stay under FLAT_LIMIT with one more
        store.add(list(_synthetic(0, first, sentences=1)))
        store.add(_synthetic(first, size - first))
        return {"build_s": time.perf_counter() - started}
    if task == "add":
        store = SentenceStore(directory, DIMENSION, EMBEDDER_ID).open()
        opened = time.perf_counter()
        [added] = store.add(list(_synthetic(10_000_000, 1, sentences=3)))
        done = time.perf_counter()
        store.remove([added.id])  # the next run measures the same store
        return {"open_s": opened - started, "add_s": done - opened, "total_s": done - started}
    if task == "first":
        from articleqa.qa.retriever import HybridRetriever

        store = SentenceStore(directory, DIMENSION, EMBEDDER_ID).open()
        passages = HybridRetriever(store, _FixedQuery()).retrieve("Which item says keyword777x w12 w40?")
        return {
            "first_answer_s": time.perf_counter() - started,
            "peak_mb": _peak_mb(),
            "top": passages[0].title if passages else None,
        }
    if task == "load":
        return _load(directory)
    if task == "parity":
        return _parity(directory)
    if task == "answers":
        return _answers(directory)
    raise ValueError(task)


def _load(directory: str) -> dict:
    """Retrieval threads on an open store while another process adds articles."""
    import threading

    from articleqa.index.store import SentenceStore
    from articleqa.qa.retriever import HybridRetriever

    store = SentenceStore(directory, DIMENSION, EMBEDDER_ID).open()
    retriever = HybridRetriever(store, _FixedQuery())
    stop, errors, answered = threading.Event(), [], [0]

    def ask() -> None:
        while not stop.is_set():
            try:
                retriever.retrieve("Which item says keyword20000005x?")
                answered[0] += 1
            except Exception as error:  # noqa: BLE001 (counted: the figure is the number of errors)
                errors.append(repr(error))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    script = (
        "import sys; sys.argv=['x']; from benchmarks.store import _synthetic;"
        "from articleqa.index.store import SentenceStore as S;"
        f"s=S({directory!r},{DIMENSION},{EMBEDDER_ID!r}).open();"
        "[s.add([a]) for a in _synthetic(20_000_000, 50)]"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.environ.get("PYTHONPATH", ""), str(ROOT)])}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", script], check=True, env=env)
    writer_s = time.perf_counter() - started
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not store.find("Synthetic 20000049"):
        time.sleep(0.1)
    seen_after = time.perf_counter() - started - writer_s
    stop.set()
    for thread in threads:
        thread.join()
    found = sum(
        1
        for n in range(50)
        if any(
            store.article(h.article_id).title == f"Synthetic {20_000_000 + n}"
            for h in store.search_bm25(f"keyword{20_000_000 + n}x", 1)
        )
    )
    return {
        "answered": answered[0],
        "errors": len(errors),
        "error_samples": errors[:3],
        "writer_s": writer_s,
        "new_found": found,
        "seen_after_s": seen_after,
    }


def _parity(directory: str) -> dict:
    """Retrieval on the SQuAD val articles and the seed with the real embedder."""
    from articleqa.index.documents import load_article
    from articleqa.index.embedder import Embedder
    from articleqa.index.indexer import Indexer
    from articleqa.index.store import SentenceStore
    from articleqa.qa.evaluation.run import articles_of
    from articleqa.qa.evaluation.squad_data import load_squad
    from articleqa.qa.retriever import HybridRetriever

    embedder = Embedder()
    store = SentenceStore(directory, embedder.dimension, embedder.model_id).open()
    seed = ROOT / "seeds" / "syrian-rebels-capture-hama.txt"
    Indexer(store, embedder).add_articles([load_article(seed, 5_000_000), *articles_of(VAL)])
    questions = [(q.question, q.title.replace("_", " "), q.answers) for q in load_squad(VAL)]
    seed_questions = json.loads((ROOT / "seeds" / "syrian-rebels-capture-hama.questions.json").read_text())
    for item in seed_questions.get("questions", []):
        questions.append((item["question"], store.articles[0].title, item.get("answers", [])))
    retriever = HybridRetriever(store, embedder)
    vectors = embedder.embed_queries([q for q, _, _ in questions])
    results = []
    for (question, title, answers), vector in zip(questions, vectors, strict=True):
        passages = retriever.retrieve(question, vector=vector)
        text = "\n".join(p.text for p in passages)
        results.append(
            {
                "passages": [[p.title, p.first_sentence, p.last_sentence] for p in passages],
                "story_hit": bool(passages) and passages[0].title == title,
                "answer_in": any(a in text for a in answers) if answers else None,
            }
        )
    return {"results": results}


def _answers(directory: str) -> dict:
    """The shipped product's answers to the seed's questions (the reader and settings as shipped)."""
    from articleqa.config import Settings
    from articleqa.qa.pipeline import ArticleQA

    app = ArticleQA.from_settings(Settings.from_env(data_dir=Path(directory)))
    app.add_files([ROOT / "seeds" / "syrian-rebels-capture-hama.txt"])
    seed = json.loads((ROOT / "seeds" / "syrian-rebels-capture-hama.questions.json").read_text())
    replies = [app.ask(item["question"]) for item in seed["questions"]]
    return {
        "answers": [
            {
                "question": r.question,
                "answer": r.answer,
                "article": r.article,
                "sentence": r.sentence,
                "score": round(r.score, 3),
                "right": any(a.lower() in (r.answer or "").lower() for a in item.get("answers", [])),
            }
            for r, item in zip(replies, seed["questions"], strict=True)
        ]
    }


def _compare_answers(old: list[dict], new: list[dict]) -> dict:
    same = [
        o["answer"] == n["answer"] and o["article"] == n["article"] and o["sentence"] == n["sentence"]
        for o, n in zip(old, new, strict=True)
    ]
    return {
        "questions": len(old),
        "same": sum(same),
        "right": [sum(o["right"] for o in old), sum(n["right"] for n in new)],
        "answered": [sum(o["answer"] is not None for o in old), sum(n["answer"] is not None for n in new)],
        "differences": [[o, n] for o, n, ok in zip(old, new, same, strict=True) if not ok],
    }


# ---- the parent: exports, runs, compares ---------------------------------------------------------------
def run_worker(package: Path, task: str, directory: Path, size: int = 0, timeout: float = 3600) -> dict:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(package),
    }
    out = directory.parent / f"{directory.name}.{task}.json"
    code = (
        f"import json,sys; sys.path.append({str(ROOT)!r}); from benchmarks.store import worker;"
        f"json.dump(worker({task!r}, {str(directory)!r}, {size}), open({str(out)!r}, 'w'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tempfile.gettempdir(),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{task} on {package} failed: {done.stderr[-2000:]}")
    return json.loads(out.read_text())


def _compare(old: list[dict], new: list[dict]) -> dict:
    def share(rows, key):
        values = [r[key] for r in rows if r[key] is not None]
        return sum(values) / len(values)

    def flips(key):  # (questions only the baseline got, questions only the new side got): the paired difference
        return [
            sum(bool(o[key]) and not n[key] for o, n in zip(old, new, strict=True)),
            sum(bool(n[key]) and not o[key] for o, n in zip(old, new, strict=True)),
        ]

    return {
        "questions": len(old),
        "story_recall_at_1": [share(old, "story_hit"), share(new, "story_hit")],
        "answer_recall": [share(old, "answer_in"), share(new, "answer_in")],
        "story_hit_lost_gained": flips("story_hit"),
        "answer_in_lost_gained": flips("answer_in"),
        "same_top_story": sum(
            o["passages"][:1] and n["passages"][:1] and o["passages"][0][0] == n["passages"][0][0]
            for o, n in zip(old, new, strict=True)
        )
        / len(old),
        "same_passages": sum(o["passages"] == n["passages"] for o, n in zip(old, new, strict=True)) / len(old),
    }


def table(report: dict) -> str:
    base, now = report["sides"]
    lines = [
        f"Machine: {report['machine']}; {base} = before the database, {now} = the database store.",
        "",
        f"| articles | add one, {base} | add one, {now} | open + add, {base} | open + add, {now} "
        f"| first answer, {base} | first answer, {now} | peak RSS, {base} | peak RSS, {now} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size, row in report["sizes"].items():
        o, n = row[base], row[now]
        lines.append(
            f"| {int(size):,} | {o['add']['add_s'] * 1000:.0f} ms | {n['add']['add_s'] * 1000:.0f} ms "
            f"| {o['add']['total_s']:.2f} s | {n['add']['total_s']:.2f} s "
            f"| {o['first']['first_answer_s']:.2f} s | {n['first']['first_answer_s']:.2f} s "
            f"| {o['first']['peak_mb']:.0f} MB | {n['first']['peak_mb']:.0f} MB |"
        )
    if load := report.get("load"):
        lines += [
            "",
            "| under load (4 retrieval threads, another process adds 50 articles) | "
            + " | ".join(report["sides"])
            + " |",
            "|---|---|---|",
        ]
        for key in ("answered", "errors", "new_found", "seen_after_s"):
            lines.append(
                f"| {key} | "
                + " | ".join(
                    f"{load[s][key]:.2f}" if isinstance(load[s][key], float) else str(load[s][key])
                    for s in report["sides"]
                )
                + " |"
            )
    if parity := report.get("parity"):
        lines += [
            "",
            f"| retrieval, {parity['questions']} questions (SQuAD val + seed) | {base} | {now} |",
            "|---|---|---|",
            f"| story recall@1 | {parity['story_recall_at_1'][0]:.3f} | {parity['story_recall_at_1'][1]:.3f} |",
            f"| answer in passages | {parity['answer_recall'][0]:.3f} | {parity['answer_recall'][1]:.3f} |",
            *(
                [
                    f"| questions only one side got, story / answer | | "
                    f"{'-{} +{}'.format(*parity['story_hit_lost_gained'])} / "
                    f"{'-{} +{}'.format(*parity['answer_in_lost_gained'])} |"
                ]
                if "story_hit_lost_gained" in parity
                else []
            ),
            f"| same top story as {base} | 1 | {parity['same_top_story']:.3f} |",
            f"| same passages as {base} | 1 | {parity['same_passages']:.3f} |",
        ]
    if answers := report.get("answers"):
        lines += [
            "",
            f"| the shipped product on the seed's {answers['questions']} questions | {base} | {now} |",
            "|---|---|---|",
            f"| answered | {answers['answered'][0]} | {answers['answered'][1]} |",
            f"| right (a gold answer in the reply) | {answers['right'][0]} | {answers['right'][1]} |",
            f"| same answer, article and sentence as {base} | {answers['questions']} | {answers['same']} |",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from benchmarks.common import machine, write_doc_section
    from benchmarks.startup import export

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default="b0c57d6")
    parser.add_argument("--now", default="HEAD")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--no-parity", action="store_true")
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument("--no-answers", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "store.json")
    parser.add_argument("--no-doc", action="store_true", help="leave docs/store.md as it is")
    args = parser.parse_args(argv)
    sides = [args.baseline, args.now]
    report: dict = {"machine": machine(), "sides": sides, "sizes": {}}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        packages = {side: export(side, scratch / f"code-{i}") for i, side in enumerate(sides)}
        for size in (int(n) for n in args.sizes.split(",") if n):
            report["sizes"][size] = {}
            for i, side in enumerate(sides):
                directory = scratch / f"store-{i}-{size}"
                row = {"build": run_worker(packages[side], "build", directory, size)}
                row["add"] = run_worker(packages[side], "add", directory)
                row["first"] = run_worker(packages[side], "first", directory)
                report["sizes"][size][side] = row
                print(size, side, json.dumps(row), flush=True)
        if not args.no_load:
            report["load"] = {
                side: run_worker(packages[side], "load", scratch / f"store-{i}-1000") for i, side in enumerate(sides)
            }
            print("load", json.dumps(report["load"]), flush=True)
        if not args.no_parity:
            runs = [
                run_worker(packages[side], "parity", scratch / f"parity-{i}")["results"] for i, side in enumerate(sides)
            ]
            report["parity"] = _compare(*runs)
            print("parity", json.dumps(report["parity"]), flush=True)
        if not args.no_answers:
            runs = [
                run_worker(packages[side], "answers", scratch / f"answers-{i}")["answers"]
                for i, side in enumerate(sides)
            ]
            report["answers"] = _compare_answers(*runs)
            print("answers", json.dumps(report["answers"]), flush=True)
    args.out.write_text(json.dumps(report, indent=1))
    rendered = table(report)
    print(rendered)
    doc = ROOT / "docs" / "store.md"
    if doc.exists() and not args.no_doc:
        write_doc_section(doc, "store", rendered)


if __name__ == "__main__":
    main()
