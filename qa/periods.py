"""Periods of time: the one a question names ("as of March 4", "on Tuesday", "last week", "in 2018", "before
1 May") and the date range a user sets (from / to). Reading dates out of words is dateparser's job (its
search finds the expression, its parser tells a day from a week, a month or a year); this module only turns
what it found into a span of days and says it back in words."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from articleqa.qa.dates import format_date
from articleqa.qa.question import InvalidQuestion

# What the words before a date do to it: "as of March 4" is everything up to its end, "before" up to the
# day before it, "after" from the day after, "since" from its first day; other words ("on", "in",
# "during", none) mean the period itself.
_UNTIL = re.compile(r"\b(?:as of|by|until|till|up to|up until)\s*$", re.I)
_BEFORE = re.compile(r"\b(?:before|prior to)\s*$", re.I)
_AFTER = re.compile(r"\bafter\s*$", re.I)
_SINCE = re.compile(r"\b(?:since|from)\s*$", re.I)
_PLACING = re.compile(r"\b(?:as of|by|until|till|up to|up until|before|prior to|after|since|from)\b", re.I)
_LEADING = re.compile(r"^(?:as\s+)?(?:of|on|in|at|during|the|by|until|till|since|from|before|after)\s+", re.I)


@dataclass(frozen=True)
class Period:
    """Days from `start` to `end`, both included; None: open on that side."""

    start: date | None
    end: date | None
    label: str  # how an answer names it: "as of 4 Mar 2025", "in 2018", "1 Mar 2025 – 6 Mar 2025"

    def contains(self, iso: str | None) -> bool:
        day = parse_iso(iso)
        return day is not None and (self.start is None or self.start <= day) and (self.end is None or day <= self.end)

    def until_end(self) -> Period:
        """Everything up to this period's end: what had been reported by then."""
        return Period(None, self.end, f"as of {format_date(self.end.isoformat())}" if self.end else self.label)

    def within(self, other: Period | None) -> Period:
        """This period cut to `other` (a date range the user set)."""
        if other is None:
            return self
        start = max(filter(None, (self.start, other.start)), default=None)
        end = min(filter(None, (self.end, other.end)), default=None)
        return Period(start, end, self.label)


@dataclass(frozen=True)
class Scope:
    """What a question is asked within: a date range (words or ISO dates, either side may be empty) and the
    day relative dates are counted from (None: the settings' `today`, else the clock's)."""

    since: str = ""
    until: str = ""
    today: date | None = None


def parse_iso(iso: str | None) -> date | None:
    try:
        return date.fromisoformat((iso or "")[:10])
    except ValueError:
        return None


@lru_cache(maxsize=8)
def _parser(today: date):
    from dateparser.date import DateDataParser

    return DateDataParser(languages=["en"], settings=_settings(today))


def _settings(today: date) -> dict:
    return {
        "RELATIVE_BASE": datetime(today.year, today.month, today.day, 12),
        "PREFER_DATES_FROM": "past",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }


def _span(day: date, granularity: str) -> tuple[date, date]:
    """The days of the day, week, month or year that dateparser read."""
    if granularity == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    if granularity == "month":
        return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    if granularity == "year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    return day, day


def _words(start: date, end: date, granularity: str) -> str:
    if granularity == "year":
        return f"in {start.year}"
    if granularity == "month":
        return f"in {start:%b %Y}"
    if granularity == "week":
        return f"in the week of {format_date(start.isoformat())}"
    return f"on {format_date(start.isoformat(), weekday=True)}"


def _names_a_time(expression: str, core: str, granularity: str, day: date, today: date) -> bool:
    """Whether dateparser's find is a time the question names. It also reads the modal "may", the noun
    "march", "now" and "Sun" (in "Sun City") as dates: a single word in lower case counts only as a day
    other than today ("yesterday"), and a short capitalised one ("May", "Sun") only after "in", "on" and
    the like ("in May")."""
    words = core.split()
    if not words or any(ch.isdigit() for ch in core) or len(words) > 1:
        return bool(words)
    word = words[0]
    if word.islower():
        return granularity == "day" and day != today
    return (
        len(word) > 3
        or re.match(r"(?:in|on|during|since|by|until|till|before|after)\s", expression.strip(), re.I) is not None
    )


def named_period(question: str, today: date) -> tuple[Period, str] | None:
    """The period a question names, and the expression that names it ("March 4", "last week"); None when it
    names none."""
    from dateparser.search import search_dates

    # dateparser's search reads "before 20 October 2024" as "October" and "2024" apart: it is searched with
    # the words that place a date ("before", "after", ...) set aside, and they are read here afterwards
    searched = _PLACING.sub(lambda m: " " * len(m[0]), question)
    for expression, _ in search_dates(searched, languages=["en"], settings=_settings(today)) or []:
        data = _parser(today).get_date_data(expression)
        if data.date_obj is None:
            continue
        day, granularity = data.date_obj.date(), data.period or "day"
        core = _LEADING.sub("", expression.strip())
        if not _names_a_time(expression, core, granularity, day, today):
            continue
        start, end = _span(day, granularity)
        before = question[: max(0, searched.find(core))]
        if _UNTIL.search(before):
            period = Period(None, end, f"as of {format_date(end.isoformat())}")
        elif _BEFORE.search(before):
            period = Period(None, start - timedelta(days=1), f"before {format_date(start.isoformat())}")
        elif _AFTER.search(before):
            period = Period(end + timedelta(days=1), None, f"after {format_date(end.isoformat())}")
        elif _SINCE.search(before):
            period = Period(start, None, f"since {format_date(start.isoformat())}")
        else:
            period = Period(start, end, _words(start, end, granularity))
        return period, core
    return None


# "after" and "since" an event are left out: "without power after Storm Edda" names a cause, not a time
_EVENT = re.compile(r"\b(before|until|by the time(?: of)?)\s+(.{3,80}?)\s*[?.!]*\s*$", re.I)


def named_event(question: str) -> tuple[str, str] | None:
    """("before", "the search ended") for a question that names a time by an event rather than a date
    ("... before the search ended?", "... until the offensive?"); None otherwise. Where that event falls is
    for the reports to say (`event_period`)."""
    match = _EVENT.search(question)
    return ("before", match[2]) if match else None


def event_period(relation: str, event: str, reports: list[tuple[str, frozenset[str]]]) -> Period | None:
    """The period before (or after) the first report that tells of `event`: `reports` are (ISO date, content
    words) of the story's dated reports; a report tells of it when it holds every content word of it."""
    from articleqa.qa.evidence import content_words

    wanted = content_words(event)
    told = sorted(day for iso, words in reports if wanted and wanted <= words and (day := parse_iso(iso)))
    if not told:
        return None
    first = told[0]
    if relation == "since":
        return Period(first, None, f"since {event} ({format_date(first.isoformat())})")
    return Period(None, first - timedelta(days=1), f"before {event} ({format_date(first.isoformat())})")


def date_range(since: str | None, until: str | None, today: date) -> Period | None:
    """The range a user set ("2025-03-01", "1 March", "last week"; either side may be empty): from the
    first day of `since` to the last day of `until`. InvalidQuestion for words that are not a date."""
    start = _bound(since, today, first=True)
    end = _bound(until, today, first=False)
    if start is None and end is None:
        return None
    if start and end and start > end:
        raise InvalidQuestion(
            f"The date range ends ({format_date(end.isoformat())}) before it starts ({format_date(start.isoformat())})."
        )
    if start and end:
        label = f"{format_date(start.isoformat())} – {format_date(end.isoformat())}"
    else:
        label = f"from {format_date(start.isoformat())}" if start else f"up to {format_date(end.isoformat())}"
    return Period(start, end, label)


def _bound(text: str | None, today: date, first: bool) -> date | None:
    text = " ".join(str(text or "").split())
    if not text:
        return None
    day = parse_iso(text) if re.fullmatch(r"\d{4}-\d\d-\d\d", text) else None
    if day is not None:
        return day
    data = _parser(today).get_date_data(text[:100])
    if data.date_obj is None:
        raise InvalidQuestion(f"{text[:40]!r} is not a date: write one such as 2025-03-01, 1 March 2025 or last week.")
    start, end = _span(data.date_obj.date(), data.period or "day")
    return start if first else end
