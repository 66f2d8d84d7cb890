"""The page's own CSS and JavaScript (ui/static/), read once from the package."""

from __future__ import annotations

from importlib.resources import files


def _asset(name: str) -> str:
    """A static file's text; a script's leading `//` comment lines are dropped, since Gradio takes a script
    as one function expression."""
    text = (files("articleqa.ui") / "static" / name).read_text(encoding="utf-8")
    if name.endswith(".js"):
        lines = text.splitlines()
        while lines and lines[0].lstrip().startswith("//"):
            lines.pop(0)
        text = "\n".join(lines)
    return text


CSS = _asset("style.css")
PLAIN_COPIES = _asset("plain_copies.js")  # copies of chat messages as the text people read
SCROLL_TO_EVIDENCE = _asset("scroll_to_evidence.js")  # the answer's sentence to the middle of the source panel
