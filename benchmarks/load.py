"""Load test on loopback: N concurrent gradio_client callers x M questions against a served app.

    python -m benchmarks.load [--callers 32] [--questions 25] [--url http://127.0.0.1:7860/]

Without --url it starts `articleqa serve` (shipped reader, seed article) on a free loopback port in a
child process, so the callers' threads don't compete with the server for one interpreter lock.
Prints errors (must be 0), single-caller p95 and concurrent p95, and their ratio; writes JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def seed_question_texts() -> list[str]:
    from articleqa.seed import seed_questions

    return [q.question for q in seed_questions()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run_load(url: str, callers: int, questions: int, deadline_s: float = 600.0, add_articles: bool = True) -> dict:
    """Each caller asks `questions` questions in turn; one extra caller adds articles meanwhile."""
    from gradio_client import Client

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + deadline_s
    texts = seed_question_texts()

    def caller(index: int) -> None:
        try:
            client = Client(url, verbose=False)
        except Exception as error:  # counted, never raised: the test reads the count
            with lock:
                errors.append(f"connect: {error!r}")
            return
        for n in range(questions):
            if time.monotonic() > stop_at:
                with lock:
                    errors.append("deadline passed")
                return
            question = texts[(index + n) % len(texts)]
            started = time.perf_counter()
            try:
                result = client.predict(question, None, api_name="/ask")
                ok = isinstance(result, dict) and "error" not in result
            except Exception as error:
                ok, result = False, repr(error)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if not ok:
                    errors.append(str(result)[:200])

    def writer() -> None:
        client = Client(url, verbose=False)
        for n in range(3):
            result = client.predict(f"Load test note {n} {time.time()}\n\nThe committee met on day {n} and agreed.",
                                    "", api_name="/add_article")
            if result.get("errors"):
                with lock:
                    errors.append(f"add: {result['errors']}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=callers + 1) as pool:
        futures = [pool.submit(caller, i) for i in range(callers)]
        if add_articles:
            futures.append(pool.submit(writer))
        for future in futures:
            future.result()
    wall = time.perf_counter() - started
    return {
        "callers": callers,
        "questions_each": questions,
        "answered": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:5],
        "p50_s": percentile(latencies, 50) if latencies else None,
        "p95_s": percentile(latencies, 95) if latencies else None,
        "questions_per_s": len(latencies) / wall,
    }


def start_server(timeout_s: float = 300.0) -> tuple[subprocess.Popen, str]:
    """`articleqa serve` (shipped reader, seed article) on a free loopback port, in a child process."""
    import urllib.request

    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="articleqa-load-")
    server = subprocess.Popen([sys.executable, "-m", "articleqa.cli", "serve", "--port", str(port), "--data-dir", data_dir],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return server, url
        except OSError:
            if server.poll() is not None:
                raise RuntimeError("the server exited before it answered") from None
            time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"the server did not answer within {timeout_s:.0f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--callers", type=int, default=32)
    parser.add_argument("--questions", type=int, default=25)
    parser.add_argument("--url")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    server = None
    url = args.url
    if not url:  # the server in its own process: clients and server must not share one GIL
        server, url = start_server()
    single = run_load(url, 1, max(10, args.questions), add_articles=False)
    loaded = run_load(url, args.callers, args.questions)
    result = {"single": single, "concurrent": loaded,
              "p95_ratio_concurrent_over_single": loaded["p95_s"] / single["p95_s"] if single["p95_s"] else None}
    print(f"single caller:  p50 {single['p50_s'] * 1000:.0f} ms  p95 {single['p95_s'] * 1000:.0f} ms  "
          f"{single['questions_per_s']:.1f} q/s  errors {single['errors']}")
    print(f"{args.callers} callers:     p50 {loaded['p50_s'] * 1000:.0f} ms  p95 {loaded['p95_s'] * 1000:.0f} ms  "
          f"{loaded['questions_per_s']:.1f} q/s  errors {loaded['errors']}")
    print(f"p95 ratio (concurrent / single): {result['p95_ratio_concurrent_over_single']:.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    if server is not None:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
