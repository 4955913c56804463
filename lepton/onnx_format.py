"""ONNX: a Keras model as a `.onnx` file, run on onnxruntime like the other variants.

Keras 3's own `model.export(format="onnx")` is used; with the TensorFlow backend it goes
through tf2onnx (1.17.0 works with TF 2.21 and Keras 3.15 here). It needs an input
signature, or it refuses a model loaded from disk as "never called".
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from lepton.background import write_atomic

MULTI_THREAD_FROM = 32  # as LiteRT: one image is faster on one thread


def export_onnx(model, path: str | Path) -> Path:
    """Writes `model` (one image input) as an ONNX file at `path`, atomically."""
    import keras

    signature = [keras.InputSpec(shape=(None, *model.input_shape[1:]), dtype="float32")]
    with tempfile.TemporaryDirectory(prefix="lepton-onnx-") as folder:
        draft = Path(folder) / "model.onnx"
        model.export(str(draft), format="onnx", input_signature=signature, verbose=False)
        write_atomic(Path(path), draft.read_bytes())
    return Path(path)


class OnnxPredictor:
    """Repeated inference for one `.onnx` file on onnxruntime's CPU provider.

    Two sessions: one thread for single images (handing a tiny job to a second thread costs
    more than it saves), `num_threads` for batches of `MULTI_THREAD_FROM` images or more.
    """

    def __init__(self, path: str | Path, num_threads: int | None = None):
        import onnxruntime

        self.path = Path(path)
        if not self.path.exists():
            raise ValueError(f"No ONNX file at {self.path}; export the run again.")
        self.num_threads = num_threads or os.cpu_count() or 1
        self.runtime = "onnxruntime"
        self._sessions = {}
        for threads in sorted({1, self.num_threads}):
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            try:
                self._sessions[threads] = onnxruntime.InferenceSession(
                    str(self.path), options, providers=["CPUExecutionProvider"])
            except Exception as error:  # onnxruntime raises its own types for a bad file
                raise ValueError(f"{self.path} is not a readable ONNX model: {error}") from None
        session = self._sessions[1]
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(f"Expected an ONNX model with one input and one output, "
                             f"{self.path} has {len(inputs)} and {len(outputs)}.")
        self._input_name = inputs[0].name
        self.input_shape = tuple(int(size) for size in inputs[0].shape[1:])
        self.num_classes = int(outputs[0].shape[-1])

    def __call__(self, images) -> np.ndarray:
        images = np.ascontiguousarray(images, dtype=np.float32)
        if images.shape[1:] != self.input_shape:
            raise ValueError(f"Expected images of shape (N, "
                             f"{', '.join(map(str, self.input_shape))}), got {images.shape}.")
        threads = self.num_threads if len(images) >= MULTI_THREAD_FROM else 1
        return self._sessions[threads].run(None, {self._input_name: images})[0]
