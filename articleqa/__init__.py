"""articleqa: question answering over news articles (see README.md)."""

__version__ = "0.1.0"
