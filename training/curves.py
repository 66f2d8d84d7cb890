"""Training curves from runs' logs: val figures against steps and wall-clock, side by side, as a Markdown
table and a PNG (drawn with Pillow, which Gradio brings).

    python -m training.curves runs/mpnet-full runs/mpnet-lora --label full --label "LoRA r16" \\
        --reference "v4=72.2" --png docs/reader-mpnet.png
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# "2026-12-06 03:53:17,592 step 0 (backbone) {...}" and "... step 100/6000 loss 2.345 lr 3.00e-05 {...} (612 s)"
_LINE = re.compile(r"^(\S+ \S+) step (\d+)(?:/\d+ loss (\S+))?.*?(\{.*\})")


@dataclass(frozen=True)
class Point:
    step: int
    minutes: float  # since the run's first evaluation ended (evaluations included, as both runs pay them)
    loss: float | None
    scores: dict

    @property
    def mean(self) -> float:
        return (self.scores["gold_f1"] + self.scores["multi_f1"] + self.scores["v2_best_f1"]) / 3


def read_curve(log: Path) -> list[Point]:
    """Every evaluated step of a run's train.log, in order; a resumed run's steps continue its clock."""
    points: list[Point] = []
    began = offset = last = None
    for line in log.read_text().splitlines():
        match = _LINE.match(line)
        if not match:
            if "resumed at step" in line and last is not None:
                # the clock goes on from the last evaluation, counting from the resume (the pause is left out)
                began, offset = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f"), last
            continue
        when = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f")
        if began is None:
            began = when
        minutes = (offset or 0.0) + (when - began).total_seconds() / 60
        last = minutes
        points.append(Point(int(match[2]), minutes, float(match[3]) if match[3] else None, json.loads(match[4])))
    return points


def table(curves: dict[str, list[Point]]) -> str:
    rows = [
        "| run | step | minutes | loss | gold F1 | look-alike F1 | SQuAD 2.0 F1 | mean | seed checks |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, points in curves.items():
        for p in points:
            s = p.scores
            rows.append(
                f"| {label} | {p.step} | {p.minutes:.0f} | {'' if p.loss is None else f'{p.loss:.2f}'} | "
                f"{s['gold_f1']:.1f} | {s['multi_f1']:.1f} | {s['v2_best_f1']:.1f} | {p.mean:.1f} | "
                f"{s.get('seed_right', '')} |"
            )
    return "\n".join(rows)


def draw(curves: dict[str, list[Point]], references: dict[str, float], path: Path) -> None:
    """Two panels, mean val F1 against steps and against minutes; references as dashed lines."""
    from PIL import Image, ImageDraw

    width, height, margin = 1000, 420, 60
    image = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(image)
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    top = max([100.0] + list(references.values()))
    panels = [("step", lambda p: p.step), ("minutes", lambda p: p.minutes)]
    panel_width = (width - 3 * margin) // 2
    for index, (name, x_of) in enumerate(panels):
        left = margin + index * (panel_width + margin)
        right, bottom, upper = left + panel_width, height - margin, margin // 2
        span = max([1.0] + [x_of(p) for points in curves.values() for p in points])

        def at(x: float, y: float, left=left, span=span, bottom=bottom, upper=upper) -> tuple[float, float]:
            return left + panel_width * x / span, bottom - (bottom - upper) * y / top

        pen.rectangle([left, upper, right, bottom], outline="black")
        for y in range(0, int(top) + 1, 20):
            pen.text((left - 28, at(0, y)[1] - 6), str(y), fill="black")
            pen.line([at(0, y), (right, at(0, y)[1])], fill="#eeeeee")
        pen.text(((left + right) // 2 - 30, bottom + 18), f"{name} (max {span:.0f})", fill="black")
        for (label, value), colour in zip(references.items(), ["#777777", "#aaaaaa"], strict=False):
            y = at(0, value)[1]
            for x in range(int(left), int(right), 12):
                pen.line([(x, y), (x + 6, y)], fill=colour)
            pen.text((right - 100, y - 14), f"{label}: {value:.1f}", fill=colour)
        for points, colour in zip(curves.values(), colours, strict=False):
            xy = [at(x_of(p), p.mean) for p in points]
            if len(xy) > 1:
                pen.line(xy, fill=colour, width=2)
            for x, y in xy:
                pen.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        for row, (label, colour) in enumerate(zip(curves, colours, strict=False)):
            pen.text((left + 8, upper + 6 + 14 * row), f"{label}: mean val F1", fill=colour)
    image.save(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="run folders (their train.log)")
    parser.add_argument("--label", action="append", default=[], help="one per run (default: the folder name)")
    parser.add_argument("--reference", action="append", default=[], help="NAME=mean F1, drawn as a line")
    parser.add_argument("--png", type=Path, default=None)
    args = parser.parse_args(argv)
    labels = args.label + [run.name for run in args.runs[len(args.label) :]]
    curves = {label: read_curve(run / "train.log") for label, run in zip(labels, args.runs, strict=True)}
    print(table(curves))
    if args.png:
        references = {name: float(value) for name, value in (r.split("=", 1) for r in args.reference)}
        draw(curves, references, args.png)
        print(f"drew {args.png}")


if __name__ == "__main__":
    main()
