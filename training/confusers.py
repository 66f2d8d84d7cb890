"""Where a trained reader goes wrong as the product reads: its wrong answers, for harder training windows.

    python -m training.confusers --reader qa/model --out runs/confusers.json [--sources squad,...]
    # only the questions a run will meet: its groups file and order, batches N to N+M
    python -m training.confusers --reader DIR --out runs/c.json --sources squad,squadshifts-wiki,timeqa \
        --groups-file runs/w/groups.pt --order-seed 23 --from-batch 6000 --batches 3000 --groups 4

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
from training.groups import SHARED_MIX, batch_groups, load_groups, question_id

CONTEXT_CHARS = 200  # text kept on each side of a wrong answer, to find it again in the training document


def confusers_of(app: ArticleQA, path: Path, top: int = 5, only: set[str] | None = None) -> dict[str, list[dict]]:
    """Per question id: the reader's wrong answers among its `top` best, each with the text around it
    (`only`: these question ids alone)."""
    found: dict[str, list[dict]] = {}
    asked = [q for q in load_squad(path) if q.answerable and (only is None or q.id in only)]
    for q in tqdm(asked, desc=path.name, mininterval=60):
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


def questions_met(groups: list[dict], per_batch: int, seed: int, from_batch: int, batches: int) -> set[str]:
    """The question ids (a repeated question's copies `id#2` as the question itself) of the groups that
    batches `from_batch` .. `from_batch + batches` of the order hold."""
    met = set()
    for batch in range(from_batch, from_batch + batches):
        met.update(question_id(groups[i]["id"]) for i in batch_groups(len(groups), per_batch, seed, batch))
    return met


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reader", default=None, help="the reader to mine (default: the shipped one)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sources", default="squad,squadshifts-wiki", help=f"of {', '.join(SHARED_MIX)}")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    met = parser.add_argument_group("only the questions a run meets (train_shared's options of the same names)")
    met.add_argument("--groups-file", type=Path, default=None)
    met.add_argument("--order-seed", type=int, default=None)
    met.add_argument("--from-batch", type=int, default=0)
    met.add_argument("--batches", type=int, default=None, help="how many batches the run takes (its --steps)")
    met.add_argument("--groups", type=int, default=4, help="groups a batch")
    args = parser.parse_args(argv)
    only = None
    if args.groups_file:
        if args.order_seed is None or args.batches is None:
            parser.error("--groups-file needs --order-seed and --batches")
        only = questions_met(load_groups(args.groups_file), args.groups, args.order_seed, args.from_batch, args.batches)
        print(f"{len(only)} questions met in batches {args.from_batch}-{args.from_batch + args.batches}")
    settings = replace(Settings.from_env(), data_dir=Path(tempfile.mkdtemp()))
    if args.reader:
        settings = replace(settings, reader=args.reader)
    found: dict[str, list[dict]] = {}
    for name in args.sources.split(","):
        path = args.data_dir / SHARED_MIX[name].file
        app = ArticleQA.from_settings(settings, in_memory=True)
        app.indexer.add_articles(articles_of(path))
        found.update(confusers_of(app, path, only=only))
        args.out.write_text(json.dumps(found))  # after each source: a long run keeps what it has
    print(f"{len(found)} questions with wrong answers among the best five -> {args.out}")


if __name__ == "__main__":
    main()
