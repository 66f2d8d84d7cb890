"""The `articleqa` command: index, ask, list, remove, follow, serve, eval, feedback. A face only: the work is in qa/."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from articleqa.config import SEEDS_DIR, Settings
from articleqa.runtime.compute import PRECISIONS
from articleqa.runtime.forward import RUNTIMES


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        data_dir=args.data_dir,
        embedder=args.embedder,
        reader=args.reader,
        scout=args.scout,
        reread=args.reread,
        scout_weight=args.scout_weight,
        precision=args.precision,
        runtime=args.runtime,
        store=args.store,
        budget=args.budget,
        whole_first=args.whole_first,
        **{k: getattr(args, k) for k in ("host", "port", "auth", "allow_private_urls") if getattr(args, k, None)},
    )


def _local(settings: Settings) -> Settings:
    # The command line fetches for the person at this machine: private addresses (an intranet, a local
    # server) are theirs to reach, unless the setting says otherwise.
    return replace(settings, allow_private_urls=True) if settings.allow_private_urls is None else settings


def _app(settings: Settings, **parts):
    from articleqa.qa.pipeline import ArticleQA

    return ArticleQA.from_settings(settings, **parts)


def _print_report(*reports, each_skipped: bool = True) -> int:
    for report in reports:
        for title in report.replaced:
            print(f"replaced (the page changed): {title}")
        for article in report.added:
            print(f"added: {article.title} ({len(article.sentences)} sentences)")
        for title in report.duplicates if each_skipped else ():
            print(f"skipped (already indexed): {title}")
        if report.duplicates and not each_skipped:
            print(f"skipped {len(report.duplicates)} already indexed")
        for error in report.errors:
            print(f"error: {error}", file=sys.stderr)
    sys.stdout.flush()
    return 1 if any(r.errors for r in reports) and not any(r.added for r in reports) else 0


def answer_text(answer) -> str:
    """An Answer as the terminal shows it: the answer (or why there is none), its sentence, where it was
    published, and the other possible answers with their confidence."""
    from articleqa.qa.dates import byline, format_date
    from articleqa.qa.feedback import confidence_phrase

    # developing news: the answer holds as of its report's date ("63, as of 6 Mar 2025")
    as_of = f", as of {format_date(answer.as_of)}" if answer.answer and answer.as_of else ""
    lines = [
        f"Q: {answer.question}",
        f"A: {answer.answer or answer.message}{as_of}  (score {answer.score:.2f}, {answer.article})",
    ]
    if answer.sentence:
        lines.append(f"   \u201c{answer.sentence}\u201d")
    if where := " \u2014 ".join(filter(None, (byline(answer.article_source, answer.article_date), answer.article_url))):
        lines.append(f"   {where}")
    if answer.answer and answer.message:
        lines.append(f"   {answer.message}")
    if answer.period:
        lines.append(f"   period used: {answer.period}")
    if answer.earlier_reports:
        lines.append(
            "   earlier reports: "
            + "; ".join(f"{r.answer} ({format_date(r.date)}, {r.article})" for r in answer.earlier_reports)
        )
    if answer.alternatives:
        lines.append(
            "   other possible answers: "
            + "; ".join(f"{a.answer} ({confidence_phrase(a.score)})" for a in answer.alternatives)
        )
    return "\n".join(lines)


def cmd_ask(args) -> int:
    from articleqa.qa.pipeline import InvalidQuestion, Scope

    app = _app(_settings(args))
    if not app.store.articles:
        app.add_files([SEEDS_DIR])
    status = 0
    scope = Scope(args.since or "", args.until or "") if args.since or args.until else None
    # All questions in one batch (shared forward passes); a bad one comes back as its InvalidQuestion.
    for question, answer in zip(args.question, app.ask_many([(q, None, scope) for q in args.question]), strict=True):
        if isinstance(answer, InvalidQuestion):
            error, status = answer, 1
            if args.json:
                print(json.dumps({"question": question, "error": str(error)}))
            else:
                print(f"error: {error}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)  # the API's /ask record
        else:
            print(answer_text(answer), flush=True)
    return status


def cmd_index(args) -> int:
    address, paths = args.ray, args.paths
    if address and (Path(address).exists() or _is_url(address)):  # `--ray story.md ...`: not a cluster address
        address, paths = "", [address, *paths]
    if not paths and not args.feed:
        print("error: name the article files, folders or URLs to index (or --feed)", file=sys.stderr)
        return 2
    settings = _local(_settings(args))
    if address is None:
        return _index(_app(settings), paths, args.feed)
    from articleqa.index.parallel import RayEmbedder

    # Ray first: it starts its processes before Milvus Lite's in-process gRPC server exists.
    with RayEmbedder(settings.embedder, address, options={"precision": settings.precision}) as embedder:
        return _index(_app(settings, index_embedder=embedder), paths, args.feed)


def _is_url(text: str) -> bool:
    return re.match(r"https?://", text, re.I) is not None


def _index(app, paths: list[str], feeds: list[str] | None) -> int:
    files = [p for p in paths if not _is_url(p)]
    reports = [app.add_files(files, progress=True)] if files else []
    reports += [app.add_url(url) for url in paths if _is_url(url)]
    reports += [app.add_feed(feed, progress=True) for feed in feeds or []]
    return _print_report(*reports)


def _interval(text: str) -> float:
    """ "15m" -> 900.0 seconds (s, m, h, d; a bare number is minutes), within a minute and a day."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text or "", re.I)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not an interval such as 90s, 15m, 2h or 1d")
    seconds = float(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[(match[2] or "m").lower()]
    if not 60 <= seconds <= 86400:
        raise argparse.ArgumentTypeError("the interval must be between 1 minute and 1 day")
    return seconds


def cmd_follow(args) -> int:
    app = _app(_local(_settings(args)))
    print(f"following {args.feed} every {args.every / 60:g} min; Ctrl-C stops", flush=True)
    try:
        while True:
            _print_report(app.add_feed(args.feed, progress=True), each_skipped=False)
            time.sleep(args.every)
    except KeyboardInterrupt:  # between two writes or inside one: the index is the old or the new state
        print("stopped", flush=True)
        return 0


def cmd_list(args) -> int:
    from articleqa.qa.dates import byline

    app = _app(_settings(args))
    for article in app.articles():
        if args.json:
            print(
                json.dumps(
                    {k: article[k] for k in ("id", "title", "date", "source", "url", "sentences")}, ensure_ascii=False
                )
            )
        else:
            where = byline(article["source"], article["date"])
            print(
                f"{article['id']:>5}  {article['title']}  ({article['sentences']} sentences"
                f"{', ' + where if where else ''})"
            )
    return 0


def cmd_remove(args) -> int:
    removed = _app(_settings(args)).remove(args.title)
    for title in removed:
        print(f"removed: {title}")
    if not removed:
        print(f"no article with the title, id or URL {args.title!r}", file=sys.stderr)
        return 1
    return 0


def cmd_serve(args) -> int:
    from articleqa.ui.server import serve

    settings = _settings(args)
    app = _app(settings)  # ArticleQA.from_settings: sets the models' threads before they load
    if not app.store.articles:
        _print_report(app.add_files([SEEDS_DIR]))
    app.ready_for_serving(wait=False)  # serve at once (where the models hand over to torch, in the background)
    serve(app, settings)
    return 0


def cmd_feedback(args) -> int:
    from articleqa.qa.feedback import FeedbackStore, summarize

    store = FeedbackStore.in_data_dir(_settings(args).data_dir)
    summary = summarize(store.votes(), precision=args.precision_target)
    if args.json:
        print(
            json.dumps(
                {
                    "file": str(store.path),
                    "up": summary.up,
                    "down": summary.down,
                    "bands": [
                        {
                            "band": b.band,
                            "up": b.up,
                            "down": b.down,
                            "share_right": round(b.share_right, 3),
                            "mean_confidence": round(b.mean_score, 3),
                        }
                        for b in summary.bands
                    ],
                    "lowest_confidence_right": summary.lowest_confidence_right,
                },
                indent=2,
            )
        )
        return 0
    if not summary.bands:
        print(f"No feedback yet ({store.path}). Thumbs up or down on an answer in the chat records one.")
        return 0
    print(f"{summary.up + summary.down} answers voted on: {summary.up} up, {summary.down} down  ({store.path})")
    print(f"{'confidence':<16} {'votes':>5} {'up':>4} {'down':>4} {'right':>6} {'mean confidence':>16}")
    for band in summary.bands:
        print(
            f"{band.band:<16} {band.votes:>5} {band.up:>4} {band.down:>4} {band.share_right:>6.0%} {band.mean_score:>16.0%}"
        )
    if summary.lowest_confidence_right is not None:
        print(
            f"Answers voted on were right {args.precision_target:.0%} of the time from confidence "
            f"{summary.lowest_confidence_right:.2f} up (a candidate min_confidence; see README, Feedback)."
        )
    return 0


def cmd_prepare(args) -> int:
    """Export the reader and the embedder to ONNX once, so that starts skip importing torch, and compile the
    exports with OpenVINO into its disk cache, in the precisions they will run in (a start then loads them
    in ~0.2 s instead of ~0.9 s each)."""
    from articleqa.index.embedder import default_embedder_path
    from articleqa.runtime.backbone import merged_reader
    from articleqa.runtime.exports import export, export_path
    from articleqa.runtime.forward import OpenVinoForward, openvino_available

    settings = _settings(args)
    # the reader runs in the settings' precision; the embedder embeds queries in fp32 and batches in it
    # a reader shipped as a LoRA adapter is merged into its packaged backbone first (once, into the cache)
    readers = [settings.reader, *filter(None, [settings.scout_reader])]
    models = [
        *(
            (merged_reader(reader, settings.models_dir), "question-answering", {settings.precision})
            for reader in readers
        ),
        (settings.embedder or default_embedder_path(), "features", {"fp32", settings.precision}),
    ]
    for model, kind, precisions in models:
        target = export_path(model, settings.onnx_dir)
        if target is None:
            print(f"skipped (not a local model folder, runs on torch): {model}")
            continue
        print(f"ready: {target}" if target.is_file() else f"exported: {export(model, kind, settings.onnx_dir)}")
        if openvino_available() and settings.runtime in ("auto", "openvino"):
            first, *others = sorted(precisions)
            forward = OpenVinoForward(target, precision=first)  # compiles `first`
            for precision in others:
                forward.compile(precision)
    return 0


def cmd_eval(args) -> int:
    from articleqa.qa.evaluation.run import evaluate_articles, evaluate_gold_paragraphs
    from articleqa.qa.evaluation.squad_data import load_squad

    settings = _settings(args)
    with tempfile.TemporaryDirectory() as scratch:
        app = _app(replace(settings, data_dir=Path(scratch)), in_memory=True, always_answering=args.no_abstain)
        if args.kind == "squad":
            questions = load_squad(args.file)[: args.limit] if args.limit else load_squad(args.file)
            result = evaluate_gold_paragraphs(
                app.reader, app.policy, questions, progress=True, similarity=app.similarity
            )
        else:
            result = evaluate_articles(
                app, args.file, limit=args.limit, progress=True, reliability_png=args.reliability
            )
    if args.predictions:
        result.write_predictions(args.predictions)
    print(
        json.dumps(
            {
                **{k: round(v, 2) for k, v in result.scores.items()},
                **{k: round(v, 2) for k, v in result.extra.items()},
                "ms_per_question": round(1000 * result.seconds_per_question, 1),
            },
            indent=2,
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="where the index lives (env ARTICLEQA_DATA_DIR)")
    common.add_argument("--embedder", help="sentence-transformers model id or path (env ARTICLEQA_EMBEDDER)")
    common.add_argument(
        "--reader",
        help="extractive QA model: 'large' (default), 'small', a directory or an HF id (env ARTICLEQA_READER)",
    )
    common.add_argument(
        "--scout",
        help="a smaller reader that reads everything retrieved, for --reader to re-read the stretches around its "
        "best answers: 'auto' (default: the small shipped reader scouts for the large one), 'none', 'small', "
        "a directory or an HF id (env ARTICLEQA_SCOUT)",
    )
    common.add_argument(
        "--reread", type=int, help="with a scout: the scout's answers re-read (default 1; env ARTICLEQA_REREAD)"
    )
    common.add_argument(
        "--scout-weight",
        type=float,
        help="with a scout: the share of the scout's judgement in each answer's, beside --reader's "
        "(0: --reader's alone; default 0.5: both alike; env ARTICLEQA_SCOUT_WEIGHT)",
    )
    common.add_argument(
        "--store", help="vectors: faiss (default), milvus (Milvus Lite) or milvus://host:19530 (env ARTICLEQA_STORE)"
    )
    common.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="inference precision; auto = bf16 where the CPU has it natively (env ARTICLEQA_PRECISION)",
    )
    common.add_argument(
        "--runtime",
        choices=RUNTIMES,
        help="auto (default): OpenVINO (else ONNX Runtime) for models exported by `articleqa "
        "prepare`, else torch (env ARTICLEQA_RUNTIME)",
    )
    common.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        help="how much to log (env ARTICLEQA_LOG_LEVEL; default warning)",
    )
    common.add_argument(
        "--budget", type=int, help="reader tokens of article text read per question (env ARTICLEQA_BUDGET)"
    )
    common.add_argument(
        "--whole-first",
        type=float,
        help="the best story is read whole up to this many budgets of tokens (default 3; env ARTICLEQA_WHOLE_FIRST)",
    )
    parser = argparse.ArgumentParser(prog="articleqa", description="Question answering over news articles.")
    commands = parser.add_subparsers(dest="command", required=True)

    ask = commands.add_parser("ask", parents=[common], help="answer questions")
    ask.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line per question: the Answer, as the API's /ask returns it",
    )
    ask.add_argument(
        "--since",
        metavar="DATE",
        help="only articles published on or after DATE (2025-03-01, '1 March 2025', 'last week')",
    )
    ask.add_argument("--until", metavar="DATE", help="only articles published on or before DATE")
    ask.add_argument("question", nargs="+")
    ask.set_defaults(run=cmd_ask)

    fetching = argparse.ArgumentParser(add_help=False)
    fetching.add_argument(
        "--allow-private-urls",
        action="store_const",
        const=True,
        help="fetch private, loopback and link-local addresses too (env "
        "ARTICLEQA_ALLOW_PRIVATE_URLS; default: yes here and for serve on 127.0.0.1)",
    )

    index = commands.add_parser(
        "index", parents=[common, fetching], help="add article files, folders, web pages (https://...) or feeds"
    )
    index.add_argument("paths", nargs="*")
    index.add_argument(
        "--feed",
        action="append",
        metavar="URL_OR_FILE",
        help="an RSS or Atom feed: index its entries not indexed yet (repeatable)",
    )
    index.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="embed in parallel on Ray: a local instance, or a cluster (auto, ray://head:10001)",
    )
    index.set_defaults(run=cmd_index)

    follow = commands.add_parser(
        "follow", parents=[common, fetching], help="keep a corpus current: index a feed's new entries every so often"
    )
    follow.add_argument("feed", metavar="FEED", help="the feed's URL or file")
    follow.add_argument(
        "--every",
        type=_interval,
        default=900,
        metavar="INTERVAL",
        help="how often: 90s, 15m (default), 2h, 1d; between 1 minute and 1 day",
    )
    follow.set_defaults(run=cmd_follow)

    listing = commands.add_parser("list", parents=[common], help="list indexed articles")
    listing.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line per article: id, title, date, source, url, sentences",
    )
    listing.set_defaults(run=cmd_list)

    remove = commands.add_parser("remove", parents=[common], help="remove an article by title, id or URL")
    remove.add_argument("title", metavar="TITLE_ID_OR_URL")
    remove.set_defaults(run=cmd_remove)

    serve = commands.add_parser("serve", parents=[common, fetching], help="serve the chat and the API")
    serve.add_argument(
        "--host",
        help="default 127.0.0.1 (loopback only); on another host, fetching private "
        "addresses is refused unless --allow-private-urls",
    )
    serve.add_argument("--port", type=int, help="default 7860")
    serve.add_argument("--auth", help="user:password to require a login (env ARTICLEQA_AUTH)")
    serve.set_defaults(run=cmd_serve)

    feedback = commands.add_parser(
        "feedback", parents=[common], help="summarise the thumbs up/down given in the chat, by confidence"
    )
    feedback.add_argument("--json", action="store_true")
    feedback.add_argument(
        "--precision-target",
        type=float,
        default=0.7,
        metavar="SHARE",
        help="report the lowest confidence at which answers were right this often (default 0.7)",
    )
    feedback.set_defaults(run=cmd_feedback)

    prepare = commands.add_parser(
        "prepare", parents=[common], help="export the reader and the embedder to ONNX (a faster start; run once)"
    )
    prepare.set_defaults(run=cmd_prepare)

    evaluate = commands.add_parser("eval", parents=[common], help="evaluate on a SQuAD file")
    evaluate.add_argument(
        "kind",
        choices=["squad", "articles"],
        help="squad: reader on gold paragraphs; articles: retrieval + reader over all articles",
    )
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--limit", type=int)
    evaluate.add_argument("--predictions", type=Path, help="write {id: answer} here")
    evaluate.add_argument("--no-abstain", action="store_true", help="always answer (measures the reader alone)")
    evaluate.add_argument(
        "--reliability",
        type=Path,
        help="articles: draw the reliability diagram (confidence against share right) here, PNG",
    )
    evaluate.set_defaults(run=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    level = getattr(logging, (args.log_level or Settings.from_env().log_level).upper(), logging.WARNING)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Libraries' own chatter stays out unless asked for with --log-level debug.
    for noisy in ("transformers", "sentence_transformers", "httpx", "httpcore", "bm25s", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(max(level, logging.ERROR) if level > logging.DEBUG else logging.INFO)
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)  # Milvus Lite: an unimplemented-RPC probe
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a face shows a message, not a traceback (unless asked for)
        logging.getLogger("articleqa").debug("%s failed", args.command, exc_info=True)
        hint = "" if level <= logging.DEBUG else " (run with --log-level debug for details)"
        print(f"error: {error}{hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
