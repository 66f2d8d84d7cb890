"""Feed state in the store's database (the `feeds` table): when each feed was last read, how many articles
it has added in all and how many of its entries failed at the last read. In the database, like the
articles, so every process on a data dir shares it (`follow` in one, `index --feed` in another, a server
reading it) and a write to it is one transaction. Before, no process kept any: each read of a feed looked
only at the store for what was indexed already."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from articleqa.index.database import Database
from articleqa.index.documents import http_url


@dataclass(frozen=True)
class FeedState:
    url: str  # the feed's http(s) address, or its file's absolute path
    checked: str  # the last read, ISO 8601 UTC
    added: int  # articles added from it, all reads together
    errors: int  # entries that failed (or 1: the feed itself) at the last read


def feed_key(url_or_path: str) -> str:
    """How a feed is named in the table: its address, or its file's absolute path (one row however named)."""
    return http_url(url_or_path) or str(Path(url_or_path).expanduser().resolve())


def record_feed(
    database: Database, url_or_path: str, added: int, errors: int, when: datetime | None = None
) -> FeedState:
    """Record one read of a feed; returns its state after it."""
    key = feed_key(url_or_path)
    checked = (when or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="seconds")
    with database.write() as db:
        db.execute(
            "INSERT INTO feeds (url, checked, added, errors) VALUES (?, ?, ?, ?) ON CONFLICT (url) DO UPDATE "
            "SET checked = excluded.checked, added = feeds.added + excluded.added, errors = excluded.errors",
            (key, checked, added, errors),
        )
        row = db.execute("SELECT url, checked, added, errors FROM feeds WHERE url = ?", (key,)).fetchone()
    return FeedState(*row)


def feed_states(database: Database) -> list[FeedState]:
    """Every feed read on this data dir, by address."""
    return [
        FeedState(*row)
        for row in database.connect().execute("SELECT url, checked, added, errors FROM feeds ORDER BY url")
    ]
