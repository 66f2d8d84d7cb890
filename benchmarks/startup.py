"""Start-up benchmark: how long `articleqa ask` takes, against an earlier revision, in one run.

    python -m benchmarks.startup [--baseline e8e74ca] [--runs 5] [--no-readme]

Each command runs --runs times in fresh processes, the sides interleaved (a shared machine's slow
spells hit both alike). Reported: the fastest wall time (the least disturbed run) and the median CPU
time (user + system of the process, which other processes on the machine disturb far less). The baseline is the revision's tree exported from git and put first on
PYTHONPATH, with this checkout's virtual environment; "now, torch" is this checkout with ARTICLEQA_RUNTIME=torch
(what the ONNX exports give, apart from the lazier imports). Figures:
- import: `import articleqa.qa.pipeline` (what answering needs before any model loads);
- ask: `articleqa ask "Who leads HTS?"` on an existing index of the seed article;
- cold start: the same on an empty data dir (index the seed article, then answer).
The table goes into docs/runtimes.md between the startup markers.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import load_average, machine, write_doc_section

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Who leads HTS?"


def export(revision: str, into: Path) -> Path:
    """`revision`'s tree laid out as the installed package (folders mapped into articleqa.*)."""
    source = into / "src"
    source.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    package = into / "pkg" / "articleqa"
    shutil.copytree(source / "articleqa", package)
    for folder in ("qa", "index", "ui", "seeds", "runtime"):
        if (source / folder).is_dir():  # runtime/ (articleqa.runtime) exists from 74e6a93 on
            (package / folder).symlink_to(source / folder)
    return into / "pkg"


def seconds(command: list[str], pythonpath: Path | None, extra_env: dict | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of the command in a fresh process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(extra_env or {})}
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=tempfile.gettempdir(), env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{command} failed: {done.stderr[-1500:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default="e8e74ca", help="git revision to compare with ('' to skip)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-readme", action="store_true", help="leave the table in docs/runtimes.md as it is")
    args = parser.parse_args(argv)
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        # "now, torch": this checkout with the models on torch (ARTICLEQA_RUNTIME=torch), to tell what the
        # ONNX exports give from what lazy imports give
        sides: dict[str, Path | None] = {"now, torch": None, "now": None}
        environments = {"now, torch": {"ARTICLEQA_RUNTIME": "torch"}}
        if args.baseline:
            sides = {args.baseline: export(args.baseline, scratch / "baseline"), **sides}
        figures: dict[str, dict[str, list[tuple[float, float]]]] = {
            side: {"import": [], "ask": [], "cold": []} for side in sides
        }
        for side, path in sides.items():  # the existing index each side answers from
            seconds(
                [python, "-m", "articleqa.cli", "ask", QUESTION, "--data-dir", str(scratch / side / "index")],
                path,
                environments.get(side),
            )
        for run in range(args.runs):
            for side, path in sides.items():
                env = environments.get(side)
                figures[side]["import"].append(seconds([python, "-c", "import articleqa.qa.pipeline"], path, env))
                figures[side]["ask"].append(
                    seconds(
                        [python, "-m", "articleqa.cli", "ask", QUESTION, "--data-dir", str(scratch / side / "index")],
                        path,
                        env,
                    )
                )
                figures[side]["cold"].append(
                    seconds(
                        [
                            python,
                            "-m",
                            "articleqa.cli",
                            "ask",
                            QUESTION,
                            "--data-dir",
                            str(scratch / side / f"cold{run}"),
                        ],
                        path,
                        env,
                    )
                )
                print(side, {k: [round(x, 2) for x in v[-1]] for k, v in figures[side].items()}, flush=True)
    wall = {side: {k: min(w for w, _ in v) for k, v in rows.items()} for side, rows in figures.items()}
    cpu = {side: {k: statistics.median(c for _, c in v) for k, v in rows.items()} for side, rows in figures.items()}
    labels = {
        "import": "import articleqa.qa.pipeline",
        "ask": f'`articleqa ask "{QUESTION}"`, existing index',
        "cold": "cold start to first answer, empty data dir",
    }
    names = list(sides)
    lines = [
        "| figure | "
        + " | ".join(f"{side}: wall / CPU (s)" for side in names)
        + (" | now / before: wall, CPU |" if len(names) > 1 else " |"),
        "|---|" + "---|" * (len(names) + (len(names) > 1)),
    ]
    for key, label in labels.items():
        cells = [f"{wall[side][key]:.2f} / {cpu[side][key]:.2f}" for side in names]
        if len(names) > 1:
            cells.append(f"{wall['now'][key] / wall[names[0]][key]:.2f}, {cpu['now'][key] / cpu[names[0]][key]:.2f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Fastest wall time and median CPU time of {args.runs} runs each, interleaved; {machine()}; load average "
        f"{load_average()} at the end.",
    ]
    rendered = "\n".join(lines)
    print(rendered)
    if not args.no_readme:
        write_doc_section(ROOT / "docs" / "runtimes.md", "startup", rendered)


if __name__ == "__main__":
    main()
