"""Gradio Blocks: the chat with its source panel, the library, and the API endpoints /ask, /chat, /add_article,
/add_url, /articles, /remove_article, /article, /feedback. Presentation only: the work is done by ArticleQA and qa/feedback."""

from __future__ import annotations

import html
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from articleqa.config import Settings
from articleqa.qa.batching import BatchedQA, ServerBusy
from articleqa.qa.feedback import FeedbackStore
from articleqa.qa.pipeline import SUPPORTED_SUFFIXES, Answer, ArticleQA, InvalidQuestion, Scope, Turn
from articleqa.seed import example_questions
from articleqa.ui.render import answer_markdown, article_html, plain, readable_date, start_markdown

log = logging.getLogger("articleqa.ui")
FAILURE = "Sorry, something went wrong while answering. The error was logged; please try again."
NO_SOURCE = "Sources open here: press “Open the source” under an answer to read the whole article, with the sentence the answer came from highlighted."
NO_PREVIEW = "Click an article in the table to read it here."
COLUMNS = ["Select", "Title", "Date", "Source", "Sentences", "ID"]
TURN_KEYS = ("question", "answer", "article", "article_id", "score", "sentence", "start", "end")
IDLE_POLL_S, PROGRESS_POLL_S = 0.005, 0.05  # how often Gradio's idle queue looks for work / progress (serve)

# Layout: the chat and the source panel side by side on wide screens, stacked on phones; long words wrap
# so nothing scrolls sideways at 390 px.
CSS = """
.gradio-container { max-width: 1280px !important; }
#chat .message-content, .article-view { overflow-wrap: anywhere; }
.article-view .article-text { white-space: pre-wrap; max-height: 65vh; overflow-y: auto; line-height: 1.6; }
.article-view mark#evidence { background: #ffe680; color: inherit; padding: 0.1em 0; scroll-margin: 30%; }
.article-view .article-meta, .article-view.empty, .article-view .article-note { color: var(--body-text-color-subdued); }
#chat button.open-source { margin-top: 0.25em; padding: 0.3em 0.8em; border: 1px solid var(--border-color-primary);
  border-radius: var(--radius-md); background: var(--button-secondary-background-fill); cursor: pointer; }
#chat details.earlier-reports summary { cursor: pointer; }
#dates { gap: 0.5em; }
#chat button.open-source:focus-visible { outline: 2px solid var(--color-accent); }
#source, #preview { border-left: 3px solid var(--border-color-primary); }
#library { --font-mono: var(--font); }
#library .header-icons { display: none; }  /* the lock on read-only columns: every column but Select is */
@media (max-width: 480px) {
  .gradio-container { padding: 0 6px !important; }
}
"""
# Chat messages are Markdown with a little markup of ours (<mark>, the "Open the source" button, "More
# context"); the copy buttons copy a message's source, so copies are turned back into the text people read.
# Our own Markdown (** * >) is stripped before decoding: article text in it is escaped (&#42;) and survives.
# DOMParser builds an inert document: nothing in it is run or fetched.
PLAIN_COPIES = """() => {
  const clipboard = navigator.clipboard;
  if (!clipboard || clipboard.articleqaPlain) return;
  const write = clipboard.writeText.bind(clipboard);
  clipboard.writeText = (text) => {
    const markdown = String(text).replace(/\\*/g, '').replace(/^> /gm, '');
    const doc = new DOMParser().parseFromString(markdown, 'text/html');
    doc.querySelectorAll('button, details').forEach((node) => node.remove());
    return write(doc.body.textContent.replace(/\\n{3,}/g, '\\n\\n').trim());
  };
  clipboard.articleqaPlain = true;
}"""
# The evidence sits in a scrolling panel: bring it to the middle once the panel has been redrawn.
SCROLL_TO_EVIDENCE = """() => { setTimeout(() => {
  const mark = document.querySelector('#source mark#evidence');
  if (mark) mark.scrollIntoView({block: 'center'});
}, 50); }"""


def _turns(history: list | None) -> list[Turn]:
    turns = []
    for item in history or []:
        if isinstance(item, dict) and item.get("question"):
            turns.append(Turn(str(item["question"]), item.get("answer"), item.get("article")))
    return turns[-5:]


def _text(message: dict) -> str:
    """A chat message's text (Gradio hands content back as a list of parts), unescaped to what was typed."""
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return html.unescape(str(content or ""))


def _scope(since: str | None, until: str | None) -> Scope | None:
    """The date range typed or posted (either side may be empty); None when there is none."""
    since, until = str(since or "").strip(), str(until or "").strip()
    return Scope(since, until) if since or until else None


def build_app(app: ArticleQA, answer_question: Callable[[object, list[Turn], Scope | None], Answer] | None = None,
              answer_concurrency: int | None | str = "default") -> gr.Blocks:
    """`answer_question`: how questions are answered (default app.ask; serve() passes the batcher's), with up
    to `answer_concurrency` question events handled at once (None: no limit)."""
    answer_question = answer_question or app.ask
    votes = FeedbackStore.in_data_dir(app.settings.data_dir)

    # ---- the API (named endpoints; /ask ... /remove_article are unchanged) ----------------------
    def ask(question: str, history: list[dict] | None = None, since: str = "", until: str = "") -> dict:
        """Answer a question about the indexed articles. `history`: earlier turns as
        {"question", "answer", "article"} dicts, so follow-up questions are understood. `since`, `until`: a
        date range ("2025-03-01", "1 March 2025", "last week"; either may be empty): only articles published
        in it are searched. Returns the Answer as a dict (with `as_of`, `earlier_reports` and `period` for
        developing news), or {"error": message} for input that is not a question."""
        try:
            return answer_question(question, _turns(history), _scope(since, until)).to_dict()
        except (InvalidQuestion, ServerBusy) as error:  # both messages are meant for the caller
            return {"question": question if isinstance(question, str) else "", "error": str(error)}
        except Exception:
            log.exception("ask failed")
            return {"question": "", "error": FAILURE}

    def chat(message: str, history: list[dict] | None = None, since: str = "", until: str = "") -> tuple[str, dict]:
        """The chat: the reply as Markdown, and the turn to pass back in `history` next time."""
        reply, turn = _reply(message, history, since, until)
        return reply, {k: turn[k] for k in ("question", "answer", "article")} if turn else {}

    def _reply(message: str, history: list[dict] | None, since: str = "", until: str = "") -> tuple[str, dict | None]:
        try:
            reply = answer_question(message, _turns(history), _scope(since, until))
        except (InvalidQuestion, ServerBusy) as error:
            return plain(str(error)), None
        except Exception:
            log.exception("chat failed")
            return FAILURE, None
        return answer_markdown(reply), {k: getattr(reply, k) for k in TURN_KEYS}

    def add_article(text: str, name: str = "") -> dict:
        """Index an article given as text (title on the first line). `name`, a file name such as
        "story.html", picks the format (.txt, .md, .html); without it plain text is assumed."""
        return _report(lambda: app.add_text(text or "", Path(name or "").name))

    def add_upload(path: str) -> dict:
        # Only called with the path Gradio gave its own upload (never a path typed by a user).
        upload = Path(path)
        if upload.stat().st_size > app.settings.max_article_bytes:
            return {"added": [], "duplicates": [], "replaced": [], "errors": [
                f"The file is larger than the {app.settings.max_article_bytes / 1e6:.0f} MB limit."]}
        return _report(lambda: app.add_text(upload.read_bytes(), upload.name))

    def add_url(url: str) -> dict:
        """Fetch the web page at `url` (http or https) and index its article; the same URL again is one
        article, and a changed page replaces the older version."""
        return _report(lambda: app.add_url(url or ""))

    def articles() -> list[dict]:
        """The indexed articles: id, title, sentences, date, source (the publisher), url, author, file."""
        return app.articles()

    def remove_article(title: str) -> dict:
        """Remove the article with this title (or id, or URL)."""
        return {"removed": app.remove(title or "")}

    def article(article_id: int, evidence: str = "") -> dict:
        """One article in full: id, title, text, sentences [(start, end)], date, source, url, and the
        (start, end) of `evidence` (an answer's sentence) in the text; {"error": message} when unknown."""
        try:
            found = app.article(int(article_id), evidence or None)
        except (TypeError, ValueError):
            found = None
        return found or {"error": f"No article with id {article_id!r}."}

    def feedback(answer: dict, vote: str) -> dict:
        """Say whether an answer (a dict from /ask) was right: vote "up" or "down" (None withdraws a vote).
        Stored with the question, answer, article and confidence; `articleqa feedback` summarises."""
        try:
            answer = answer or {}
            record = votes.record(str(answer.get("id") or uuid.uuid4().hex), vote or None,
                                  question=str(answer.get("question") or ""), answer=answer.get("answer"),
                                  score=float(answer.get("score") or 0.0), article=answer.get("article"),
                                  article_id=answer.get("article_id"), sentence=answer.get("sentence"))
        except (ValueError, TypeError) as error:
            return {"stored": False, "error": str(error)}
        except OSError:
            log.exception("storing feedback failed")
            return {"stored": False, "error": "The feedback could not be saved; the error was logged."}
        return {"stored": True, "answer_id": record["answer_id"]}

    # ---- the chat ------------------------------------------------------------------------------
    def start():
        listed = app.articles()
        examples = example_questions([a["title"] for a in listed])
        return gr.update(placeholder=start_markdown(listed, examples), examples=[{"text": q} for q in examples])

    def on_submit(message: str, history: list):
        if not (message or "").strip():
            return message, history
        return "", (history or []) + [{"role": "user", "content": plain(message)}]

    def on_example(event: gr.SelectData, history: list):
        question = event.value.get("text", "") if isinstance(event.value, dict) else str(event.value)
        return (history or []) + [{"role": "user", "content": plain(question)}]

    def respond(history: list, turns: list, since: str = "", until: str = ""):
        """Answer the question waiting at the end of the chat, if there is one (within the date range set)."""
        if not history or history[-1].get("role") != "user":
            return history, turns
        reply, turn = _reply(_text(history[-1]), turns, since, until)
        history = history + [{"role": "assistant", "content": reply}]
        if turn:
            turns = (turns or []) + [{**turn, "id": uuid.uuid4().hex, "index": len(history) - 1}]
        return history, turns

    def on_retry(event: gr.RetryData, history: list, turns: list):
        # keep the conversation up to the retried question, then answer it again
        asked = max((i for i, m in enumerate(history[: int(event.index) + 1]) if m.get("role") == "user"), default=None)
        if asked is None:
            return history, turns
        return history[: asked + 1], [t for t in turns or [] if t["index"] < asked]

    def _turn_at(turns: list, index) -> dict | None:
        # a click on a question opens the source of its answer
        return next((t for t in turns or [] if t["index"] in (index, index + 1)), None)

    def on_open(event: gr.SelectData, turns: list):
        turn = _turn_at(turns, int(event.index)) if isinstance(event.index, int) else None
        if turn is None or turn.get("article_id") is None:
            return gr.update()
        found = app.article(turn["article_id"], turn.get("sentence"))
        if found is None:
            return article_html(None, note="That article has been removed from the library.")
        span = (turn["start"], turn["end"]) if turn.get("start") is not None else None
        note = "" if turn.get("answer") is not None else "No answer was found; the closest passage is highlighted."
        return article_html(found, span, note)

    def on_vote(event: gr.LikeData, turns: list):
        turn = _turn_at(turns, int(event.index)) if isinstance(event.index, int) else None
        if turn is None:
            return
        vote = {True: "up", False: "down"}.get(event.liked)  # anything else: the vote was taken back
        stored = feedback(turn, vote)
        if not stored["stored"]:
            gr.Warning(stored["error"])
        elif vote:
            gr.Info("Thanks: your feedback was saved.", duration=3)

    # ---- the library ---------------------------------------------------------------------------
    def rows(query: str = "") -> list[list]:
        wanted = " ".join((query or "").split()).casefold()
        return [[False, a["title"], readable_date(a.get("date")), a.get("source") or a.get("file") or "",
                 a["sentences"], a["id"]]
                for a in app.articles() if wanted in " ".join(a["title"].split()).casefold()]

    def on_preview(event: gr.SelectData):
        row = getattr(event, "row_value", None) or []
        found = app.article(int(row[-1])) if row and str(row[-1]).isdigit() else None
        return article_html(found, note="" if found else NO_PREVIEW)

    def on_delete(table):
        chosen = [(int(r[-1]), str(r[1])) for r in _table_rows(table) if r and r[0] in (True, "true", "True")]
        if not chosen:
            return gr.update(visible=False), "", [], "Tick the articles to delete in the first column first."
        names = ", ".join(f"*{plain(title)}*" for _, title in chosen)
        question = f"**Delete {len(chosen)} article{'s' * (len(chosen) > 1)}?** {names}. This cannot be undone."
        return gr.update(visible=True), question, [i for i, _ in chosen], ""

    def on_confirm(pending: list, query: str):
        removed = [title for i in pending or [] for title in app.remove(str(i))]
        message = "Deleted: " + ", ".join(plain(t) for t in removed) if removed else "Nothing was deleted."
        return gr.update(visible=False), [], message, rows(query), article_html(None, note=NO_PREVIEW)

    def on_add(text: str, url: str, files: list | None, query: str, progress=gr.Progress()):  # noqa: B008 (how Gradio injects it)
        results = []  # (what, outcome)
        if (text or "").strip():
            results.append(("Pasted text", add_article(text)))
        if (url or "").strip():
            progress((0, 1), desc="Fetching the page", unit="pages")
            results.append((url.strip(), add_url(url)))
        paths = [str(f) for f in files or []]
        for done, path in enumerate(paths):
            progress((done, len(paths)), desc=f"Indexing {Path(path).name}", unit="files")
            results.append((Path(path).name, add_upload(path)))
        if not results:
            return "Paste an article, give its web address or choose files first.", gr.update(), text, url, files
        lines = ["| File | Result |", "|---|---|"]
        for what, result in results:
            outcomes = [f"added: *{plain(t)}*" for t in result["added"]]
            outcomes += [f"replaced the older version of: *{plain(t)}*" for t in result.get("replaced", [])]
            outcomes += [f"already indexed: *{plain(t)}*" for t in result["duplicates"]]
            outcomes += [f"not added: {plain(e)}" for e in result["errors"]]
            lines.append(f"| {plain(what)} | {'; '.join(outcomes) or 'nothing to add'} |")
        added = sum(len(r["added"]) for _, r in results)
        summary = f"**Added {added} of {len(results)}.**" if len(results) > 1 else ""
        return "\n".join([summary, "", *lines]).strip(), rows(query), "", "", None

    # ---- the page ------------------------------------------------------------------------------
    with gr.Blocks(title="articleqa") as demo:
        gr.Markdown("## articleqa — ask questions about the news articles")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat-tab"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=320):
                        chatbot = gr.Chatbot(height=520, label="Conversation", show_label=False, elem_id="chat",
                                             buttons=["copy", "copy_all"], feedback_options=("Like", "Dislike"),
                                             placeholder=start_markdown([], []))
                        with gr.Row():
                            # no max_length: it cut a long paste silently and the reply then gave the cut length;
                            # the question check (qa/question.py) refuses it with the real one
                            box = gr.Textbox(label="Your question", show_label=False, scale=8, elem_id="question",
                                             placeholder="Ask a question about the articles (Enter sends)",
                                             autofocus=True)
                            send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
                        # a date range for everything asked: only articles published in it are searched
                        with gr.Row(equal_height=True, elem_id="dates"):
                            since = gr.Textbox(label="From", placeholder="e.g. 2025-03-01 or last month", scale=1,
                                               min_width=140, max_lines=1, elem_id="since")
                            until = gr.Textbox(label="To", placeholder="e.g. 2025-03-06 or today", scale=1,
                                               min_width=140, max_lines=1, elem_id="until")
                    with gr.Column(scale=2, min_width=300):
                        source = gr.HTML(article_html(None, note=NO_SOURCE), label="Source article",
                                         elem_id="source", padding=True)
            with gr.Tab("Library", id="library-tab"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=320):
                        query = gr.Textbox(label="Filter by title", placeholder="Type part of a title",
                                           elem_id="library-filter")
                        table = gr.Dataframe(headers=COLUMNS, value=rows(), datatype=["bool", "str", "str", "str",
                                             "number", "number"], type="array", interactive=True,
                                             static_columns=[1, 2, 3, 4, 5], label="Indexed articles",
                                             elem_id="library", wrap=True, max_height=420,
                                             column_widths=["100px", "33%", "96px", "18%", "100px", "48px"])
                        with gr.Row(equal_height=True):
                            gr.Markdown("Tick articles in the first column to delete them; click one to read it.")
                            delete = gr.Button("Delete selected", variant="stop", size="sm", scale=0, min_width=140,
                                               elem_id="delete")
                        with gr.Column(visible=False, elem_id="confirm", variant="panel") as confirm:
                            confirm_text = gr.Markdown()
                            with gr.Row():
                                yes = gr.Button("Yes, delete", variant="stop", elem_id="confirm-delete")
                                no = gr.Button("Cancel", elem_id="cancel-delete")
                        removed = gr.Markdown(elem_id="library-status")
                    with gr.Column(scale=2, min_width=300):
                        preview = gr.HTML(article_html(None, note=NO_PREVIEW), label="Preview", elem_id="preview",
                                          padding=True)
                # below the table and the preview: on a phone, the preview comes right after the table
                with gr.Accordion("Add articles", open=True):
                    with gr.Row(equal_height=False):
                        upload = gr.File(label="Upload .txt / .md / .html files (several at once)",
                                         file_count="multiple", file_types=list(SUPPORTED_SUFFIXES),
                                         type="filepath", elem_id="upload", min_width=300, height=180)
                        with gr.Column(min_width=300):
                            url_box = gr.Textbox(label="…or add from a web address (URL)", placeholder="https://…",
                                                 elem_id="url")
                            pasted = gr.Textbox(lines=4, label="…or paste an article (title on the first line)",
                                                elem_id="paste")
                    add = gr.Button("Add to the library", variant="primary", elem_id="add")
                    status = gr.Markdown(elem_id="status")
        turns = gr.State([])
        pending = gr.State([])

        private = {"api_visibility": "private"}
        for trigger in (box.submit, send.click):
            trigger(on_submit, [box, chatbot], [box, chatbot], queue=False, **private).then(
                respond, [chatbot, turns, since, until], [chatbot, turns], concurrency_limit=answer_concurrency, **private)
        chatbot.example_select(on_example, [chatbot], [chatbot], queue=False, **private).then(
            respond, [chatbot, turns, since, until], [chatbot, turns], concurrency_limit=answer_concurrency, **private)
        chatbot.retry(on_retry, [chatbot, turns], [chatbot, turns], queue=False, **private).then(
            respond, [chatbot, turns, since, until], [chatbot, turns], concurrency_limit=answer_concurrency, **private)
        chatbot.clear(lambda: ([], article_html(None, note=NO_SOURCE)), None, [turns, source], **private)
        chatbot.select(on_open, [turns], [source], **private).then(None, js=SCROLL_TO_EVIDENCE, **private)
        chatbot.like(on_vote, [turns], None, **private)

        query.change(rows, [query], [table], **private)
        table.select(on_preview, None, [preview], **private)
        delete.click(on_delete, [table], [confirm, confirm_text, pending, removed], **private)
        yes.click(on_confirm, [pending, query], [confirm, pending, removed, table, preview], **private).then(
            start, None, [chatbot], **private)
        no.click(lambda: (gr.update(visible=False), []), None, [confirm, pending], **private)
        add.click(on_add, [pasted, url_box, upload, query], [status, table, pasted, url_box, upload],
                  show_progress_on=[upload],
                  **private).then(
            start, None, [chatbot], **private)
        demo.load(start, None, [chatbot], **private).then(rows, [query], [table], **private)

        gr.api(ask, api_name="ask", concurrency_limit=answer_concurrency)
        gr.api(chat, api_name="chat", concurrency_limit=answer_concurrency)
        gr.api(add_article, api_name="add_article")
        gr.api(add_url, api_name="add_url")
        gr.api(articles, api_name="articles")
        gr.api(remove_article, api_name="remove_article")
        gr.api(article, api_name="article")
        gr.api(feedback, api_name="feedback")
    return demo


def _table_rows(table) -> list[list]:
    # Gradio hands the table back as a list of rows (type="array"), or a DataFrame-like in older versions
    return table.values.tolist() if hasattr(table, "values") else list(table or [])


def _report(index) -> dict:
    try:
        report = index()
    except Exception:
        log.exception("adding an article failed")
        return {"added": [], "duplicates": [], "replaced": [], "errors": [FAILURE]}
    return {"added": [a.title for a in report.added], "duplicates": report.duplicates, "errors": report.errors,
            "replaced": report.replaced}


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
        demo = build_app(app, BatchedQA(app, settings).ask, answer_concurrency=None)
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
    _, url, _ = demo.launch(server_name=settings.host, server_port=settings.port, share=False, auth=auth,
                            max_file_size=settings.max_article_bytes, show_error=False, css=CSS, js=PLAIN_COPIES,
                            max_threads=threads,
                            prevent_thread_lock=not block, quiet=not block)
    return demo, url
