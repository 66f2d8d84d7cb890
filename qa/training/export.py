"""Export a trained reader for shipping: fp16 safetensors + tokenizer + reader settings.

    python -m articleqa.qa.training.export runs/reader/final qa/model [--max-length 256 --stride 128]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from articleqa.qa.reader import READER_CONFIG, WINDOW_STRIDE, WINDOW_TOKENS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--max-length", type=int, default=WINDOW_TOKENS)
    parser.add_argument("--stride", type=int, default=WINDOW_STRIDE)
    args = parser.parse_args(argv)

    model = AutoModelForQuestionAnswering.from_pretrained(args.source, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(args.source)
    staging = args.target.with_name(args.target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    model.half().save_pretrained(staging, safe_serialization=True)  # fp16: half the size, same answers
    tokenizer.save_pretrained(staging)
    (staging / READER_CONFIG).write_text(json.dumps({"max_length": args.max_length, "stride": args.stride}, indent=2))
    keep = [p for p in args.target.glob("*.md")] if args.target.exists() else []
    for path in keep:
        shutil.copy(path, staging / path.name)
    shutil.rmtree(args.target, ignore_errors=True)
    staging.rename(args.target)
    size = sum(p.stat().st_size for p in args.target.iterdir())
    print(f"exported to {args.target}: {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
