"""Answers, the start message and articles as chat Markdown or panel HTML. All article and question text is
HTML-escaped here: shown as text, never run; the only live markup is the tags written in this module."""

from __future__ import annotations

import html
from urllib.parse import quote, urlsplit

from articleqa.qa.dates import byline, format_date
from articleqa.qa.feedback import confidence_phrase, confidence_words
from articleqa.qa.pipeline import Answer

OPEN_SOURCE = '<button class="open-source" type="button">Open the source</button>'  # a click selects the message
SHOWN_TITLES = 3  # titles named in the start message before "and N more"


def plain(text: str) -> str:
    """Text shown as itself in chat Markdown."""
    # Escape HTML, and the Markdown characters that could turn article text into links, images, emphasis
    # or table cells.
    return (
        html.escape(text, quote=True)
        .replace("[", "&#91;")
        .replace("]", "&#93;")
        .replace("`", "&#96;")
        .replace("*", "&#42;")
        .replace("_", "&#95;")
        .replace("|", "&#124;")
    )


def highlighted(sentence: str, start: int | None, end: int | None) -> str:
    if start is None or end is None:
        return plain(sentence)
    return f"{plain(sentence[:start])}<mark>{plain(sentence[start:end])}</mark>{plain(sentence[end:])}"


def readable_date(value: str | None) -> str:
    """ "2024-12-06" -> "6 Dec 2024"; anything else as given."""
    return format_date(str(value or ""))


def _provenance(title: str | None, day: str | None, source: str | None) -> str:
    return " · ".join(
        part for part in (f"*{plain(title)}*" if title else "", plain(readable_date(day)), plain(source or "")) if part
    )


def confidence(score: float) -> str:
    return f"**{confidence_words(score)}** ({score:.0%})"


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
        return f'<a href="{href}" target="_blank" rel="noopener noreferrer nofollow">{plain(text)}</a>'
    return plain(text)


def _answer_provenance(answer: Answer) -> str:
    """ "*Title* · CNN · 6 Dec 2024", the source and date linked to the article when it has a web address."""
    return " · ".join(filter(None, (f"*{plain(answer.article)}*" if answer.article else "", source_line(answer))))


def answer_markdown(answer: Answer) -> str:
    if answer.answer is None:
        lines = [f"**{plain(answer.message or 'The articles do not say.')}**"]
        if answer.sentence:
            lines.append(f"> {plain(answer.sentence)}")
            lines.append(f"— {_answer_provenance(answer)}")
            lines.append(OPEN_SOURCE)
        return "\n\n".join(lines)
    # developing news: the answer holds as of its report's date ("63, as of 6 Mar 2025")
    as_of = f", as of {plain(readable_date(answer.as_of))}" if answer.as_of else ""
    lines = [
        f"**{plain(answer.answer)}**{as_of}",
        f"> {highlighted(answer.sentence or '', answer.start, answer.end)}",
        f"— {_answer_provenance(answer)} · {confidence(answer.score)}",
    ]
    if answer.message:
        lines.append(f"*{plain(answer.message)}*")
    if answer.period:
        lines.append(f"Period used: {plain(answer.period)}")
    if answer.earlier_reports:
        lines.append(earlier_reports_markdown(answer))
    if answer.context and answer.context != answer.sentence:
        lines.append(f"<details><summary>More context</summary>\n\n{plain(answer.context)}\n\n</details>")
    if answer.alternatives:
        others = "; ".join(
            f"{plain(a.answer)} ({confidence_phrase(a.score)}"
            + (f", *{plain(a.article)}*)" if a.article != answer.article else ")")
            for a in answer.alternatives
        )
        lines.append(f"Other possible answers: {others}")
    lines.append(OPEN_SOURCE)
    return "\n\n".join(lines)


def earlier_reports_markdown(answer: Answer) -> str:
    """The older reports' answers under the answer, newest first, each with its date, article and sentence,
    in a disclosure (closed: the newest answer comes first)."""
    count = len(answer.earlier_reports)
    items = "\n".join(
        f"- **{plain(r.answer)}** · {plain(readable_date(r.date))} · *{plain(r.article)}*: “{plain(r.sentence)}”"
        for r in answer.earlier_reports
    )
    return (
        f'<details class="earlier-reports"><summary>Earlier report{"s" * (count > 1)} ({count})</summary>'
        f"\n\n{items}\n\n</details>"
    )


def start_markdown(articles: list[dict], examples: list[str]) -> str:
    """What the chat knows, shown while the conversation is empty."""
    if not articles:
        return (
            "**No articles are indexed yet.**\n\nOpen the **Library** tab to paste an article or upload "
            ".txt, .md or .html files (or run `articleqa index FOLDER`); then ask about them here."
        )
    titles = [f"*{plain(a['title'])}*" for a in articles[:SHOWN_TITLES]]
    if len(articles) == 1:
        known = f"**1 article indexed:** {titles[0]}"
    else:
        more = len(articles) - len(titles)
        listed = ", ".join(titles) + (f" and {more:,} more" if more else "")
        known = (
            f"**{len(articles):,} articles indexed**, among them {listed}"
            if more
            else f"**{len(articles)} articles indexed:** {listed}"
        )
    hint = (
        "Try one of these questions:" if examples else "Ask about them: the answer comes with the sentence it is from."
    )
    return f"{known}\n\n{hint}"


def _mark(text: str, start: int, end: int, tag: str, attributes: str = "") -> str:
    return (
        f"{html.escape(text[:start])}<{tag}{attributes}>{html.escape(text[start:end])}</{tag}>{html.escape(text[end:])}"
    )


def article_html(article: dict | None, span: tuple[int, int] | None = None, note: str = "") -> str:
    """The whole article as inert text, with the evidence (article["evidence"]) in a <mark> and the answer
    (`span`, offsets within the evidence) in bold. The evidence is located server-side; the page scrolls to it."""
    if article is None:
        return f'<div class="article-view empty" role="region" aria-label="Article">{html.escape(note)}</div>'
    text = article["text"]
    evidence = article.get("evidence")
    if evidence:
        start, end = evidence
        inner = html.escape(text[start:end])
        if span is not None and 0 <= span[0] < span[1] <= end - start:
            inner = _mark(text[start:end], span[0], span[1], "strong")
        body = f'{html.escape(text[:start])}<mark id="evidence">{inner}</mark>{html.escape(text[end:])}'
    else:
        body = html.escape(text)
    meta = [html.escape(part) for part in (readable_date(article.get("date")), article.get("source") or "") if part]
    url = article.get("url") or ""
    if url.startswith(("https://", "http://")):
        meta.append(f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">original</a>')
    count = len(article.get("sentences", []))
    meta.append(f"{count:,} sentence{'s' * (count != 1)}")
    notice = f'<p class="article-note">{html.escape(note)}</p>' if note else ""
    return (
        f'<article class="article-view" role="region" aria-label="Article: {html.escape(article["title"], quote=True)}">'
        f'<h3>{html.escape(article["title"])}</h3><p class="article-meta">{" · ".join(meta)}</p>{notice}'
        f'<div class="article-text">{body}</div></article>'
    )
