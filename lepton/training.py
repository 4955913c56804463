"""Training: a validated `TrainConfig` and `fit`, which emits progress events and can stop."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
import psutil

from lepton.curves import samples_done
from lepton.model import ModelConfig, build_model
from lepton.train_config import AUGMENTATIONS, TrainConfig, training_samples

EventHandler = Callable[[dict], None]


@dataclass
class TrainResult:
    model: object
    status: str  # done, failed or cancelled
    reason: str = ""
    history: list[dict] = field(default_factory=list)  # one dict per finished epoch
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    train_seconds: float = 0.0  # time inside training steps only (no validation, no set-up)
    peak_rss_bytes: int = 0
    samples_seen: int = 0

    @property
    def samples_per_second(self) -> float:
        return self.samples_seen / self.train_seconds if self.train_seconds else 0.0

    @property
    def steady_samples_per_second(self) -> float | None:
        """Median samples/s of the epochs after the first, whose time includes graph tracing."""
        later = [row["samples_per_second"] for row in self.history[1:]]
        return float(np.median(later)) if later else None

    def timings(self) -> dict:
        return {
            "wall_seconds": self.wall_seconds,
            "cpu_seconds": self.cpu_seconds,
            "train_seconds": self.train_seconds,
            "peak_rss_bytes": self.peak_rss_bytes,
            "samples_seen": self.samples_seen,
            "samples_per_second": self.samples_per_second,
            "steady_samples_per_second": self.steady_samples_per_second,
            "epochs_done": len(self.history),
        }


class ProgressCallback(keras.callbacks.Callback):
    """Keras callback that turns training into events, stops on NaN and honours cancellation.

    Events are plain dicts with a "type" of "batch" or "epoch"; the caller decides what to do with
    them (write them to the run store, print them, draw them).
    """

    # Let Keras run the batch hook on its callback thread pool: a synchronous batch hook makes
    # every step wait for its logs, which cost ~10 % of training speed on this class of host.
    async_safe = True

    def __init__(
        self,
        steps_per_epoch: int,
        batch_size: int,
        samples_per_epoch: int,
        on_event: EventHandler | None = None,
        should_stop: Callable[[], bool] | None = None,
    ):
        super().__init__()
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.samples_per_epoch = samples_per_epoch
        self.on_event = on_event or (lambda event: None)
        self.should_stop = should_stop or (lambda: False)
        self.failure = ""
        self.cancelled = False
        self.history: list[dict] = []
        self.train_seconds = 0.0
        self.samples_seen = 0
        self.peak_rss_bytes = 0
        self._process = psutil.Process()
        self._lock = threading.Lock()
        self._epoch = 0
        self._epoch_start = 0.0
        self._last_batch_end = 0.0

    def _sample_memory(self):
        self.peak_rss_bytes = max(self.peak_rss_bytes, self._process.memory_info().rss)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_start = self._last_batch_end = time.perf_counter()
        self._epoch_samples = 0

    def on_train_batch_end(self, batch, logs=None):
        with self._lock:  # async hooks may run on several pool threads at once
            self._train_batch_end(batch, logs or {})

    def _train_batch_end(self, batch, logs):
        self._last_batch_end = time.perf_counter()
        # With steps_per_execution > 1 Keras calls this once per execution, with the index of its
        # last step (which may run past the epoch's end).
        step = min(batch + 1, self.steps_per_epoch)
        done = samples_done(step, self.batch_size, self.samples_per_epoch)
        self._epoch_samples = done
        loss = float(logs.get("loss", float("nan")))
        event = {
            "type": "batch",
            "epoch": self._epoch + 1,
            "step": step,
            "steps": self.steps_per_epoch,
            # Keras' batch logs are running means over the epoch so far, not this batch's values.
            "loss": loss,
            "accuracy": float(logs.get("accuracy", float("nan"))),
            "samples": done,
            "seconds": self._last_batch_end - self._epoch_start,
        }
        self.on_event(event)
        if not math.isfinite(loss):
            self.failure = (
                f"loss became {loss} at epoch {self._epoch + 1}, step {step}: the learning rate "
                "is probably too high for this optimizer; try a value 10× smaller."
            )
            self.model.stop_training = True
        elif self.should_stop():
            self.cancelled = True
            self.model.stop_training = True
        if step % 50 == 0:
            self._sample_memory()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train_seconds = self._last_batch_end - self._epoch_start
        self.train_seconds += train_seconds
        self.samples_seen += self._epoch_samples
        self._sample_memory()
        if self.failure or (self.cancelled and self._epoch_samples < self.samples_per_epoch):
            return  # a partial epoch is not a data point of the learning curve
        record = {
            "epoch": epoch + 1,
            "loss": float(logs.get("loss", float("nan"))),
            "accuracy": float(logs.get("accuracy", float("nan"))),
            "val_loss": _optional_float(logs.get("val_loss")),
            "val_accuracy": _optional_float(logs.get("val_accuracy")),
            "seconds": time.perf_counter() - self._epoch_start,
            "train_seconds": train_seconds,
            "samples_per_second": self._epoch_samples / train_seconds if train_seconds else 0.0,
        }
        self.history.append(record)
        self.on_event({"type": "epoch", **record})


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


def set_threads(threads: int) -> None:
    """Sets TensorFlow's intra-op thread count (0 keeps its own choice).

    Only a fresh process can do this: it must come before TensorFlow's first operation.
    """
    if threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)


def make_optimizer(config: TrainConfig, total_steps: int = 1):
    """The optimizer of `config`; a cosine schedule decays to 0 over `total_steps`."""
    optimizers = {
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }
    learning_rate = config.learning_rate
    if config.schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=max(total_steps, 1)
        )
    return optimizers[config.optimizer](learning_rate=learning_rate)


def training_model(model, config: TrainConfig):
    """`model`, preceded by a random augmentation layer when `config` asks for one.

    The layer acts only in training and has no weights, so the plain `model` is what gets
    saved and served: the architecture stays the one that was asked for.
    """
    settings = AUGMENTATIONS[config.augmentation]
    if not settings:
        return model
    from lepton.augmentation import RandomAffine

    # float32: the augmentation's interpolation gains nothing from bfloat16.
    return keras.Sequential([
        keras.Input(model.input_shape[1:]),
        RandomAffine(**settings, seed=config.seed, dtype="float32"),
        model,
    ], name="augmented")


def fit(
    model_config: ModelConfig,
    train_config: TrainConfig,
    x_train: np.ndarray,
    y_train: np.ndarray,
    on_event: EventHandler | None = None,
    should_stop: Callable[[], bool] | None = None,
    callbacks: tuple = (),
    start_from=None,
) -> TrainResult:
    """Builds and trains a model; never raises for NaN loss or cancellation (see `status`).

    Args:
        x_train, y_train: training arrays; the last `validation_split` of them validates.
        on_event: called with each progress event (from the training thread).
        should_stop: polled after every batch; returning True cancels the run.
        callbacks: extra Keras callbacks (e.g. TensorBoard).
        start_from: a Keras model of the same architecture whose weights it starts from
            (fine-tuning, e.g. after pruning) instead of a fresh initialisation.
    """
    if len(x_train) != len(y_train):
        raise ValueError(f"x_train has {len(x_train)} samples but y_train has {len(y_train)}.")
    if tuple(x_train.shape[1:]) != model_config.input_shape:
        raise ValueError(
            f"The data's images are {tuple(x_train.shape[1:])} but the model expects "
            f"{model_config.input_shape}; set ModelConfig.input_shape to match the dataset."
        )
    keras.utils.set_random_seed(train_config.seed)
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    model = build_model(model_config, dtype_policy=train_config.precision)
    if start_from is not None:
        model.set_weights(start_from.get_weights())
    train_samples = training_samples(len(y_train), train_config.validation_split)
    steps_per_epoch = math.ceil(train_samples / train_config.batch_size)
    trained = training_model(model, train_config)
    trained.compile(
        optimizer=make_optimizer(train_config, steps_per_epoch * train_config.epochs),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=train_config.steps_per_execution,
    )
    progress = ProgressCallback(
        steps_per_epoch=steps_per_epoch,
        batch_size=train_config.batch_size,
        samples_per_epoch=train_samples,
        on_event=on_event,
        should_stop=should_stop,
    )
    trained.fit(
        x_train,
        y_train,
        batch_size=train_config.batch_size,
        epochs=train_config.epochs,
        validation_split=train_config.validation_split,
        callbacks=[progress, *callbacks],
        verbose=0,
    )
    if train_config.precision != "float32":
        # Save and serve a plain float32 model: same weights, no bfloat16 casts at inference.
        float_model = build_model(model_config)
        float_model.set_weights(model.get_weights())
        model = float_model
    if progress.failure:
        status, reason = "failed", progress.failure
    elif progress.cancelled:
        status, reason = "cancelled", "stopped by the user"
    else:
        status, reason = "done", ""
    return TrainResult(
        model=model,
        status=status,
        reason=reason,
        history=progress.history,
        wall_seconds=time.perf_counter() - wall_start,
        cpu_seconds=time.process_time() - cpu_start,
        train_seconds=progress.train_seconds,
        peak_rss_bytes=progress.peak_rss_bytes,
        samples_seen=progress.samples_seen,
    )
