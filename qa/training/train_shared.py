"""Train the reader with shared normalisation over several windows per question (Clark & Gardner 2018).

    python -m articleqa.qa.training.train_shared --backbone qa/model --out runs/shared [--resume] [--minutes 70]

Each question is a group of K windows (its answer's window, look-alike windows of the same document, a
window of another document). Start and end scores are normalised over all the group's context tokens
plus one no-answer score (the log-mean-exp of the windows' [CLS] logits), and the loss sums the
probability of every gold position ("summed" objective). Inference (qa.reader) uses the same
normalisation, so span scores compare across windows and passages, and the no-answer score is trained.

Resumable: checkpoints every --checkpoint-every steps (model, optimiser, schedule, RNG); the schedule is
fixed at start, so a resumed run continues exactly. Selection on SQuAD `val` only.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import re
import time
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import AutoModelForQuestionAnswering, AutoTokenizer, get_linear_schedule_with_warmup

from articleqa.qa.evaluation.squad_data import SquadQuestion, load_squad, read_squad_json
from articleqa.qa.evaluation.squad_metric import score_one
from articleqa.qa.reader import ExtractiveReader
from articleqa.qa.training import DEFAULT_DATA_DIR
from articleqa.qa.training.groups import SHARED_MIX, build_documents, question_groups
from articleqa.qa.training.train import default_backbone, save_atomically

log = logging.getLogger("articleqa.train")


def collate_groups(groups: list[dict], pad_id: int, sep_id: int) -> dict[str, torch.Tensor]:
    """Groups of K windows as one batch of G*K rows, with context and gold masks for the loss."""
    rows = [w for g in groups for w in g["windows"]]
    length = max(len(w["input_ids"]) for w in rows)
    n = len(rows)
    ids = torch.full((n, length), pad_id, dtype=torch.long)
    types = torch.zeros((n, length), dtype=torch.long)
    mask = torch.zeros((n, length), dtype=torch.long)
    gold_start = torch.zeros((n, length), dtype=torch.bool)
    gold_end = torch.zeros((n, length), dtype=torch.bool)
    for r, w in enumerate(rows):
        k = len(w["input_ids"])
        ids[r, :k] = torch.tensor(w["input_ids"])
        types[r, :k] = torch.tensor(w["token_type_ids"])
        mask[r, :k] = 1
        gold_start[r, w["starts"]] = True
        gold_end[r, w["ends"]] = True
    context = (types == 1) & (mask == 1) & (ids != sep_id)
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask, "context": context,
            "gold_start": gold_start, "gold_end": gold_end, "groups": torch.tensor(len(groups))}


def shared_norm_loss(logits: torch.Tensor, context: torch.Tensor, gold: torch.Tensor, groups: int) -> torch.Tensor:
    """-log of the gold positions' summed probability, one softmax per group over every window's context
    tokens and one no-answer score. A group without gold positions is unanswerable: its target is no-answer."""
    rows, length = logits.shape
    k = rows // groups
    logits = logits.float().view(groups, k, length)
    null = torch.logsumexp(logits[:, :, 0], -1) - math.log(k)
    scores = torch.cat([logits.masked_fill(~context.view(groups, k, length), -1e4).view(groups, -1), null[:, None]], 1)
    gold = gold.view(groups, -1)
    unanswerable = ~gold.any(-1)
    target = torch.cat([gold, unanswerable[:, None]], 1)
    return (torch.logsumexp(scores, -1) - torch.logsumexp(scores.masked_fill(~target, -1e4), -1)).mean()


def article_paragraphs(path: Path) -> dict[str, list[str]]:
    return {a.get("title", ""): [p["context"] for p in a["paragraphs"]] for a in read_squad_json(path)["data"]}


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def multi_passage_items(questions: list[SquadQuestion], paragraphs: dict[str, list[str]], others: int,
                        seed: int) -> list[tuple[SquadQuestion, list[str]]]:
    """Each question with its own paragraph and the `others` paragraphs of its article that share the most
    words with the question (what retrieval would also hand over), in random order."""
    rng = random.Random(seed)
    items = []
    for q in questions:
        words = _words(q.question)
        rest = [p for p in paragraphs[q.title] if p != q.context]
        rest.sort(key=lambda p: -len(words & _words(p)))
        passages = [q.context, *rest[:others]]
        rng.shuffle(passages)
        items.append((q, passages))
    return items


def evaluate_reader(reader: ExtractiveReader, gold: list[SquadQuestion], multi: list[tuple[SquadQuestion, list[str]]],
                    v2: list[SquadQuestion]) -> dict[str, float]:
    """Gold-paragraph F1; F1 with each question's paragraph among look-alikes of its article (always
    answering); SQuAD 2.0 F1 at the best no-answer margin (how well the no-answer score separates)."""
    def f1(pred: str, q: SquadQuestion) -> float:
        return score_one(pred, q.answers)[1] if q.answers else float(not pred)

    result = {}
    scores = []
    for q in gold:
        spans = reader.read(q.question, [q.context], top_k=1)
        scores.append(f1(spans[0].text if spans else "", q))
    result["gold_f1"] = 100 * sum(scores) / max(1, len(scores))
    scores = []
    for q, passages in multi:
        spans = reader.read(q.question, passages, top_k=1)
        scores.append(f1(spans[0].text if spans else "", q))
    result["multi_f1"] = 100 * sum(scores) / max(1, len(scores))
    margins = []
    for q in v2:
        spans = reader.read(q.question, [q.context], top_k=1)
        margins.append((spans[0].margin if spans else -1e9, f1(spans[0].text, q) if spans else 0.0, f1("", q)))
    best = 0.0
    for threshold in sorted({m for m, _, _ in margins} | {1e9}):
        total = sum(answer if m >= threshold else empty for m, answer, empty in margins)
        best = max(best, total)
    result["v2_best_f1"] = 100 * best / max(1, len(margins))
    result["select"] = (result["multi_f1"] + result["v2_best_f1"]) / 2
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=Path("runs/shared"))
    parser.add_argument("--backbone", default=None, help="start from this reader (default: MiniLM-L6 from its package)")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--stride", type=int, default=128)
    parser.add_argument("--windows", type=int, default=3, help="windows per question group")
    parser.add_argument("--groups", type=int, default=10, help="question groups per batch")
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--warmup", type=float, default=0.05)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--steps", type=int, default=0, help="total optimiser steps (0: from --minutes)")
    parser.add_argument("--minutes", type=float, default=70.0)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--eval-questions", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--reuse-groups", action="store_true", help="start afresh on the groups.pt already in --out")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.FileHandler(args.out / "train.log"), logging.StreamHandler()])
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    backbone = args.backbone or default_backbone()
    tokenizer = AutoTokenizer.from_pretrained(backbone)

    state_file, plan_file, groups_file = args.out / "checkpoint.pt", args.out / "plan.json", args.out / "groups.pt"
    resuming = args.resume and state_file.exists()
    if resuming:
        plan = json.loads(plan_file.read_text())
        groups = torch.load(groups_file)
    elif args.reuse_groups and groups_file.exists():
        groups = torch.load(groups_file)
        plan = {**json.loads(plan_file.read_text()), "args": {k: str(v) for k, v in vars(args).items()}}
        log.info("reusing %d groups from %s", len(groups), groups_file)
    else:
        started = time.perf_counter()
        documents, counts = build_documents(args.data_dir, args.seed, SHARED_MIX)
        groups = question_groups(documents, tokenizer, max_length=args.max_length, stride=args.stride,
                                 windows=args.windows, seed=args.seed)
        torch.save(groups, groups_file)
        plan = {"args": {k: str(v) for k, v in vars(args).items()}, "mix": counts, "groups": len(groups),
                "backbone": backbone}
        log.info("mix %s: %d groups of %d windows (%.0f s)", counts, len(groups), args.windows,
                 time.perf_counter() - started)

    model = AutoModelForQuestionAnswering.from_pretrained(backbone, dtype=torch.float32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    rng = random.Random(args.seed)
    val = load_squad(args.data_dir / "squad-v1.1-dev.val.json.gz")
    gold_sample = rng.sample(val, min(args.eval_questions, len(val)))
    multi_sample = multi_passage_items(rng.sample(val, min(args.eval_questions, len(val))),
                                       article_paragraphs(args.data_dir / "squad-v1.1-dev.val.json.gz"), 3, args.seed)
    v2 = load_squad(args.data_dir / "squad-v2.0-dev.val.json.gz")
    v2_sample = rng.sample(v2, min(args.eval_questions, len(v2)))
    per_epoch = math.ceil(len(groups) / args.groups)

    def batch_at(step: int) -> list[dict]:
        epoch, position = divmod(step, per_epoch)
        order = list(range(len(groups)))
        random.Random(args.seed + epoch).shuffle(order)
        return [groups[i] for i in order[position * args.groups : (position + 1) * args.groups]]

    def train_step(step: int) -> float:
        model.train()
        batch = collate_groups(batch_at(step), tokenizer.pad_token_id, tokenizer.sep_token_id)
        n = int(batch["groups"])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"],
                        attention_mask=batch["attention_mask"])
        loss = (shared_norm_loss(out.start_logits, batch["context"], batch["gold_start"], n)
                + shared_norm_loss(out.end_logits, batch["context"], batch["gold_end"], n)) / 2
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss)

    def evaluate() -> dict[str, float]:
        reader = ExtractiveReader(model, tokenizer, max_length=384, stride=128)
        return evaluate_reader(reader, gold_sample, multi_sample, v2_sample)

    step, best = 0, {"select": -1.0, "step": 0}
    if resuming:
        state = torch.load(state_file, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, best = state["step"], state["best"]
        torch.set_rng_state(state["rng"])
        total_steps = plan["total_steps"]
        log.info("resumed at step %d of %d", step, total_steps)
    else:
        scores = evaluate()
        log.info("step 0 (backbone) %s", json.dumps({k: round(v, 1) for k, v in scores.items()}))
        best = {**scores, "step": 0}
        plan["step0"] = scores
        total_steps = args.steps
        if not total_steps:
            began = time.perf_counter()
            for s in range(3):
                train_step(s)
            per_step = (time.perf_counter() - began) / 3
            total_steps = int(args.minutes * 60 / (per_step * 1.1))
            model = AutoModelForQuestionAnswering.from_pretrained(backbone, dtype=torch.float32)
            optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
            log.info("measured %.2f s/step: %d steps (%.2f epochs) fit in %.0f min", per_step, total_steps,
                     total_steps / per_epoch, args.minutes)
        plan["total_steps"] = total_steps
        plan["epochs"] = total_steps / per_epoch
        plan_file.write_text(json.dumps(plan, indent=2))

    scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup * total_steps), total_steps)
    if resuming:
        scheduler.load_state_dict(state["scheduler"])
    progress = tqdm(total=total_steps, initial=step, desc="train", mininterval=60)
    running, began = 0.0, time.perf_counter()
    while step < total_steps:
        running += train_step(step)
        scheduler.step()
        step += 1
        progress.update(1)
        if step % args.checkpoint_every == 0 or step == total_steps:
            scores = evaluate()
            log.info("step %d/%d loss %.3f lr %.2e %s (%.0f s)", step, total_steps, running / args.checkpoint_every,
                     scheduler.get_last_lr()[0], json.dumps({k: round(v, 1) for k, v in scores.items()}),
                     time.perf_counter() - began)
            running = 0.0
            if scores["select"] > best["select"]:
                best = {**scores, "step": step}
                model.save_pretrained(args.out / "best")
                tokenizer.save_pretrained(args.out / "best")
            save_atomically({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                             "scheduler": scheduler.state_dict(), "step": step, "best": best,
                             "rng": torch.get_rng_state()}, state_file)
    model.save_pretrained(args.out / "final")
    tokenizer.save_pretrained(args.out / "final")
    log.info("done: %d steps, best %s", step, json.dumps(best))


if __name__ == "__main__":
    main()
