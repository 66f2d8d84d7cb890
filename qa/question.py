"""Question input: what a typed (or posted) question must be before it is read; messages meant for people."""

from __future__ import annotations

import unicodedata


class InvalidQuestion(ValueError):
    """A question that cannot be answered as typed; the message is meant for the user."""


def clean_question(question: object, max_chars: int) -> str:
    """The question as text, or InvalidQuestion with a message a user understands."""
    if question is None:
        raise InvalidQuestion("Please type a question.")
    if isinstance(question, bytes):
        try:
            question = question.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidQuestion("The question is not readable text.") from None
    text = unicodedata.normalize("NFC", str(question))
    if len(text) > max_chars:
        raise InvalidQuestion(f"The question is {len(text):,} characters long; please keep it under {max_chars:,}.")
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    if text and sum(not ch.isprintable() and not ch.isspace() for ch in text) > len(text) // 4:
        raise InvalidQuestion("The question is not readable text.")
    printable = " ".join(printable.split())
    if not any(ch.isalnum() for ch in printable):
        raise InvalidQuestion("Please type a question.")
    return printable
