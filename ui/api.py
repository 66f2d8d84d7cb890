"""The API the chat and `gradio_client` callers use, as plain functions over ArticleQA (no Gradio here, so
they are tested as they are): /ask, /chat, /add_article, /add_url, /articles, /remove_article, /article,
/feedback. Every problem comes back as a value with a message meant for people, never as a traceback."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path

from articleqa.qa.batching import ServerBusy
from articleqa.qa.feedback import FeedbackStore
from articleqa.qa.pipeline import Answer, ArticleQA, InvalidQuestion, Scope, Turn
from articleqa.ui.render import answer_markdown, plain

log = logging.getLogger("articleqa.ui")
FAILURE = "Sorry, something went wrong while answering. The error was logged; please try again."
TURN_KEYS = ("question", "answer", "article", "article_id", "score", "sentence", "start", "end")
AnswerQuestion = Callable[[object, list[Turn], Scope | None], Answer]


def turns_of(history: list | None) -> list[Turn]:
    """The last five turns of a history of {"question", "answer", "article"} dicts (others are skipped)."""
    turns = []
    for item in history or []:
        if isinstance(item, dict) and item.get("question"):
            turns.append(Turn(str(item["question"]), item.get("answer"), item.get("article")))
    return turns[-5:]


def scope_of(since: str | None, until: str | None) -> Scope | None:
    """The date range typed or posted (either side may be empty); None when there is none."""
    since, until = str(since or "").strip(), str(until or "").strip()
    return Scope(since, until) if since or until else None


class ArticleAPI:
    """The endpoints. `answer_question`: how questions are answered (default app.ask; a server passes its
    batcher's)."""

    def __init__(self, app: ArticleQA, answer_question: AnswerQuestion | None = None) -> None:
        self.app = app
        self.answer_question = answer_question or app.ask
        self.votes = FeedbackStore.in_data_dir(app.settings.data_dir)

    def ask(self, question: str, history: list[dict] | None = None, since: str = "", until: str = "") -> dict:
        """Answer a question about the indexed articles. `history`: earlier turns as
        {"question", "answer", "article"} dicts, so follow-up questions are understood. `since`, `until`: a
        date range ("2025-03-01", "1 March 2025", "last week"; either may be empty): only articles published
        in it are searched. Returns the Answer as a dict (with `as_of`, `earlier_reports` and `period` for
        developing news), or {"error": message} for input that is not a question."""
        try:
            return self.answer_question(question, turns_of(history), scope_of(since, until)).to_dict()
        except (InvalidQuestion, ServerBusy) as error:  # both messages are meant for the caller
            return {"question": question if isinstance(question, str) else "", "error": str(error)}
        except Exception:
            log.exception("ask failed")
            return {"question": "", "error": FAILURE}

    def chat(
        self, message: str, history: list[dict] | None = None, since: str = "", until: str = ""
    ) -> tuple[str, dict]:
        """The chat: the reply as Markdown, and the turn to pass back in `history` next time."""
        reply, turn = self.reply(message, history, since, until)
        return reply, {k: turn[k] for k in ("question", "answer", "article")} if turn else {}

    def reply(
        self, message: str, history: list[dict] | None, since: str = "", until: str = ""
    ) -> tuple[str, dict | None]:
        """The reply as Markdown and the turn it makes (TURN_KEYS), or a message and None."""
        try:
            answer = self.answer_question(message, turns_of(history), scope_of(since, until))
        except (InvalidQuestion, ServerBusy) as error:
            return plain(str(error)), None
        except Exception:
            log.exception("chat failed")
            return FAILURE, None
        return answer_markdown(answer), {k: getattr(answer, k) for k in TURN_KEYS}

    def add_article(self, text: str, name: str = "") -> dict:
        """Index an article given as text (title on the first line). `name`, a file name such as
        "story.html", picks the format (.txt, .md, .html); without it plain text is assumed."""
        return _report(lambda: self.app.add_text(text or "", Path(name or "").name))

    def add_upload(self, path: str) -> dict:
        """An uploaded file. Only called with the path Gradio gave its own upload (never a path typed by a user)."""
        upload = Path(path)
        limit = self.app.settings.max_article_bytes
        if upload.stat().st_size > limit:
            return {
                "added": [],
                "duplicates": [],
                "replaced": [],
                "errors": [f"The file is larger than the {limit / 1e6:.0f} MB limit."],
            }
        return _report(lambda: self.app.add_text(upload.read_bytes(), upload.name))

    def add_url(self, url: str) -> dict:
        """Fetch the web page at `url` (http or https) and index its article; the same URL again is one
        article, and a changed page replaces the older version."""
        return _report(lambda: self.app.add_url(url or ""))

    def articles(self) -> list[dict]:
        """The indexed articles: id, title, sentences, date, source (the publisher), url, author, file."""
        return self.app.articles()

    def remove_article(self, title: str) -> dict:
        """Remove the article with this title (or id, or URL)."""
        return {"removed": self.app.remove(title or "")}

    def article(self, article_id: int, evidence: str = "") -> dict:
        """One article in full: id, title, text, sentences [(start, end)], date, source, url, and the
        (start, end) of `evidence` (an answer's sentence) in the text; {"error": message} when unknown."""
        try:
            found = self.app.article(int(article_id), evidence or None)
        except (TypeError, ValueError):
            found = None
        return found or {"error": f"No article with id {article_id!r}."}

    def feedback(self, answer: dict, vote: str) -> dict:
        """Say whether an answer (a dict from /ask) was right: vote "up" or "down" (None withdraws a vote).
        Stored with the question, answer, article and confidence; `articleqa feedback` summarises."""
        try:
            answer = answer or {}
            record = self.votes.record(
                str(answer.get("id") or uuid.uuid4().hex),
                vote or None,
                question=str(answer.get("question") or ""),
                answer=answer.get("answer"),
                score=float(answer.get("score") or 0.0),
                article=answer.get("article"),
                article_id=answer.get("article_id"),
                sentence=answer.get("sentence"),
            )
        except (ValueError, TypeError) as error:
            return {"stored": False, "error": str(error)}
        except OSError:
            log.exception("storing feedback failed")
            return {"stored": False, "error": "The feedback could not be saved; the error was logged."}
        return {"stored": True, "answer_id": record["answer_id"]}


def _report(index: Callable) -> dict:
    try:
        report = index()
    except Exception:
        log.exception("adding an article failed")
        return {"added": [], "duplicates": [], "replaced": [], "errors": [FAILURE]}
    return {
        "added": [a.title for a in report.added],
        "duplicates": report.duplicates,
        "errors": report.errors,
        "replaced": report.replaced,
    }
