"""Export a trained reader for shipping: fp16 safetensors + tokenizer + reader settings.

    python -m training.export runs/reader/final qa/model [--max-length 256 --stride 128]
    python -m training.export qa/model runs/shared/final runs/soup   # weights averaged

Several sources (fine-tuned from one another, so they share an architecture and a basin) are averaged
weight by weight, a uniform "model soup" (Wortsman et al. 2022): the first source gives the tokenizer
and its sentence-evidence weight (not its calibration, which belongs to its weights: run `calibrate`).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from articleqa.qa.reader import READER_CONFIG, WINDOW_STRIDE, WINDOW_TOKENS, reader_settings
from articleqa.runtime.adapter_weights import ADAPTER_WEIGHTS, is_factor, save_quantized
from articleqa.runtime.backbone import PACKAGED, is_adapter, packaged_name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", type=Path, nargs="+", help="one checkpoint, or several to average")
    parser.add_argument("target", type=Path)
    parser.add_argument("--max-length", type=int, default=WINDOW_TOKENS)
    parser.add_argument("--stride", type=int, default=WINDOW_STRIDE)
    parser.add_argument(
        "--factor-bits",
        type=int,
        choices=(4, 8, 16),
        default=16,
        help="an adapter's LoRA factors in 4 or 8 bits (with fp16 scales: four or two times the rank in the "
        "bytes of fp16) or in fp16",
    )
    parser.add_argument(
        "--settings-from",
        type=Path,
        default=None,
        help="reader whose evidence weight the export carries (default: the first source)",
    )
    args = parser.parse_args(argv)

    staging = args.target.with_name(args.target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(args.sources[0])
    if is_adapter(args.sources[0]):
        if len(args.sources) > 1:
            raise SystemExit("LoRA adapters are exported one at a time (no soup)")
        adapter(args.sources[0], staging, args.factor_bits)
    else:
        model = averaged(args.sources)
        model.half().save_pretrained(staging, safe_serialization=True)  # fp16: half the size, same answers
    tokenizer.save_pretrained(staging)
    settings = {"max_length": args.max_length, "stride": args.stride}
    # How candidates are ranked is a reading setting chosen on `val`, not a property of the weights: without
    # it a new model reads without sentence evidence and scores ~4 F1 lower over articles. The calibration
    # is fitted to particular weights, so it is not carried: run `calibrate` on the export.
    inherited = reader_settings(args.settings_from or args.sources[0]).get("evidence_weight")
    if inherited is not None:
        settings["evidence_weight"] = inherited
    (staging / READER_CONFIG).write_text(json.dumps(settings, indent=2))
    keep = [p for p in args.target.glob("*.md")] if args.target.exists() else []
    for path in keep:
        shutil.copy(path, staging / path.name)
    shutil.rmtree(args.target, ignore_errors=True)
    staging.rename(args.target)
    size = sum(p.stat().st_size for p in args.target.iterdir())
    print(
        f"exported to {args.target}: {size / 1e6:.1f} MB; no calibration yet: run "
        f"`python -m training.calibrate {args.target}`"
    )


def adapter(source: Path, staging: Path, factor_bits: int = 16) -> None:
    """A LoRA adapter and its span head as they are (a few MB, over the packaged backbone that `articleqa
    prepare` merges them into), in fp16 like a whole model; with `factor_bits` 8 or 4 its LoRA factors in
    so many bits (runtime/adapter_weights.py)."""
    from peft import PeftConfig
    from safetensors.torch import load_file, save_file

    config = PeftConfig.from_pretrained(str(source))
    packaged = packaged_name(config.base_model_name_or_path)
    if packaged is None:
        raise SystemExit(
            f"{source} adapts {config.base_model_name_or_path}, which is not a packaged backbone "
            f"({', '.join(PACKAGED)}): a user could not merge it offline"
        )
    staging.mkdir(parents=True)
    config.base_model_name_or_path = packaged
    config.save_pretrained(str(staging))
    weights = load_file(str(source / ADAPTER_WEIGHTS))
    halves = {
        k: v.half() if v.is_floating_point() and not (factor_bits < 16 and is_factor(k, v)) else v
        for k, v in weights.items()
    }
    if factor_bits < 16:
        save_quantized(halves, staging / ADAPTER_WEIGHTS, factor_bits)
    else:
        save_file(halves, str(staging / ADAPTER_WEIGHTS))


def averaged(sources: list[Path]) -> torch.nn.Module:
    """The first source's model with every weight the mean of that weight over all sources (in fp32)."""
    model = AutoModelForQuestionAnswering.from_pretrained(sources[0], dtype=torch.float32)
    if len(sources) > 1:
        total = {name: value.clone() for name, value in model.state_dict().items()}
        for source in sources[1:]:
            other = AutoModelForQuestionAnswering.from_pretrained(source, dtype=torch.float32).state_dict()
            if other.keys() != total.keys():
                raise SystemExit(f"{source} does not have the weights of {sources[0]}")
            for name, value in other.items():
                if value.is_floating_point():  # integer buffers (ids) are the same in every source
                    total[name] += value
        model.load_state_dict(
            {name: value / len(sources) if value.is_floating_point() else value for name, value in total.items()}
        )
    return model


if __name__ == "__main__":
    main()
