"""The `articleqa` command: index, ask, list, remove, serve, eval. A face only: the work is in qa/."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from articleqa.config import SEEDS_DIR, Settings


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(data_dir=args.data_dir, embedder=args.embedder, reader=args.reader,
                             precision=args.precision, store=args.store, budget=args.budget,
                             **{k: getattr(args, k) for k in ("host", "port", "auth") if getattr(args, k, None)})


def _app(settings: Settings, in_memory: bool = False):
    from articleqa.qa.pipeline import ArticleQA

    return ArticleQA.from_settings(settings, in_memory=in_memory)


def _print_report(report) -> int:
    for article in report.added:
        print(f"added: {article.title} ({len(article.sentences)} sentences)")
    for title in report.duplicates:
        print(f"skipped (already indexed): {title}")
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if report.errors and not report.added else 0


def cmd_ask(args) -> int:
    from articleqa.qa.pipeline import InvalidQuestion

    app = _app(_settings(args))
    if not app.store.articles:
        app.add_files([SEEDS_DIR])
    status = 0
    # All questions in one batch (shared forward passes); a bad one comes back as its InvalidQuestion.
    for question, answer in zip(args.question, app.ask_many([(q, None) for q in args.question]), strict=True):
        if isinstance(answer, InvalidQuestion):
            error, status = answer, 1
            if args.json:
                print(json.dumps({"question": question, "error": str(error)}))
            else:
                print(f"error: {error}", file=sys.stderr)
            continue
        if args.json:
            record = {k: getattr(answer, k) for k in ("question", "answer", "score", "article", "sentence", "start", "end")}
            print(json.dumps(record, ensure_ascii=False), flush=True)
        else:
            print(f"Q: {answer.question}")
            print(f"A: {answer.answer or answer.message}  (score {answer.score:.2f}, {answer.article})")
            if answer.sentence:
                print(f"   \u201c{answer.sentence}\u201d")
    return status


def cmd_index(args) -> int:
    address, paths = args.ray, args.paths
    if address and Path(address).exists():  # `--ray story.md ...`: a path, not a cluster address
        address, paths = "", [address, *paths]
    if not paths:
        print("error: name the article files or folders to index", file=sys.stderr)
        return 2
    settings = _settings(args)
    if address is None:
        return _print_report(_app(settings).add_files(paths, progress=True))
    from articleqa.index.indexer import Indexer
    from articleqa.index.parallel import RayEmbedder

    # Ray first: it starts its processes before Milvus Lite's in-process gRPC server exists.
    with RayEmbedder(settings.embedder, address, options={"precision": settings.precision}) as embedder:
        indexer = Indexer(_app(settings).store, embedder)
        return _print_report(indexer.add_files(paths, settings.max_article_bytes, progress=True))


def cmd_list(args) -> int:
    app = _app(_settings(args))
    for article in app.articles():
        print(f"{article['id']:>5}  {article['title']}  ({article['sentences']} sentences)")
    return 0


def cmd_remove(args) -> int:
    removed = _app(_settings(args)).remove(args.title)
    for title in removed:
        print(f"removed: {title}")
    if not removed:
        print(f"no article titled {args.title!r}", file=sys.stderr)
        return 1
    return 0


def cmd_serve(args) -> int:
    from articleqa.ui.app import serve

    settings = _settings(args)
    app = _app(settings)
    if not app.store.articles:
        _print_report(app.add_files([SEEDS_DIR]))
    app.warm_up()
    serve(app, settings)
    return 0


def cmd_eval(args) -> int:
    from articleqa.qa.evaluation.run import evaluate_articles, evaluate_gold_paragraphs
    from articleqa.qa.evaluation.squad_data import load_squad

    settings = _settings(args)
    with tempfile.TemporaryDirectory() as scratch:
        app = _app(replace(settings, data_dir=Path(scratch)), in_memory=True)
        if args.no_abstain:
            app.policy = app.policy.always_answering()
        if args.kind == "squad":
            questions = load_squad(args.file)[: args.limit] if args.limit else load_squad(args.file)
            result = evaluate_gold_paragraphs(app.reader, app.policy, questions, progress=True)
        else:
            result = evaluate_articles(app, args.file, limit=args.limit, progress=True,
                                       reliability_png=args.reliability)
    if args.predictions:
        result.write_predictions(args.predictions)
    print(json.dumps({**{k: round(v, 2) for k, v in result.scores.items()},
                      **{k: round(v, 2) for k, v in result.extra.items()},
                      "ms_per_question": round(1000 * result.seconds_per_question, 1)}, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="where the index lives (env ARTICLEQA_DATA_DIR)")
    common.add_argument("--embedder", help="sentence-transformers model id or path (env ARTICLEQA_EMBEDDER)")
    common.add_argument("--reader", help="extractive QA model directory or HF id (env ARTICLEQA_READER)")
    common.add_argument("--store", help="vectors: faiss (default), milvus (Milvus Lite) or milvus://host:19530 "
                        "(env ARTICLEQA_STORE)")
    common.add_argument("--precision", choices=("auto", "bf16", "fp32"),
                        help="inference precision; auto = bf16 where the CPU has it natively (env ARTICLEQA_PRECISION)")
    common.add_argument("--budget", type=int,
                        help="reader tokens of article text read per question (env ARTICLEQA_BUDGET)")
    parser = argparse.ArgumentParser(prog="articleqa", description="Question answering over news articles.")
    commands = parser.add_subparsers(dest="command", required=True)

    ask = commands.add_parser("ask", parents=[common], help="answer questions")
    ask.add_argument("--json", action="store_true", help="one JSON object per line per question")
    ask.add_argument("question", nargs="+")
    ask.set_defaults(run=cmd_ask)

    index = commands.add_parser("index", parents=[common], help="add article files or folders")
    index.add_argument("paths", nargs="*")
    index.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                       help="embed in parallel on Ray: a local instance, or a cluster (auto, ray://head:10001)")
    index.set_defaults(run=cmd_index)

    commands.add_parser("list", parents=[common], help="list indexed articles").set_defaults(run=cmd_list)

    remove = commands.add_parser("remove", parents=[common], help="remove an article by title or id")
    remove.add_argument("title")
    remove.set_defaults(run=cmd_remove)

    serve = commands.add_parser("serve", parents=[common], help="serve the chat and the API")
    serve.add_argument("--host", help="default 127.0.0.1 (loopback only)")
    serve.add_argument("--port", type=int, help="default 7860")
    serve.add_argument("--auth", help="user:password to require a login (env ARTICLEQA_AUTH)")
    serve.set_defaults(run=cmd_serve)

    evaluate = commands.add_parser("eval", parents=[common], help="evaluate on a SQuAD file")
    evaluate.add_argument("kind", choices=["squad", "articles"],
                          help="squad: reader on gold paragraphs; articles: retrieval + reader over all articles")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--limit", type=int)
    evaluate.add_argument("--predictions", type=Path, help="write {id: answer} here")
    evaluate.add_argument("--no-abstain", action="store_true", help="always answer (measures the reader alone)")
    evaluate.add_argument("--reliability", type=Path,
                          help="articles: draw the reliability diagram (confidence against share right) here, PNG")
    evaluate.set_defaults(run=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    for noisy in ("transformers", "sentence_transformers", "httpx", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)  # Milvus Lite: an unimplemented-RPC probe
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a face shows a message, not a traceback
        logging.getLogger("articleqa").debug("failed", exc_info=True)
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
