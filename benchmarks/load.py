"""Load test on loopback: concurrent API callers against `articleqa serve`, batched and unbatched.

    python -m benchmarks.load [--levels 1,4,16,32] [--per-level 64] [--client rest|gradio_client]
                              [--json runs/load.json] [--no-readme]
    python -m benchmarks.load --url http://127.0.0.1:7860/ --levels 32      # against a running server

The callers use Gradio's HTTP API by default (`--client rest`: POST /gradio_api/call/ask, then read the
result's event stream), which costs them a few ms of CPU per question; `gradio_client` costs ~100 ms, and
on this 2-core machine the callers run beside the server, so their CPU would count against the server.
Each row reports the callers' own CPU per question.

Without --url it starts two `articleqa serve` child processes (shipped reader, seed article, free loopback
ports; their own processes, so the callers' threads don't share the servers' interpreter lock): one with
the micro-batcher (ARTICLEQA_BATCHING=1, the default) and one without (=0). Each level of concurrent
callers runs against both, interleaved, so slow spells of a shared machine hit both sides alike. First,
before any server starts, the models alone answer the same number of questions in-process, one at a
time and in batches of 16 (what batching saves, and what the server adds). Prints throughput, p50/p95
latency and errors per level and mode, checks the issue's targets, writes JSON with --json and the table
in docs/scaling.md between the load markers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import free_port, load_average, machine, percentile, write_doc_section

ROOT = Path(__file__).resolve().parent.parent
MODES = {"unbatched": {"ARTICLEQA_BATCHING": "0"}, "batched": {"ARTICLEQA_BATCHING": "1"}}


def mode_env(mode: str) -> dict[str, str]:
    """A mode's server settings: "batched", "unbatched", either with ":N" model threads ("batched:1"), and
    "batched" with "/N" questions per batch at most ("batched/4")."""
    mode, _, max_batch = mode.partition("/")
    name, _, threads = mode.partition(":")
    return {
        **MODES[name],
        **({"ARTICLEQA_THREADS": threads} if threads else {}),
        **({"ARTICLEQA_MAX_BATCH": max_batch} if max_batch else {}),
    }


def seed_question_texts() -> list[str]:
    from articleqa.seed import seed_questions

    return [q.question for q in seed_questions()]


class RestCaller:
    """Gradio's documented HTTP API, as curl uses it: POST /gradio_api/call/<name> gives an event id, and
    GET of that id streams the result. A few ms of CPU a call, where gradio_client spends ~100 ms (it
    starts threads and polls): on a 2-core machine whose callers run beside the server, the client's
    own CPU would otherwise be measured as the server's slowness."""

    def __init__(self, url: str) -> None:
        import httpx

        self.http = httpx.Client(base_url=url, timeout=120)
        self.http.get("/gradio_api/info").raise_for_status()

    def predict(self, *data, api_name: str):
        event = self.http.post(f"/gradio_api/call{api_name}", json={"data": list(data)})
        event.raise_for_status()
        kind, payload = "", None
        with self.http.stream("GET", f"/gradio_api/call{api_name}/{event.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    kind = line.partition(":")[2].strip()
                elif line.startswith("data:") and kind in ("complete", "error"):
                    payload = line.partition(":")[2].strip()
                    break
        if kind != "complete" or payload is None:
            raise RuntimeError(f"{kind or 'no event'}: {payload}")
        return json.loads(payload)[0]


CLIENTS = ("rest", "gradio_client")


def make_client(url: str, client: str):
    """A caller of the server's named endpoints: "rest" (plain HTTP) or "gradio_client"."""
    if client == "gradio_client":
        from gradio_client import Client

        return Client(url, verbose=False)
    if client == "rest":
        return RestCaller(url)
    raise ValueError(f"client must be one of {', '.join(CLIENTS)}, not {client!r}")


def run_load(
    url: str,
    callers: int,
    questions: int,
    deadline_s: float = 600.0,
    add_articles: bool = True,
    client: str = "gradio_client",
) -> dict:
    """Each caller asks `questions` questions in turn; one extra caller adds articles meanwhile. The clock
    starts once every caller has connected (connecting is not answering). `client_cpu_ms` is this
    process's CPU per answered question: what the callers themselves took from the machine."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(callers + 1)
    texts = seed_question_texts()

    def connect():
        try:
            return make_client(url, client)
        except Exception as error:  # counted, never raised: the test reads the count
            with lock:
                errors.append(f"connect: {error!r}")
            return None
        finally:
            ready.wait()

    def caller(index: int) -> None:
        connection = connect()
        stop_at = time.monotonic() + deadline_s
        for n in range(questions if connection else 0):
            if time.monotonic() > stop_at:
                with lock:
                    errors.append("deadline passed")
                return
            question = texts[(index + n) % len(texts)]
            started = time.perf_counter()
            try:
                result = connection.predict(question, None, "", "", api_name="/ask")  # history, since, until
                ok = isinstance(result, dict) and "error" not in result
            except Exception as error:
                ok, result = False, repr(error)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if not ok:
                    errors.append(str(result)[:200])

    def writer() -> None:
        caller = make_client(url, client)
        for n in range(3):
            result = caller.predict(
                f"Load test note {n} {time.time()}\n\nThe committee met on day {n} and agreed.",
                "",
                api_name="/add_article",
            )
            if result.get("errors"):
                with lock:
                    errors.append(f"add: {result['errors']}")

    with ThreadPoolExecutor(max_workers=callers + 1) as pool:
        futures = [pool.submit(caller, i) for i in range(callers)]
        ready.wait()
        started, cpu = time.perf_counter(), time.process_time()
        if add_articles:
            futures.append(pool.submit(writer))
        for future in futures:
            future.result()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "client": client,
        "client_cpu_ms": 1000 * cpu / max(1, len(latencies)),
        "callers": callers,
        "questions_each": questions,
        "answered": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:5],
        "p50_s": percentile(latencies, 50) if latencies else None,
        "p95_s": percentile(latencies, 95) if latencies else None,
        "questions_per_s": len(latencies) / wall,
        "wall_s": wall,
    }


def models_handing_over() -> int:
    """How many of a server's models (the reader, the embedder) start on ONNX Runtime and move to torch
    (runtime/forward.py TieredForward): the benchmark waits for them before it measures. The servers' own
    settings only add batching and threads to this process's environment."""
    from articleqa.config import Settings
    from articleqa.index.embedder import default_embedder_path
    from articleqa.runtime.forward import hands_over

    settings = Settings.from_env()
    return sum(
        hands_over(name, settings.runtime, settings.precision, settings.onnx_dir)
        for name in (settings.reader, settings.embedder or default_embedder_path())
    )


def start_server(timeout_s: float = 300.0, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """`articleqa serve` (shipped reader, seed article) on a free loopback port, in a child process;
    `env`: ARTICLEQA_* settings for it. Returns once it answers and, where it hands its models over to
    torch, once both have arrived (a server measured mid-hand-over is measured on ONNX Runtime's fp32)."""
    import urllib.request

    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="articleqa-load-")
    env = {**os.environ, **(env or {})}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "articleqa.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            data_dir,
            "--log-level",
            "info",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    handed_over = threading.Semaphore(0)
    failures: list[str] = []

    def drain() -> None:  # read the log to its end, or the server would block on a full pipe
        for line in server.stderr:
            if "torch took over" in line:
                handed_over.release()
            elif "could not take over" in line:
                failures.append(line.strip())
                handed_over.release()

    threading.Thread(target=drain, daemon=True).start()
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if server.poll() is not None:
                raise RuntimeError("the server exited before it answered") from None
            time.sleep(0.5)
    else:
        server.kill()
        raise RuntimeError(f"the server did not answer within {timeout_s:.0f} s")
    for _ in range(models_handing_over()):
        if not handed_over.acquire(timeout=max(1.0, deadline - time.monotonic())):
            print("warning: the models did not move to torch in time; measuring as they are", file=sys.stderr)
            break
    for failure in failures:
        print(f"warning: {failure}", file=sys.stderr)
    return server, url


def models_alone(count: int, batch: int = 16) -> dict:
    """The models without a server, in this process: questions/s and CPU ms per question, asked one at a
    time and in batches of `batch` (ask_many). What batching can save is the difference; what the
    server adds is the rest."""
    from articleqa.config import SEEDS_DIR, Settings
    from articleqa.qa.pipeline import ArticleQA
    from articleqa.runtime.compute import use_threads

    use_threads(0)
    app = ArticleQA.from_settings(Settings(data_dir=Path(tempfile.mkdtemp(prefix="articleqa-load-"))), in_memory=True)
    app.add_files([SEEDS_DIR])
    app.ready_for_serving()
    texts = seed_question_texts()
    questions = [(texts[n % len(texts)], None) for n in range(count)]
    result = {}
    for name, size in (("one at a time", 1), (f"batches of {batch}", batch)):
        app.embedder._queries.clear()  # neither run may find the other's query vectors cached
        wall, cpu = time.perf_counter(), time.process_time()
        for start in range(0, count, size):
            app.ask_many(questions[start : start + size])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        result[name] = {"questions_per_s": count / wall, "cpu_ms_per_question": 1000 * cpu / count}
    return result


def targets(levels: dict[str, dict[int, dict]]) -> list[str]:
    """The issue's targets, checked on the batched server (unbatched alongside for the single caller)."""
    batched, unbatched = levels.get("batched", {}), levels.get("unbatched", {})
    lines = []
    if 1 in batched and 16 in batched:
        ratio = batched[16]["questions_per_s"] / batched[1]["questions_per_s"]
        lines.append(
            f"16 callers: {ratio:.1f}x one caller's throughput (target >= 3x): {'met' if ratio >= 3 else 'missed'}"
        )
    if 32 in batched:
        top = batched[32]
        bound = 1.5 * 32 / top["questions_per_s"]
        met = top["errors"] == 0 and top["p95_s"] <= bound
        lines.append(
            f"32 callers: {top['errors']} errors, p95 {top['p95_s'] * 1000:.0f} ms against 1.5 x 32 / throughput = "
            f"{bound * 1000:.0f} ms: {'met' if met else 'missed'}"
        )
    if 1 in batched and 1 in unbatched:
        b, u = batched[1]["p50_s"], unbatched[1]["p50_s"]
        lines.append(
            f"1 caller: p50 {b * 1000:.0f} ms batched against {u * 1000:.0f} ms unbatched "
            f"(target: no worse): {'met' if b <= u * 1.05 else 'missed'} (5 % noise allowed)"
        )
    return lines


def table(result: dict) -> str:
    # caller counts are ints when measured and strings when the results come back from JSON
    levels = {mode: {int(n): row for n, row in rows.items()} for mode, rows in result["levels"].items()}
    modes = list(levels)
    lines = [
        f"| callers | server | questions/s | / {modes[0]} | p50 (ms) | p95 (ms) | errors | callers' CPU (ms/q) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in sorted({n for rows in levels.values() for n in rows}):
        first = levels[modes[0]].get(n)
        for mode in modes:
            row = levels[mode].get(n)
            if row is None:
                continue
            ratio = f"{row['questions_per_s'] / first['questions_per_s']:.2f}" if first else "–"
            p50, p95 = ((f"{row[k] * 1000:,.0f}" if row[k] is not None else "–") for k in ("p50_s", "p95_s"))
            client_cpu = f"{row['client_cpu_ms']:.0f}" if "client_cpu_ms" in row else "–"
            lines.append(
                f"| {n} | {mode} | {row['questions_per_s']:.1f} | {ratio} | {p50} | {p95} | {row['errors']} "
                f"| {client_cpu} |"
            )
    alone = result.get("models_alone", {})
    lines += ["", *[f"- {line}" for line in targets(levels)]]
    if alone:
        lines.append(
            "- the models alone, in-process, no server: "
            + "; ".join(
                f"{name} {row['questions_per_s']:.1f} questions/s, {row['cpu_ms_per_question']:.0f} CPU ms per question"
                for name, row in alone.items()
            )
        )
    lines += [
        "",
        f"Machine: {result['machine']}; {result['questions_per_level']} questions per level and server, "
        f"asked through {result.get('client', 'gradio_client')}; "
        f"load average {result['load_before']} before, {result['load_after']} after.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,4,16,32", help="numbers of concurrent callers")
    parser.add_argument(
        "--per-level", type=int, default=64, help="questions per level and mode (at least 2 per caller)"
    )
    parser.add_argument(
        "--modes",
        default="unbatched,batched",
        help='servers to compare: batched, unbatched, or either with ":N" torch threads',
    )
    parser.add_argument("--url", help="measure a running server instead (one mode, called 'server')")
    parser.add_argument("--no-alone", action="store_true", help="skip the in-process figure of the models alone")
    parser.add_argument("--add-articles", action="store_true", help="one more caller adds 3 articles per level")
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        default="rest",
        help="how the callers call /ask: plain HTTP (default) or gradio_client",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-readme", action="store_true", help="leave the table in docs/scaling.md as it is")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.levels.split(",")]
    servers: dict[str, tuple[subprocess.Popen | None, str]] = {}
    result: dict = {
        "machine": machine(),
        "questions_per_level": args.per_level,
        "client": args.client,
        "load_before": load_average(),
        "levels": {},
    }
    if not args.no_alone:  # before any server starts: nothing else of ours runs meanwhile
        result["models_alone"] = models_alone(args.per_level)
        print("models alone:", json.dumps(result["models_alone"]), flush=True)
    try:
        if args.url:
            servers["server"] = (None, args.url)
        else:
            for mode in args.modes.split(","):
                servers[mode] = start_server(env=mode_env(mode))
        for _, url in servers.values():  # warm: the first calls pay for lazy set-up on both sides
            run_load(url, 2, 3, add_articles=False, client=args.client)
        for n in counts:
            for mode, (_, url) in servers.items():
                each = max(2, math.ceil(args.per_level / n))
                row = run_load(url, n, each, add_articles=args.add_articles, client=args.client)
                result["levels"].setdefault(mode, {})[n] = row
                p50 = row["p50_s"] * 1000 if row["p50_s"] is not None else float("nan")
                p95 = row["p95_s"] * 1000 if row["p95_s"] is not None else float("nan")
                print(
                    f"{mode:>9} {n:>3} callers: {row['questions_per_s']:6.1f} q/s  p50 {p50:6.0f} ms  "
                    f"p95 {p95:6.0f} ms  errors {row['errors']}  callers' CPU {row['client_cpu_ms']:.0f} ms/q",
                    flush=True,
                )
    finally:
        for server, _ in servers.values():
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
    result["load_after"] = load_average()
    rendered = table(result)
    print(rendered)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    if not args.no_readme and not args.url:
        write_doc_section(ROOT / "docs" / "scaling.md", "load", rendered)


if __name__ == "__main__":
    main()
