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

import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from articleqa.index.compute import inference_precision, resolve_precision
from articleqa.qa.evaluation.run import evaluate_gold_paragraphs
from articleqa.qa.evaluation.squad_data import load_squad
from articleqa.qa.policy import AnswerPolicy
from articleqa.qa.reader import ExtractiveReader
from articleqa.qa.training import loop
from articleqa.qa.training.data import MIXES, build_mix
from articleqa.qa.training.features import training_features

log = logging.getLogger("articleqa.train")


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    loop.add_run_arguments(parser, out="runs/reader", lr=1e-4, warmup=0.06, minutes=90.0, seed=13, checkpoint_every=200,
                           eval_questions=300, threads=os.cpu_count() or 2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--mix", choices=sorted(MIXES), default="default", help="training sets (qa/training/data.py)")
    args = parser.parse_args(argv)
    backbone = loop.start_run(args)
    precision = resolve_precision(args.precision)
    tokenizer = AutoTokenizer.from_pretrained(backbone)

    state_file = args.out / loop.CHECKPOINT
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
        with inference_precision(precision):
            loss = model(**batch).loss
        return loop.optimise(model, optimizer, loss)

    def evaluate() -> dict[str, float]:
        reader = ExtractiveReader.from_model(model, tokenizer, precision, max_length=args.max_length, stride=args.stride)
        return evaluate_gold_paragraphs(reader, AnswerPolicy().always_answering(), val_sample).scores

    resumed = loop.restore(args.out, model, optimizer) if resuming else None
    if resumed is not None:
        total_steps = plan["total_steps"]
    else:
        total_steps = args.steps
        if not total_steps:  # size the run from measured speed on the first batches
            total_steps = loop.measure_steps(train_step, args.minutes, probes=10, overhead=1.08)
            model = AutoModelForQuestionAnswering.from_pretrained(backbone, dtype=torch.float32)  # discard the probe's updates
            optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        plan["total_steps"] = total_steps
        plan["epochs"] = total_steps / batches_per_epoch
        plan_file.write_text(json.dumps(plan, indent=2))
    loop.run_steps(model, tokenizer, optimizer, train_step, evaluate, out=args.out, total_steps=total_steps,
                   warmup=args.warmup, every=args.checkpoint_every, key=lambda scores: scores["f1"],
                   best={"f1": -1.0, "step": 0},
                   resumed=resumed)


if __name__ == "__main__":
    main()
