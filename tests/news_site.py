"""A small news site for the tests, served by http.server on 127.0.0.1 (a free port) in a thread: two article
pages, a page that changes, a redirect, a redirect loop, a 404, a 50 MB response (generated as it is sent),
a photo, a front page without an article, a page that trickles, and an RSS and an Atom feed."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
LIFEBOAT = FIXTURES / "coastal-herald-lifeboat.html"
BRIDGE = FIXTURES / "valley-gazette-bridge.html"
LIFEBOAT_CANONICAL = "https://www.coastalherald.example/news/2024/dec/06/porthcarrow-lifeboat-station-opens"
BRIDGE_CANONICAL = "https://tamarvalleygazette.example/local/old-mill-bridge-to-close-for-repairs-4471"
HUGE_BYTES = 50 * 2**20
# Text of the boilerplate around the stories: none of it may be stored.
BOILERPLATE = [
    "cookies",
    "Accept all",
    "privacy",
    "Crosswords",
    "Subscribe",
    "Morning Tide",
    "newsletter",
    "inbox",
    "Most read",
    "Celebrity chef",
    "Seal pup",
    "Truro City",
    "Comments",
    "grandad",
    "potholes",
    "heroes",
    "Registered in England",
    "All rights reserved",
    "Contact",
    "Share on",
    "Read more",
    "Falmouth crew",
    "Advertisement",
    "Trending",
    "Llama",
    "ValleyDad",
    "school run",
    "Gazette Daily Digest",
    "Log in",
    "Family notices",
    "Press Standards",
    "Gunnislake bypass",
    "Photograph:",
]


def changing_page(version: int) -> bytes:
    """A page whose story is updated: the same URL with other text."""
    update = (
        "The council said the harbour car park will reopen on Friday."
        if version == 1
        else "The council now says the harbour car park will stay closed until March."
    )
    return (
        f"<html><head><title>Harbour car park update</title>"
        f"<link rel='canonical' href='https://www.coastalherald.example/news/car-park'></head><body>"
        f"<article><h1>Harbour car park update</h1><p>Work on the harbour car park in Porthcarrow "
        f"continued this week. {update}</p></article></body></html>"
    ).encode()


class NewsSite:
    def __init__(self, base: str) -> None:
        self.base = base
        self.changing_version = 1
        self.hits: Counter[str] = Counter()  # path -> requests

    def url(self, path: str) -> str:
        return self.base + path


def _handler(site: NewsSite):
    feeds = {
        name: (FIXTURES / name).read_text(encoding="utf-8").replace("{base}", site.base).encode()
        for name in ("coastal-herald.rss", "tamar-valley.atom")
    }
    # Served from this site, the pages name it in their canonical links, as real pages name their own site:
    # the lifeboat page under the address it is served at, the bridge page under another path.
    lifeboat = LIFEBOAT.read_bytes().replace(LIFEBOAT_CANONICAL.encode(), site.url("/news/lifeboat").encode())
    bridge = BRIDGE.read_bytes().replace(b"https://tamarvalleygazette.example", site.base.encode())

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, content_type: str, body: bytes, length: int | None = None, **headers) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            site.hits[self.path] += 1
            try:
                self._route()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading: expected for the oversized responses

        def _route(self) -> None:
            path = self.path
            html = "text/html; charset=utf-8"
            if path == "/news/lifeboat":
                self._send(200, html, lifeboat)
            elif path == "/news/bridge":
                self._send(200, html, bridge)
            elif path == "/news/changing":
                self._send(200, html, changing_page(site.changing_version))
            elif path == "/news/latin1":
                body = (
                    "<html><head><title>Caf\u00e9 reopens</title></head><body><article><p>The caf\u00e9 on "
                    "the quay reopened on Saturday after a refit that cost \u00a340,000.</p></article>"
                    "</body></html>"
                ).encode("iso-8859-1")
                self._send(200, "text/html; charset=iso-8859-1", body)
            elif path == "/news/notes.txt":
                self._send(
                    200,
                    "text/plain; charset=utf-8",
                    b"Tide times\n\nHigh tide in Porthcarrow is at 6.40 on Saturday morning.",
                )
            elif path == "/old/lifeboat":
                self._send(301, html, b"", Location="/news/lifeboat")
            elif path == "/loop":
                self._send(302, html, b"", Location="/loop")
            elif path == "/to-ftp":
                self._send(302, html, b"", Location="ftp://127.0.0.1/story.html")
            elif path == "/":
                self._send(
                    200,
                    html,
                    b"<html><head><title>The Coastal Herald</title></head><body><nav>"
                    b"<a href='/news'>News</a> <a href='/sport'>Sport</a></nav></body></html>",
                )
            elif path == "/photo.jpg":
                self._send(200, "image/jpeg", b"\xff\xd8\xff\xe0" + bytes(2000))
            elif path == "/feed.rss":
                self._send(200, "application/rss+xml; charset=utf-8", feeds["coastal-herald.rss"])
            elif path == "/feed.atom":
                self._send(200, "application/atom+xml", feeds["tamar-valley.atom"])
            elif path == "/huge-declared":  # says its size up front
                self._send(200, html, b"<html><body><p>" + b"news " * 1000, length=HUGE_BYTES)
            elif path == "/huge":  # says nothing: only reading tells
                self.send_response(200)
                self.send_header("Content-Type", html)
                self.end_headers()
                chunk = b"<p>" + b"more news " * 6550 + b"</p>\n"  # ~64 KB
                for _ in range(HUGE_BYTES // len(chunk) + 1):
                    self.wfile.write(chunk)
            elif path == "/slow":  # a byte at a time, for longer than the fetch may take
                self.send_response(200)
                self.send_header("Content-Type", html)
                self.end_headers()
                for _ in range(50):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
            else:
                self._send(404, html, b"<html><body><h1>Page not found</h1></body></html>")

    return Handler


@contextmanager
def news_site() -> Iterator[NewsSite]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)
    site = NewsSite(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(site)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def news_app(shipped_app, directory: Path):
    """The shipped reader and embedder over a fresh index of the two saved news pages (the session's
    shipped_app keeps the seed corpus alone: other tests' answers don't move)."""
    from dataclasses import replace

    from articleqa.qa.pipeline import ArticleQA

    settings = replace(shipped_app.settings, data_dir=directory)
    app = ArticleQA.from_settings(
        settings, embedder=shipped_app.embedder, reader=shipped_app.reader, policy=shipped_app.policy
    )
    app.add_files([LIFEBOAT, BRIDGE])
    return app
