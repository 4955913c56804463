"""Inference speed side by side, in one process: Keras' ways against LiteRT fp32, fp16 and int8.

    .venv/bin/python benchmarks/inference.py [--run ID] [--train] [--rounds 3]

Uses the latest finished run of the reference architecture (Conv32 → Conv64 → Dense128) in
LEPTON_HOME, or trains one on the embedded mnist-5k digits (about 20 s). Every path answers the
same images; each is measured `--rounds` times, interleaved, and the median of the rounds is
reported so that a busy neighbour on a shared host hurts every path alike. Prints a Markdown
table and writes it to benchmarks/results/inference.md.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import publish
from lepton.data import load_dataset
from lepton.export import (
    VARIANTS,
    batch_throughput,
    export_tflite,
    measurement_method,
    single_image_latency,
)
from lepton.imaging import preprocess_image
from lepton.inference import LiteRTPredictor, Predictor, load_model
from lepton.model import ModelConfig

RESULTS = ROOT / "benchmarks" / "results" / "inference.md"
REFERENCE = ModelConfig()


def reference_model(run_reference: str | None, train: bool):
    """(Keras model, dataset, where it came from)."""
    if not train:
        from lepton.registry import RunStore

        store = RunStore()
        runs = [run for run in store.list_runs("done") if run["model_path"]
                and list(run["model_config"].get("filters", [])) == list(REFERENCE.filters)
                and run["model_config"].get("dense_units") == REFERENCE.dense_units]
        if run_reference:
            runs = [store.resolve(run_reference)]
        if runs:
            run = runs[0]
            dataset = load_dataset(run["dataset"])
            return load_model(run["model_path"]), dataset, f"run {run['id']} of {store.home}"
    from lepton.training import TrainConfig, fit

    dataset = load_dataset("mnist-5k")
    print("training the reference CNN on mnist-5k (3 epochs)…", file=sys.stderr, flush=True)
    result = fit(REFERENCE, TrainConfig(epochs=3), dataset.x_train, dataset.y_train)
    return result.model, dataset, "trained now: reference CNN, 3 epochs on mnist-5k"


def png_bytes(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def canvas_drawing(digit: np.ndarray) -> np.ndarray:
    """A 280×280 RGBA picture like the Predict page's canvas returns: the digit ×10, white ink
    on black, opaque."""
    from PIL import Image

    large = np.asarray(Image.fromarray(digit).resize((280, 280), Image.Resampling.BILINEAR))
    return np.dstack([large, large, large, np.full_like(large, 255)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=None, help="run id, latest or best (default: latest "
                                                    "reference-architecture run)")
    parser.add_argument("--train", action="store_true", help="train a fresh reference model")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2000,
                        help="single-image calls per round for the fast paths")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    model, dataset, origin = reference_model(args.run, args.train)
    x_test, y_test = dataset.x_test, dataset.y_test
    folder = Path(tempfile.mkdtemp(prefix="lepton-bench-"))
    keras_path = folder / "model.keras"
    model.save(keras_path)
    generator = np.random.default_rng(0)
    representative = dataset.x_train[generator.choice(len(dataset.x_train), 200, replace=False)]
    files = {"keras": keras_path}
    for variant in VARIANTS:
        files[variant] = export_tflite(model, folder / f"{variant}.tflite", variant,
                                       representative)

    paths = {  # name → (callable(images) -> probabilities, repeats per round, file)
        "`model.predict(x)`": (lambda images: model.predict(images, verbose=0, batch_size=256),
                               30, "keras"),
        "`model(x, training=False)`": (lambda images: np.asarray(model(images, training=False)),
                                       300, "keras"),
        "`tf.function` (lepton `Predictor`)": (Predictor(model), 1000, "keras"),
    }
    for variant in VARIANTS:
        paths[f"LiteRT {variant}"] = (LiteRTPredictor(files[variant]), args.repeats, variant)

    accuracy, agreement = {}, {}
    reference = np.asarray(model(x_test, training=False)).argmax(axis=1)
    for name, (predict, _, _) in paths.items():
        answers = np.asarray(predict(x_test)).argmax(axis=1)
        accuracy[name] = float(np.mean(answers == y_test))
        agreement[name] = float(np.mean(answers == reference))

    # End to end: an uploaded PNG's bytes → decode + preprocess → LiteRT fp32, as the Predict
    # page and `python -m lepton predict` do it.
    fast = paths["LiteRT fp32"][0]
    digit = np.round(x_test[0, ..., 0] * 255).astype(np.uint8)
    uploads = {"end to end: 28×28 PNG upload → LiteRT fp32": png_bytes(digit),
               "end to end: 280×280 PNG upload → LiteRT fp32": png_bytes(canvas_drawing(digit)),
               "end to end: 280×280 canvas array (no decode) → LiteRT fp32":
                   canvas_drawing(digit)}

    def end_to_end(source):
        return lambda _images: fast(preprocess_image(source).input[np.newaxis])

    load_before = os.getloadavg()
    rounds: dict[str, list[tuple[float, float, float | None]]] = {}
    for round_index in range(args.rounds):
        print(f"round {round_index + 1}/{args.rounds}", file=sys.stderr, flush=True)
        for name, (predict, repeats, _) in paths.items():
            p50, p95 = single_image_latency(predict, x_test, repeats,
                                            warmup=min(50, repeats))
            throughput = batch_throughput(predict, x_test, 256,
                                          min_batches=5 if "predict" in name else 20)
            rounds.setdefault(name, []).append((p50, p95, throughput))
        for name, data in uploads.items():
            p50, p95 = single_image_latency(end_to_end(data), x_test[:1], 500, warmup=20)
            rounds.setdefault(name, []).append((p50, p95, None))
    load_after = os.getloadavg()

    def median(name: str, column: int) -> float | None:
        values = [row[column] for row in rounds[name] if row[column] is not None]
        return float(np.median(values)) if values else None

    def best_throughput(name: str) -> float | None:
        values = [row[2] for row in rounds[name] if row[2] is not None]
        return max(values) if values else None

    base_p50 = median("`model.predict(x)`", 0)
    base_throughput = median("`model.predict(x)`", 2)
    lines = [
        "| path | size | test accuracy | top-1 = Keras | p50 ms (1 image) | p95 ms | "
        "img/s (batch 256) | best round img/s | p50 vs `model.predict` | "
        "img/s vs `model.predict` |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in rounds:
        p50, p95, throughput = median(name, 0), median(name, 1), median(name, 2)
        if name in paths:
            size = f"{files[paths[name][2]].stat().st_size / 1e3:,.0f} KB"
            quality = f"{accuracy[name]:.2%} | {agreement[name]:.1%}"
        else:
            size, quality = "", " | "
        lines.append(
            f"| {name} | {size} | {quality} | {p50:.3f} | {p95:.3f} | "
            + (f"{throughput:,.0f} | {best_throughput(name):,.0f} | " if throughput
               else "– | – | ")
            + f"{base_p50 / p50:,.0f}× faster | "
            + (f"{throughput / base_throughput:,.1f}× |" if throughput else "– |")
        )
    method = measurement_method(args.repeats, os.cpu_count() or 1, len(y_test))
    header = [
        "# Inference benchmark",
        "",
        f"Measured {datetime.now(UTC).isoformat(timespec='seconds')} on "
        f"{method['cpu']} ({method['logical_cores']} logical cores), TensorFlow "
        f"{method['tensorflow']}, Keras {method['keras']}, ai-edge-litert {method['litert']}.",
        f"Model: {origin}; {len(y_test):,} {dataset.name} test images. Load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after (1-minute).",
        f"Single image: p50/p95 over {args.repeats:,} calls per round for LiteRT (1,000 for "
        "`tf.function`, 300 for `model(x)`, 30 for `model.predict`) after a warm-up; LiteRT "
        "answers one image on 1 thread. Batch: 256 ÷ median time of one batch of 256, "
        f"LiteRT on {os.cpu_count()} threads. Median of {args.rounds} interleaved rounds "
        "(best round for throughput too: what the host gives when no neighbour competes). "
        "End to end = PNG bytes → decode + `lepton.imaging.preprocess_image` + LiteRT fp32.",
        "",
    ]
    text = "\n".join(header + lines) + "\n"
    publish(text, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
