"""The API with news: /add_url fetches a page (a server on 127.0.0.1 may fetch loopback addresses), /articles
and /ask return the date, source and URL, /remove_article takes a URL."""

from dataclasses import replace

import pytest
from gradio_client import Client

from articleqa.ui.server import serve
from benchmarks.common import free_port
from tests.news_site import news_site

# slow: processes, servers or the shipped reader (the fast tier, -m "not slow", leaves them out)
pytestmark = pytest.mark.slow


@pytest.fixture()
def served(answering_app):
    demo, url = serve(answering_app, replace(answering_app.settings, port=free_port()), block=False)
    try:
        with news_site() as site:
            yield Client(url, verbose=False), site
    finally:
        demo.close()


def test_add_url_articles_ask_remove(served):
    client, site = served
    assert "/add_url" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    added = client.predict(site.url("/news/lifeboat"), api_name="/add_url")
    assert added == {
        "added": ["Porthcarrow opens its first all-weather lifeboat station"],
        "duplicates": [],
        "replaced": [],
        "errors": [],
    }
    again = client.predict(site.url("/old/lifeboat"), api_name="/add_url")
    assert again["added"] == [] and again["duplicates"] == added["added"]
    failed = client.predict(site.url("/photo.jpg"), api_name="/add_url")
    assert failed["added"] == [] and "image/jpeg" in failed["errors"][0]
    assert "Only http" in client.predict("file:///etc/passwd", api_name="/add_url")["errors"][0]

    [article] = client.predict(api_name="/articles")
    assert {k: article[k] for k in ("title", "date", "source", "url", "author")} == {
        "title": added["added"][0],
        "date": "2024-12-06",
        "source": "The Coastal Herald",
        "url": site.url("/news/lifeboat"),
        "author": "Megan Trelawny",
    }

    answer = client.predict("What is the lifeboat called?", None, api_name="/ask")
    assert (answer["article_date"], answer["article_source"], answer["article_url"]) == (
        "2024-12-06",
        "The Coastal Herald",
        site.url("/news/lifeboat"),
    )
    reply, _ = client.predict("What is the lifeboat called?", [], api_name="/chat")
    assert f'<a href="{site.url("/news/lifeboat")}"' in reply and "The Coastal Herald · 6 Dec 2024</a>" in reply

    assert client.predict(site.url("/news/lifeboat"), api_name="/remove_article")["removed"] == added["added"]
    assert client.predict(api_name="/articles") == []
