"""The page: the chat with its source panel and the library, their handlers, and the API endpoints (ui/api.py)
registered by name. Presentation only: the work is done by ArticleQA and qa/feedback."""

from __future__ import annotations

import html
import uuid
from pathlib import Path

import gradio as gr

from articleqa.qa.pipeline import SUPPORTED_SUFFIXES, ArticleQA
from articleqa.seed import example_questions
from articleqa.ui.api import ArticleAPI
from articleqa.ui.assets import SCROLL_TO_EVIDENCE
from articleqa.ui.render import article_html, plain, readable_date, start_markdown

NO_SOURCE = "Sources open here: press “Open the source” under an answer to read the whole article, with the sentence the answer came from highlighted."
NO_PREVIEW = "Click an article in the table to read it here."
COLUMNS = ["Select", "Title", "Date", "Source", "Sentences", "ID"]


def _date_box(label: str, placeholder: str, elem_id: str):
    """One end of the date range: a slim, unlabelled box (the row's "Published" names both)."""
    return gr.Textbox(
        label=label,
        show_label=False,
        container=False,
        placeholder=placeholder,
        scale=1,
        min_width=120,
        max_lines=1,
        elem_id=elem_id,
    )


def _text(message: dict) -> str:
    """A chat message's text (Gradio hands content back as a list of parts), unescaped to what was typed."""
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return html.unescape(str(content or ""))


def build_app(
    app: ArticleQA, api: ArticleAPI | None = None, answer_concurrency: int | None | str = "default"
) -> gr.Blocks:
    """The page over `app`, its endpoints answered by `api` (default: ArticleAPI(app)), with up to
    `answer_concurrency` question events handled at once (None: no limit)."""
    api = api or ArticleAPI(app)

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
        reply, turn = api.reply(_text(history[-1]), turns, since, until)
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
        stored = api.feedback(turn, vote)
        if not stored["stored"]:
            gr.Warning(stored["error"])
        elif vote:
            gr.Info("Thanks: your feedback was saved.", duration=3)

    # ---- the library ---------------------------------------------------------------------------
    def rows(query: str = "") -> list[list]:
        wanted = " ".join((query or "").split()).casefold()
        return [
            [
                False,
                a["title"],
                readable_date(a.get("date")),
                a.get("source") or a.get("file") or "",
                a["sentences"],
                a["id"],
            ]
            for a in app.articles()
            if wanted in " ".join(a["title"].split()).casefold()
        ]

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
            results.append(("Pasted text", api.add_article(text)))
        if (url or "").strip():
            progress((0, 1), desc="Fetching the page", unit="pages")
            results.append((url.strip(), api.add_url(url)))
        paths = [str(f) for f in files or []]
        for done, path in enumerate(paths):
            progress((done, len(paths)), desc=f"Indexing {Path(path).name}", unit="files")
            results.append((Path(path).name, api.add_upload(path)))
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
                        chatbot = gr.Chatbot(
                            height=520,
                            label="Conversation",
                            show_label=False,
                            elem_id="chat",
                            buttons=["copy", "copy_all"],
                            feedback_options=("Like", "Dislike"),
                            placeholder=start_markdown([], []),
                        )
                        with gr.Row():
                            # no max_length: it cut a long paste silently and the reply then gave the cut length;
                            # the question check (qa/question.py) refuses it with the real one
                            box = gr.Textbox(
                                label="Your question",
                                show_label=False,
                                scale=8,
                                elem_id="question",
                                placeholder="Ask a question about the articles (Enter sends)",
                                autofocus=True,
                            )
                            send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
                        # a date range for everything asked: only articles published in it are searched; one
                        # slim line under the question (most questions need none)
                        with gr.Row(equal_height=True, elem_id="dates"):
                            gr.HTML(
                                "<span>Published</span>",
                                elem_id="dates-label",
                                padding=False,
                                container=False,
                                scale=0,
                                min_width=72,
                            )
                            since = _date_box("From", "from, e.g. 2025-03-01", "since")
                            until = _date_box("To", "to, e.g. today", "until")
                    with gr.Column(scale=2, min_width=300):
                        source = gr.HTML(
                            article_html(None, note=NO_SOURCE), label="Source article", elem_id="source", padding=True
                        )
            with gr.Tab("Library", id="library-tab"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=320):
                        query = gr.Textbox(
                            label="Filter by title", placeholder="Type part of a title", elem_id="library-filter"
                        )
                        table = gr.Dataframe(
                            headers=COLUMNS,
                            value=rows(),
                            datatype=["bool", "str", "str", "str", "number", "number"],
                            type="array",
                            interactive=True,
                            static_columns=[1, 2, 3, 4, 5],
                            label="Indexed articles",
                            elem_id="library",
                            wrap=True,
                            max_height=420,
                            column_widths=["100px", "33%", "96px", "18%", "100px", "48px"],
                        )
                        with gr.Row(equal_height=True):
                            gr.Markdown("Tick articles in the first column to delete them; click one to read it.")
                            delete = gr.Button(
                                "Delete selected", variant="stop", size="sm", scale=0, min_width=140, elem_id="delete"
                            )
                        with gr.Column(visible=False, elem_id="confirm", variant="panel") as confirm:
                            confirm_text = gr.Markdown()
                            with gr.Row():
                                yes = gr.Button("Yes, delete", variant="stop", elem_id="confirm-delete")
                                no = gr.Button("Cancel", elem_id="cancel-delete")
                        removed = gr.Markdown(elem_id="library-status")
                    with gr.Column(scale=2, min_width=300):
                        preview = gr.HTML(
                            article_html(None, note=NO_PREVIEW), label="Preview", elem_id="preview", padding=True
                        )
                # below the table and the preview: on a phone, the preview comes right after the table
                with gr.Accordion("Add articles", open=True):
                    with gr.Row(equal_height=False):
                        upload = gr.File(
                            label="Upload .txt / .md / .html files (several at once)",
                            file_count="multiple",
                            file_types=list(SUPPORTED_SUFFIXES),
                            type="filepath",
                            elem_id="upload",
                            min_width=300,
                            height=180,
                        )
                        with gr.Column(min_width=300):
                            url_box = gr.Textbox(
                                label="…or add from a web address (URL)", placeholder="https://…", elem_id="url"
                            )
                            pasted = gr.Textbox(
                                lines=4, label="…or paste an article (title on the first line)", elem_id="paste"
                            )
                    add = gr.Button("Add to the library", variant="primary", elem_id="add")
                    status = gr.Markdown(elem_id="status")
        turns = gr.State([])
        pending = gr.State([])

        private = {"api_visibility": "private"}
        for trigger in (box.submit, send.click):
            trigger(on_submit, [box, chatbot], [box, chatbot], queue=False, **private).then(
                respond,
                [chatbot, turns, since, until],
                [chatbot, turns],
                concurrency_limit=answer_concurrency,
                **private,
            )
        chatbot.example_select(on_example, [chatbot], [chatbot], queue=False, **private).then(
            respond, [chatbot, turns, since, until], [chatbot, turns], concurrency_limit=answer_concurrency, **private
        )
        chatbot.retry(on_retry, [chatbot, turns], [chatbot, turns], queue=False, **private).then(
            respond, [chatbot, turns, since, until], [chatbot, turns], concurrency_limit=answer_concurrency, **private
        )
        chatbot.clear(lambda: ([], article_html(None, note=NO_SOURCE)), None, [turns, source], **private)
        chatbot.select(on_open, [turns], [source], **private).then(None, js=SCROLL_TO_EVIDENCE, **private)
        chatbot.like(on_vote, [turns], None, **private)

        query.change(rows, [query], [table], **private)
        table.select(on_preview, None, [preview], **private)
        delete.click(on_delete, [table], [confirm, confirm_text, pending, removed], **private)
        yes.click(on_confirm, [pending, query], [confirm, pending, removed, table, preview], **private).then(
            start, None, [chatbot], **private
        )
        no.click(lambda: (gr.update(visible=False), []), None, [confirm, pending], **private)
        add.click(
            on_add,
            [pasted, url_box, upload, query],
            [status, table, pasted, url_box, upload],
            show_progress_on=[upload],
            **private,
        ).then(start, None, [chatbot], **private)
        demo.load(start, None, [chatbot], **private).then(rows, [query], [table], **private)

        gr.api(api.ask, api_name="ask", concurrency_limit=answer_concurrency)
        gr.api(api.chat, api_name="chat", concurrency_limit=answer_concurrency)
        gr.api(api.add_article, api_name="add_article")
        gr.api(api.add_url, api_name="add_url")
        gr.api(api.articles, api_name="articles")
        gr.api(api.remove_article, api_name="remove_article")
        gr.api(api.article, api_name="article")
        gr.api(api.feedback, api_name="feedback")
    return demo


def _table_rows(table) -> list[list]:
    # Gradio hands the table back as a list of rows (type="array"), or a DataFrame-like in older versions
    return table.values.tolist() if hasattr(table, "values") else list(table or [])
