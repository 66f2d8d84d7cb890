"""Two readers side by side on `val`, question by question: does a candidate beat the shipped reader by more
than noise (the rule a new reader ships by)?

    python -m training.compare read qa/model-large --out runs/readings/shipped.json [--timeqa 300]
    python -m training.compare read runs/candidate --out runs/readings/candidate.json
    ARTICLEQA_REREAD=3 python -m training.compare read large --sets articles,timeqa --out runs/readings/r3.json
    python -m training.compare diff runs/readings/shipped.json runs/readings/candidate.json

`read` reads as the product does (the reader with the product's scout and settings, ARTICLEQA_* included;
`articleqa prepare --reader DIR` first, for the exported runtime) and keeps every question's outcome, of
every set or those `--sets` names:
* SQuAD 1.1 `val` gold paragraphs, always answering;
* SQuAD 2.0 `val` gold paragraphs: the best answer, what declining would score, and the answer's margin
  (the score abstention rests on, before calibration, which a candidate does not have yet);
* the `val` articles indexed together, always answering;
* TimeQA human test (the first --timeqa), each question against its whole article, always answering.
`diff` prints each figure for both and the paired difference with its standard error over questions; for
SQuAD 2.0, the AUC of the margin (answerable against unanswerable) with a bootstrap SE of the difference,
and the F1 where the threshold is fitted on one half of the questions and scored on the other.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from articleqa.config import Settings
from articleqa.qa.evaluation.run import articles_of, judged_in_context
from articleqa.qa.evaluation.squad_data import SquadQuestion, load_squad
from articleqa.qa.evaluation.squad_metric import score_one
from articleqa.qa.pipeline import ArticleQA
from articleqa.qa.policy import AnswerPolicy
from training import DEFAULT_DATA_DIR

SETS = {
    "gold": "squad-v1.1-dev.val.json.gz",
    "squad2": "squad-v2.0-dev.val.json.gz",
    "articles": "squad-v1.1-dev.val.json.gz",
    "timeqa": "extra/timeqa-human-test.json.gz",
}


def paragraph_readings(app: ArticleQA, policy: AnswerPolicy, questions: list[SquadQuestion]) -> dict[str, dict]:
    """Each question against its own context as the product judges it: the best answer, its F1, the F1 of
    declining, its margin and calibrated confidence, and whether `policy` declines it."""
    readings = {}
    for q in tqdm(questions, desc="paragraphs", leave=False, disable=None):
        judged = judged_in_context(app.reader, policy, q, app.similarity)  # its confidence kept: with similarity
        answer = judged.best.text if judged.best is not None else ""
        readings[q.id] = {
            "answer": answer,
            "f1": score_one(answer, q.answers)[1],
            "f1_declined": score_one("", q.answers)[1],
            "margin": judged.best.margin if judged.best is not None else None,
            "confidence": judged.confidence,
            "declined": judged.abstain,
            "shown": score_one("" if judged.abstain else answer, q.answers)[1],  # what the product shows
        }
    return readings


def article_readings(app: ArticleQA, path: Path, questions: list[SquadQuestion]) -> dict[str, dict]:
    """Every article of the file indexed into `app` (whose index holds nothing else), then each question asked
    over all of them; the reader's best answer, always answering."""
    app.indexer.add_articles(articles_of(path))
    readings = {}
    for q in tqdm(questions, desc="articles", leave=False, disable=None):
        reading = app.read(q.question)
        answer = reading.best.text if reading.best is not None else ""
        f1 = score_one(answer, q.answers)[1]
        readings[q.id] = {"answer": answer, "f1": f1, "shown": f1}
    return readings


def read_all(reader: str, scout: str, data_dir: Path, timeqa: int, limit: int = 0, only: tuple[str, ...] = ()) -> dict:
    """Every set's readings (or those named in `only`) with `reader` and `scout` (Settings.scout), in one app
    whose index holds the `val` articles (reading a question against its own context does not touch the
    index). Prints each set's F1 as it is done."""
    directory = Path(tempfile.mkdtemp(prefix="articleqa-compare-"))
    settings = Settings.from_env(data_dir=directory, reader=reader, scout=scout)
    app = ArticleQA.from_settings(settings, in_memory=True)

    def questions(name: str, cap: int = 0) -> list[SquadQuestion]:
        loaded = load_squad(data_dir / SETS[name])
        return loaded[:cap] if cap else loaded

    always = app.policy.always_answering()
    sets: dict[str, Callable[[], dict[str, dict]]] = {
        "gold": lambda: paragraph_readings(app, always, questions("gold", limit)),
        "squad2": lambda: paragraph_readings(app, app.policy, questions("squad2", limit)),
        "articles": lambda: article_readings(app, data_dir / SETS["articles"], questions("articles", limit)),
    }
    if timeqa:
        cap = min(timeqa, limit) if limit else timeqa
        sets["timeqa"] = lambda: paragraph_readings(app, always, questions("timeqa", cap))
    if only:
        sets = {name: read for name, read in sets.items() if name in only}
    readings: dict = {
        "reader": reader,
        "scout": app.settings.scout_reader,
        "reread": app.settings.reread,
        "scout_weight": app.settings.scout_weight,
        "budget": app.settings.budget,
    }
    for name, read in sets.items():
        started = time.perf_counter()
        readings[name] = read()
        f1 = 100 * np.mean([r["shown"] for r in readings[name].values()])
        print(
            f"{name}: {len(readings[name])} questions, F1 {f1:.2f} ({time.perf_counter() - started:.0f} s)", flush=True
        )
    return readings


@dataclass(frozen=True)
class Paired:
    """One figure of two readers over the same questions (in percent), and B - A with its standard error."""

    questions: int
    a: float
    b: float
    difference: float
    standard_error: float
    changed: int  # questions answered otherwise


def paired(a: dict[str, dict], b: dict[str, dict], key: str = "shown") -> Paired:
    """The questions both readers read, their mean `key` and the paired difference; the standard error is of
    the mean of the per-question differences."""
    ids = sorted(a.keys() & b.keys())
    differences = np.array([b[i][key] - a[i][key] for i in ids], dtype=float)
    n = len(ids)
    se = float(differences.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return Paired(
        questions=n,
        a=100 * float(np.mean([a[i][key] for i in ids])),
        b=100 * float(np.mean([b[i][key] for i in ids])),
        difference=100 * float(differences.mean()),
        standard_error=100 * se,
        changed=sum(a[i]["answer"] != b[i]["answer"] for i in ids),
    )


def _margins(readings: dict[str, dict], ids: list[str]) -> np.ndarray:
    # no answer at all is the surest "no answer"
    return np.array([-math.inf if readings[i]["margin"] is None else readings[i]["margin"] for i in ids], dtype=float)


def f1_with_threshold(readings: list[dict], threshold: float) -> float:
    """F1 in percent when answers whose margin is under `threshold` are declined."""
    kept = [r["f1"] if r["margin"] is not None and r["margin"] >= threshold else r["f1_declined"] for r in readings]
    return 100 * sum(kept) / len(kept)


def best_threshold(readings: list[dict]) -> float:
    candidates = sorted({r["margin"] for r in readings if r["margin"] is not None}) + [math.inf]
    return max(candidates, key=lambda t: f1_with_threshold(readings, t))


def two_fold_f1(readings: dict[str, dict], halvings: int = 10) -> float:
    """F1 with the threshold fitted on one random half and scored on the other, both ways, averaged over
    `halvings` random halvings: what abstention would score with a threshold fitted for this file's mix."""
    rows = [readings[i] for i in sorted(readings)]
    scores = []
    for seed in range(halvings):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        first, second = shuffled[: len(rows) // 2], shuffled[len(rows) // 2 :]
        held = f1_with_threshold(second, best_threshold(first)) * len(second)
        held += f1_with_threshold(first, best_threshold(second)) * len(first)
        scores.append(held / len(rows))
    return float(np.mean(scores))


def margin_auc(a: dict[str, dict], b: dict[str, dict], resamples: int = 300) -> tuple[float, float, float, float]:
    """The AUC of each reader's margin, answerable against unanswerable, and the difference B - A with its
    bootstrap standard error (questions resampled, the same draw for both)."""
    ids = sorted(a.keys() & b.keys())
    answerable = np.array([a[i]["f1_declined"] == 0.0 for i in ids])
    margins_a, margins_b = _margins(a, ids), _margins(b, ids)
    rng = np.random.default_rng(0)
    differences = []
    for _ in range(resamples):
        k = rng.integers(0, len(ids), len(ids))
        if answerable[k].all() or not answerable[k].any():
            continue
        differences.append(roc_auc_score(answerable[k], margins_b[k]) - roc_auc_score(answerable[k], margins_a[k]))
    auc_a, auc_b = roc_auc_score(answerable, margins_a), roc_auc_score(answerable, margins_b)
    return float(auc_a), float(auc_b), float(auc_b - auc_a), float(np.std(differences))


def comparison(a: dict, b: dict) -> list[dict]:
    """The rows `diff` prints: every figure both readings hold."""
    labels = {
        "gold": "SQuAD 1.1 val gold paragraphs, always answering",
        "squad2": "SQuAD 2.0 val gold paragraphs, at each reader's threshold",
        "articles": "val articles indexed together, always answering",
        "timeqa": "TimeQA human test, whole articles, always answering",
    }
    rows = []
    for name, label in labels.items():
        if name in a and name in b:
            rows.append({"figure": label, **vars(paired(a[name], b[name]))})
    if "squad2" in a and "squad2" in b:
        if len({row["f1_declined"] == 0.0 for row in a["squad2"].values()}) < 2:
            # a --limit sample may hold only answerable questions: no AUC, no threshold to fit
            rows.append({"figure": "SQuAD 2.0: AUC and fitted F1 need both kinds of question; this sample has one"})
            return rows
        auc_a, auc_b, difference, se = margin_auc(a["squad2"], b["squad2"])
        figure = "SQuAD 2.0: AUC of the margin"
        rows.append({"figure": figure, "a": auc_a, "b": auc_b, "difference": difference, "standard_error": se})
        rows.append(
            {
                "figure": "SQuAD 2.0: F1, threshold fitted on the other half",
                "a": two_fold_f1(a["squad2"]),
                "b": two_fold_f1(b["squad2"]),
            }
        )
    return rows


def described(readings: dict) -> str:
    """The reader of a reading and how it read (readings written before these were kept say less)."""
    how = f"scout {readings['scout'] or 'none'}"
    if readings["scout"] and "reread" in readings:
        how += f", re-reading {readings['reread']}, scout weight {readings['scout_weight']}"
    if "budget" in readings:
        how += f", a budget of {readings['budget']} tokens"
    return f"{readings['reader']} ({how})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    read = commands.add_parser("read", help="read every set with a reader; keep each question's outcome")
    read.add_argument("reader", help="reader directory, HF id, or small / large")
    read.add_argument("--out", type=Path, required=True)
    read.add_argument(
        "--scout",
        default="small",
        help="the reader that scouts for it: small (default, as the product reads the large reader), none",
    )
    read.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    read.add_argument("--timeqa", type=int, default=300, help="TimeQA test questions (0: skip)")
    read.add_argument("--limit", type=int, default=0, help="the first N questions of each set (0: all)")
    read.add_argument("--sets", default="", help=f"only these sets, comma-separated ({', '.join(SETS)}; default all)")
    diff = commands.add_parser("diff", help="two readings side by side: A (shipped) and B (candidate)")
    diff.add_argument("a", type=Path)
    diff.add_argument("b", type=Path)
    args = parser.parse_args(argv)

    if args.command == "read":
        only = tuple(name for name in args.sets.split(",") if name)
        if unknown := set(only) - SETS.keys():
            parser.error(f"unknown sets: {', '.join(sorted(unknown))}; known: {', '.join(SETS)}")
        readings = read_all(args.reader, args.scout, args.data_dir, args.timeqa, args.limit, only)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(readings, ensure_ascii=False))
        print(f"{args.out}: {', '.join(f'{k} {len(v)}' for k, v in readings.items() if isinstance(v, dict))}")
        return
    a, b = (json.loads(path.read_text()) for path in (args.a, args.b))
    print(f"A {described(a)}  B {described(b)}")
    for row in comparison(a, b):
        if "a" not in row:
            print(row["figure"])
            continue
        line = f"{row['figure']:<58} A {row['a']:8.4g}  B {row['b']:8.4g}"
        if "difference" in row:
            line += f"  B-A {row['difference']:+.4g} ± {row['standard_error']:.2g}"
        if "changed" in row:
            line += f"  ({row['questions']} q, {row['changed']} answered otherwise)"
        print(line)


if __name__ == "__main__":
    main()
