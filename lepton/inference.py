"""Inference: load a stored model safely and predict class probabilities fast.

Two predictors share one call interface (`predictor(images) -> probabilities (N, classes)`,
`.input_shape`, `.num_classes`, `.model`): `Predictor` runs the Keras model through a traced
`tf.function`; `LiteRTPredictor` runs a TFLite file on the `ai_edge_litert` interpreter, about
20× faster for one image on this class of host. `lepton.prediction.predictor_for` picks the
fastest one a run has (converting the model when it has none).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

FAST_MODEL_NAME = "model.tflite"  # fp32 TFLite file next to a run's model.keras
FAST_MODEL_RECORD = "model.tflite.json"  # which model.keras it was converted from, and checks
BATCH_SIZE = 256
# Interpreters kept per LiteRTPredictor: 1, the chunk size and the latest other size (a batch-256
# interpreter of the reference CNN holds ~30 MB of activations, so not many more).
CACHED_BATCH_SIZES = 3
# One image is answered faster on one thread: handing a 0.05 ms job to a second thread costs
# more than it saves. Batches from this size on use all the predictor's threads.
MULTI_THREAD_FROM = 32


def load_model(path: str | Path):
    """Loads a `.keras` model with Keras' safe mode on (no arbitrary code from the file)."""
    import keras

    path = Path(path)
    if not path.exists():
        raise ValueError(f"No model file at {path}; it may have been deleted with its run.")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a .keras model (a .keras file is a zip archive).")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except TypeError as error:  # a config naming classes Keras will not build in safe mode
        raise ValueError(f"{path} could not be loaded safely: {error}") from error


def _check_images(images, input_shape: tuple[int, ...]) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.shape[1:] != input_shape:
        raise ValueError(
            f"Expected images of shape (N, {', '.join(map(str, input_shape))}), "
            f"got {images.shape}."
        )
    return images


class Predictor:
    """Repeated inference for one model through a traced `tf.function`.

    `model.predict` costs ~70 ms per call on this class of host whatever the batch; a traced
    function with a fixed input signature answers one image in about a millisecond.
    """

    def __init__(self, model, batch_size: int = BATCH_SIZE):
        import tensorflow as tf

        self.model = model
        self.batch_size = batch_size
        self.input_shape = tuple(int(size) for size in model.input_shape[1:])
        self.num_classes = int(model.output_shape[-1])
        self.runtime = "keras"
        signature = tf.TensorSpec((None, *self.input_shape), tf.float32)
        self._forward = tf.function(
            lambda images: model(images, training=False), input_signature=[signature]
        )

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (N, classes), for images shaped (N, *input_shape)."""
        images = _check_images(images, self.input_shape)
        outputs = [
            self._forward(images[start:start + self.batch_size]).numpy()
            for start in range(0, len(images), self.batch_size)
        ]
        if not outputs:
            return np.zeros((0, self.num_classes), dtype=np.float32)
        return np.concatenate(outputs)


class _Slot:
    """One interpreter sized for one batch size, with the lock that serialises its use."""

    def __init__(self, content: bytes, batch: int, input_shape: tuple[int, ...], threads: int):
        from ai_edge_litert.interpreter import Interpreter

        self.lock = threading.Lock()
        self.interpreter = Interpreter(model_content=content, num_threads=threads)
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        self.output_index = self.interpreter.get_output_details()[0]["index"]
        self.interpreter.resize_tensor_input(self.input_index, [batch, *input_shape])
        self.interpreter.allocate_tensors()

    def run(self, images: np.ndarray) -> np.ndarray:
        with self.lock:
            self.interpreter.set_tensor(self.input_index, images)
            self.interpreter.invoke()
            return self.interpreter.get_tensor(self.output_index)  # a copy: safe after unlock


class LiteRTPredictor:
    """Repeated inference for one TFLite file on the LiteRT (`ai_edge_litert`) interpreter.

    Safe to share between threads (Streamlit serves every session on its own thread): each
    batch size gets its own interpreter, resized once and guarded by its own lock, so a
    single-image request never waits behind a long batch. Batches are cut into chunks of
    `batch_size`; the few most recent sizes keep their interpreters (resizing costs ~0.04 ms,
    a new interpreter ~0.7 ms).

    Args:
        path: the `.tflite` file (float32 input and output, any quantisation inside).
        num_threads: threads for batches of `MULTI_THREAD_FROM` images or more; single images
            always use one. Defaults to the number of CPU cores.
        batch_size: the largest chunk handed to the interpreter at once.
        keras_path: the `.keras` model this file was made from, loaded (safe mode) on first
            access of `.model` for explanations; defaults to `model.keras` beside `path`.
        model: an already loaded Keras model to return from `.model` instead.

    Raises:
        ValueError: the file is missing or not a TFLite model with one input and one output.
    """

    def __init__(self, path: str | Path, num_threads: int | None = None,
                 batch_size: int = BATCH_SIZE, keras_path: str | Path | None = None,
                 model=None):
        self.path = Path(path)
        if not self.path.exists():
            raise ValueError(f"No TFLite file at {self.path}; export the run again.")
        if batch_size < 1:
            raise ValueError(f"Expected a positive batch_size, got {batch_size}.")
        self.num_threads = num_threads or os.cpu_count() or 1
        self.batch_size = batch_size
        self.runtime = "litert"
        self._content = self.path.read_bytes()
        from ai_edge_litert.interpreter import Interpreter

        try:
            probe = Interpreter(model_content=self._content)
        except (ValueError, RuntimeError) as error:
            raise ValueError(f"{self.path} is not a readable TFLite model: {error}") from error
        inputs, outputs = probe.get_input_details(), probe.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(f"Expected a TFLite model with one input and one output, "
                             f"{self.path} has {len(inputs)} and {len(outputs)}.")
        if inputs[0]["dtype"] != np.float32 or outputs[0]["dtype"] != np.float32:
            raise ValueError(f"Expected float32 input and output, {self.path} has "
                             f"{inputs[0]['dtype'].__name__} and {outputs[0]['dtype'].__name__}.")
        self.input_shape = tuple(int(size) for size in inputs[0]["shape"][1:])
        self.num_classes = int(outputs[0]["shape"][-1])
        self._keras_path = Path(keras_path) if keras_path else self.path.with_name("model.keras")
        self._model = model
        self._model_lock = threading.Lock()
        self._slots: OrderedDict[int, _Slot] = OrderedDict()
        self._slots_lock = threading.Lock()
        self._slot(1)  # ready for the first single image

    @property
    def model(self):
        """The Keras model behind this file (for Grad-CAM, feature maps), loaded on first use."""
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    self._model = load_model(self._keras_path)
        return self._model

    def _slot(self, batch: int) -> _Slot:
        with self._slots_lock:
            slot = self._slots.get(batch)
            if slot is None:
                threads = self.num_threads if batch >= MULTI_THREAD_FROM else 1
                slot = self._slots[batch] = _Slot(self._content, batch, self.input_shape,
                                                  threads)
                # Least recently used first; a thread still running an evicted one keeps it.
                kept = (1, self.batch_size, batch)
                evictable = [size for size in self._slots if size not in kept]
                while len(self._slots) > CACHED_BATCH_SIZES and evictable:
                    del self._slots[evictable.pop(0)]
            else:
                self._slots.move_to_end(batch)
            return slot

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (N, classes), for images shaped (N, *input_shape)."""
        images = np.ascontiguousarray(_check_images(images, self.input_shape))
        count = len(images)
        if count == 0:
            return np.zeros((0, self.num_classes), dtype=np.float32)
        if count <= self.batch_size:
            return self._slot(count).run(images)
        return np.concatenate([
            self._slot(len(chunk)).run(chunk)
            for chunk in (images[start:start + self.batch_size]
                          for start in range(0, count, self.batch_size))
        ])


def predict_batch(model, images: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Class probabilities for many images with a one-off `Predictor`."""
    return Predictor(model, batch_size)(images)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fast_model_path(model_path: str | Path) -> Path | None:
    """The run's fp32 `model.tflite` when it was converted from this very `model.keras`.

    `lepton.export.write_fast_model` records the source's SHA-256 beside the TFLite file after
    checking both give the same probabilities; a file without a matching record is ignored.
    """
    model_path = Path(model_path)
    fast = model_path.with_name(FAST_MODEL_NAME)
    record_path = model_path.with_name(FAST_MODEL_RECORD)
    if not (fast.exists() and record_path.exists() and model_path.exists()):
        return None
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        return None
    if record.get("source_sha256") != file_sha256(model_path):
        return None
    return fast


def top_k(probabilities: np.ndarray, class_names: tuple[str, ...], k: int = 3) -> list[dict]:
    """The k most probable classes of one probability vector, most probable first."""
    order = np.argsort(probabilities)[::-1][:k]
    return [
        {"class": class_names[index], "index": int(index),
         "probability": float(probabilities[index])}
        for index in order
    ]
