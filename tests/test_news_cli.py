"""The command line with news: index a URL and a feed, list --json, remove by URL, follow a feed until Ctrl-C."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.news_site import FIXTURES, news_site
from tests.test_cli import run_cli

# slow: processes, servers or the shipped reader (the fast tier, -m "not slow", leaves them out)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site():
    with news_site() as site:
        yield site


@pytest.fixture()
def feed_file(tmp_path, site):
    path = tmp_path / "herald.rss"
    path.write_text((FIXTURES / "coastal-herald.rss").read_text().replace("{base}", site.base))
    return path


def listed(common) -> list[dict]:
    done = run_cli("list", "--json", *common)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_index_a_url_and_a_feed_list_json_remove_by_url(tmp_path, tiny_reader_dir, site, feed_file):
    common = ["--data-dir", str(tmp_path / "data"), "--reader", str(tiny_reader_dir)]
    done = run_cli("index", site.url("/news/bridge"), "--feed", str(feed_file), *common)
    assert done.returncode == 0, done.stderr
    assert "added: Old Mill Bridge to close for eight months of repairs" in done.stdout
    assert "skipped (already indexed): Old Mill Bridge to close for eight months of repairs" in done.stdout
    assert "error: Ferry timetable: winter changes: " in done.stderr and "404" in done.stderr
    assert "Traceback" not in done.stderr

    articles = listed(common)
    assert all(set(a) == {"id", "title", "date", "source", "url", "sentences"} for a in articles)
    lifeboat = next(a for a in articles if a["title"].startswith("Porthcarrow"))
    assert (lifeboat["date"], lifeboat["source"], lifeboat["url"]) == (
        "2024-12-06",
        "The Coastal Herald",
        site.url("/news/lifeboat"),
    )
    assert len(articles) == 3 and lifeboat["sentences"] > 5

    asked = run_cli("ask", "What is the lifeboat called?", *common)
    # the source, date and link of the article that answered (the tiny reader may pick any of them)
    bylines = [re.escape(a["source"]) + r" · \d{1,2} \w{3} \d{4} — " + re.escape(a["url"]) for a in articles]
    assert sum(bool(re.search(b, asked.stdout)) for b in bylines) == 1, asked.stdout

    assert run_cli("remove", site.url("/news/lifeboat"), *common).returncode == 0
    assert lifeboat["title"] not in [a["title"] for a in listed(common)]

    failed = run_cli("index", site.url("/huge"), *common)
    assert failed.returncode == 1 and "larger than the 5.0 MB limit" in failed.stderr
    assert "Traceback" not in failed.stderr and len(listed(common)) == 2


def test_follow_indexes_new_entries_until_ctrl_c(tmp_path, tiny_reader_dir, feed_file):
    common = ["--data-dir", str(tmp_path / "data"), "--reader", str(tiny_reader_dir)]
    assert "between 1 minute and 1 day" in run_cli("follow", str(feed_file), "--every", "5s", *common).stderr
    follower = subprocess.Popen(
        [sys.executable, "-m", "articleqa.cli", "follow", str(feed_file), "--every", "15m", *common],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a child inherits an ignored SIGINT (some libraries
        # an earlier test loaded leave it ignored in this process) and keeps it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        lines, deadline = [], time.monotonic() + 240
        while sum(line.startswith("added: ") for line in lines) < 3 and time.monotonic() < deadline:
            lines.append(follower.stdout.readline())
        assert lines[0].startswith(f"following {feed_file} every 15 min")
        time.sleep(1)  # into the wait for the next round
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=60)
    finally:
        follower.kill()
    assert follower.returncode == 0 and out.strip().endswith("stopped") and "Traceback" not in err
    assert len(listed(common)) == 3
