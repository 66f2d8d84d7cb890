"""Several shared-normalisation runs side by side on one GPU, then the best reader (or weight average) on `val`.

    python -m training.sweep run --backbone qa/model --out runs/sweep --minutes 5 \\
        --run lr=3e-5,seed=17 --run lr=5e-5,windows=8,seed=18 ...
    python -m training.sweep evaluate runs/sweep/r1/best qa/model --json scores.json

`run` tokenises the training groups once (in parallel, with the most windows any run asks for), starts
one `train_shared` process per --run on the same groups (each keeps its best checkpoint on its own `val`
sample), then scores every candidate on the same larger `val` sample in parallel processes: the backbone,
each run's best and last weights, and the weight averages of the bests with and without the backbone
(model soups, Wortsman et al. 2022). The candidates are ranked as a run keeps its best checkpoint
(selection.selection_key: the seed checks first, then the mean of gold-paragraph F1, look-alike paragraphs
F1 and SQuAD 2.0 best-threshold F1), and the best trained one is exported (fp16) to --out/winner with the
backbone's reading settings. A small model leaves most of a GPU idle, so runs side by side cost little more than one.
Selection uses SQuAD `val` only.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("articleqa.train")

RUN_OPTIONS = {"lr", "windows", "seed", "epochs", "groups", "warmup", "checkpoint-every", "evaluations"}


def run_options(spec: str) -> dict[str, str]:
    """ "lr=3e-5,windows=8" as {"lr": "3e-5", "windows": "8"}, each key one of train_shared's options."""
    options = {}
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition("=")
        if key not in RUN_OPTIONS or not value:
            raise SystemExit(f"--run takes {sorted(RUN_OPTIONS)} as key=value; got {item!r}")
        options[key] = value
    return options


def run_flags(spec: str) -> list[str]:
    """A run's spec as train_shared's command-line options."""
    return [flag for key, value in run_options(spec).items() for flag in (f"--{key}", value)]


def build_groups(args: argparse.Namespace, windows: int) -> Path:
    from transformers import AutoTokenizer

    from training.groups import MIXES, save_question_groups

    target = args.out / "groups.pt"
    if target.exists():
        return target
    started = time.perf_counter()
    groups, counts = save_question_groups(
        target,
        args.data_dir,
        MIXES[args.mix],
        AutoTokenizer.from_pretrained(args.backbone),
        seed=args.seed,
        workers=args.workers,
        max_length=args.max_length,
        stride=args.stride,
        windows=windows,
    )
    (args.out / "mix.json").write_text(
        json.dumps({"mix": args.mix, "questions": counts, "groups": len(groups), "windows": windows}, indent=2)
    )
    log.info("mix %s: %d groups of %d windows (%.0f s)", counts, len(groups), windows, time.perf_counter() - started)
    return target


def start_runs(args: argparse.Namespace, groups: Path) -> list[tuple[str, subprocess.Popen]]:
    runs = []
    for number, spec in enumerate(args.run, 1):
        out = args.out / f"r{number}"
        out.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "training.train_shared",
            "--backbone",
            args.backbone,
            "--out",
            str(out),
            "--data-dir",
            str(args.data_dir),
            "--reuse-groups",
            "--groups-file",
            str(groups),
            "--minutes",
            str(args.minutes),
            "--deadline-minutes",
            str(args.deadline_minutes),
            "--eval-questions",
            str(args.run_eval_questions),
            "--device",
            args.device,
            "--precision",
            args.precision,
            "--threads",
            str(args.threads),
            *run_flags(spec),
        ]
        log.info("r%d: %s", number, " ".join(command))
        with open(out / "stdout.log", "w") as sink:
            runs.append((f"r{number}", subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)))
    return runs


def candidates(args: argparse.Namespace) -> dict[str, list[str]]:
    """name -> the weights to average (one: the model itself)."""
    found = {"backbone": [args.backbone]}
    bests = []
    for number in range(1, len(args.run) + 1):
        run = args.out / f"r{number}"
        if (run / "best" / "config.json").exists():
            found[f"r{number}-best"] = [str(run / "best")]
            bests.append(str(run / "best"))
        if (run / "final" / "config.json").exists():
            found[f"r{number}-final"] = [str(run / "final")]
    if len(bests) > 1:
        found["soup-bests"] = bests
    if bests:
        found["soup-backbone-bests"] = [args.backbone, *bests]
    return found


def score_candidates(args: argparse.Namespace, found: dict[str, list[str]]) -> dict[str, dict]:
    evaluations = args.out / "evaluations"
    evaluations.mkdir(exist_ok=True)
    processes = []
    for name, sources in found.items():
        command = [
            sys.executable,
            "-m",
            "training.sweep",
            "evaluate",
            *sources,
            "--json",
            str(evaluations / f"{name}.json"),
            "--data-dir",
            str(args.data_dir),
            "--device",
            args.device,
            "--precision",
            args.precision,
            "--questions",
            str(args.eval_questions),
            "--settings-from",
            args.backbone,
            "--threads",
            str(args.threads),
        ]
        with open(evaluations / f"{name}.log", "w") as sink:
            processes.append((name, subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)))
    scores = {}
    for name, process in processes:
        process.wait()
        path = evaluations / f"{name}.json"
        if path.exists():
            scores[name] = json.loads(path.read_text())
            log.info("%s %s", name, json.dumps({k: round(v, 2) for k, v in scores[name].items()}))
        else:
            log.warning("%s: no scores (see %s)", name, evaluations / f"{name}.log")
    return scores


def export_winner(args: argparse.Namespace, sources: list[str]) -> None:
    from training import export

    # a run's checkpoint has no reading settings of its own: the backbone's evidence weight goes with it
    export.main([*sources, str(args.out / "winner"), "--settings-from", args.backbone])


def run(args: argparse.Namespace) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(message)s",
        handlers=[logging.FileHandler(args.out / "sweep.log"), logging.StreamHandler()],
    )
    groups = build_groups(args, max(int(run_options(spec).get("windows", 3)) for spec in args.run))
    runs = start_runs(args, groups)
    for name, process in runs:
        log.info("%s ended with %s", name, process.wait())
    found = candidates(args)
    scores = score_candidates(args, found)
    ranked = ranking(scores)
    summary = {"scores": scores, "sources": found, "ranking": ranked}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    trained = [name for name in ranked if name != "backbone"]
    if ranked:
        log.info("best %s: %s", ranked[0], found[ranked[0]])
    if trained:  # the backbone is here already: what comes back is the best trained candidate
        log.info("exported %s: %s", trained[0], found[trained[0]])
        export_winner(args, found[trained[0]])


def ranking(scores: dict[str, dict]) -> list[str]:
    """Candidates best first, by selection_key: those that get as many seed questions right as the backbone
    before the rest (the product is judged on the seed first), each part by the mean of its `val` figures."""
    from training.selection import selection_key

    floor = scores.get("backbone", {}).get("seed_right", 0)
    return sorted(scores, key=lambda name: selection_key(scores[name], floor), reverse=True)


def evaluate(args: argparse.Namespace) -> None:
    import torch
    from transformers import AutoTokenizer

    from articleqa.qa.reader import ExtractiveReader
    from training.export import averaged
    from training.loop import resolve_device
    from training.selection import evaluate_reader, evaluation_settings, scores_with_seed, val_mean, val_samples

    torch.set_num_threads(args.threads)
    model = averaged([Path(s) for s in args.sources]).to(resolve_device(args.device))
    tokenizer = AutoTokenizer.from_pretrained(args.sources[0])
    reader = ExtractiveReader.from_model(
        model, tokenizer, args.precision, **evaluation_settings(args.settings_from, args.sources[0])
    )
    gold, multi, v2 = val_samples(args.data_dir, args.questions, args.seed)
    started = time.perf_counter()
    scores = scores_with_seed(reader, evaluate_reader(reader, gold, multi, v2))
    scores["mean"] = val_mean(scores)  # for the record: ranking derives it again
    scores["seconds"] = time.perf_counter() - started
    args.json.write_text(json.dumps(scores, indent=2))
    print(json.dumps(scores))


VAL_FILES = ("squad-v1.1-dev.val.json.gz", "squad-v2.0-dev.val.json.gz")
# what a lent GPU machine's image lacked or got wrong in session 18: tokenizers 0.23.2 drops overflowing
# windows (huggingface/tokenizers#2091); blingfire, bm25s and platformdirs (articleqa.config) were not installed
CARRIED_PACKAGES = ("bm25s", "platformdirs")
CARRIED_WHEELS = ("tokenizers==0.23.3",)


def pack(args: argparse.Namespace) -> None:
    """Everything a GPU machine without our packages or ../shared needs beside the working tree, in two
    git-ignored folders that the device tool carries: `.devdata/qa` (the mix's files and `val`, ~11 MB)
    and `.devsite` (importable packages and wheels; training/gpu_sweep.sh puts them on the path)."""
    import importlib.util
    import shutil

    from training.groups import MIXES

    data, site = args.to / ".devdata" / "qa", args.to / ".devsite"
    for folder in (data, site):
        shutil.rmtree(folder, ignore_errors=True)
    files = sorted({source.file for source in MIXES[args.mix].values()} | set(VAL_FILES))
    for name in files:
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(args.data_dir / name, data / name)
    for package in CARRIED_PACKAGES:
        origin = Path(importlib.util.find_spec(package).origin).parent
        shutil.copytree(origin, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    # blingfire: its code and library only, not its 80 MB of other languages' models
    origin = Path(importlib.util.find_spec("blingfire").origin).parent
    (site / "blingfire").mkdir(parents=True)
    for name in ("__init__.py", "libblingfiretokdll.so"):
        shutil.copy2(origin / name, site / "blingfire" / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(site / "whl"),
            *CARRIED_WHEELS,
        ],
        check=True,
    )
    size = sum(f.stat().st_size for folder in (data, site) for f in folder.rglob("*") if f.is_file())
    print(
        f"{len(files)} data files and {len(CARRIED_PACKAGES) + 1} packages + {len(CARRIED_WHEELS)} wheels: "
        f"{size / 2**20:.1f} MiB in {data.parent} and {site}"
    )


def main(argv: list[str] | None = None) -> None:
    from articleqa.qa.reader import WINDOW_STRIDE, WINDOW_TOKENS
    from training import DEFAULT_DATA_DIR
    from training.groups import MIXES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    common.add_argument("--device", default="auto")
    common.add_argument("--precision", default="bf16")
    common.add_argument("--threads", type=int, default=2)
    common.add_argument("--seed", type=int, default=101)

    sweep = commands.add_parser("run", parents=[common], help="train side by side, then pick the best on val")
    sweep.add_argument("--backbone", default="qa/model")
    sweep.add_argument("--out", type=Path, default=Path("runs/sweep"))
    sweep.add_argument("--run", action="append", required=True, help="key=value,... for one train_shared run")
    sweep.add_argument("--mix", choices=sorted(MIXES), default="broad")
    sweep.add_argument("--workers", type=int, default=8, help="processes that tokenise the groups")
    sweep.add_argument("--max-length", type=int, default=WINDOW_TOKENS)
    sweep.add_argument("--stride", type=int, default=WINDOW_STRIDE)
    sweep.add_argument("--minutes", type=float, default=5.0, help="each run's budget (sizes its steps)")
    sweep.add_argument("--deadline-minutes", type=float, default=0.0, help="each run stops by then, whatever its steps")
    sweep.add_argument("--run-eval-questions", type=int, default=300, help="each run's own val sample")
    sweep.add_argument("--eval-questions", type=int, default=0, help="the candidates' val sample (0: all)")

    score = commands.add_parser("evaluate", parents=[common], help="val figures of a reader or a weight average")
    score.add_argument("sources", nargs="+")
    score.add_argument("--json", type=Path, required=True)
    score.add_argument("--questions", type=int, default=0, help="questions per figure (0: all)")
    score.add_argument(
        "--settings-from",
        default=None,
        help="reader folder whose reading settings to use (default: the first source's, else the shipped reader's)",
    )

    carry = commands.add_parser("pack", help="copy what a GPU machine needs into .devdata and .devsite")
    carry.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    carry.add_argument("--mix", choices=sorted(MIXES), default="broad")
    carry.add_argument("--to", type=Path, default=Path("."), help="the working tree the device tool copies")

    args = parser.parse_args(argv)
    {"run": run, "evaluate": evaluate, "pack": pack}[args.command](args)


if __name__ == "__main__":
    main()
