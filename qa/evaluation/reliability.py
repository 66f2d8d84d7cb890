"""Does a confidence of 0.8 mean right 4 times in 5? Expected calibration error and a reliability diagram."""

from __future__ import annotations

from pathlib import Path

import numpy as np

Bin = tuple[float, float, int, float, float]  # low, high, members, mean confidence, share right


def expected_calibration_error(
    confidences: list[float], right: list[bool], bins: int = 10, weights: list[float] | None = None
) -> tuple[float, list[Bin]]:
    """ECE in percent over equal-width bins, and the table of bins that have members. `weights` make a
    sample stand for a stated mix of questions (each observation counts as its weight)."""
    confidence = np.asarray(confidences, dtype=float)
    correct = np.asarray(right, dtype=float)
    weight = np.ones_like(confidence) if weights is None else np.asarray(weights, dtype=float)
    if not len(confidence):
        return 0.0, []
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    table, error = [], 0.0
    for b in range(bins):
        members = which == b
        if not members.any():
            continue
        mean_confidence = float(np.average(confidence[members], weights=weight[members]))
        accuracy = float(np.average(correct[members], weights=weight[members]))
        error += weight[members].sum() / weight.sum() * abs(mean_confidence - accuracy)
        table.append((b / bins, (b + 1) / bins, int(members.sum()), mean_confidence, accuracy))
    return 100.0 * error, table


def draw_reliability(tables: dict[str, list[Bin]], path: Path, title: str) -> None:
    """One line per table (e.g. "before"/"after" calibration) against the diagonal, as a PNG."""
    from PIL import Image, ImageDraw

    size, pad = 520, 56
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    inner = size - 2 * pad

    def point(x: float, y: float) -> tuple[float, float]:
        return pad + x * inner, size - pad - y * inner

    draw.rectangle([pad, pad, size - pad, size - pad], outline="black")
    for tick in (0.2, 0.4, 0.6, 0.8):
        draw.text((point(tick, 0)[0] - 8, size - pad + 6), f"{tick:.1f}", fill="black")
        draw.text((pad - 28, point(0, tick)[1] - 6), f"{tick:.1f}", fill="black")
    draw.line([point(0, 0), point(1, 1)], fill="gray")
    palette = [(200, 60, 60), (40, 90, 200), (40, 150, 60)]
    legend = []
    for colour, (name, table) in zip(palette, tables.items(), strict=False):
        points = [point(mean, accuracy) for _, _, _, mean, accuracy in table]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
        legend.append((name, colour))
    draw.text((pad, 12), title, fill="black")
    draw.text((pad, 28), "x: confidence shown   y: share of answers right (F1 >= 0.5)", fill="black")
    for row, (name, colour) in enumerate(legend):
        draw.text((pad + 8, pad + 8 + 14 * row), name, fill=colour)
    image.save(path)
