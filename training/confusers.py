"""Where a trained reader goes wrong as the product reads: its wrong answers, for harder training windows.

    python -m training.confusers --reader qa/model --out runs/confusers.json [--sources squad,...]

Each source's articles are indexed together and every answerable question is asked as the product asks
it (hybrid retrieval, then the reader over the passages it hands over). Wherever one of the reader's five
best answers is wrong (token F1 < 0.5), the text around it is kept, so that `train_shared --confusers`
can put the window holding that wrong answer into the question's group instead of a window picked by
word overlap alone: shared normalisation then learns from the look-alikes this reader actually falls
for. Training questions only (the sources of groups.SHARED_MIX); `val` is never read.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from articleqa.config import Settings
from articleqa.qa.evaluation.run import articles_of
from articleqa.qa.evaluation.squad_data import load_squad
from articleqa.qa.evaluation.squad_metric import score_one
from articleqa.qa.pipeline import ArticleQA
from training import DEFAULT_DATA_DIR
from training.groups import SHARED_MIX

CONTEXT_CHARS = 200  # text kept on each side of a wrong answer, to find it again in the training document


def confusers_of(app: ArticleQA, path: Path, top: int = 5) -> dict[str, list[dict]]:
    """Per question id: the reader's wrong answers among its `top` best, each with the text around it."""
    found: dict[str, list[dict]] = {}
    for q in tqdm([q for q in load_squad(path) if q.answerable], desc=path.name, mininterval=60):
        reading = app.read(q.question)
        wrong = []
        for span in reading.spans[:top]:
            if score_one(span.text, q.answers)[1] >= 0.5:
                continue
            text = reading.passages[span.passage_index].text
            begin = max(0, span.start - CONTEXT_CHARS)
            wrong.append(
                {
                    "answer": span.text,
                    "probability": span.probability,
                    "context": text[begin : span.end + CONTEXT_CHARS],
                    "offset": span.start - begin,
                }
            )
        if wrong:
            found[q.id] = wrong
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reader", default=None, help="the reader to mine (default: the shipped one)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sources", default="squad,squadshifts-wiki", help=f"of {', '.join(SHARED_MIX)}")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    settings = replace(Settings.from_env(), data_dir=Path(tempfile.mkdtemp()))
    if args.reader:
        settings = replace(settings, reader=args.reader)
    found: dict[str, list[dict]] = {}
    for name in args.sources.split(","):
        path = args.data_dir / SHARED_MIX[name].file
        app = ArticleQA.from_settings(settings, in_memory=True)
        app.indexer.add_articles(articles_of(path))
        found.update(confusers_of(app, path))
        args.out.write_text(json.dumps(found))  # after each source: a long run keeps what it has
    print(f"{len(found)} questions with wrong answers among the best five -> {args.out}")


if __name__ == "__main__":
    main()
