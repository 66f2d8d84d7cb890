"""Serving the page: the batcher in front of the models, Gradio's queue and threads sized for it, login."""

from __future__ import annotations

import os

import gradio as gr

from articleqa.config import Settings
from articleqa.qa.batching import BatchedQA
from articleqa.qa.pipeline import ArticleQA
from articleqa.ui.api import ArticleAPI
from articleqa.ui.assets import CSS, PLAIN_COPIES
from articleqa.ui.layout import build_app

IDLE_POLL_S, PROGRESS_POLL_S = 0.005, 0.05  # how often Gradio's idle queue looks for work / progress


def serve(app: ArticleQA, settings: Settings, block: bool = True) -> tuple[gr.Blocks, str]:
    """Serve the app; with block=False return at once with (the Blocks, its local URL).

    With `settings.batching` one inference thread answers every question (BatchedQA); the question events
    then run without a Gradio limit, so that each request reaches the batcher's bounded queue and a full
    queue answers "busy" at once instead of leaving callers waiting in Gradio's queue."""
    from articleqa.runtime.compute import use_threads

    # ArticleQA.from_settings set it before the models loaded; again here for apps built otherwise (torch
    # takes it at any time)
    use_threads(settings.threads)
    # Gradio rebuilds a pandas summary of its last 10,000 events after every event, for a monitoring page
    # this app does not enable: 10 CPU ms per question on a server that has answered 10,000 (2 ms on a
    # fresh one), taken from the cores the models use. Here: once per 1,000 events, over the last 1,000.
    # Read when the queue is made, below; the environment can still set them.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    if settings.batching:
        demo = build_app(app, ArticleAPI(app, BatchedQA(app, settings).ask), answer_concurrency=None)
        # Every question in the batcher (queued or in its batch) holds one of Gradio's worker threads.
        threads = max(40, 2 * (settings.queue_size + settings.max_batch) + 2 * settings.concurrency)
    else:
        demo, threads = build_app(app), 40
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=max(256, 2 * threads))
    # Gradio's queue wakes every 1 ms while idle to look for work, and every 10 ms for progress to send: 7-8 %
    # of a core on a server nobody is using. At 5 and 50 ms: 3 %, and /ask's latency the same (docs/scaling.md).
    queue = getattr(demo, "_queue", None)
    if hasattr(queue, "sleep_when_free") and hasattr(queue, "progress_update_sleep_when_free"):
        queue.sleep_when_free, queue.progress_update_sleep_when_free = IDLE_POLL_S, PROGRESS_POLL_S
    auth = None
    if settings.auth:
        user, _, password = settings.auth.partition(":")
        auth = (user, password)
    _, url, _ = demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=False,
        auth=auth,
        max_file_size=settings.max_article_bytes,
        show_error=False,
        css=CSS,
        js=PLAIN_COPIES,
        max_threads=threads,
        prevent_thread_lock=not block,
        quiet=not block,
    )
    return demo, url
