"""Training and timing candidates, in this process or in a child process per thread count."""

from __future__ import annotations

import collections
import contextlib
import gc
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from lepton.background import ProgressHandler, project_environment
from lepton.fastpath.candidates import Candidate
from lepton.fastpath.judging import judge
from lepton.fastpath.timing import _keras_callback_classes
from lepton.train_config import TrainConfig

DATASET = "mnist-5k"
# 3 epochs of mnist-5k's 4,000 training digits: 12,000 samples for every candidate (375 steps at
# batch 32, 94 at batch 128). The first epoch pays for graph tracing and is not timed.
EPOCHS = 3
QUICK_EPOCHS = 2
PROGRESS_PREFIX = "lepton-progress "  # marks a child's progress lines among TensorFlow's logs
CHILD_LOG_LINES = 20  # lines of a failed child's stderr kept for its error message


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _measure_here(candidate: Candidate, dataset, epochs: int,
                  on_epoch: Callable[[int], None]) -> dict:
    """Trains and times one candidate in this process; returns its table row."""
    import keras
    import numpy as np

    from lepton.model import ModelConfig, build_model
    from lepton.training import ProgressCallback, make_optimizer

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    config = TrainConfig(**candidate.train_changes(), epochs=epochs, validation_split=0.0)
    model_config = ModelConfig(input_shape=dataset.input_shape, num_classes=dataset.num_classes)
    samples = len(dataset.y_train)
    steps_per_epoch = math.ceil(samples / candidate.batch_size)
    keras.utils.set_random_seed(config.seed)  # same initial weights and order for every candidate
    model = build_model(model_config, dtype_policy=candidate.precision)
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch * epochs),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=candidate.steps_per_execution,
    )
    timer = _keras_callback_classes()(steps_per_epoch, candidate.batch_size, samples, on_epoch)
    # lepton.training.fit always trains with its ProgressCallback: its cost is part of a step.
    progress = ProgressCallback(steps_per_epoch, candidate.batch_size, samples)
    if candidate.pipeline == "tf.data":
        import tensorflow as tf

        inputs = (tf.data.Dataset.from_tensor_slices((dataset.x_train, dataset.y_train))
                  .shuffle(samples, seed=config.seed, reshuffle_each_iteration=True)
                  .batch(candidate.batch_size)
                  .prefetch(tf.data.AUTOTUNE))
        model.fit(inputs, epochs=epochs, callbacks=[timer, progress], verbose=0, shuffle=False)
    else:
        model.fit(dataset.x_train, dataset.y_train, batch_size=candidate.batch_size,
                  epochs=epochs, callbacks=[timer, progress], verbose=0)
    if progress.failure:
        raise RuntimeError(progress.failure)
    if candidate.precision != "float32":
        # Judge the model that gets served: lepton.training.fit saves a float32 copy.
        served = build_model(model_config)
        served.set_weights(model.get_weights())
        model = served
    predictions = model.predict(dataset.x_test, batch_size=500, verbose=0)
    accuracy = float(np.mean(np.argmax(predictions, axis=1) == dataset.y_test))
    # Steady state: the epochs after the first, whose executions include graph tracing.
    steady = [row for row in timer.executions if row["epoch"] >= 1] or timer.executions[1:]
    steady = steady or timer.executions
    return {
        **candidate.to_dict(),
        "label": candidate.label,
        "samples_per_second": _median([row["samples"] / row["seconds"] for row in steady]),
        "ms_per_step": 1000 * _median([row["seconds"] / row["steps"] for row in steady]),
        "test_accuracy": accuracy,
        "first_epoch_seconds": timer.epoch_seconds[0],
        "executions_timed": len(steady),
        "samples_trained": samples * epochs,
        "seconds": time.perf_counter() - started,
        "load_average": max(load_before, os.getloadavg()[0]),
        "process": os.getpid(),
        "error": None,
    }


def _failed_row(candidate: Candidate, error: str) -> dict:
    return {**candidate.to_dict(), "label": candidate.label, "samples_per_second": None,
            "ms_per_step": None, "test_accuracy": None, "first_epoch_seconds": None,
            "executions_timed": 0, "samples_trained": 0, "seconds": None,
            "load_average": os.getloadavg()[0], "process": None, "error": error}


def _current_threads() -> int:
    import tensorflow as tf

    return tf.config.threading.get_intra_op_parallelism_threads()


def _as_candidate(value) -> Candidate:
    return value if isinstance(value, Candidate) else Candidate.from_dict(value)


def measure(
    candidates: Iterable[Candidate | dict],
    dataset=None,
    epochs: int = EPOCHS,
    on_progress: ProgressHandler | None = None,
) -> list[dict]:
    """Trains the reference CNN once per candidate and returns one table row each, in order.

    Every candidate trains `epochs` epochs on the same data from the same initial weights, so
    their test accuracies compare. Candidates whose `threads` differ from this process's are
    measured in a child process (`python -m lepton.fastpath measure`), one per thread count:
    TensorFlow fixes its thread pools at its first operation. A candidate that fails gets a row
    with its `error` instead of numbers. Rows are judged against `BASELINE` when it is among
    them (see `judge`).

    Args:
        dataset: a `lepton.data.Dataset`; None loads mnist-5k (4,000 train, 1,000 test digits).
        epochs: passes over the training set; the first one is not timed (graph tracing).
        on_progress: called with (fraction done, text) after every epoch.
    """
    candidates = [_as_candidate(candidate) for candidate in candidates]
    if not 1 <= epochs <= 50:
        raise ValueError(f"Expected epochs in 1..50, got {epochs}. Use 2 or more: the first "
                         "epoch is not timed.")
    report = on_progress or (lambda fraction, text: None)
    if dataset is None:
        from lepton.data import load_dataset

        dataset = load_dataset(DATASET)
    rows: dict[int, dict] = {}
    units = len(candidates) * epochs or 1
    done = 0
    current = _current_threads()
    here = [index for index, candidate in enumerate(candidates) if candidate.threads == current]
    for index in here:
        candidate = candidates[index]

        def on_epoch(epoch, start=done, candidate=candidate, index=index):
            report((start + epoch) / units, f"{index + 1}/{len(candidates)} {candidate.label}: "
                                            f"epoch {epoch}/{epochs}")

        report(done / units, f"{index + 1}/{len(candidates)} {candidate.label}")
        try:
            rows[index] = _measure_here(candidate, dataset, epochs, on_epoch)
        except Exception as error:  # one failing setting must not lose the others' rows
            rows[index] = _failed_row(candidate, f"{type(error).__name__}: {error}")
        finally:
            import keras

            keras.backend.clear_session()  # earlier candidates' graphs must not slow later ones
            gc.collect()
        done += epochs
    elsewhere: dict[int, list[int]] = collections.defaultdict(list)
    for index, candidate in enumerate(candidates):
        if index not in rows:
            elsewhere[candidate.threads].append(index)
    for indices in elsewhere.values():
        group = [candidates[index] for index in indices]
        size = len(group) * epochs

        def on_child_progress(fraction, text, start=done, size=size):
            report((start + fraction * size) / units, text)

        for index, row in zip(indices, _measure_in_child(group, dataset, epochs,
                                                         on_child_progress)):
            rows[index] = row
        done += size
    report(1.0, f"measured {len(candidates)} settings")
    return judge([rows[index] for index in range(len(candidates))])


def _measure_in_child(candidates: list[Candidate], dataset, epochs: int,
                      on_progress: ProgressHandler) -> list[dict]:
    """`measure` in a fresh `python -m lepton.fastpath measure --json` process."""
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="lepton-calibration-") as folder:
        data_file = Path(folder) / "dataset.npz"
        np.savez(data_file, x_train=dataset.x_train, y_train=dataset.y_train,
                 x_test=dataset.x_test, y_test=dataset.y_test)
        request = {"candidates": [candidate.to_dict() for candidate in candidates],
                   "epochs": epochs, "dataset_file": str(data_file), "dataset_name": dataset.name,
                   "class_names": list(dataset.class_names)}
        process = subprocess.Popen(
            [sys.executable, "-m", "lepton.fastpath", "measure", "--json"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=project_environment(),
        )
        output: list[str] = []
        reader = threading.Thread(target=lambda: output.append(process.stdout.read()),
                                  daemon=True)  # a full stdout pipe must not block the child
        reader.start()
        try:
            process.stdin.write(json.dumps(request))
            process.stdin.close()
        except BrokenPipeError:  # the child died before reading: its exit code says so below
            with contextlib.suppress(OSError):
                process.stdin.close()
        log_tail: collections.deque[str] = collections.deque(maxlen=CHILD_LOG_LINES)
        for line in process.stderr:
            if line.startswith(PROGRESS_PREFIX):
                try:
                    message = json.loads(line[len(PROGRESS_PREFIX):])
                    on_progress(float(message["fraction"]), str(message["text"]))
                except (ValueError, KeyError, TypeError):
                    log_tail.append(line)
            else:
                log_tail.append(line)
        code = process.wait()
        reader.join()
    if code == 0:
        try:
            rows = json.loads(output[0] if output else "")
            if isinstance(rows, list) and len(rows) == len(candidates):
                return rows
        except ValueError:
            pass
    reason = "".join(log_tail).strip()[-1500:] or "no output"
    return [_failed_row(candidate, f"the measuring process failed (exit code {code}): {reason}")
            for candidate in candidates]
