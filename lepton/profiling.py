"""Where the time goes: each layer of a run timed on its own in LiteRT, beside its MACs.

How: every layer becomes a one-layer model (sharing the trained weights), converted to an
fp32 TFLite file and timed on the LiteRT interpreter that answers predictions, fed the real
output of the layers before it (100 test images). One image: p50 of `repeats` calls on one
thread; a batch: the median of batch-256 calls on every core, per image. LiteRT has no op
profiler in its Python API, and timing Keras layers eagerly would mostly time Python's call
overhead (tens of µs, more than most layers here take). Each one-layer model still pays one
interpreter call (a few µs), so the layers' sum exceeds the whole model's time; the profile
reports both.

The CPU's reference rate is measured the same way: a 3×3 convolution of 64 to 64 channels on a
28×28 map (25 M MACs an image, reusing every weight 676 times: compute-bound, the shape a CPU
computes fastest), in LiteRT, for one image (one thread) and batch 256 (all cores).
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from lepton import background
from lepton.background import write_atomic
from lepton.export import batch_throughput, export_tflite, single_image_latency
from lepton.host import cpu_model
from lepton.i18n import message
from lepton.inference import LiteRTPredictor, file_sha256, load_model
from lepton.model import layer_table

PROFILE_FILE = "profile.json"
PROGRESS_FILE = "profile-progress.json"
REPEATS = 300
BATCH = 256
REFERENCE_SHAPE = (28, 28, 64)


def _one_layer_model(layer, input_shape: tuple):
    import keras

    inputs = keras.Input(shape=input_shape)
    return keras.Model(inputs, layer(inputs))


def _timed(model, images: np.ndarray, folder: Path, name: str, repeats: int) -> dict:
    path = export_tflite(model, folder / f"{name}.tflite", "fp32")
    predictor = LiteRTPredictor(path)
    p50, p95 = single_image_latency(predictor, images, repeats, warmup=30)
    per_second = batch_throughput(predictor, images, BATCH)
    return {"ms": p50, "p95_ms": p95, "batch_ms_per_image": 1000 / per_second,
            "outputs": predictor(images)}


def reference_rate(folder: Path, repeats: int = REPEATS) -> dict:
    """MACs per second of a compute-bound convolution in LiteRT: one image (one thread) and
    per image of a batch (all cores)."""
    import keras

    height, width, channels = REFERENCE_SHAPE
    model = _one_layer_model(keras.layers.Conv2D(channels, 3), REFERENCE_SHAPE)
    images = np.random.default_rng(0).random((32, *REFERENCE_SHAPE), dtype=np.float32)
    timed = _timed(model, images, folder, "reference", max(30, repeats // 4))
    macs = (height - 2) * (width - 2) * channels * 9 * channels
    return {"macs": macs, "one_image_macs_per_second": macs / (timed["ms"] / 1000),
            "batch_macs_per_second": macs / (timed["batch_ms_per_image"] / 1000)}


def profile_model(model, images: np.ndarray, repeats: int = REPEATS,
                  on_progress=None) -> dict:
    """Every layer's LiteRT time for one image and per image of a batch, MACs, activations,
    and the share of the CPU's reference MAC rate it reaches."""
    progress = on_progress or (lambda fraction, text: None)
    rows = layer_table(model)
    images = np.asarray(images[:100], dtype=np.float32)
    with tempfile.TemporaryDirectory(prefix="lepton-profile-") as folder:
        folder = Path(folder)
        progress(0.0, message("architecture.profile_reference"))
        reference = reference_rate(folder, repeats)
        whole = _timed(model, images, folder, "model", repeats)
        layers, inputs = [], images
        for index, (layer, row) in enumerate(zip(model.layers, rows)):
            progress((index + 1) / (len(rows) + 1),
                     message("architecture.profile_layer", layer=layer.name))
            timed = _timed(_one_layer_model(layer, inputs.shape[1:]), inputs, folder,
                           f"layer-{index}", repeats)
            inputs = timed.pop("outputs")
            macs = row["macs"]
            layers.append({
                **row, "output_shape": list(row["output_shape"]), **timed,
                "activation_bytes": row["activations"] * 4,
                "one_image_share_of_peak": (macs / (timed["ms"] / 1000))
                / reference["one_image_macs_per_second"] if macs else None,
                "batch_share_of_peak": (macs / (timed["batch_ms_per_image"] / 1000))
                / reference["batch_macs_per_second"] if macs else None,
            })
    whole.pop("outputs")
    return {"layers": layers, "model": whole, "reference": reference,
            "layers_ms": sum(layer["ms"] for layer in layers),
            "method": {"runtime": "LiteRT fp32, one-layer models", "repeats": repeats,
                       "batch": BATCH, "images": len(images), "cpu": cpu_model()}}


def profile_run(store, run: dict, dataset, repeats: int = REPEATS, on_progress=None) -> dict:
    """Profiles a finished run on its own test images; kept in the run folder with when,
    where and for which model file it was measured."""
    if not run.get("model_path"):
        raise ValueError(f"Run {run['id']} has no model to profile; it is {run['status']}.")
    model = load_model(run["model_path"])
    started = time.perf_counter()
    document = profile_model(model, dataset.x_test, repeats, on_progress)
    document.update(run_id=run["id"], model_sha256=file_sha256(run["model_path"]),
                    measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
                    seconds=time.perf_counter() - started)
    write_atomic(store.run_folder(run["id"]) / PROFILE_FILE,
                 json.dumps(document, indent=2).encode())
    return document


def load_profile(store, run: dict) -> dict | None:
    """The run's stored profile, if it was measured for the model file the run has now."""
    path = store.run_folder(run["id"]) / PROFILE_FILE
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    model_path = Path(run.get("model_path") or "")
    if not model_path.is_file() or document.get("model_sha256") != file_sha256(model_path):
        return None
    return document


def start_profile(store, run_id: int):
    """Starts `lepton profile` for a run in its own process (the app's way in).

    Raises:
        ValueError: a profile of this run is being measured already.
    """
    running = profile_progress(store, run_id)
    if running and running["status"] == "running":
        raise ValueError(f"Run {run_id} is being profiled already (process {running['pid']}); "
                         "wait for it to finish.")
    folder = store.run_folder(run_id)
    return background.start(["lepton", "profile", "--run", str(run_id), "--progress-file",
                             str(folder / PROGRESS_FILE)], folder / "profile.log",
                            folder / PROGRESS_FILE)


def profile_progress(store, run_id: int) -> dict | None:
    return background.read_progress(store.run_folder(run_id) / PROGRESS_FILE, "profile")
