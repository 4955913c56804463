"""What decoding a JPEG coarse first buys, and what it changes: side by side in one process.

    .venv/bin/python benchmarks/coarse_draft.py [--run ID] [--rounds 7] [--files 30]

The digit recipe decodes a JPEG keeping COARSE_DRAFT_MIN_PIXELS and looks again at the finer
draft (DRAFT_MIN_PIXELS) when the ink it found is under MIN_INK_SIDE px. This times both ways
on benchmarks/uploads.py's photo JPEGs (0.1–0.5 MP) and on photos of small digits (a digit
covering a third to two thirds of a padded field, so the finer decode is needed), alternating,
`--rounds` times; counts how often the second decode ran; and, with a finished digit run (the
latest in LEPTON_HOME, or `--run`), counts the files whose class is the same both ways.
Prints a Markdown table and writes it to benchmarks/results/coarse_draft.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import publish
from benchmarks.uploads import find_model, percentiles, small_uploads
from lepton.host import cpu_model
from lepton.imaging import decoding, pipelines
from tests.digit_images import mnist_digit, realistic_upload

RESULTS = ROOT / "benchmarks" / "results" / "coarse_draft.md"
WAYS = {"finer draft only": decoding.DRAFT_MIN_PIXELS,
        "coarse first (Lepton)": decoding.COARSE_DRAFT_MIN_PIXELS}


def small_digit_photos(count: int) -> tuple[list[bytes], list[int]]:
    """Phone-like JPEG photos whose digit is small in the picture, and the digits' labels."""
    generator = np.random.default_rng(5)
    photos, labels = [], []
    for number in range(count):
        digit, label = mnist_digit(int(generator.integers(0, 5000)))
        side = int(generator.integers(40, 90))  # the 28×28 digit in a larger empty field
        field = np.zeros((side, side), np.uint8)
        top, left = (int(generator.integers(0, side - 28)) for _ in range(2))
        field[top:top + 28, left:left + 28] = digit
        size = (int(generator.integers(350, 800)), int(generator.integers(300, 650)))
        photos.append(realistic_upload(field, size=size, fmt="JPEG", seed=number))
        labels.append(label)
    return photos, labels


def prepare(way: str, data: bytes):
    """`preprocess_image` with the first decode of `way`, and whether it decoded twice."""
    calls = []
    recipe = pipelines._digit_recipe
    pipelines.COARSE_DRAFT_MIN_PIXELS = WAYS[way]
    pipelines._digit_recipe = lambda *arguments: calls.append(1) or recipe(*arguments)
    try:
        return pipelines.preprocess_image(data), len(calls) > 1
    finally:
        pipelines.COARSE_DRAFT_MIN_PIXELS = decoding.COARSE_DRAFT_MIN_PIXELS
        pipelines._digit_recipe = recipe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=None, help="run id, latest or best")
    parser.add_argument("--rounds", type=int, default=7, help="timed calls per file and way")
    parser.add_argument("--files", type=int, default=30, help="photo JPEGs, and 4× as many "
                                                              "small-digit photos")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    photos = [upload.data for upload in small_uploads(args.files)
              if upload.kind == "photo JPEG"]
    small, labels = small_digit_photos(4 * args.files)
    groups = {f"photo JPEG ({len(photos)} files, 0.1–0.5 MP)": photos,
              f"small-digit photo JPEG ({len(small)} files, 0.1–0.5 MP)": small}
    model_path, origin = find_model(args.run, train=False)
    predictor = None
    if model_path is not None:
        from lepton.prediction import predictor_for

        predictor = predictor_for(model_path, convert_missing=True)

    lines = [
        "# Decoding a JPEG coarse first",
        "",
        f"Measured {datetime.now(UTC).isoformat(timespec='seconds')} on {cpu_model()} "
        f"({os.cpu_count()} logical cores); {args.rounds} timed rounds after a warm-up, both "
        "ways on each file one right after the other in alternating order; decode + "
        f"preprocess, p50 / p95 ms. Classes by {origin}.",
        "",
        "| uploads | finer draft only | coarse first | decoded twice | largest input "
        "difference | same class | right, finer / coarse |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, files in groups.items():
        timings = {way: [] for way in WAYS}
        inputs = {way: [] for way in WAYS}
        twice = 0
        for round_index in range(args.rounds + 1):
            print(f"{name}: round {round_index}/{args.rounds}", file=sys.stderr, flush=True)
            for number, data in enumerate(files):
                order = list(WAYS) if (round_index + number) % 2 else list(WAYS)[::-1]
                for way in order:
                    started = time.perf_counter()
                    prepared, decoded_twice = prepare(way, data)
                    elapsed = (time.perf_counter() - started) * 1000
                    if round_index == 0:
                        inputs[way].append(prepared.input)
                        twice += decoded_twice and way == "coarse first (Lepton)"
                    else:
                        timings[way].append(elapsed)
        fine, coarse = (percentiles(timings[way]) for way in WAYS)
        difference = max(float(np.abs(a - b).max()) for a, b in zip(*inputs.values()))
        same = right = "—"
        if predictor is not None:
            classes = [predictor(np.stack(inputs[way])).argmax(axis=1) for way in WAYS]
            same = f"{int((classes[0] == classes[1]).sum())} of {len(files)}"
            if files is small:
                right = " / ".join(f"{float((found == np.asarray(labels)).mean()):.1%}"
                                   for found in classes)
        lines.append(f"| {name} | {fine[0]:.2f} / {fine[1]:.2f} | **{coarse[0]:.2f} / "
                     f"{coarse[1]:.2f}** | {twice} | {difference:.3f} | {same} | {right} |")
    lines += ["", "Decoded twice: files whose ink, found at the coarse scale, was under "
              f"{pipelines.MIN_INK_SIDE} px (or not found), so the recipe decoded them again at "
              "the finer scale.", ""]
    publish("\n".join(lines), args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
