"""Magnitude pruning with fine-tuning: a finished run's smallest weights set to zero, then
trained a few epochs more with them held at zero; a new run, linked to its parent.

A small Keras 3 callback, not the TensorFlow Model Optimization Toolkit: the toolkit's
pruning wrappers need Keras 2 (`tf_keras`) models and refuse Keras 3 ones. The callback
zeroes the smallest-magnitude kernel weights of every Conv2D and Dense layer after each
training step (biases stay), either at once ("one-shot") or rising along a cubic to the
target by three quarters of the fine-tuning ("gradual", Zhu & Gupta 2017), over all layers
together ("global") or each layer to the same share ("layer").

Zeros save space only once compressed (gzip), and dense kernels do not run faster for them:
LiteRT still multiplies every zero. `pruning_figures` measures both.
"""

from __future__ import annotations

import gzip
from dataclasses import asdict, dataclass

import numpy as np

SCHEDULES = ("gradual", "one-shot")
SCOPES = ("global", "layer")
PRUNABLE = ("Conv2D", "Dense")
FINE_TUNE_LEARNING_RATE = 0.1  # of the parent's: fine-tuning nudges, it does not retrain
HISTOGRAM_BINS = 60


@dataclass(frozen=True)
class PruneSpec:
    """What to prune: which run, to what share of zero weights, how, and how long to heal."""

    parent_run_id: int
    sparsity: float
    epochs: int = 3
    schedule: str = "gradual"
    scope: str = "global"

    def __post_init__(self):
        if not 0.05 <= self.sparsity <= 0.99:
            raise ValueError(f"Expected a sparsity in 0.05..0.99 (the share of weights set to "
                             f"zero), got {self.sparsity}.")
        if not 1 <= self.epochs <= 100:
            raise ValueError(f"Expected 1..100 fine-tuning epochs, got {self.epochs}.")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"Expected a schedule in {SCHEDULES}, got {self.schedule!r}.")
        if self.scope not in SCOPES:
            raise ValueError(f"Expected a scope in {SCOPES}, got {self.scope!r}.")

    def to_dict(self) -> dict:
        return asdict(self)


def prunable_layers(model) -> list:
    """The Conv2D and Dense layers, also inside a nested model (training wraps the model in
    augmentation layers)."""
    found = []
    for layer in model.layers:
        if hasattr(layer, "layers"):
            found += prunable_layers(layer)
        elif type(layer).__name__ in PRUNABLE:
            found.append(layer)
    return found


def _kernel(layer) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(layer.kernel))


def keep_masks(kernels: list[np.ndarray], sparsity: float, scope: str) -> list[np.ndarray]:
    """True for the weights to keep: all but the `sparsity` share of smallest magnitudes."""
    if sparsity <= 0:
        return [np.ones(kernel.shape, dtype=bool) for kernel in kernels]
    if scope == "global":
        magnitudes = np.concatenate([np.abs(kernel).ravel() for kernel in kernels])
        count = int(round(sparsity * magnitudes.size))
        if count == 0:
            return [np.ones(kernel.shape, dtype=bool) for kernel in kernels]
        # Ranks, not a threshold: ties at the threshold would prune more than asked.
        order = np.argsort(magnitudes, kind="stable")
        keep = np.ones(magnitudes.size, dtype=bool)
        keep[order[:count]] = False
        masks, start = [], 0
        for kernel in kernels:
            masks.append(keep[start:start + kernel.size].reshape(kernel.shape))
            start += kernel.size
        return masks
    return [keep_masks([kernel], sparsity, "global")[0] for kernel in kernels]


def sparsity_at(progress: float, target: float, schedule: str) -> float:
    """The share of zeros wanted `progress` (0..1) of the way through the fine-tuning."""
    if schedule == "one-shot":
        return target
    reached = min(1.0, progress / 0.75)
    return target * (1 - (1 - reached) ** 3)


def measured_sparsity(model) -> float:
    """The share of exactly-zero kernel weights in the prunable layers."""
    kernels = [_kernel(layer) for layer in prunable_layers(model)]
    return float(sum(int(np.sum(kernel == 0)) for kernel in kernels)
                 / sum(kernel.size for kernel in kernels))


def make_callback(spec: PruneSpec):
    """The Keras callback that prunes while it fine-tunes (see the module's docstring)."""
    import keras

    class MagnitudePruning(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.total = max(1, self.params["epochs"] * self.params["steps"])
            self.epoch, self.masks, self.current = 0, None, -1.0
            self._prune(sparsity_at(0.0, spec.sparsity, spec.schedule))

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            step = self.epoch * self.params["steps"] + batch + 1
            self._prune(sparsity_at(step / self.total, spec.sparsity, spec.schedule))

        def on_train_end(self, logs=None):
            self._prune(self.current)  # the last step's update is zeroed too

        def _prune(self, sparsity: float) -> None:
            layers = prunable_layers(self.model)
            kernels = [_kernel(layer) for layer in layers]
            # Masks follow the schedule in steps of 1e-4, and always land on the target.
            if self.masks is None or abs(sparsity - self.current) > 1e-4 or (
                    sparsity == spec.sparsity != self.current):
                self.masks = keep_masks(kernels, sparsity, spec.scope)
                self.current = sparsity
            for layer, kernel, mask in zip(layers, kernels, self.masks):
                layer.kernel.assign(kernel * mask)

    return MagnitudePruning()


def prune_config(parent: dict, spec: PruneSpec) -> dict:
    """The pruned run's training settings: the parent's, fine-tuning at a tenth of its
    learning rate for `spec.epochs` epochs, with the spec beside them."""
    train = dict(parent["train_config"])
    train.update(epochs=spec.epochs, schedule="constant",
                 learning_rate=train["learning_rate"] * FINE_TUNE_LEARNING_RATE,
                 prune=spec.to_dict())
    return train


def start_model(store, spec: dict):
    """The parent run's Keras model, to fine-tune from."""
    from lepton.inference import load_model

    parent = store.get_run(spec["parent_run_id"])
    if parent is None or not parent.get("model_path"):
        raise ValueError(f"Run {spec['parent_run_id']} has no model to prune.")
    return load_model(parent["model_path"])


def pruning_figures(store, spec: dict, model, model_path, dataset) -> dict:
    """What pruning bought, measured: zeros, compressed sizes, int8 on top, and the weights'
    histograms before and after, for the pruned run's metrics."""
    from pathlib import Path

    from lepton.export import export_tflite
    from lepton.inference import LiteRTPredictor, load_model

    parent = store.get_run(spec["parent_run_id"])
    parent_model = load_model(parent["model_path"])
    folder = Path(model_path).parent
    int8 = export_tflite(model, folder / "model-int8-dynamic.tflite", "int8-dynamic")
    parent_int8 = export_tflite(parent_model, folder / "parent-int8-dynamic.tflite",
                                "int8-dynamic")

    def accuracy(path) -> float:
        return float(np.mean(LiteRTPredictor(path)(dataset.x_test).argmax(axis=1)
                             == dataset.y_test))

    before = np.concatenate([_kernel(layer).ravel() for layer in prunable_layers(parent_model)])
    after = np.concatenate([_kernel(layer).ravel() for layer in prunable_layers(model)])
    # Edges over both: fine-tuning can push a kept weight past the parent's largest.
    reach = max(np.abs(before).max(), np.abs(after).max())
    edges = np.linspace(-reach, reach, HISTOGRAM_BINS + 1)
    parent_tflite = Path(parent["model_path"]).with_name("model.tflite")
    if not parent_tflite.is_file():  # a run from before Lepton kept a LiteRT copy
        parent_tflite = export_tflite(parent_model, folder / "parent.tflite", "fp32")
    return {
        "pruning": spec, "parent_run_id": spec["parent_run_id"],
        "sparsity": measured_sparsity(model),
        "parent_test_accuracy": parent["metrics"].get("test_accuracy"),
        "gzip_bytes": gzip_size(folder / "model.tflite"),
        "parent_gzip_bytes": gzip_size(parent_tflite),
        "weights_gzip_bytes": len(gzip.compress(_weight_bytes(model), 9)),
        "parent_weights_gzip_bytes": len(gzip.compress(_weight_bytes(parent_model), 9)),
        "int8_gzip_bytes": gzip_size(int8), "int8_test_accuracy": accuracy(int8),
        "parent_int8_gzip_bytes": gzip_size(parent_int8),
        "parent_int8_test_accuracy": accuracy(parent_int8),
        "parent_latency_ms": parent["metrics"].get("latency_ms"),
        "weight_histograms": {"edges": edges.tolist(),
                              "parent": np.histogram(before, edges)[0].tolist(),
                              "pruned": np.histogram(after, edges)[0].tolist(),
                              "pruned_zeros": int(np.sum(after == 0))},
    }


def gzip_size(path) -> int:
    """Bytes of a file once gzipped at level 9."""
    with open(path, "rb") as file:
        return len(gzip.compress(file.read(), 9))


def _weight_bytes(model) -> bytes:
    return b"".join(np.asarray(weight, dtype=np.float32).tobytes()
                    for weight in model.get_weights())


def start_pruning(jobs, parent: dict, spec: PruneSpec) -> int:
    """Starts the pruned fine-tuning of `parent` as a new run (in a worker process, under the
    host's training lock, like any training); returns its id.

    Raises:
        ValueError: the parent has no model. TrainingBusy: a training holds the host.
    """
    from lepton.model import ModelConfig
    from lepton.registry import is_finished
    from lepton.train_config import TrainConfig

    if not is_finished(parent):
        raise ValueError(f"Run {parent['id']} is {parent['status']} and has no model to prune; "
                         "choose a finished run.")
    if parent["train_config"].get("prune"):
        raise ValueError(f"Run {parent['id']} is already a pruned run; prune its parent "
                         f"{parent['train_config']['prune']['parent_run_id']} instead.")
    train = prune_config(parent, spec)
    return jobs.start(parent["dataset"], ModelConfig.from_dict(parent["model_config"]),
                      TrainConfig.from_dict(train), extra={"prune": spec.to_dict()})


def pruned_children(runs: list[dict], parent_id: int) -> list[dict]:
    """The finished pruned runs of `parent_id`, by sparsity."""
    children = [run for run in runs if (run["train_config"].get("prune") or {}).get(
        "parent_run_id") == parent_id and run["status"] == "done"
        and run["metrics"].get("sparsity") is not None]
    return sorted(children, key=lambda run: run["metrics"]["sparsity"])
