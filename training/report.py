"""Every answer-quality figure of a reader on `val` and the long-document test, in one run.

    python -m training.report READER_DIR [--timeqa 300] [--json OUT]

What `articleqa eval` measures one figure at a time, here in one process and one pass per set (the
articles are read once; "always answering" and "with abstention" are two decisions on the same readings):
* SQuAD 1.1 `val`, gold paragraph, always answering;
* SQuAD 1.1 `val` articles indexed together, retrieval + reader, always answering and with abstention;
* SQuAD 2.0 `val`, gold paragraph, with abstention;
* TimeQA human test (the first --timeqa questions), each against its whole long article, always answering;
* the same questions with all 257 TimeQA test articles (~12,000 characters each) indexed together, always
  answering and with abstention: long stories that must be found before they are read, as in news.
Used to choose a checkpoint on `val` and to compare it with the shipped reader in the same precision.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from articleqa.config import Settings
from articleqa.qa.evaluation.run import evaluate_articles, evaluate_gold_paragraphs
from articleqa.qa.evaluation.squad_data import load_squad
from articleqa.qa.pipeline import ArticleQA
from training import DEFAULT_DATA_DIR


def articles_figures(app: ArticleQA, path: Path, limit: int | None = None) -> dict[str, float]:
    """Index the file's articles, ask every question (the first `limit`) once; F1/EM always answering and
    with abstention (`evaluate_articles` scores both decisions on the same readings)."""
    result = evaluate_articles(app, path, limit=limit)
    return {
        "f1": result.extra["always_answering_f1"],
        "em": result.extra["always_answering_exact"],
        "abstain_f1": result.scores["f1"],
        "abstain_em": result.scores["exact"],
        "declined": result.extra["declined"],
        "ms_per_question": 1000 * result.seconds_per_question,
    }


def report(
    reader: str, data_dir: Path, timeqa: int, precision: str = "auto", runtime: str = "auto"
) -> dict[str, dict[str, float]]:
    def fresh_app() -> ArticleQA:
        return ArticleQA.from_settings(
            Settings(
                data_dir=Path(tempfile.mkdtemp(prefix="articleqa-report-")),
                reader=reader,
                precision=precision,
                runtime=runtime,
            ),
            in_memory=True,
        )

    app = fresh_app()
    always = app.policy.always_answering()
    figures: dict[str, dict[str, float]] = {}

    def gold(name: str, file: str, policy, limit: int | None = None) -> None:
        questions = load_squad(data_dir / file)
        result = evaluate_gold_paragraphs(
            app.reader, policy, questions[:limit] if limit else questions, similarity=app.similarity
        )
        figures[name] = {
            "f1": result.scores["f1"],
            "em": result.scores["exact"],
            "ms_per_question": 1000 * result.seconds_per_question,
        }
        print(name, json.dumps({k: round(v, 1) for k, v in figures[name].items()}), flush=True)

    def indexed(name: str, file: str, limit: int | None = None) -> None:
        figures[name] = articles_figures(fresh_app(), data_dir / file, limit)
        print(name, json.dumps({k: round(v, 1) for k, v in figures[name].items()}), flush=True)

    gold("squad-val-gold", "squad-v1.1-dev.val.json.gz", always)
    indexed("squad-val-articles", "squad-v1.1-dev.val.json.gz")
    gold("squad2-val-gold-abstain", "squad-v2.0-dev.val.json.gz", app.policy)
    if timeqa:
        gold("timeqa-test-whole", "extra/timeqa-human-test.json.gz", always, timeqa)
        indexed("timeqa-test-indexed", "extra/timeqa-human-test.json.gz", timeqa)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reader", help="reader directory (weights and articleqa_reader.json)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--timeqa", type=int, default=300, help="TimeQA test questions (0: skip)")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--runtime", default="auto", help="auto (ONNX Runtime where exported), onnx or torch")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    figures = report(args.reader, args.data_dir, args.timeqa, args.precision, args.runtime)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
