"""Feedback on answers: thumbs up/down stored in an append-only JSONL file in the data dir, and a summary
of how often answers were right at each confidence, the data for recalibrating the reader.

Each vote is one line, written with a single write() on an O_APPEND file and fsynced before the call
returns, so a vote that was acknowledged survives a crash. A crash mid-write can leave a torn last line:
readers skip lines that are not whole JSON objects, and the next write starts on a fresh line so the torn
bytes never run into a good record.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "feedback.jsonl"

# Confidence in words. The reader's confidence is calibrated (0.8 means right about 4 times in 5, see
# qa/model/MODEL.md), so the words say how often such answers are right.
BANDS: tuple[tuple[float, str], ...] = ((0.8, "very likely"), (0.6, "likely"), (0.4, "unsure"), (0.0, "doubtful"))
ABSTAINED = "no answer given"  # the band of abstentions: a thumbs up means "right not to answer"
VOTES = {"up": True, "down": False}


def confidence_words(score: float) -> str:
    """ "likely", "unsure", ... for a calibrated confidence in [0, 1]."""
    return next(words for low, words in BANDS if score >= low)


def confidence_phrase(score: float) -> str:
    """ "doubtful, 27%": how an other possible answer's confidence is written beside it."""
    return f"{confidence_words(score)}, {score:.0%}"


def band_of(record: dict) -> str:
    return ABSTAINED if record.get("answer") is None else confidence_words(float(record.get("score") or 0.0))


class FeedbackStore:
    """Votes on answers, one JSON object per line; the latest vote on an answer (by `answer_id`) counts."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()  # one writer at a time within the process; O_APPEND orders processes

    @classmethod
    def in_data_dir(cls, data_dir: str | Path) -> FeedbackStore:
        return cls(Path(data_dir) / FILE_NAME)

    def record(
        self,
        answer_id: str,
        vote: str | None,
        *,
        question: str,
        answer: str | None,
        score: float,
        article: str | None,
        article_id: int | None = None,
        sentence: str | None = None,
    ) -> dict:
        """Store one vote ("up", "down", or None to withdraw an earlier one) and return the record."""
        if vote is not None and vote not in VOTES:
            raise ValueError(f"vote must be 'up', 'down' or None, not {vote!r}")
        record = {
            "time": round(time.time(), 3),
            "answer_id": answer_id,
            "vote": vote,
            "question": question,
            "answer": answer,
            "score": score,
            "article": article,
            "article_id": article_id,
            "sentence": sentence,
        }
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if not _ends_with_newline(descriptor):
                    line = b"\n" + line  # a torn line from a crash stays a line of its own
                written = os.write(descriptor, line)
                if written != len(line):
                    raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            if created:  # the new file's directory entry must survive a crash too
                directory = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(directory)
                finally:
                    os.close(directory)
        return record

    def events(self) -> list[dict]:
        """Every whole record, oldest first; torn or foreign lines are skipped."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        records = []
        for line in raw.splitlines():
            try:
                record = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
            if isinstance(record, dict) and "answer_id" in record and record.get("vote", "") in (*VOTES, None):
                records.append(record)
        return records

    def votes(self) -> list[dict]:
        """The latest vote on each answer, withdrawn votes left out."""
        return latest_votes(self.events())


def _ends_with_newline(descriptor: int) -> bool:
    size = os.fstat(descriptor).st_size
    return size == 0 or os.pread(descriptor, 1, size - 1) == b"\n"


def latest_votes(events: Iterable[dict]) -> list[dict]:
    latest: dict[str, dict] = {}
    for record in events:
        latest.pop(record["answer_id"], None)  # re-insert: the order is that of the latest votes
        latest[record["answer_id"]] = record
    return [r for r in latest.values() if r.get("vote") in VOTES]


@dataclass(frozen=True)
class BandSummary:
    band: str
    up: int
    down: int
    mean_score: float  # the mean confidence shown: compare with share_right

    @property
    def votes(self) -> int:
        return self.up + self.down

    @property
    def share_right(self) -> float:
        return self.up / self.votes if self.votes else 0.0


@dataclass(frozen=True)
class FeedbackSummary:
    up: int
    down: int
    bands: list[BandSummary]  # answers by confidence band, surest first, then abstentions; empty bands left out
    lowest_confidence_right: float | None  # see summarize()


def summarize(votes: list[dict], precision: float = 0.7) -> FeedbackSummary:
    """Counts up and down, the share voted right per confidence band, and the lowest confidence at which
    the answers voted on were right at least `precision` of the time (a candidate for the reader's
    `min_confidence`; None when no threshold reaches it)."""
    bands = []
    for name in [words for _, words in BANDS] + [ABSTAINED]:
        members = [v for v in votes if band_of(v) == name]
        if members:
            up = sum(VOTES[v["vote"]] for v in members)
            mean = sum(float(v.get("score") or 0.0) for v in members) / len(members)
            bands.append(BandSummary(name, up, len(members) - up, mean))
    answered = sorted((float(v.get("score") or 0.0), VOTES[v["vote"]]) for v in votes if v.get("answer") is not None)
    lowest, right_above = None, 0
    for i in reversed(range(len(answered))):  # threshold at each score: the answers at or above it shown
        right_above += answered[i][1]
        if right_above >= precision * (len(answered) - i):
            lowest = answered[i][0]
    up = sum(VOTES[v["vote"]] for v in votes)
    return FeedbackSummary(up, len(votes) - up, bands, lowest)
