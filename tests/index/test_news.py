"""News as it comes: saved pages, URLs and feeds in (over a real HTTP server on 127.0.0.1); date, source and
link kept, returned and placed next to relative answers."""

import ipaddress
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from articleqa.index.documents import InvalidArticle, parse_article
from articleqa.index.feed_state import feed_states
from articleqa.index.fetch import FetchError, FetchLimits, fetch, is_public
from articleqa.index.store import SentenceStore
from articleqa.qa.dates import byline, date_note, format_date, is_relative_time
from articleqa.qa.pipeline import Answer, ArticleQA
from articleqa.ui.render import answer_markdown, source_line
from tests.news_site import BOILERPLATE, BRIDGE, BRIDGE_CANONICAL, LIFEBOAT, LIFEBOAT_CANONICAL, news_site

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="module")
def site():
    with news_site() as site:
        yield site


@pytest.fixture()
def local(tiny_app):
    """The tiny app allowed to fetch from 127.0.0.1 (the test site), as the CLI and a loopback server are."""
    tiny_app.settings = replace(tiny_app.settings, allow_private_urls=True)
    return tiny_app


def stored_text(app) -> str:
    return "\n".join(a.sentence(p) for a in app.store.articles for p in range(len(a.sentences)))


def state(app) -> tuple:
    """What is on disk and in memory: to check that a failure added nothing, not even half an article."""
    return (
        app.store.database.last_change(),
        len(app.store),
        app.store.vectors.count,
        [a.title for a in app.store.articles],
    )


# ---- extraction ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("page", "title", "meta", "story"),
    [
        (
            LIFEBOAT,
            "Porthcarrow opens its first all-weather lifeboat station",
            ("2024-12-06", "The Coastal Herald", LIFEBOAT_CANONICAL, "Megan Trelawny"),
            [
                "ending a wait of almost twenty years",
                "named Morwenna Rose",
                "began training on the new boat last week",
                "Elizabeth Hocking",
                "twenty-four volunteers",
                "Tamsin Vingoe",
                "Ruth Angove",
                "Christmas boat parade",
            ],
        ),
        (
            BRIDGE,
            "Old Mill Bridge to close for eight months of repairs",
            ("2025-03-14", "Tamar Valley Gazette", BRIDGE_CANONICAL, "Owen Pascoe"),
            [
                "will close to traffic on 7 April",
                "granite arches",
                "£1.8 million",
                "diverted through Tavistock",
                "footbridge",
                "built in 1832",
                "shops in Calstock remain open",
            ],
        ),
    ],
)
def test_a_saved_news_page_keeps_the_story_and_its_metadata_and_drops_the_page_around_it(page, title, meta, story):
    article = parse_article(page.read_bytes(), page.name)
    assert article.title == title
    assert (article.meta.date, article.meta.source, article.meta.url, article.meta.author) == meta
    for words in story:
        assert words in article.text
    for words in BOILERPLATE:
        assert words.lower() not in article.text.lower(), words
    assert not article.text.startswith(title)  # the headline is the title, not a sentence again


def test_markdown_is_parsed_not_pattern_matched():
    article = parse_article(
        "# Big *news*\n\nThe **mayor** met [reporters](http://x.test) on *Monday*.\n\n"
        "- The fund is worth `£2m`\n- ![A map of the route](map.png)\n\n"
        "<div class='embed'>Embedded <b>quote</b><script>steal()</script></div>\n\n"
        "A line with an_underscored_name and 2 * 3 = 6 stays as written.",
        "a.md",
    )
    assert article.title == "Big news"
    assert article.text.split("\n") == [
        "The mayor met reporters on Monday.",
        "The fund is worth £2m",
        "A map of the route",
        "Embedded quote",
        "A line with an_underscored_name and 2 * 3 = 6 stays as written.",
    ]


@pytest.mark.parametrize(
    "page",
    [
        "<html><head><title>The Coastal Herald</title></head><body><nav><a href='/'>Home</a></nav></body></html>",
        "<html><head><title>Loading</title><script>render()</script></head><body><div id='app'></div></body></html>",
    ],
)
def test_a_page_without_article_text_gets_a_clear_message(page):
    with pytest.raises(InvalidArticle, match="No article text was found on this page"):
        parse_article(page, "front.html")


# ---- dates ---------------------------------------------------------------------------------------
def test_relative_answers_are_told_apart_and_placed():
    for relative in ("last week", "on Thursday", "a week ago", "yesterday", "two days ago", "earlier this month"):
        assert is_relative_time(relative), relative
    for absolute in ("Thursday 5 December 2024", "2019", "Elizabeth Hocking", "£4.2 million", None, ""):
        assert not is_relative_time(absolute), absolute
    assert format_date("2024-12-06") == "6 Dec 2024" and format_date("2024-12-06", weekday=True) == "Fri 6 Dec 2024"
    assert byline("CNN", "2024-12-06") == "CNN · 6 Dec 2024" and byline("", "") == ""
    assert date_note("last week", "2024-12-06") == "Reported on Fri 6 Dec 2024."
    assert date_note("last week", "") == date_note("2019", "2024-12-06") == ""


def test_the_source_line_is_escaped_and_links_only_to_web_addresses():
    answer = Answer(
        "q",
        "last week",
        0.9,
        "T",
        "It began last week.",
        9,
        18,
        "p",
        "c",
        1,
        article_date="2024-12-06",
        article_source="<b>Herald</b> [x](javascript:alert(1))",
        article_url='https://news.example/a?b=1&c="><script>alert(1)</script>',
    )
    line = source_line(answer)
    assert line.startswith('<a href="https://news.example/a?b=1&amp;c=%22%3E%3Cscript%3E')
    assert "<b>" not in line and "<script>" not in line and "&lt;b&gt;Herald" in line and "6 Dec 2024" in line
    for url in ("javascript:alert(1)", "data:text/html,<b>x</b>", "file:///etc/passwd", "//evil.example/x"):
        assert "<a" not in source_line(replace(answer, article_url=url))
    assert source_line(replace(answer, article_source="", article_date=None, article_url="")) == ""
    markdown = answer_markdown(replace(answer, message="Reported on Fri 6 Dec 2024."))
    assert "Reported on Fri 6 Dec 2024." in markdown and line in markdown


# ---- fetching ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "2002:7f00:1::",
        "224.0.0.1",
    ],
)
def test_private_loopback_and_link_local_addresses_are_not_public(address):
    assert not is_public(ipaddress.ip_address(address))


def test_public_addresses_are_public():
    assert is_public(ipaddress.ip_address("93.184.215.14")) and is_public(ipaddress.ip_address("2606:4700::1"))


def test_private_targets_are_refused_when_not_allowed(site):
    limits = FetchLimits(allow_private=False)
    port = site.base.rsplit(":", 1)[1]
    for url in (
        site.url("/news/lifeboat"),
        f"http://localhost:{port}/news/lifeboat",
        f"http://[::1]:{port}/news/lifeboat",
        f"http://2130706433:{port}/news/lifeboat",
        "http://169.254.169.254/latest/meta-data/",
    ):
        with pytest.raises(FetchError, match="Refused: .* private, loopback or link-local .*--allow-private-urls"):
            fetch(url, limits)
    assert site.hits["/news/lifeboat"] == 0  # refused before connecting


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/story.html", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("javascript:alert(1)", "Only http:// and https://"),
        ("www.coastalherald.example/news", "Only http:// and https://"),
        ("http://", "Only http:// and https://"),
        ("http://no-such-host.invalid/", "Could not reach no-such-host.invalid: .*; nothing was added"),
    ],
)
@pytest.mark.parametrize("allow_private", [True, False])
def test_addresses_that_cannot_be_fetched_get_clear_messages(url, message, allow_private):
    with pytest.raises(FetchError, match=message):
        fetch(url, FetchLimits(allow_private=allow_private))


def test_fetch_limits_and_failures(site):
    limits = FetchLimits(allow_private=True, max_bytes=5_000_000, max_redirects=3)
    page = fetch(site.url("/old/lifeboat"), limits)  # a redirect, followed
    assert page.url == site.url("/news/lifeboat") and page.kind == "html" and b"Morwenna Rose" in page.body
    assert "Caf\u00e9 reopens" in fetch(site.url("/news/latin1"), limits).text  # charset from the header
    cases = {
        "/missing": "answered 404 Not Found; nothing was added",
        "/loop": "redirects more than 3 times",
        "/to-ftp": "Only http:// and https://",  # each redirect target is checked again
        "/photo.jpg": "is image/jpeg, not a web page",
        "/huge-declared": "larger than the 5.0 MB limit",
        "/huge": "larger than the 5.0 MB limit",
    }
    for path, message in cases.items():
        with pytest.raises(FetchError, match=message):
            fetch(site.url(path), limits)
    with pytest.raises(FetchError, match="took too long"):
        fetch(site.url("/slow"), replace(limits, total_s=1.0))
    with pytest.raises(FetchError, match="not a feed"):
        fetch(site.url("/news/lifeboat"), limits, accept=("application/rss+xml",))


# ---- the app: URLs -------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_page_by_url_is_stored_with_its_metadata_and_without_its_boilerplate(local, site):
    report = local.add_url(site.url("/news/lifeboat"))
    assert [a.title for a in report.added] == ["Porthcarrow opens its first all-weather lifeboat station"]
    text = stored_text(local)
    assert "Morwenna Rose" in text
    for words in BOILERPLATE:
        assert words.lower() not in text.lower(), words
    [listed] = local.articles()
    assert (listed["date"], listed["source"], listed["url"], listed["author"]) == (
        "2024-12-06",
        "The Coastal Herald",
        site.url("/news/lifeboat"),
        "Megan Trelawny",
    )

    before = state(local)
    # The same page again, through a redirect, or the bridge page fetched from another path than its
    # canonical one: one article each.
    assert local.add_url(site.url("/old/lifeboat")).duplicates == [listed["title"]]
    assert local.add_url(site.url("/news/lifeboat")).duplicates == [listed["title"]]
    assert state(local) == before
    assert local.store.find_url(site.base.upper() + "/news/lifeboat/#top").id == listed["id"]  # another spelling
    bridge = local.add_url(site.url("/news/bridge")).added[0]
    assert bridge.meta.url == site.url("/local/old-mill-bridge-to-close-for-repairs-4471")  # the canonical link
    assert local.add_url(site.url("/news/bridge")).duplicates == [bridge.title]

    reloaded = SentenceStore(local.settings.index_dir, local.embedder.dimension, local.embedder.model_id).open()
    assert [a.meta for a in reloaded.articles] == [a.meta for a in local.store.articles]  # persisted
    assert local.remove(site.url("/news/lifeboat")) == [listed["title"]]
    assert [a["title"] for a in local.articles()] == [bridge.title]


def test_a_changed_page_replaces_its_older_version(local, site):
    site.changing_version = 1
    first = local.add_url(site.url("/news/changing")).added[0]
    site.changing_version = 2
    report = local.add_url(site.url("/news/changing"))
    assert report.replaced == ["Harbour car park update"] and len(report.added) == 1
    [article] = local.store.articles
    assert article.id != first.id and "stay closed until March" in article.text
    assert "reopen on Friday" not in stored_text(local)
    assert local.store.vectors.count == len(local.store)  # the old version's vectors are gone too
    hits = local.store.search_bm25("harbour car park reopen Friday", 5)
    assert {h.article_id for h in hits} == {article.id}


def test_other_formats_by_url(local, site):
    notes = local.add_url(site.url("/news/notes.txt")).added[0]
    assert notes.title == "Tide times" and notes.meta.url == site.url("/news/notes.txt")
    assert notes.meta.source == "127.0.0.1"  # no site name: the host
    cafe = local.add_url(site.url("/news/latin1")).added[0]
    assert cafe.title == "Café reopens" and "£40,000" in cafe.text


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/missing", "404"),
        ("/huge", "larger than"),
        ("/huge-declared", "larger than"),
        ("/photo.jpg", "image/jpeg"),
        ("/", "No article text was found"),
        ("/loop", "redirects more than"),
        ("/to-ftp", "Only http"),
    ],
)
def test_a_url_that_fails_adds_nothing_and_says_why(local, site, path, message):
    local.add_url(site.url("/news/bridge"))
    before = state(local)
    report = local.add_url(site.url(path))
    assert not report.added and len(report.errors) == 1 and message in report.errors[0]
    assert "Traceback" not in report.errors[0]
    assert state(local) == before


def test_the_server_default_refuses_private_targets_when_exposed(tiny_app, site):
    exposed = replace(tiny_app.settings, host="0.0.0.0")
    assert not exposed.private_urls_allowed and tiny_app.settings.private_urls_allowed  # 127.0.0.1: allowed
    assert replace(exposed, allow_private_urls=True).private_urls_allowed
    served = ArticleQA.from_settings(exposed, embedder=tiny_app.embedder, reader=tiny_app.reader)
    report = served.add_url(site.url("/news/lifeboat"))
    assert not report.added and "Refused: 127.0.0.1 is a private, loopback or link-local address" in report.errors[0]
    assert served.articles() == []


# ---- the app: feeds ------------------------------------------------------------------------------
def test_an_rss_feed_indexes_its_entries_reports_a_failure_and_skips_them_next_time(local, site):
    report = local.add_feed(site.url("/feed.rss"))
    titles = sorted(a.title for a in report.added)
    assert titles == [
        "Harbour wall repairs in Polwenna finish a month early",
        "Old Mill Bridge to close for eight months of repairs",
        "Porthcarrow opens its first all-weather lifeboat station",
    ]
    assert len(report.errors) == 1 and report.errors[0].startswith("Ferry timetable: winter changes: ")
    assert "404" in report.errors[0]
    assert site.hits["/news/harbour-wall"] == 0  # the feed carries its full text: not fetched
    by_title = {a["title"]: a for a in local.articles()}
    wall = by_title["Harbour wall repairs in Polwenna finish a month early"]
    assert (wall["date"], wall["source"], wall["url"]) == (
        "2024-12-04",
        "The Coastal Herald",
        site.url("/news/harbour-wall"),
    )
    assert by_title["Old Mill Bridge to close for eight months of repairs"]["source"] == "Tamar Valley Gazette"

    hits = dict(site.hits)
    again = local.add_feed(site.url("/feed.rss"))
    assert again.added == [] and len(again.duplicates) == 3 and len(again.errors) == 1
    assert site.hits["/news/lifeboat"] == hits["/news/lifeboat"]  # indexed under the entry's link: not fetched
    # The bridge page was indexed under its canonical address, not the entry's link: fetched to learn that.
    assert site.hits["/news/bridge"] == hits["/news/bridge"] + 1
    assert len(local.articles()) == 3


@pytest.mark.slow
def test_an_atom_feed_and_a_feed_file(local, site, tmp_path):
    report = local.add_feed(site.url("/feed.atom"))
    assert sorted(a.title for a in report.added) == [
        "Old Mill Bridge to close for eight months of repairs",
        "Village shop in Bere Alston saved by its customers",
    ]
    assert len(report.errors) == 1 and "Photo gallery" in report.errors[0] and "image/jpeg" in report.errors[0]
    shop = next(a for a in local.articles() if a["title"].startswith("Village shop"))
    assert (shop["date"], shop["source"]) == ("2025-03-12", "Tamar Valley Gazette")

    feed = tmp_path / "herald.rss"
    feed.write_text((LIFEBOAT.parent / "coastal-herald.rss").read_text().replace("{base}", site.base))
    from_file = local.add_feed(str(feed))
    assert {a.title for a in from_file.added} == {
        "Harbour wall repairs in Polwenna finish a month early",
        "Porthcarrow opens its first all-weather lifeboat station",
    }
    assert "Old Mill Bridge to close for eight months of repairs" in from_file.duplicates


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/news/lifeboat", "not a feed"),
        ("/missing", "404"),
        ("/nowhere.rss", "404"),
    ],
)
def test_a_feed_that_fails_adds_nothing_and_says_why(local, site, source, message):
    before = state(local)
    report = local.add_feed(site.url(source))
    assert report.added == [] and message in report.errors[0] and state(local) == before


def test_a_file_that_is_not_a_feed(local, tmp_path):
    (tmp_path / "notes.xml").write_text("<notes><note>not a feed</note></notes>")
    assert "not an RSS or Atom feed" in local.add_feed(str(tmp_path / "notes.xml")).errors[0]
    assert "no such feed file" in local.add_feed(str(tmp_path / "missing.rss")).errors[0]


# ---- old indexes -------------------------------------------------------------------------------
def test_an_index_written_before_metadata_still_loads(tmp_path, embedder):
    # format 2, as today's format 3 store of tests/fixtures was before metadata: "source" named the file
    index = tmp_path / "index"
    shutil.copytree(FIXTURES / "store_format3", index)
    manifest = json.loads((index / "manifest.json").read_text())
    articles = index / manifest["snapshot"] / "articles.jsonl"
    records = [json.loads(line) for line in articles.read_text().splitlines()]
    for record in records:
        record["source"] = record.pop("file")
        for key in ("date", "url", "author"):
            del record[key]
    articles.write_text("".join(json.dumps(r) + "\n" for r in records))
    (index / "manifest.json").write_text(json.dumps({**manifest, "format": 2}))
    old = SentenceStore(index, embedder.dimension, embedder.model_id).open()
    seed = old.articles[0]
    assert seed.file == "syrian-rebels-capture-hama.txt" and seed.meta.source == seed.meta.date == ""
    assert old.find("Ferry strike ends")[0].meta.url == ""  # it had one in format 3: format 2 had none
    assert len(old) == 31 and not (index / "manifest.json").exists()


def test_allow_private_urls_from_the_environment(monkeypatch):
    from articleqa.config import Settings

    assert Settings.from_env().allow_private_urls is None  # unset: decided by --host
    monkeypatch.setenv("ARTICLEQA_ALLOW_PRIVATE_URLS", "0")
    assert Settings.from_env().private_urls_allowed is False  # even on 127.0.0.1
    monkeypatch.setenv("ARTICLEQA_ALLOW_PRIVATE_URLS", "1")
    assert Settings.from_env(host="0.0.0.0").private_urls_allowed is True


def test_each_read_of_a_feed_is_recorded_in_the_database(local, site, tmp_path):
    local.add_feed(site.url("/feed.rss"))
    local.add_feed(site.url("/feed.rss"))  # nothing new: 3 added in all, the failing entry still failing
    local.add_feed(site.url("/missing"))
    feed = tmp_path / "herald.rss"
    feed.write_text((LIFEBOAT.parent / "coastal-herald.rss").read_text().replace("{base}", site.base))
    local.add_feed(str(feed))
    states = {s.url: s for s in feed_states(local.store.database)}
    assert set(states) == {site.url("/feed.rss"), site.url("/missing"), str(feed.resolve())}
    assert (states[site.url("/feed.rss")].added, states[site.url("/feed.rss")].errors) == (3, 1)
    assert (states[site.url("/missing")].added, states[site.url("/missing")].errors) == (0, 1)
    assert states[str(feed.resolve())].checked.endswith("+00:00")
    # the database is the data dir's: another process opening it reads the same state
    other = SentenceStore(local.store.directory, local.store.dimension, local.store.embedder_id).open()
    assert feed_states(other.database) == sorted(states.values(), key=lambda s: s.url)
