"""articleqa: question answering over news articles (see README.md).

from articleqa import ArticleQA
app = ArticleQA.from_settings()
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["ArticleQA", "Answer", "Settings"]


def __getattr__(name: str):
    # imported on first use: `articleqa ask` and the settings must not pay for the models' imports
    if name in ("ArticleQA", "Answer"):
        from articleqa.qa import pipeline

        return getattr(pipeline, name)
    if name == "Settings":
        from articleqa.config import Settings

        return Settings
    raise AttributeError(f"module 'articleqa' has no attribute {name!r}")
