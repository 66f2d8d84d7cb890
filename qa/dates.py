"""Article dates for people: "6 Dec 2024", "CNN · 6 Dec 2024", and the note that places a relative answer
("last week", "on Thursday") on the calendar."""

from __future__ import annotations

import re
from datetime import date

_DAYS = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_UNITS = r"days?|weeks?|weekends?|months?|years?|nights?|mornings?|afternoons?|evenings?|fortnight|decades?"
_RELATIVE = re.compile(
    rf"\b(?:yesterday|today|tonight|tomorrow|recently|(?:last|next|this|past|coming|previous|earlier this|later this)"
    rf"\s+(?:{_UNITS}|{_DAYS})|(?:an?|\w+|\d+)\s+(?:{_UNITS})\s+(?:ago|earlier|later|before|from now)|{_DAYS})\b",
    re.I,
)
_YEAR = re.compile(r"\b(1[89]|20)\d\d\b")


def is_relative_time(answer: str | None) -> bool:
    """Whether an answer names a time only relative to when it was written ("last week", "on Thursday",
    "a week ago", "yesterday"); an answer with a year ("Thursday 5 December 2024") places itself."""
    return bool(answer) and _RELATIVE.search(answer) is not None and _YEAR.search(answer) is None


def _parse(iso: str) -> date | None:
    try:
        return date.fromisoformat((iso or "")[:10])
    except ValueError:
        return None


def format_date(iso: str, weekday: bool = False) -> str:
    """ "2024-12-06" -> "6 Dec 2024" ("Fri 6 Dec 2024" with `weekday`); text that is not a date is kept."""
    day = _parse(iso)
    if day is None:
        return (iso or "").strip()
    text = f"{day.day} {day:%b %Y}"
    return f"{day:%a} {text}" if weekday else text


def byline(source: str | None, iso_date: str | None) -> str:
    """ "CNN · 6 Dec 2024": where and when an article was published, as far as it is known."""
    return " · ".join(part for part in (" ".join((source or "").split()), format_date(iso_date or "")) if part)


def date_note(answer: str | None, iso_date: str | None) -> str:
    """ "Reported on Fri 6 Dec 2024." for a relative answer from a dated article, else ""."""
    if not iso_date or not is_relative_time(answer):
        return ""
    return f"Reported on {format_date(iso_date, weekday=True)}."
