"""Compression and export: a Keras model as TFLite fp32, fp16, int8 and ONNX, each measured here.

Conversion goes `model.export(folder)` (a SavedModel of the forward pass) →
`tf.lite.TFLiteConverter.from_saved_model(folder)`, the route that works with Keras 3 models;
the files run on the `ai_edge_litert` interpreter through `lepton.inference.LiteRTPredictor`.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from lepton import background
from lepton.background import write_atomic
from lepton.i18n import Message, message
from lepton.inference import (
    FAST_MODEL_NAME,
    FAST_MODEL_RECORD,
    LiteRTPredictor,
    Predictor,
    file_sha256,
    load_model,
)
from lepton.onnx_format import OnnxPredictor, export_onnx

VARIANTS = ("fp32", "fp16", "int8-dynamic", "int8-full", "onnx")
TFLITE_VARIANTS = VARIANTS[:4]
VARIANT_NOTES = {
    "keras": "the trained model as saved (.keras), run by Keras through a traced tf.function",
    "fp32": "TFLite, float32 weights and maths: the same numbers as Keras",
    "fp16": "TFLite, weights stored as float16 (half the size), computed in float32",
    "int8-dynamic": "TFLite dynamic-range quantisation: int8 weights, activations quantised "
                    "on the fly",
    "int8-full": "TFLite full-integer quantisation: int8 weights and activations calibrated on "
                 "representative training images; float32 input and output",
    "onnx": "ONNX (Keras 3's export through tf2onnx), float32, run on onnxruntime's CPU "
            "provider",
}
FP32_TOLERANCE = 1e-4  # largest probability difference accepted between fp32 TFLite and Keras
REPRESENTATIVE_SAMPLES = 200  # calibration images for int8-full (200 gave 99.7 % top-1 agreement)
MEASUREMENTS_FILE = "measurements.json"
PROGRESS_FILE = "progress.json"  # of the export running in its own process
LATENCY_REPEATS = 1000
LATENCY_WARMUP = 50
THROUGHPUT_MIN_BATCHES = 20
THROUGHPUT_MIN_SECONDS = 0.3


def export_tflite(model, path: str | Path, variant: str = "fp32",
                  representative: np.ndarray | None = None) -> Path:
    """Converts a Keras model into a TFLite file.

    Args:
        model: a built Keras model with one image input.
        path: where the `.tflite` file goes (written atomically).
        variant: `fp32`, `fp16` (float16 weights), `int8-dynamic` (dynamic-range) or
            `int8-full` (full integer, float input and output).
        representative: images (N, *input_shape) to calibrate `int8-full` with, e.g. 200
            training images.

    Returns:
        The path written.

    Raises:
        ValueError: unknown variant, or `int8-full` without representative images.
    """
    if variant not in TFLITE_VARIANTS:
        raise ValueError(f"Unknown TFLite variant {variant!r}; expected one of "
                         f"{', '.join(TFLITE_VARIANTS)}.")
    if variant == "int8-full" and (representative is None or len(representative) == 0):
        raise ValueError("int8-full needs representative images to calibrate activation ranges; "
                         "pass e.g. 200 training images as `representative`.")
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="lepton-export-") as folder:
        model.export(folder, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        if variant != "fp32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if variant == "fp16":
            converter.target_spec.supported_types = [tf.float16]
        if variant == "int8-full":
            samples = np.asarray(representative, dtype=np.float32)
            converter.representative_dataset = lambda: ([samples[i:i + 1]]
                                                        for i in range(len(samples)))
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        flatbuffer = converter.convert()
    path = Path(path)
    write_atomic(path, flatbuffer)
    return path


# --- Measuring ------------------------------------------------------------------------------


def single_image_latency(predictor, images: np.ndarray, repeats: int = LATENCY_REPEATS,
                         warmup: int = LATENCY_WARMUP) -> tuple[float, float]:
    """p50 and p95 milliseconds of `predictor(one image)`, cycling through `images`."""
    singles = [np.ascontiguousarray(images[i:i + 1]) for i in range(min(len(images), 100))]
    for index in range(warmup):
        predictor(singles[index % len(singles)])
    clock = time.perf_counter_ns
    samples = np.empty(repeats)
    for index in range(repeats):
        image = singles[index % len(singles)]
        started = clock()
        predictor(image)
        samples[index] = clock() - started
    p50, p95 = np.percentile(samples, [50, 95]) / 1e6
    return float(p50), float(p95)


def batch_throughput(predictor, images: np.ndarray, batch_size: int = 256,
                     min_batches: int = THROUGHPUT_MIN_BATCHES,
                     min_seconds: float = THROUGHPUT_MIN_SECONDS) -> float:
    """Images per second at `batch_size`, from the median time of one batch.

    The median resists the pauses of a shared host better than total time over total images.
    """
    batch = np.ascontiguousarray(np.resize(images, (batch_size, *images.shape[1:])))
    predictor(batch)
    predictor(batch)
    times = []
    started = time.perf_counter()
    while len(times) < min_batches or time.perf_counter() - started < min_seconds:
        begin = time.perf_counter()
        predictor(batch)
        times.append(time.perf_counter() - begin)
    return float(batch_size / np.median(times))


def measure_predictor(predictor, x_test: np.ndarray, y_test: np.ndarray,
                      repeats: int = LATENCY_REPEATS, batch_size: int = 256) -> dict:
    """Accuracy, single-image latency and batch throughput of one predictor.

    Returns:
        `test_accuracy`, `p50_ms`, `p95_ms`, `images_per_second`, and `probabilities` (N,
        classes) over the test set.
    """
    probabilities = predictor(x_test)
    p50, p95 = single_image_latency(predictor, x_test, repeats)
    return {
        "test_accuracy": float(np.mean(probabilities.argmax(axis=1) == y_test)),
        "p50_ms": p50,
        "p95_ms": p95,
        "images_per_second": batch_throughput(predictor, x_test, batch_size),
        "probabilities": probabilities,
    }


def measure_variant(path: str | Path, x_test: np.ndarray, y_test: np.ndarray,
                    repeats: int = LATENCY_REPEATS, num_threads: int | None = None,
                    predictor=None) -> dict:
    """Size, test accuracy, p50/p95 single-image latency and batch-256 throughput of a file.

    A `.keras` file runs through the Keras `Predictor`, a `.tflite` file through
    `LiteRTPredictor`, an `.onnx` file through `OnnxPredictor`; pass `predictor` to reuse one
    already built for `path`.
    """
    path = Path(path)
    if predictor is None and path.suffix == ".onnx":
        predictor = OnnxPredictor(path, num_threads=num_threads)
    elif predictor is None:
        predictor = (Predictor(load_model(path)) if path.suffix == ".keras"
                     else LiteRTPredictor(path, num_threads=num_threads))
    return {"path": str(path), "bytes": path.stat().st_size,
            **measure_predictor(predictor, x_test, y_test, repeats)}


def measurement_method(repeats: int, num_threads: int, test_images: int) -> dict:
    """How the figures were measured, shown beside them."""
    from lepton.host import cpu_model

    return {
        "repeats": repeats,
        "warmup": LATENCY_WARMUP,
        "batch_size": 256,
        "threads": num_threads,
        "single_image_threads": 1,
        "test_images": test_images,
        "representative_samples": REPRESENTATIVE_SAMPLES,
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count() or 1,
        "host": platform.node(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "litert": _version("ai-edge-litert"),
        "tensorflow": _version("tensorflow"),
        "keras": _version("keras"),
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


# --- Runs -----------------------------------------------------------------------------------


def exports_folder(store, run_id: int) -> Path:
    return store.run_folder(run_id) / "exports"


def start_export(store, run_id: int, variants: list[str] | tuple[str, ...],
                 repeats: int = LATENCY_REPEATS):
    """Starts `python -m lepton export` for a run in its own process, for a page: measuring in
    the server would time the server's work too. Follow it with `export_progress`.

    Raises:
        ValueError: an export of this run is running already.
    """
    running = export_progress(store, run_id)
    if running and running["status"] == "running":
        raise ValueError(f"Run {run_id} is being exported already (process {running['pid']});"
                         " wait for it to finish.")
    folder = exports_folder(store, run_id)
    return background.start(
        ["lepton", "export", "--run", str(run_id), "--variants", ",".join(variants),
         "--repeats", str(repeats), "--progress-file", str(folder / PROGRESS_FILE)],
        folder / "export.log", folder / PROGRESS_FILE)


def export_progress(store, run_id: int) -> dict | None:
    """The run's latest export's progress (`lepton.background.read_progress`); None if never."""
    return background.read_progress(exports_folder(store, run_id) / PROGRESS_FILE, "export")


def export_run(store, run: dict, dataset, variants: tuple[str, ...] | list[str] = VARIANTS,
               repeats: int = LATENCY_REPEATS, num_threads: int | None = None,
               on_progress: Callable[[float, Message], None] | None = None) -> list[dict]:
    """Exports a finished run as TFLite variants and measures each against the `.keras` model.

    Files go to `<run folder>/exports/model-<variant>.tflite`; the table also goes to
    `exports/measurements.json` (see `load_measurements`) with when and how it was measured.
    A variant that fails to convert gets a row with its `error` instead of figures.

    Args:
        store: the `RunStore` holding the run.
        run: the run (as `store.get_run` returns it), finished with a model.
        dataset: a `lepton.data.Dataset` whose test set matches the model; its training images
            calibrate `int8-full`.
        variants: any of `VARIANTS`.
        repeats: single-image latency samples per variant.
        num_threads: LiteRT threads for batches (defaults to the CPU count).
        on_progress: called with (fraction done, what happens now as a `lepton.i18n.Message`).

    Returns:
        One row per format, `.keras` first: variant, path, bytes, size_vs_keras, test_accuracy,
        accuracy_delta, top1_agreement, max_abs_diff, p50_ms, p95_ms, images_per_second,
        convert_seconds, error.

    Raises:
        ValueError: unknown variants, a run without a model, or a dataset that does not fit it.
    """
    unknown = [variant for variant in variants if variant not in VARIANTS]
    if unknown:
        raise ValueError(f"Unknown variants {unknown}; expected some of {', '.join(VARIANTS)}.")
    if not run.get("model_path"):
        raise ValueError(f"Run {run['id']} has no model to export; it is {run['status']}.")
    progress = on_progress or (lambda fraction, text: None)
    steps = len(variants) + 1
    keras_path = Path(run["model_path"])
    progress(0.0, message("optimize.progress_keras"))
    model = load_model(keras_path)
    if (tuple(model.input_shape[1:]) != dataset.input_shape
            or model.output_shape[-1] != dataset.num_classes):
        raise ValueError(
            f"Run {run['id']} expects {tuple(model.input_shape[1:])} images and "
            f"{model.output_shape[-1]} classes; {dataset.name} has {dataset.input_shape} and "
            f"{dataset.num_classes}. Export with the run's own dataset."
        )
    x_test, y_test = dataset.x_test, np.asarray(dataset.y_test)
    threads = num_threads or os.cpu_count() or 1
    reference = measure_variant(keras_path, x_test, y_test, repeats,
                                predictor=Predictor(model))
    keras_probabilities = reference.pop("probabilities")
    rows = [{"variant": "keras", **reference, "convert_seconds": 0.0, "error": None}]
    generator = np.random.default_rng(0)
    count = min(REPRESENTATIVE_SAMPLES, len(dataset.x_train))
    representative = dataset.x_train[generator.choice(len(dataset.x_train), count,
                                                      replace=False)]
    folder = exports_folder(store, run["id"])
    for step, variant in enumerate(variants, start=1):
        progress(step / steps, message("optimize.progress_variant", variant=variant))
        path = folder / (f"model-{variant}.tflite" if variant in TFLITE_VARIANTS
                         else "model.onnx")
        started = time.perf_counter()
        try:
            if variant == "onnx":
                export_onnx(model, path)
            else:
                export_tflite(model, path, variant, representative)
            convert_seconds = time.perf_counter() - started
            measured = measure_variant(path, x_test, y_test, repeats, threads)
        except Exception as error:  # one failing converter must not hide the other variants
            rows.append({"variant": variant, "path": str(path), "bytes": None,
                         "test_accuracy": None, "p50_ms": None, "p95_ms": None,
                         "images_per_second": None, "convert_seconds": None,
                         "error": f"{type(error).__name__}: {str(error)[:500]}"})
            continue
        probabilities = measured.pop("probabilities")
        rows.append({
            "variant": variant, **measured, "convert_seconds": convert_seconds, "error": None,
            "top1_agreement": float(np.mean(probabilities.argmax(axis=1)
                                            == keras_probabilities.argmax(axis=1))),
            "max_abs_diff": float(np.max(np.abs(probabilities - keras_probabilities))),
        })
    keras_row = rows[0]
    keras_row.update(top1_agreement=1.0, max_abs_diff=0.0)
    for row in rows:
        measured_ok = row["error"] is None
        row["size_vs_keras"] = row["bytes"] / keras_row["bytes"] if measured_ok else None
        row["accuracy_delta"] = (row["test_accuracy"] - keras_row["test_accuracy"]
                                 if measured_ok else None)
        row.setdefault("top1_agreement", None)
        row.setdefault("max_abs_diff", None)
        row["note"] = VARIANT_NOTES[row["variant"]]
    document = {
        "run_id": run["id"],
        "dataset": dataset.name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "method": measurement_method(repeats, threads, len(y_test)),
        "rows": rows,
    }
    write_atomic(folder / MEASUREMENTS_FILE, json.dumps(document, indent=2).encode())
    progress(1.0, message("optimize.progress_done"))
    return rows


def load_measurements(store, run_id: int) -> dict | None:
    """The last `export_run` document of a run (run_id, dataset, measured_at, method, rows)."""
    path = exports_folder(store, run_id) / MEASUREMENTS_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_fast_model(model, model_path: str | Path, check_images: np.ndarray | None = None,
                     repeats: int = 300) -> dict:
    """Writes the fp32 `model.tflite` beside a saved `model.keras` for fast inference.

    Checks that LiteRT and Keras give the same probabilities (within `FP32_TOLERANCE`) on
    `check_images` (default: 32 seeded random images), then records the `.keras` file's
    SHA-256 in `model.tflite.json` so `lepton.prediction.predictor_for` uses it only for
    this model.

    Returns:
        `tflite_bytes`, `latency_ms` (p50 of one image through LiteRT), `tflite_max_abs_diff`
        and `tflite_seconds` (conversion and checks), ready to merge into a run's metrics.

    Raises:
        ValueError: the converted model disagrees with Keras (the file is removed).
    """
    started = time.perf_counter()
    model_path = Path(model_path)
    fast = model_path.with_name(FAST_MODEL_NAME)
    input_shape = tuple(int(size) for size in model.input_shape[1:])
    if check_images is None or len(check_images) == 0:
        check_images = np.random.default_rng(0).random((32, *input_shape), dtype=np.float32)
    check_images = np.asarray(check_images[:256], dtype=np.float32)
    export_tflite(model, fast, "fp32")
    predictor = LiteRTPredictor(fast, keras_path=model_path, model=model)
    difference = float(np.max(np.abs(predictor(check_images)
                                     - np.asarray(model(check_images, training=False)))))
    if not difference <= FP32_TOLERANCE:
        fast.unlink(missing_ok=True)
        raise ValueError(f"The fp32 TFLite model differs from Keras by {difference:.2e} "
                         f"(more than {FP32_TOLERANCE:g}); it was not kept.")
    p50, _ = single_image_latency(predictor, check_images, repeats, warmup=30)
    record = {
        "source": model_path.name,
        "source_sha256": file_sha256(model_path),
        "variant": "fp32",
        "max_abs_diff": difference,
        "checked_images": len(check_images),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_atomic(model_path.with_name(FAST_MODEL_RECORD), json.dumps(record, indent=2).encode())
    return {
        "tflite_bytes": fast.stat().st_size,
        "latency_ms": p50,
        "tflite_max_abs_diff": difference,
        "tflite_seconds": time.perf_counter() - started,
    }
