"""Developing news for the tests: three dated reports of one earthquake (saved pages whose date is their
article:published_time), as issue 41 describes them, and an app over them beside the undated seed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "developing"
# indexed in mixed order: the order of indexing must not decide
REPORTS = [FIXTURES / "karvan-tuesday.html", FIXTURES / "karvan-thursday.html", FIXTURES / "karvan-monday.html"]
TITLES = {
    "2025-03-03": "Earthquake strikes Karvan province",
    "2025-03-04": "Karvan earthquake death toll rises",
    "2025-03-06": "Karvan mourns as search ends",
}
ASKED_ON = date(2025, 3, 7)  # the Friday after: "on Monday" is 3 March 2025


def developing_app(shipped_app, directory: Path, seed: bool = True):
    """The shipped reader and embedder over a fresh index of the three reports (and the undated seed)."""
    from dataclasses import replace

    from articleqa.config import SEEDS_DIR
    from articleqa.qa.pipeline import ArticleQA

    settings = replace(shipped_app.settings, data_dir=directory)
    app = ArticleQA.from_settings(
        settings, embedder=shipped_app.embedder, reader=shipped_app.reader, policy=shipped_app.policy
    )
    app.add_files(REPORTS + ([SEEDS_DIR] if seed else []))
    return app
