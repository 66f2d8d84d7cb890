"""Answers as chat text. All article and question text is HTML-escaped: shown as text, never executed."""

from __future__ import annotations

import html
from urllib.parse import quote, urlsplit

from articleqa.qa.dates import byline
from articleqa.qa.pipeline import Answer


def _escape(text: str) -> str:
    # Escape HTML, and the Markdown characters that could turn article text into links or images.
    return html.escape(text, quote=True).replace("[", "&#91;").replace("]", "&#93;").replace("`", "&#96;")


def highlighted(sentence: str, start: int | None, end: int | None) -> str:
    if start is None or end is None:
        return _escape(sentence)
    return f"{_escape(sentence[:start])}<mark>{_escape(sentence[start:end])}</mark>{_escape(sentence[end:])}"


def _link(url: str | None) -> str:
    """`url` ready for an href: http(s) with a host only, characters that could leave the attribute encoded."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return html.escape(quote(url, safe="/:?#[]@!$&'()*+,;=%~"), quote=True)


def source_line(answer: Answer) -> str:
    """ "CNN · 6 Dec 2024" under the evidence, linked to the article when it has an http(s) URL; "" when
    the article says neither."""
    text = byline(answer.article_source, answer.article_date)
    href = _link(answer.article_url)
    if href:
        text = text or urlsplit(answer.article_url.strip()).hostname
        return f'<a href="{href}" target="_blank" rel="noopener noreferrer nofollow">{_escape(text)}</a>'
    return _escape(text)


def answer_markdown(answer: Answer) -> str:
    if answer.answer is None:
        lines = [f"**{_escape(answer.message or 'The articles do not say.')}**"]
        if answer.sentence:
            lines.append(f"> {_escape(answer.sentence)}")
            lines.append(f"— *{_escape(answer.article or '')}*")
            lines += filter(None, [source_line(answer)])
        return "\n\n".join(lines)
    lines = [
        f"**{_escape(answer.answer)}**",
        f"> {highlighted(answer.sentence or '', answer.start, answer.end)}",
        f"— *{_escape(answer.article or '')}* · confidence {answer.score:.0%}",
        *filter(None, [source_line(answer), answer.message and f"*{_escape(answer.message)}*"]),
    ]
    if answer.context and answer.context != answer.sentence:
        lines.append(f"<details><summary>More context</summary>\n\n{_escape(answer.context)}\n\n</details>")
    if answer.alternatives:
        others = "; ".join(f"{_escape(a.answer)} ({a.score:.0%}, *{_escape(a.article)}*)" for a in answer.alternatives)
        lines.append(f"Other possible answers: {others}")
    return "\n\n".join(lines)
