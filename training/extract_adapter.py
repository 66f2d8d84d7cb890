"""A fully fine-tuned reader as a LoRA adapter over its packaged base: what ships small.

    python -m training.extract_adapter runs/mpnet-full/best --base mpnet --rank 64 --out runs/mpnet-full/adapter

Full fine-tuning learns more than LoRA on this CPU (docs/reader-mpnet.md), but its weights are 219 MB in
fp16. The change it made is smaller: for every linear layer and the word embeddings, the difference from
the base is factored by a truncated SVD into peft's LoRA pair (B = U_r S_r, A = V_r^T, scale 1), the best
rank-r approximation of that difference. What LoRA cannot hold (biases, LayerNorms, position and relative
attention embeddings, the span head) is small and saved whole (peft's `bias="all"` and `modules_to_save`).
The folder is a peft adapter: `runtime.backbone.merged_reader` merges it back at `prepare`, and
`training.export --adapter` packages it in fp16. The report says how much of each difference the rank keeps
and how far the merged model's logits move from the fine-tuned one's.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from articleqa.runtime.adapter_weights import ADAPTER_WEIGHTS
from articleqa.runtime.backbone import resolve_backbone
from articleqa.runtime.forward import model_inputs

log = logging.getLogger("articleqa.train")

SPAN_HEAD = "qa_outputs"


def _changed_whole(base: torch.nn.Module, tuned: torch.nn.Module, factored: set[str]) -> list[str]:
    """Names of the modules (other than the factored ones) whose own non-bias parameters changed: saved whole."""
    tuned_modules = dict(tuned.named_modules())
    names = []
    for name, module in base.named_modules():
        own = [(n, p) for n, p in module.named_parameters(recurse=False) if n != "bias"]
        if not own or name in factored:
            continue
        other = tuned_modules[name]
        if any(not torch.equal(p, getattr(other, n)) for n, p in own):
            names.append(name)
    return names


def low_rank(delta: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(B, A, kept): B @ A (out x rank, rank x in) is the best rank-`rank` approximation of `delta` (out x in);
    `kept` is the share of its squared norm that it holds."""
    u, s, vh = torch.linalg.svd(delta.detach(), full_matrices=False)
    r = min(rank, s.numel())
    total = float((s**2).sum())
    kept = float((s[:r] ** 2).sum()) / total if total else 1.0
    b, a = torch.zeros(delta.shape[0], rank), torch.zeros(rank, delta.shape[1])
    b[:, :r], a[:r] = u[:, :r] * s[:r], vh[:r]  # a matrix of lower rank than `rank`: the rest stays zero
    return b, a, kept


def training_windows(groups_file: Path, count: int, seed: int, tokenizer, size: int = 16) -> list[dict]:
    """`count` windows of a training groups file (a seeded shuffle of its groups, every window of each),
    collated in batches of `size`: text the reader learned from, never `val`."""
    import random

    from training.groups import load_groups
    from training.train_shared import collate_groups

    groups = load_groups(groups_file)
    random.Random(seed).shuffle(groups)
    rows: list[dict] = []
    for group in groups:
        if len(rows) >= count:
            break
        rows.extend({"windows": [window]} for window in group["windows"])
    rows = rows[:count]
    return [
        collate_groups(rows[i : i + size], tokenizer.pad_token_id, tokenizer.sep_token_id)
        for i in range(0, len(rows), size)
    ]


def extract(base_dir: str, tuned_dir: str, rank: int, out: Path) -> dict:
    """Write the adapter to `out`; returns the report (share of each difference kept, sizes)."""
    from peft import LoraConfig, TaskType, get_peft_model

    base = AutoModelForQuestionAnswering.from_pretrained(base_dir, dtype=torch.float32)
    tuned = AutoModelForQuestionAnswering.from_pretrained(tuned_dir, dtype=torch.float32)
    tuned_modules = dict(tuned.named_modules())
    linear = [n for n, m in base.named_modules() if isinstance(m, torch.nn.Linear) and not n.startswith(SPAN_HEAD)]
    embeddings = [n for n, m in base.named_modules() if n.endswith("word_embeddings")]
    # the span head always (the fine-tune trained it from scratch), once even where it is among the changed
    whole = sorted({*_changed_whole(base, tuned, set(linear) | set(embeddings)), SPAN_HEAD})
    config = LoraConfig(
        task_type=TaskType.QUESTION_ANS,
        r=rank,
        lora_alpha=rank,  # scale 1: B @ A is the difference itself
        lora_dropout=0.0,
        target_modules=linear + embeddings,
        modules_to_save=whole,
        bias="all",
    )
    model = get_peft_model(base, config)
    kept: dict[str, float] = {}
    with torch.no_grad():
        for name, module in model.base_model.model.named_modules():
            if name in linear:
                b, a, share = low_rank(tuned_modules[name].weight - module.base_layer.weight, rank)
                module.lora_B["default"].weight.copy_(b)
                module.lora_A["default"].weight.copy_(a)
                kept[name] = share
            elif name in embeddings:
                # peft's embedding LoRA adds (B @ A)^T: B is (dim x r), A is (r x vocabulary)
                b, a, share = low_rank((tuned_modules[name].weight - module.base_layer.weight).T, rank)
                module.lora_embedding_B["default"].copy_(b)
                module.lora_embedding_A["default"].copy_(a)
                kept[name] = share
        for name, parameter in model.base_model.model.named_parameters():
            if name.endswith(".bias") and "lora_" not in name and "modules_to_save" not in name:
                source = name.replace(".base_layer", "").replace(".original_module", "")
                parameter.copy_(tuned.get_parameter(source))
        for name in whole:
            wrapper = model.base_model.model.get_submodule(name)
            wrapper.modules_to_save["default"].load_state_dict(tuned_modules[name].state_dict())
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(tuned_dir).save_pretrained(str(out))
    for name in ("articleqa_reader.json", "calibration.json"):
        if (Path(tuned_dir) / name).is_file():
            (out / name).write_bytes((Path(tuned_dir) / name).read_bytes())
    trained, _ = model.get_nb_trainable_parameters()
    shares = list(kept.values())
    return {
        "rank": rank,
        "factored": len(kept),
        "saved_whole": whole,
        "kept_mean": round(sum(shares) / len(shares), 4) if shares else 1.0,
        "kept_min": round(min(shares), 4) if shares else 1.0,
        "adapter_parameters": trained,
        "adapter_bytes": (out / ADAPTER_WEIGHTS).stat().st_size,
    }


def merged_and_tuned(adapter: Path, tuned_dir: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The adapter merged into its base, and the fine-tuned model it stands for, in fp32 for comparing."""
    from peft import PeftModel

    config = json.loads((adapter / "adapter_config.json").read_text())
    base = AutoModelForQuestionAnswering.from_pretrained(config["base_model_name_or_path"], dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload().eval()
    tuned = AutoModelForQuestionAnswering.from_pretrained(tuned_dir, dtype=torch.float32).eval()
    return merged, tuned


def logit_gap(models: tuple[torch.nn.Module, torch.nn.Module], tokenizer, texts: list[tuple[str, str]]) -> float:
    """The largest difference between the merged adapter's start/end logits and the fine-tuned model's
    (`models`, as merged_and_tuned gives them), on (question, context) pairs."""
    merged, tuned = models
    batch = tokenizer([q for q, _ in texts], [c for _, c in texts], return_tensors="pt", padding=True, truncation=True)
    inputs = {name: batch[name] for name in model_inputs(tuned)}
    with torch.no_grad():
        got, want = merged(**inputs), tuned(**inputs)
    mask = batch["attention_mask"].bool()
    return max(
        float((got.start_logits - want.start_logits)[mask].abs().max()),
        float((got.end_logits - want.end_logits)[mask].abs().max()),
    )


def reading_gap(
    models: tuple[torch.nn.Module, torch.nn.Module], batches: list[dict[str, torch.Tensor]]
) -> dict[str, float]:
    """How differently the merged adapter reads collated windows than the fine-tuned model (`models`, as
    merged_and_tuned gives them): over each window's context, the mean absolute difference of the start and
    end logits, the mean KL divergence of the start and end distributions (the fine-tuned one's from the
    adapter's), and the share of windows whose most likely start and end both stay."""
    merged, tuned = models
    gaps, divergences, same, windows = 0.0, 0.0, 0, 0
    with torch.no_grad():
        for batch in batches:
            inputs = {name: batch[name] for name in model_inputs(tuned)}
            got, want = merged(**inputs), tuned(**inputs)
            context = batch["context"]
            stays = torch.ones(context.shape[0], dtype=torch.bool)
            for a, b in ((got.start_logits, want.start_logits), (got.end_logits, want.end_logits)):
                a, b = a.masked_fill(~context, -1e4), b.masked_fill(~context, -1e4)
                gaps += float(((a - b).abs() * context).sum() / context.sum()) * context.shape[0] / 2
                p, q = b.log_softmax(-1), a.log_softmax(-1)
                divergences += float((p.exp() * (p - q)).sum()) / 2
                stays &= a.argmax(-1) == b.argmax(-1)
            same += int(stays.sum())
            windows += context.shape[0]
    return {
        "mean_logit_gap": round(gaps / windows, 4),
        "mean_kl": round(divergences / windows, 5),
        "best_span_ends_kept": round(same / windows, 4),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tuned", help="the fully fine-tuned reader's folder")
    parser.add_argument("--base", default="mpnet", help="the packaged backbone it was fine-tuned from")
    # 256 in 4 bits (export --factor-bits 4) is what ships: rank, not precision, keeps the reading (docs/reader-mpnet.md)
    parser.add_argument("--rank", type=int, default=256)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--check-on",
        type=Path,
        help="a training groups file (train_shared's --groups-file): report how the adapter reads some of its "
        "windows against the fine-tuned model",
    )
    parser.add_argument("--check-windows", type=int, default=128)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    report = extract(resolve_backbone(args.base), args.tuned, args.rank, args.out)
    from articleqa.seed import SEED_ARTICLE

    seed = SEED_ARTICLE.read_text(encoding="utf-8")
    pairs = [("Who leads HTS?", seed[:1500]), ("When was HTS formed?", seed[1500:3000])]
    models, tokenizer = merged_and_tuned(args.out, args.tuned), AutoTokenizer.from_pretrained(args.tuned)
    report["max_logit_gap_on_the_seed"] = round(logit_gap(models, tokenizer, pairs), 4)
    if args.check_on:
        windows = training_windows(args.check_on, args.check_windows, 0, tokenizer)
        report["on_training_windows"] = reading_gap(models, windows)
    print(json.dumps(report, indent=1))
    (args.out / "extraction.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
