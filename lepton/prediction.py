"""Predicting new pictures with a stored run: the one path of the CLI and the app.

`lepton predict` calls these functions directly; the app runs the same ones in its worker
processes (`lepton.workpool`), so a page never decodes, infers or explains in the server process.
Each process keeps the predictors it loaded (a few, keyed by the model file and its mtime).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lepton.imaging import (
    ImageError,
    Preprocessed,
    preparer,
    preprocess_image,
    with_colour_original,
)
from lepton.inference import (
    FAST_MODEL_NAME,
    LiteRTPredictor,
    Predictor,
    fast_model_path,
    load_model,
    top_k,
)

EXPLANATION_METHODS = ("grad_cam", "saliency")


@dataclass(frozen=True)
class ModelReference:
    """What a finished run says about its model: enough to prepare and predict a picture.

    `version` (the model file's mtime in ns) makes caches forget a model file that was replaced.
    """

    model_path: str
    version: int
    kind: str  # how the run's dataset was made: "digit" (MNIST-style) or "plain"
    input_shape: tuple[int, int, int]
    class_names: tuple[str, ...]

    @classmethod
    def of_run(cls, run: dict) -> ModelReference:
        """The reference of a finished run row; runs from before a field existed get the
        digit defaults (MNIST-style preprocessing, 28×28×1, classes "0".."9")."""
        if not run.get("model_path"):
            raise ValueError(f"Run {run['id']} has no model file; pick a finished run.")
        metrics = run["metrics"]
        path = Path(run["model_path"])
        try:
            version = path.stat().st_mtime_ns
        except OSError as error:
            raise ValueError(f"Run {run['id']}'s model file {path} is missing "
                             f"({error.strerror}); train it again.") from None
        return cls(
            model_path=str(path), version=version,
            kind=metrics.get("preprocessing", "digit"),
            input_shape=tuple(int(side) for side in
                              run["model_config"].get("input_shape", (28, 28, 1))),
            class_names=tuple(metrics.get("class_names") or [str(digit) for digit in range(10)]),
        )


@dataclass(frozen=True, eq=False)
class Prediction:
    """One picture's answer, or why there is none (`error`)."""

    file: str
    error: str | None = None
    image: Preprocessed | None = None
    probabilities: np.ndarray | None = None
    top: tuple[dict, ...] = ()  # every class, most probable first
    latency_ms: float | None = None  # decode + preprocess + inference

    def to_json(self, top: int | None = None) -> dict:
        """The `lepton predict --json` entry of this picture."""
        entry = {"file": self.file, "label": None, "confidence": None, "probabilities": None,
                 "top": None, "error": self.error}
        if self.error is None:
            entry.update(
                label=self.top[0]["class"], confidence=self.top[0]["probability"],
                probabilities={item["class"]: item["probability"]
                               for item in sorted(self.top, key=lambda item: item["index"])},
                top=list(self.top[:top]), latency_ms=round(self.latency_ms, 3),
            )
        return entry


def predictor_for(model_path: str | Path, convert_missing: bool = False,
                  num_threads: int | None = None):
    """The fastest predictor for a stored `.keras` model.

    The run's verified `model.tflite` on LiteRT when there is one; else, with
    `convert_missing`, converts it now (runs trained before Lepton wrote it), and falls back to
    the Keras `Predictor` when that fails. Both have `.model` for explanations.
    """
    model_path = Path(model_path)
    fast = fast_model_path(model_path)
    if fast is not None:
        try:
            return LiteRTPredictor(fast, num_threads=num_threads, keras_path=model_path)
        except ValueError:
            pass  # a damaged file: the Keras model still answers
    model = load_model(model_path)
    if convert_missing:
        from lepton.export import write_fast_model

        try:
            write_fast_model(model, model_path)
            return LiteRTPredictor(model_path.with_name(FAST_MODEL_NAME),
                                   num_threads=num_threads, keras_path=model_path, model=model)
        except Exception as error:  # converting is an optimisation: Keras still answers
            logging.getLogger(__name__).warning(
                "Could not make a LiteRT copy of %s, using Keras: %s", model_path, error)
    return Predictor(model)


@functools.lru_cache(maxsize=4)
def _predictor(model_path: str, version: int):
    threads = int(os.environ.get("LEPTON_INFERENCE_THREADS", "0")) or None
    predictor = predictor_for(model_path, convert_missing=True, num_threads=threads)
    # One call now: tracing (Keras) or the first invoke (LiteRT) is set-up, not a picture's cost.
    predictor(np.zeros((1, *predictor.input_shape), np.float32))
    return predictor


def predictor(reference: ModelReference):
    """This process's predictor of the model (LiteRT when it has one), loaded once."""
    return _predictor(reference.model_path, reference.version)


def predict(reference: ModelReference, name: str, picture: bytes | np.ndarray) -> Prediction:
    """Prepares one picture as the run's dataset was made, and predicts it.

    Args:
        reference: the run's model (`ModelReference.of_run`).
        name: what the user calls the picture (a file name), kept in the answer.
        picture: the file's bytes, or an image array (a drawing).

    Returns:
        The prediction; an unreadable or unsuitable picture gives one with `error` set.
    """
    model = predictor(reference)
    prepare, _ = preparer(reference.kind, reference.input_shape)
    started = time.perf_counter()
    try:
        image = prepare(picture)
    except ImageError as error:  # a Message, when lepton can say it in the user's language
        return Prediction(file=name, error=error.args[0] if error.args else str(error))
    probabilities = model(image.input[np.newaxis])[0]
    latency_ms = (time.perf_counter() - started) * 1000
    image = with_colour_original(image, picture)  # for the strip on screen, after the clock
    classes = len(reference.class_names)
    return Prediction(file=name, image=image, probabilities=probabilities,
                      top=tuple(top_k(probabilities, reference.class_names, classes)),
                      latency_ms=latency_ms)


def explanation(reference: ModelReference, image: np.ndarray, class_index: int,
                method: str) -> np.ndarray:
    """The heatmap of `method` ("grad_cam" or "saliency") over the model input, as RGB uint8."""
    from lepton import explain

    if method not in EXPLANATION_METHODS:
        raise ValueError(f"Expected an explanation method in {EXPLANATION_METHODS}, "
                         f"got {method!r}.")
    model = predictor(reference).model
    compute = explain.grad_cam if method == "grad_cam" else explain.saliency
    return explain.overlay(image, compute(model, image, class_index))


def feature_maps(reference: ModelReference, image: np.ndarray) -> list[dict]:
    """Each conv and pooling layer's activations for one model input (`explain.feature_maps`)."""
    from lepton import explain

    model = predictor(reference).model
    return explain.feature_maps(model, image, extractor=_extractor(reference))


def inspection(reference: ModelReference, image: np.ndarray) -> dict:
    """Everything the Architecture page shows of one test image: probabilities, the saliency
    and Grad-CAM overlays (of the predicted class) and the feature maps."""
    from lepton import explain

    probabilities = predictor(reference)(image[np.newaxis])[0]
    predicted = int(probabilities.argmax())
    model = predictor(reference).model
    return {
        "probabilities": probabilities,
        "saliency": explain.overlay(image, explain.saliency(model, image, predicted)),
        "grad_cam": explain.overlay(image, explain.grad_cam(model, image, predicted)),
        "feature_maps": feature_maps(reference, image),
    }


@functools.lru_cache(maxsize=4)
def _extractor_of(model_path: str, version: int):
    from lepton import explain

    return explain.feature_model(_predictor(model_path, version).model)


def _extractor(reference: ModelReference):
    return _extractor_of(reference.model_path, reference.version)


def dataset_probabilities(reference: ModelReference, dataset_name: str,
                          home: str | None = None) -> np.ndarray:
    """Class probabilities of every test image of a dataset, shape (N, classes).

    Args:
        home: the `LEPTON_HOME` whose imported datasets `dataset_name` may name.
    """
    from lepton.data import load_dataset

    if home:
        os.environ["LEPTON_HOME"] = home  # this process serves one Lepton: the caller's
    return predictor(reference)(load_dataset(dataset_name).x_test)


def calibration(reference: ModelReference, run: dict, home: str | None = None) -> dict:
    """How far the run's confidence is from its accuracy on its test set, and what a
    temperature fitted on its own validation split (the last `validation_split` of the
    training data it was trained with) would change (`lepton.confidence`)."""
    from lepton.confidence import calibration_report
    from lepton.data import load_dataset
    from lepton.train_config import TrainConfig, training_samples

    if home:
        os.environ["LEPTON_HOME"] = home
    config = TrainConfig.from_dict(run["train_config"])
    dataset = load_dataset(run["dataset"], subset=config.subset, seed=config.seed)
    start = training_samples(len(dataset.y_train), config.validation_split)
    answer = predictor(reference)
    validation = (answer(dataset.x_train[start:]), np.asarray(dataset.y_train[start:]))
    test = (answer(dataset.x_test), np.asarray(dataset.y_test))
    return {"run_id": run["id"], "dataset": dataset.name,
            **calibration_report(validation, test)}


def picture_key(picture: bytes | np.ndarray) -> str:
    """A content hash of a picture (file bytes or array): equal pictures, equal keys."""
    digest = hashlib.sha256()
    if isinstance(picture, np.ndarray):
        digest.update(f"{picture.dtype}{picture.shape}".encode())
        picture = np.ascontiguousarray(picture).tobytes()
    digest.update(picture)
    return digest.hexdigest()


def warm_up(threads: int = 0) -> int:
    """Loads what every task needs (TensorFlow, Keras, LiteRT) so the first request is quick.

    Args:
        threads: TensorFlow and LiteRT threads per process; 0 keeps their own choice.

    Returns:
        This process's id.
    """
    if threads:
        os.environ["LEPTON_INFERENCE_THREADS"] = str(threads)
    from lepton.training import set_threads

    set_threads(threads)
    import ai_edge_litert.interpreter  # noqa: F401
    import keras  # noqa: F401

    _prepare_sample_pictures()
    return os.getpid()


def _prepare_sample_pictures() -> None:
    """Runs a small JPEG and PNG through the digit recipe once.

    A fresh process's first picture costs about 3 ms more than the next (Pillow's format
    plugins, first calls into NumPy and SciPy): set-up, not that upload's latency.
    """
    import io

    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (640, 480), (235, 230, 220))  # large enough to be drafted
    ImageDraw.Draw(picture).line((300, 120, 340, 360), fill=(30, 30, 60), width=24)
    for file_format in ("JPEG", "PNG"):
        buffer = io.BytesIO()
        picture.save(buffer, file_format)
        with_colour_original(preprocess_image(buffer.getvalue()), buffer.getvalue())
