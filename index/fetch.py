"""Pages and feeds fetched by URL, within limits: http(s) only, timeouts, a size cap, a content-type check,
bounded redirects, and, for a server exposed beyond loopback, no private, loopback or link-local targets.

The address check resolves the host once, checks every address it has, then connects to that checked
address (the Host header and TLS name stay the host's): a DNS answer that changes between the check and the
connection (DNS rebinding) cannot slip a private address in. Each redirect target is checked the same way.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

from articleqa.index.documents import Article, ArticleMeta, InvalidArticle, parse_article

PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "text/markdown", "text/x-markdown")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml")
USER_AGENT = "articleqa/0.1 (question answering over news articles)"
_KINDS = {"text/plain": "text", "text/markdown": "markdown", "text/x-markdown": "markdown"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchError(InvalidArticle):
    """A URL that could not be fetched or is not allowed; the message is meant for the user."""


@dataclass(frozen=True)
class FetchLimits:
    allow_private: bool = False  # private, loopback and link-local targets (local use only)
    max_bytes: int = 5_000_000
    timeout_s: float = 10.0  # connecting, and each wait for data
    total_s: float = 30.0  # the whole fetch, redirects included: a server trickling bytes is cut off
    max_redirects: int = 5


@dataclass(frozen=True)
class Fetched:
    url: str  # where the content was found, after redirects
    media_type: str  # "text/html", ... (lower case, without parameters)
    body: bytes
    charset: str | None  # as the server named it

    @property
    def kind(self) -> str:
        """The article format parse_article expects: "html", "markdown" or "text"."""
        return _KINDS.get(self.media_type, "html")

    @property
    def text(self) -> str:
        if self.charset:
            try:
                return self.body.decode(self.charset, errors="replace")
            except LookupError:
                pass  # an unknown charset name: guess, as for a page that names none
        from trafilatura.utils import decode_file

        return decode_file(self.body)  # the page's own <meta charset>, else a guess


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is on the public internet (not private, loopback, link-local, reserved, multicast)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast


def _resolve(url: httpx.URL) -> list[str]:
    host = url.raw_host.decode("ascii")
    port = url.port or _DEFAULT_PORTS[url.scheme]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchError(f"Could not reach {url.host}: {error.strerror or error}; nothing was added.") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def _target(url: httpx.URL, limits: FetchLimits) -> tuple[httpx.URL, dict, dict]:
    """(the URL to request, headers, request extensions) for `url`, after the scheme and address checks."""
    if url.scheme not in ("http", "https") or not url.host:
        raise FetchError(f"Only http:// and https:// addresses can be fetched, not {str(url)[:200]!r}.")
    if limits.allow_private:
        return url, {}, {}
    addresses = _resolve(url)
    private = [a for a in addresses if not is_public(ipaddress.ip_address(a.split("%")[0]))]
    if private:
        raise FetchError(
            f"Refused: {url.host} is a private, loopback or link-local address ({private[0]}). "
            "This server fetches public addresses only; run it with --allow-private-urls "
            "(ARTICLEQA_ALLOW_PRIVATE_URLS=1) for local use."
        )
    host_header = url.netloc.decode("ascii")
    return url.copy_with(host=addresses[0]), {"Host": host_header}, {"sni_hostname": url.raw_host.decode("ascii")}


def fetch(url: str, limits: FetchLimits, accept: tuple[str, ...] = PAGE_TYPES) -> Fetched:
    """The content at `url`, or FetchError with a message that says what went wrong."""
    import httpx  # here, not at the top: answering questions never fetches (0.3 s of start-up)

    shown = " ".join(str(url).split())[:200]
    try:
        current = httpx.URL(str(url).strip())
    except (httpx.InvalidURL, TypeError):
        raise FetchError(f"{shown!r} is not a web address.") from None
    deadline = time.monotonic() + limits.total_s
    # Proxies from the environment only for local use: a proxy would reach the addresses refused here.
    with httpx.Client(
        timeout=limits.timeout_s,
        follow_redirects=False,
        trust_env=limits.allow_private,
        headers={"User-Agent": USER_AGENT, "Accept": ", ".join(accept) + ", */*;q=0.1"},
    ) as client:
        for _ in range(limits.max_redirects + 1):
            request_url, headers, extensions = _target(current, limits)
            try:
                with client.stream("GET", request_url, headers=headers, extensions=extensions) as response:
                    if response.is_redirect and "location" in response.headers:
                        current = current.join(response.headers["location"])
                        continue
                    return _read(current, response, limits, accept, deadline)
            except httpx.TimeoutException:
                raise FetchError(f"{current.host} took too long to answer; nothing was added.") from None
            except httpx.ConnectError as error:
                raise FetchError(f"Could not reach {current.host}: {error}; nothing was added.") from None
            except (httpx.HTTPError, httpx.InvalidURL) as error:
                raise FetchError(f"Could not fetch {shown}: {error or type(error).__name__}.") from None
        raise FetchError(f"{shown} redirects more than {limits.max_redirects} times; nothing was added.")


def _read(
    url: httpx.URL, response: httpx.Response, limits: FetchLimits, accept: tuple[str, ...], deadline: float
) -> Fetched:
    if not response.is_success:
        raise FetchError(
            f"{str(url)[:200]} answered {response.status_code} {response.reason_phrase}; nothing was added."
        )
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in accept:
        wanted = "a feed (RSS or Atom)" if accept[0] in FEED_TYPES else "a web page (HTML, plain text or Markdown)"
        raise FetchError(f"{str(url)[:200]} is {media_type or 'of no stated type'}, not {wanted}; nothing was added.")
    too_big = FetchError(
        f"{str(url)[:200]} is larger than the {limits.max_bytes / 1e6:.1f} MB limit; nothing was added."
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise too_big
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limits.max_bytes:
            raise too_big  # stop reading: the rest is never downloaded
        if time.monotonic() > deadline:
            raise FetchError(f"{url.host} took too long to send the page; nothing was added.")
    return Fetched(str(url), media_type, bytes(body), response.charset_encoding)


def fetch_article(url: str, limits: FetchLimits, meta: ArticleMeta | None = None) -> Article:
    """The article at `url` (`meta`, e.g. a feed entry's, fills what the page doesn't say)."""
    page = fetch(url, limits)
    article = parse_article(page.text, max_bytes=limits.max_bytes, kind=page.kind, url=page.url, meta=meta)
    if urlsplit(article.meta.url).hostname != urlsplit(page.url).hostname:
        # A canonical link to another site is not trusted: it would let this page replace that site's article.
        article = replace(article, meta=replace(article.meta, url=page.url))
    return article
