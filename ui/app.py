"""Gradio Blocks: the chat, the article panel, and the API endpoints /ask, /chat, /add_article, /articles."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from articleqa.config import Settings
from articleqa.qa.batching import BUSY, BatchedQA, ServerBusy
from articleqa.qa.pipeline import Answer, ArticleQA, InvalidQuestion, Turn
from articleqa.ui.render import answer_markdown

log = logging.getLogger("articleqa.ui")
FAILURE = "Sorry, something went wrong while answering. The error was logged; please try again."


def _turns(history: list | None) -> list[Turn]:
    turns = []
    for item in history or []:
        if isinstance(item, dict) and item.get("question"):
            turns.append(Turn(str(item["question"]), item.get("answer"), item.get("article")))
    return turns[-5:]


def build_app(app: ArticleQA, answer: Callable[[object, list[Turn]], Answer] | None = None,
              answer_concurrency: int | None | str = "default") -> gr.Blocks:
    """`answer`: how questions are answered (default app.ask; serve() passes the batcher's), with up to
    `answer_concurrency` question events handled at once (None: no limit)."""
    answer = answer or app.ask

    def ask(question: str, history: list[dict] | None = None) -> dict:
        """Answer a question about the indexed articles. `history`: earlier turns as
        {"question", "answer", "article"} dicts, so follow-up questions are understood.
        Returns the Answer as a dict, or {"error": message} for input that is not a question (or when
        the server is too busy to take it)."""
        try:
            return answer(question, _turns(history)).to_dict()
        except InvalidQuestion as error:
            return {"question": question if isinstance(question, str) else "", "error": str(error)}
        except ServerBusy:
            return {"question": question if isinstance(question, str) else "", "error": BUSY}
        except Exception:
            log.exception("ask failed")
            return {"question": "", "error": FAILURE}

    def chat(message: str, history: list[dict] | None = None) -> tuple[str, dict]:
        """The chat: the reply as Markdown, and the turn to pass back in `history` next time."""
        try:
            reply = answer(message, _turns(history))
        except InvalidQuestion as error:
            return _plain(str(error)), {}
        except ServerBusy:
            return _plain(BUSY), {}
        except Exception:
            log.exception("chat failed")
            return FAILURE, {}
        return answer_markdown(reply), {"question": reply.question, "answer": reply.answer,
                                        "article": reply.article}

    def add_article(text: str, name: str = "") -> dict:
        """Index an article given as text (title on the first line). `name`, a file name such as
        "story.html", picks the format (.txt, .md, .html); without it plain text is assumed."""
        return _report(lambda: app.add_text(text or "", Path(name or "").name))

    def add_upload(path: str) -> dict:
        # Only called with the path Gradio gave its own upload (never a path typed by a user).
        upload = Path(path)
        if upload.stat().st_size > app.settings.max_article_bytes:
            return {"added": [], "duplicates": [], "errors": [
                f"The file is larger than the {app.settings.max_article_bytes / 1e6:.0f} MB limit."]}
        return _report(lambda: app.add_text(upload.read_bytes(), upload.name))

    def articles() -> list[dict]:
        """The indexed articles: id, title, number of sentences, source file."""
        return app.articles()

    def remove_article(title: str) -> dict:
        """Remove the article with this title (or id)."""
        return {"removed": app.remove(title or "")}

    # ---- the page ------------------------------------------------------------------------------
    def on_message(message, chat_history, turns):
        reply, turn = chat(message, turns)
        chat_history = (chat_history or []) + [
            {"role": "user", "content": _plain(message)}, {"role": "assistant", "content": reply}]
        return "", chat_history, (turns or []) + ([turn] if turn else [])

    def on_add(text, file):
        result = add_upload(file) if file else add_article(text)
        notes = [f"Added: {t}" for t in result["added"]]
        notes += [f"Already indexed: {t}" for t in result["duplicates"]]
        notes += [f"Not added: {e}" for e in result["errors"]]
        return "\n\n".join(_plain(n) for n in notes) or "Nothing to add.", _table(), None

    def on_remove(title):
        removed = remove_article(title)["removed"]
        message = "Removed: " + ", ".join(removed) if removed else f"No article titled {title!r}."
        return _plain(message), _table()

    def _table():
        return [[a["id"], a["title"], a["sentences"]] for a in app.articles()]

    with gr.Blocks(title="articleqa") as demo:
        gr.Markdown("## articleqa — ask questions about the news articles")
        with gr.Tab("Chat"):
            chatbot = gr.Chatbot(height=480, label="Answers", elem_id="chat")
            turns = gr.State([])
            with gr.Row():
                box = gr.Textbox(placeholder="Ask a question, e.g. Which city are the rebels heading for next?", show_label=False,
                                 scale=8, elem_id="question", max_length=app.settings.max_question_chars * 2)
                send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
            clear = gr.Button("New conversation", size="sm")
        with gr.Tab("Articles"):
            pasted = gr.Textbox(lines=8, label="Paste an article (title on the first line)", elem_id="paste")
            upload = gr.File(label="…or upload .txt / .md / .html", file_types=[".txt", ".md", ".html", ".htm"],
                             type="filepath")
            add = gr.Button("Add article", elem_id="add")
            status = gr.Markdown(elem_id="status")
            table = gr.Dataframe(headers=["id", "title", "sentences"], value=_table(), interactive=False,
                                 label="Indexed articles")
            with gr.Row():
                doomed = gr.Textbox(label="Remove the article titled", scale=4)
                remove = gr.Button("Remove", scale=1)

        for trigger in (box.submit, send.click):
            trigger(on_message, [box, chatbot, turns], [box, chatbot, turns], api_visibility="private",
                    concurrency_limit=answer_concurrency)
        clear.click(lambda: ([], []), None, [chatbot, turns], api_visibility="private")
        add.click(on_add, [pasted, upload], [status, table, upload], api_visibility="private")
        remove.click(on_remove, [doomed], [status, table], api_visibility="private")
        demo.load(_table, None, table, api_visibility="private")

        gr.api(ask, api_name="ask", concurrency_limit=answer_concurrency)
        gr.api(chat, api_name="chat", concurrency_limit=answer_concurrency)
        gr.api(add_article, api_name="add_article")
        gr.api(articles, api_name="articles")
        gr.api(remove_article, api_name="remove_article")
    return demo


def _report(index) -> dict:
    try:
        report = index()
    except Exception:
        log.exception("adding an article failed")
        return {"added": [], "duplicates": [], "errors": [FAILURE]}
    return {"added": [a.title for a in report.added], "duplicates": report.duplicates, "errors": report.errors}


def _plain(text: str) -> str:
    return html.escape(text or "")


def serve(app: ArticleQA, settings: Settings, block: bool = True) -> tuple[gr.Blocks, str]:
    """Serve the app; with block=False return at once with (the Blocks, its local URL).

    With `settings.batching` one inference thread answers every question (BatchedQA); the question events
    then run without a Gradio limit, so that each request reaches the batcher's bounded queue and a full
    queue answers "busy" at once instead of leaving callers waiting in Gradio's queue."""
    from articleqa.index.compute import use_threads

    use_threads(settings.threads)  # process-wide: every core for the models, set on purpose
    if settings.batching:
        demo = build_app(app, BatchedQA(app, settings).ask, answer_concurrency=None)
        # Every question in the batcher (queued or in its batch) holds one of Gradio's worker threads.
        threads = max(40, 2 * (settings.queue_size + settings.max_batch) + 2 * settings.concurrency)
    else:
        demo, threads = build_app(app), 40
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=max(256, 2 * threads))
    auth = None
    if settings.auth:
        user, _, password = settings.auth.partition(":")
        auth = (user, password)
    _, url, _ = demo.launch(server_name=settings.host, server_port=settings.port, share=False, auth=auth,
                            max_file_size=settings.max_article_bytes, show_error=False, max_threads=threads,
                            prevent_thread_lock=not block, quiet=not block)
    return demo, url
