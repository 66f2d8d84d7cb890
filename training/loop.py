"""The resumable training loop both trainers share: sizing a run, resuming it, and the step loop that
evaluates, keeps the best model and checkpoints atomically (model, optimiser, schedule, step, RNG)."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from articleqa.config import Settings
from articleqa.index.embedder import default_embedder_path
from articleqa.qa.reader import WINDOW_STRIDE, WINDOW_TOKENS
from articleqa.runtime.backbone import merged_reader, resolve_backbone
from articleqa.runtime.compute import PRECISIONS, use_threads
from training import DEFAULT_DATA_DIR

log = logging.getLogger("articleqa.train")

CHECKPOINT = "checkpoint.pt"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)  # stop at the end of the step under way, checkpointed


def add_run_arguments(
    parser: argparse.ArgumentParser,
    *,
    out: str,
    lr: float,
    warmup: float,
    minutes: float,
    seed: int,
    checkpoint_every: int,
    eval_questions: int,
    threads: int,
) -> None:
    """The options every trainer takes (data, backbone, windows, optimiser, run length, checkpoints)."""
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=Path(out))
    parser.add_argument(
        "--backbone",
        default=None,
        help="HF id, path or a packaged backbone's name: mpnet (default: MiniLM-L6 from its package)",
    )
    parser.add_argument("--max-length", type=int, default=WINDOW_TOKENS)
    parser.add_argument("--stride", type=int, default=WINDOW_STRIDE)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--warmup", type=float, default=warmup)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--steps", type=int, default=0, help="total optimiser steps (0: from --minutes)")
    parser.add_argument("--minutes", type=float, default=minutes, help="wall-time budget used to size --steps")
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--checkpoint-every", type=int, default=checkpoint_every, help="evaluate and checkpoint")
    parser.add_argument(
        "--save-every",
        type=int,
        default=0,
        help="also checkpoint (without evaluating) this often, so a killed run loses fewer steps (0: never)",
    )
    parser.add_argument(
        "--keep-evaluated",
        action="store_true",
        help="keep every evaluated step's weights and scores in --out/steps/<step> (for weight averages)",
    )
    parser.add_argument("--eval-questions", type=int, default=eval_questions)
    parser.add_argument("--threads", type=int, default=threads)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="autocast of the forward pass (auto: bf16 where the CPU has it natively)",
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda (auto: cuda when torch sees a GPU)")
    parser.add_argument("--epochs", type=float, default=0.0, help="at most this many epochs (0: no cap)")
    parser.add_argument(
        "--deadline-minutes",
        type=float,
        default=0.0,
        help="stop (evaluate, keep the best, save final/) once this much wall time has passed",
    )


def start_run(args: argparse.Namespace) -> str:
    """Create --out, log to its train.log and the console, seed torch; the backbone to start from. On a CPU
    the run goes on under jemalloc where it is installed (under_jemalloc)."""
    args.device = resolve_device(args.device)
    if args.device == "cpu":
        under_jemalloc()
    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(message)s",
        handlers=[logging.FileHandler(args.out / "train.log"), logging.StreamHandler()],
    )
    use_threads(args.threads)  # torch now, and the evaluation's reader later (TorchForward)
    torch.manual_seed(args.seed)
    args.started = time.perf_counter()
    return starting_model(args.backbone, Settings.from_env().models_dir) if args.backbone else default_embedder_path()


def starting_model(backbone: str, models_dir: Path) -> str:
    """The folder or HF id a run starts from: a packaged backbone's name ("mpnet") as its assembled folder, a
    reader shipped as an adapter (qa/model-large) as its merged model, anything else as given."""
    return merged_reader(resolve_backbone(backbone, models_dir), models_dir)


# glibc's allocator hands every step's activations back to the kernel and faults them in again: on 2 cores
# ~13 % of a step's CPU time (session 6); jemalloc keeping what it frees (no decay) took a step from 6.2 to
# 3.9 s on the 2-core AMD VM of session 22. Its default decay made it worse (session 6).
JEMALLOC_PATHS = ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2")
JEMALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1"


def under_jemalloc() -> None:
    """Start this process again with jemalloc preloaded (same arguments), where Debian's libjemalloc2 is
    installed and it is not preloaded yet; ARTICLEQA_JEMALLOC=0 keeps glibc's allocator."""
    library = next((path for path in JEMALLOC_PATHS if Path(path).exists()), None)
    if library is None or "jemalloc" in os.environ.get("LD_PRELOAD", "") or os.environ.get("ARTICLEQA_JEMALLOC") == "0":
        return
    print(f"restarting under jemalloc ({library})", file=sys.stderr, flush=True)  # logging starts after
    env = {
        **os.environ,
        "LD_PRELOAD": ":".join(filter(None, [library, os.environ.get("LD_PRELOAD")])),
        "MALLOC_CONF": os.environ.get("MALLOC_CONF", JEMALLOC_CONF),
    }
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


def resolve_device(device: str) -> str:
    """ "auto": cuda when torch sees a GPU, else cpu; any other name as given."""
    return ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device


def deadline(args: argparse.Namespace) -> float | None:
    """The perf_counter time at which --deadline-minutes runs out (None: no deadline)."""
    return args.started + 60 * args.deadline_minutes if args.deadline_minutes else None


def capped_steps(steps: int, args: argparse.Namespace, per_epoch: int) -> int:
    """`steps`, no more than --epochs epochs of `per_epoch` steps."""
    return min(steps, max(1, round(args.epochs * per_epoch))) if args.epochs else steps


def resume_conflicts(planned: dict[str, str], given: argparse.Namespace, defining: tuple[str, ...]) -> list[str]:
    """The options among `defining` (those that decide what each step sees) that a resume gives otherwise than
    the run's plan recorded them, as "--name planned X, given Y"; options the plan did not record are not
    compared. A resume that met other groups or another schedule would go on silently as a different run."""
    conflicts = []
    for name in defining:
        if name in planned and planned[name] != str(getattr(given, name)):
            option = "--" + name.replace("_", "-")
            conflicts.append(f"{option} planned {planned[name]}, given {getattr(given, name)}")
    return conflicts


def save_atomically(obj, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def optimise(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    """One update from a batch's loss, gradients clipped to norm 1; the loss as a float."""
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def measure_steps(train_step: Callable[[int], float], minutes: float, probes: int, overhead: float) -> int:
    """How many steps fit in `minutes`, from the speed of `probes` steps (whose updates the caller discards);
    `overhead` covers evaluation and checkpoints."""
    began = time.perf_counter()
    for step in range(probes):
        train_step(step)
    per_step = (time.perf_counter() - began) / probes
    total = max(1, int(minutes * 60 / (per_step * overhead)))
    log.info("measured %.2f s/step: %d steps fit in %.0f min", per_step, total, minutes)
    return total


def restore(out: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    """Load the checkpoint in `out` into the model and optimiser; its step, best scores and schedule."""
    state = torch.load(out / CHECKPOINT, weights_only=False, map_location="cpu")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    log.info("resumed at step %d", state["step"])
    return state


def run_steps(
    model,
    tokenizer,
    optimizer: torch.optim.Optimizer,
    train_step: Callable[[int], float],
    evaluate: Callable[[], dict[str, float]],
    *,
    out: Path,
    total_steps: int,
    warmup: float,
    every: int,
    key: Callable[[dict], Any],
    best: dict,
    resumed: dict | None = None,
    stop_at: float | None = None,
    save_every: int = 0,
    keep_evaluated: bool = False,
) -> dict:
    """Steps up to `total_steps` (from the resumed checkpoint's, if any) on a linear schedule fixed at
    start, so a resumed run continues exactly. Every `every` steps: evaluate, save `best/` (its scores in
    best.json) when key(scores) beats key(best so far), checkpoint. Every `save_every` steps in between:
    checkpoint only. With `keep_evaluated`, every evaluated step's weights and scores stay in steps/<step>
    (a run's later steps are candidates for a weight average). At perf_counter time `stop_at` it evaluates
    and stops early. SIGTERM or SIGINT stops it at the end of the step under way, checkpointed without evaluating (an evaluation of a large reader
    takes minutes that a session's end may not leave). Saves `final/` when the steps run out or the
    deadline comes; returns the best scores."""
    scheduler = get_linear_schedule_with_warmup(optimizer, int(warmup * total_steps), total_steps)
    step = 0
    if resumed is not None:
        scheduler.load_state_dict(resumed["scheduler"])
        # Building the scheduler reset the optimiser's learning rate to step 0's: put the checkpoint's back.
        for group, lr in zip(optimizer.param_groups, scheduler.get_last_lr(), strict=True):
            group["lr"] = lr
        step, best = resumed["step"], resumed["best"]
    progress = tqdm(total=total_steps, initial=step, desc="train", mininterval=60)
    running, evaluated, began = 0.0, step, time.perf_counter()

    def checkpoint() -> None:
        save_atomically(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "step": step,
                "best": best,
                "rng": torch.get_rng_state(),
            },
            out / CHECKPOINT,
        )

    with _stop_requests() as stop_requested:
        while step < total_steps:
            running += train_step(step)
            scheduler.step()
            step += 1
            progress.update(1)
            if stop_requested():
                checkpoint()
                log.info("stopped by a signal at step %d of %d: checkpointed; --resume goes on", step, total_steps)
                return best
            late = stop_at is not None and time.perf_counter() > stop_at
            if not (step % every == 0 or step == total_steps or late):
                if save_every and step % save_every == 0:
                    checkpoint()
                continue
            scores = evaluate()
            # the mean loss since the last evaluation (fewer than `every` steps at the end or a deadline)
            log.info(
                "step %d/%d loss %.3f lr %.2e %s (%.0f s)",
                step,
                total_steps,
                running / (step - evaluated),
                scheduler.get_last_lr()[0],
                json.dumps({k: round(v, 1) for k, v in scores.items()}),
                time.perf_counter() - began,
            )
            running, evaluated = 0.0, step
            if keep_evaluated:
                _save_reader(model, tokenizer, out / "steps" / str(step), {**scores, "step": step})
            if key(scores) > key(best):
                best = {**scores, "step": step}
                _save_reader(model, tokenizer, out / "best", best)
                (out / "best.json").write_text(json.dumps(best, indent=2))
            checkpoint()
            if late:
                log.info("deadline reached at step %d of %d", step, total_steps)
                break
    model.save_pretrained(out / "final")
    tokenizer.save_pretrained(out / "final")
    log.info("done: %d steps, best %s", step, json.dumps(best))
    return best


def _save_reader(model, tokenizer, folder: Path, scores: dict) -> None:
    """The weights and tokenizer as a loadable reader folder, with the scores they were kept for."""
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "scores.json").write_text(json.dumps(scores, indent=2))


@contextlib.contextmanager
def _stop_requests() -> Iterator[Callable[[], bool]]:
    """While open, SIGTERM and SIGINT are noted instead of ending the process; yields whether one came.
    Outside the main thread (where signal handlers cannot be set) nothing is caught."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda number, frame: received.append(number)) for sig in STOP_SIGNALS}
    try:
        yield lambda: bool(received)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
