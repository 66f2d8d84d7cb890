"""Train the reader with shared normalisation over several windows per question (Clark & Gardner 2018).

    python -m training.train_shared --backbone qa/model --out runs/shared [--resume] [--minutes 70]

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
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from articleqa.config import Settings
from articleqa.qa.reader import ExtractiveReader
from articleqa.runtime.compute import inference_precision, resolve_precision
from articleqa.runtime.forward import adapted_model, model_inputs
from training import loop
from training.groups import (
    MIXES,
    batch_groups,
    batches_per_epoch,
    build_documents,
    compact,
    entity_swapped_questions,
    groups_fingerprint,
    load_groups,
    question_groups,
    save_question_groups,
)
from training.selection import (
    as_judged,
    evaluate_reader,
    evaluation_settings,
    scores_with_seed,
    selection_key,
    val_samples,
)

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
    context = torch.zeros((n, length), dtype=torch.bool)
    for r, w in enumerate(rows):
        k = len(w["input_ids"])
        ids[r, :k] = torch.as_tensor(w["input_ids"])
        types[r, :k] = torch.as_tensor(w["token_type_ids"])
        mask[r, :k] = 1
        gold_start[r, w["starts"]] = True
        gold_end[r, w["ends"]] = True
        seps = np.flatnonzero(np.asarray(w["input_ids"]) == sep_id)
        # the context lies between the question's separator(s) and the last one: BERT's [CLS] q [SEP] c [SEP]
        # marks it with type ids too, MPNet's <s> q </s></s> c </s> only by position
        context[r, seps[0] + 1 : seps[-1]] = True
    context &= ids != sep_id
    return {
        "input_ids": ids,
        "token_type_ids": types,
        "attention_mask": mask,
        "context": context,
        "gold_start": gold_start,
        "gold_end": gold_end,
        "groups": torch.tensor(len(groups)),
    }


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


def fewer_windows(group: dict, windows: int) -> dict:
    """A group cut to `windows` windows: its first ones (the answer's window, then the same document's
    look-alikes, most alike first) and its last (another document's), as if it had been built with fewer."""
    rows = group["windows"]
    if len(rows) <= windows:
        return group
    return {**group, "windows": rows[: windows - 1] + rows[-1:]}


LORA_TARGETS = {
    # attention and feed-forward projections, per architecture's module names
    "mpnet": ["attn.q", "attn.k", "attn.v", "attn.o", "intermediate.dense", "output.dense"],
    "bert": ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"],
}


def with_lora(model: torch.nn.Module, rank: int) -> torch.nn.Module:
    """The model with LoRA adapters of `rank` on its attention and feed-forward projections; the span head
    (qa_outputs) is trained whole and saved beside the adapter."""
    from peft import LoraConfig, TaskType, get_peft_model

    config = LoraConfig(
        task_type=TaskType.QUESTION_ANS,
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.05,
        target_modules=LORA_TARGETS[model.config.model_type],
        modules_to_save=["qa_outputs"],
    )
    model = get_peft_model(model, config)
    trained, total = model.get_nb_trainable_parameters()
    log.info("LoRA r=%d: %d of %d parameters trained (%.2f %%)", rank, trained, total, 100 * trained / total)
    return model


# what a resumed run must be given as the run was planned: the windows, the groups' order, the schedule, the
# evaluation's questions; a resume may change how it runs (threads, device, checkpoints, deadline) and where
# things are (data, backbone, groups file: a run may move to another machine; the groups' fingerprint checks
# that the groups file holds the same groups in the same order)
RUN_DEFINING = (
    "max_length",
    "stride",
    "lr",
    "warmup",
    "weight_decay",
    "steps",
    "epochs",
    "seed",
    "eval_questions",
    "windows",
    "groups",
    "lora_rank",
    "mix",
    "order_seed",
    "from_batch",
    "swapped",
    "judged_with",
)


def recorded(args: argparse.Namespace) -> dict[str, str]:
    """The options as the run's plan records them (and a resume is checked against)."""
    return {name: str(value) for name, value in vars(args).items()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    loop.add_run_arguments(
        parser,
        out="runs/shared",
        lr=3e-5,
        warmup=0.05,
        minutes=70.0,
        seed=17,
        checkpoint_every=100,
        eval_questions=200,
        threads=2,
    )
    parser.add_argument("--windows", type=int, default=3, help="windows per question group")
    parser.add_argument("--groups", type=int, default=10, help="question groups per batch")
    parser.add_argument("--reuse-groups", action="store_true", help="start afresh on the groups.pt already in --out")
    parser.add_argument(
        "--groups-file", type=Path, default=None, help="where the groups are (default: --out/groups.pt)"
    )
    parser.add_argument("--lora-rank", type=int, default=0, help="train LoRA adapters of this rank (0: every weight)")
    parser.add_argument("--mix", choices=sorted(MIXES), default="shared", help="training sets (groups.py)")
    parser.add_argument(
        "--order-seed",
        type=int,
        default=None,
        help="the seed of the groups' order (default --seed): a run that goes on from another's weights "
        "with new groups need not see its first questions first again",
    )
    parser.add_argument(
        "--from-batch",
        type=int,
        default=0,
        help="begin at this batch of the groups' order: with another run's --order-seed and its steps, a run "
        "that goes on from its weights meets the groups that run did not reach",
    )
    parser.add_argument("--workers", type=int, default=1, help="processes that tokenise the groups")
    parser.add_argument(
        "--evaluations",
        type=int,
        default=0,
        help="evaluate this many times over the run (0: every --checkpoint-every steps)",
    )
    parser.add_argument(
        "--swapped",
        type=int,
        default=0,
        help="unanswerable questions made by swapping a name of an answerable one (groups.py); "
        "with --reuse-groups, added to the groups already there",
    )
    parser.add_argument(
        "--confusers",
        type=Path,
        default=None,
        help="a reader's wrong answers on the training questions (training/confusers.py): "
        "the windows holding them become the groups' look-alike windows",
    )
    parser.add_argument(
        "--order-of",
        type=Path,
        default=None,
        help="an earlier run's groups file: groups built anew take its order of questions "
        "(groups.in_order_of), so --from-batch goes on where that run stopped",
    )
    parser.add_argument(
        "--settings-from",
        type=Path,
        default=None,
        help="the reader folder whose reading settings (its evidence weight) the evaluations read with "
        "(default: the backbone's, or the shipped reader's where the backbone has none); --max-length and "
        "--stride still set the windows",
    )
    parser.add_argument(
        "--judged-with",
        type=Path,
        default=None,
        help="evaluate each step as the product reads a large reader: this smaller reader (e.g. qa/model) scouts "
        "and both judge (qa/cascade.py)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    backbone = loop.start_run(args)
    # read as the product will: with the reading settings it will ship with, in the training windows (what
    # ships: export --max-length/--stride, and what scores best)
    settings = {
        **evaluation_settings(args.settings_from, backbone),
        "max_length": args.max_length,
        "stride": args.stride,
    }
    log.info("evaluations read with %s", json.dumps(settings))
    product = Settings.from_env()  # how the product pairs the readers: its reread and scout_weight
    precision = resolve_precision(args.precision)
    tokenizer = AutoTokenizer.from_pretrained(backbone)

    state_file, plan_file = args.out / loop.CHECKPOINT, args.out / "plan.json"
    groups_file = args.groups_file or args.out / "groups.pt"
    mix = MIXES[args.mix]
    resuming = args.resume and state_file.exists()
    if resuming:
        plan = json.loads(plan_file.read_text())
        conflicts = loop.resume_conflicts(plan.get("args", {}), args, RUN_DEFINING)
        if conflicts:
            parser.error("a resume goes on as planned; repeat the run's options: " + "; ".join(conflicts))
        groups = load_groups(groups_file)
    elif args.reuse_groups and groups_file.exists():
        groups = load_groups(groups_file)
        plan = {
            **(json.loads(plan_file.read_text()) if plan_file.exists() else {}),
            "groups": len(groups),
            "backbone": backbone,
            "args": recorded(args),
        }
        log.info("reusing %d groups from %s", len(groups), groups_file)
        if args.swapped and not any(g["id"].startswith("swap-") for g in groups):
            documents, _ = build_documents(args.data_dir, args.seed, mix)
            made = entity_swapped_questions(documents, args.swapped, args.seed)
            for document in documents:
                document.questions[:] = [q for q in document.questions if q.id.startswith("swap-")]
            extra = question_groups(
                [d for d in documents if d.questions],
                tokenizer,
                max_length=args.max_length,
                stride=args.stride,
                windows=len(groups[0]["windows"]),
                seed=args.seed,
            )
            groups = groups + extra
            random.Random(args.seed).shuffle(groups)
            torch.save(compact(groups), groups_file)
            plan.update({"groups": len(groups), "swapped": made})
            log.info("added %d groups of entity-swapped questions (%d made)", len(extra), made)
    else:
        started = time.perf_counter()
        confusers = json.loads(args.confusers.read_text()) if args.confusers else None
        groups, counts = save_question_groups(
            groups_file,
            args.data_dir,
            mix,
            tokenizer,
            seed=args.seed,
            workers=args.workers,
            swapped=args.swapped,
            max_length=args.max_length,
            stride=args.stride,
            windows=args.windows,
            confusers=confusers,
            order_of=load_groups(args.order_of) if args.order_of else None,
        )
        plan = {
            "args": recorded(args),
            "mix": counts,
            "groups": len(groups),
            "backbone": backbone,
        }
        log.info(
            "mix %s: %d groups of %d windows (%.0f s)", counts, len(groups), args.windows, time.perf_counter() - started
        )

    fingerprint = groups_fingerprint(groups)
    if resuming and plan.get("groups_fingerprint", fingerprint) != fingerprint:
        parser.error(f"{groups_file} holds other groups, or in another order, than the run was planned on")
    plan["groups_fingerprint"] = fingerprint
    log.info("%d groups, fingerprint %s", len(groups), fingerprint)
    groups = [fewer_windows(g, args.windows) for g in groups]

    def fresh_start() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        model = AutoModelForQuestionAnswering.from_pretrained(backbone, dtype=torch.float32)
        if args.lora_rank:
            model = with_lora(model, args.lora_rank)
            # the adapter names its base as given ("mpnet"), not this machine's folder, so it loads anywhere
            model.peft_config["default"].base_model_name_or_path = args.backbone
        model = model.to(args.device)
        trained = [p for p in model.parameters() if p.requires_grad]
        return model, torch.optim.AdamW(trained, lr=args.lr, weight_decay=args.weight_decay)

    model, optimizer = fresh_start()
    inputs_taken = model_inputs(model)
    gold_sample, multi_sample, v2_sample = val_samples(args.data_dir, args.eval_questions, args.seed)
    per_epoch = batches_per_epoch(len(groups), args.groups)

    order_seed = args.seed if args.order_seed is None else args.order_seed

    def batch_at(step: int) -> list[dict]:
        return [groups[i] for i in batch_groups(len(groups), args.groups, order_seed, args.from_batch + step)]

    def train_step(step: int) -> float:
        model.train()
        batch = {
            name: value.to(args.device, non_blocking=True)
            for name, value in collate_groups(batch_at(step), tokenizer.pad_token_id, tokenizer.sep_token_id).items()
        }
        n = int(batch["groups"])
        inputs = {name: batch[name] for name in inputs_taken}
        with inference_precision(precision, torch.device(args.device).type):
            out = adapted_model(model)(**inputs)
        loss = (
            shared_norm_loss(out.start_logits, batch["context"], batch["gold_start"], n)
            + shared_norm_loss(out.end_logits, batch["context"], batch["gold_end"], n)
        ) / 2
        return loop.optimise(model, optimizer, loss)

    # on torch, as the step itself is read (the exported runtimes and the trainer's jemalloc do not mix)
    scout = (
        ExtractiveReader.from_pretrained(args.judged_with, runtime="torch", precision=precision)
        if args.judged_with
        else None
    )

    def evaluate() -> dict[str, float]:
        reader = as_judged(ExtractiveReader.from_model(model, tokenizer, precision, **settings), scout, product)
        return scores_with_seed(reader, evaluate_reader(reader, gold_sample, multi_sample, v2_sample))

    resumed = loop.restore(args.out, model, optimizer) if resuming else None
    if resumed is not None:
        total_steps = plan["total_steps"]
        best = resumed["best"]
    else:
        scores = evaluate()
        log.info("step 0 (backbone) %s", json.dumps({k: round(v, 1) for k, v in scores.items()}))
        best = {**scores, "step": 0}
        plan["step0"] = scores
        total_steps = args.steps
        if not total_steps:
            total_steps = loop.measure_steps(train_step, args.minutes, probes=3, overhead=1.1)
            model, optimizer = fresh_start()  # the probe steps trained the first one
        total_steps = loop.capped_steps(total_steps, args, per_epoch)
        plan["total_steps"] = total_steps
        plan["epochs"] = total_steps / per_epoch
        plan_file.write_text(json.dumps(plan, indent=2))
    every = max(1, total_steps // args.evaluations) if args.evaluations else args.checkpoint_every
    loop.run_steps(
        model,
        tokenizer,
        optimizer,
        train_step,
        evaluate,
        out=args.out,
        total_steps=total_steps,
        warmup=args.warmup,
        every=every,
        best=best,
        resumed=resumed,
        stop_at=loop.deadline(args),
        save_every=args.save_every,
        keep_evaluated=args.keep_evaluated,
        key=lambda scores: selection_key(scores, plan["step0"].get("seed_right", 0)),
    )


if __name__ == "__main__":
    main()
