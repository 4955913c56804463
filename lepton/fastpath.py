"""This host's fastest execution settings, found by measuring them.

`run_calibration` trains the reference CNN on mnist-5k once per candidate setting (precision,
batch size with its learning rate, steps_per_execution, TensorFlow threads, input pipeline),
times the steady-state steps, checks the test accuracy against a float32 batch-32 baseline
trained in the same run on the same number of samples, and stores the fastest setting whose
accuracy holds (after measuring the finalists twice) in `LEPTON_HOME/fastpath.json`, keyed by a
fingerprint of the host. The Train page and the CLI start from `execution_settings(home)`: that
winner, or `SAFE_DEFAULT` before any calibration.

    python -m lepton.fastpath calibrate [--quick] [--json] [--home PATH]
    python -m lepton.fastpath measure --json < request.json   (child mode, see `measure`)
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import gc
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from lepton import background
from lepton.background import (
    ProgressFile,
    ProgressHandler,
    project_environment,
    read_json,
    read_progress,
    write_json_atomic,
)
from lepton.host import cpu_flags, cpu_model
from lepton.training import PRECISIONS, TrainConfig, set_threads

CALIBRATION_FILE = "fastpath.json"
PROGRESS_FILE = "calibration-progress.json"
FILE_VERSION = 1
PIPELINES = ("arrays", "tf.data")
DATASET = "mnist-5k"
# 3 epochs of mnist-5k's 4,000 training digits: 12,000 samples for every candidate (375 steps at
# batch 32, 94 at batch 128). The first epoch pays for graph tracing and is not timed.
EPOCHS = 3
QUICK_EPOCHS = 2
# One seeded run per candidate, tested on 1,000 digits: at ~97 % accuracy the standard error of
# one measurement is ~0.5 pp, and seed-to-seed spread of a run is of the same size. 1.5 pp is
# ~3 standard errors of the difference: noise does not disqualify a setting, a real loss does.
ACCURACY_TOLERANCE = 0.015
BASE_BATCH_SIZE = 64
BASE_LEARNING_RATE = 2e-3  # validated at batch 64 against the article's accuracy (BENCHMARKS.md)
# CPU features that decide which kernels TensorFlow and oneDNN can use; the rest of
# /proc/cpuinfo's flags (virtualisation, security mitigations…) do not change training speed.
FLAG_PREFIXES = ("avx512", "amx")
FLAGS = {"avx", "avx2", "fma", "f16c", "avx_vnni", "avx_vnni_int8", "avx_ne_convert",
         "sse4_2", "asimd", "asimddp", "asimdhp", "sve", "sve2", "bf16", "i8mm", "sme"}
FINALISTS = 3  # the fastest settings measured a second time before one wins (see `confirm`)
PROGRESS_PREFIX = "lepton-progress "  # marks a child's progress lines among TensorFlow's logs
CHILD_LOG_LINES = 20  # lines of a failed child's stderr kept for its error message


def scaled_learning_rate(batch_size: int) -> float:
    """Adam's learning rate for `batch_size`, scaled from 2e-3 at batch 64 by the square root.

    Square root, not linear: Adam divides each step by the gradient's running RMS, so a k× larger
    batch, whose gradient noise is √k× smaller, keeps the same update noise at a √k× larger
    learning rate (Malladi et al., 2022, "On the SDEs and scaling rules for adaptive gradient
    algorithms"). Linear scaling (Goyal et al., 2017) is SGD's rule; with Adam it overshoots at
    large batches (2e-3 at 64 → 8e-3 at 256).
    """
    # 3 significant digits: a value the Train page can show as it is (0.00283, not 0.0028284…).
    return float(f"{BASE_LEARNING_RATE * math.sqrt(batch_size / BASE_BATCH_SIZE):.3g}")


@dataclass(frozen=True)
class Candidate:
    """One execution setting to measure; `learning_rate=None` scales it from the batch size."""

    precision: str = "float32"
    batch_size: int = BASE_BATCH_SIZE
    learning_rate: float | None = None
    steps_per_execution: int = 1
    threads: int = 0  # TensorFlow intra-op threads; 0 = TensorFlow's default
    pipeline: str = "arrays"  # "arrays": NumPy arrays to model.fit; "tf.data": a tf.data.Dataset

    def __post_init__(self):
        # Before scaling: a learning rate scaled from batch 0 would hide the real mistake.
        if not (isinstance(self.batch_size, int) and 1 <= self.batch_size <= 8192):
            raise ValueError(f"Expected batch_size in 1..8192, got {self.batch_size!r}.")
        if self.learning_rate is None:
            object.__setattr__(self, "learning_rate", scaled_learning_rate(self.batch_size))
        if self.pipeline not in PIPELINES:
            raise ValueError(f"Expected pipeline in {PIPELINES}, got {self.pipeline!r}.")
        TrainConfig(**self.train_changes())  # the training's own checks, with its messages

    def train_changes(self) -> dict:
        """The `TrainConfig` fields this setting sets (all but `pipeline`)."""
        return {"precision": self.precision, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate,
                "steps_per_execution": self.steps_per_execution, "threads": self.threads}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Candidate:
        """The candidate of a dict such as a table row (other keys are ignored)."""
        known = {item.name for item in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    @property
    def label(self) -> str:
        return (f"{self.precision} · batch {self.batch_size} · lr {self.learning_rate:.2g} · "
                f"spe {self.steps_per_execution} · threads {self.threads or 'auto'} · "
                f"{self.pipeline}")


# The accuracy reference: the article's execution (float32, batch 32, one step per execution),
# at the scaled learning rate (1.41e-3, the article has 1e-3) like every other row.
BASELINE = Candidate("float32", 32, steps_per_execution=1)
def safe_default() -> Candidate:
    """The execution setting used before any calibration: safe on any x86 or ARM CPU.

    bfloat16 only where the CPU says it computes it natively (AVX512-BF16, AMX, ARM BF16): there
    it is the larger win; elsewhere it is emulated and slower than float32. Batch 128 (learning
    rate scaled by the square root) and 16 steps per execution cut Python round trips on every
    CPU; they only make progress and cancellation come every 16 steps. TensorFlow's own thread
    count, and the arrays pipeline that `lepton.training.fit` uses. A flag is a capability, not
    a measurement: `run_calibration` replaces all of this with what this host measured.
    """
    from lepton.host import bfloat16_fast

    precision = "mixed_bfloat16" if bfloat16_fast() else "float32"
    return Candidate(precision, 128, steps_per_execution=16)


SAFE_DEFAULT = safe_default()
NOT_CALIBRATED = ("safe default for this CPU's features: not calibrated on this host yet; run "
                  "`python -m lepton calibrate`")


def default_candidates() -> list[Candidate]:
    """Stage one of the search: precision × batch {32, 64, 128} × steps_per_execution {1, 16}.

    The baseline comes first. `second_stage_candidates` then varies threads and the pipeline of
    stage one's winner, and `confirm` measures the 3 fastest again: 12 + 3 + 3 trainings, about
    90 s on 2 idle cores.
    """
    grid = [Candidate(precision, batch_size, steps_per_execution=steps)
            for precision in PRECISIONS for batch_size in (32, 64, 128) for steps in (1, 16)]
    return [BASELINE, *(candidate for candidate in grid if candidate != BASELINE)]


def second_stage_candidates(best: Candidate, cores: int | None = None) -> list[Candidate]:
    """Stage two: `best` on 1 thread and on every usable core, and fed by a tf.data pipeline."""
    cores = cores or usable_cores()
    thread_counts = sorted({1, cores} - {best.threads})
    variants = [dataclasses.replace(best, threads=threads) for threads in thread_counts]
    if best.pipeline == "arrays":
        variants.append(dataclasses.replace(best, pipeline="tf.data"))
    return variants


def quick_candidates() -> list[Candidate]:
    """A short search (about 30 s): the baseline, the safe default and two batch-128 settings."""
    return [BASELINE, SAFE_DEFAULT, Candidate("float32", 128, steps_per_execution=16),
            Candidate("mixed_bfloat16", 128, steps_per_execution=16)]


def usable_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the whole machine)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_features() -> set[str]:
    flags = cpu_flags()
    cpuinfo = Path("/proc/cpuinfo")
    if not flags and cpuinfo.exists():  # ARM names them "Features"
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("Features"):
                return set(line.split(":", 1)[1].split())
    return flags


def host_fingerprint() -> dict:
    """What decides which settings are fastest here: CPU, its vector features, cores, software."""
    features = _cpu_features()
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "flags": sorted(flag for flag in features
                        if flag in FLAGS or flag.startswith(FLAG_PREFIXES)),
        "logical_cores": os.cpu_count() or 1,
        "usable_cores": usable_cores(),
        "tensorflow": _package_version("tensorflow"),
        "keras": _package_version("keras"),
    }


def fingerprint_key(fingerprint: dict) -> str:
    """A short key that is the same for equal fingerprints, whatever their key order."""
    text = json.dumps(fingerprint, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _keras_callback_classes():
    """The timing callback, defined on first use so that importing this module stays light."""
    import keras

    class ExecutionTimer(keras.callbacks.Callback):
        """Times every execution (`steps_per_execution` steps) of every epoch.

        Uses the batch-begin hook, which Keras always calls synchronously right before each
        execution: the time from one to the next is the execution's full cost, with the
        callbacks' share, and leaves the batch-end hooks free to run asynchronously as in
        `lepton.training.fit`.
        """

        async_safe = True

        def __init__(self, steps_per_epoch: int, batch_size: int, samples_per_epoch: int,
                     on_epoch: Callable[[int], None]):
            super().__init__()
            self.steps_per_epoch = steps_per_epoch
            self.batch_size = batch_size
            self.samples_per_epoch = samples_per_epoch
            self.on_epoch = on_epoch
            self.executions: list[dict] = []  # epoch, seconds, steps, samples
            self.epoch_seconds: list[float] = []
            self._marks: list[tuple[float, int]] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._marks = []
            self._epoch_start = time.perf_counter()

        def on_train_batch_begin(self, batch, logs=None):
            self._marks.append((time.perf_counter(), batch))

        def on_epoch_end(self, epoch, logs=None):
            end = time.perf_counter()
            bounds = [*self._marks, (end, self.steps_per_epoch)]
            for (start, first_step), (stop, next_step) in zip(bounds, bounds[1:]):
                next_step = min(next_step, self.steps_per_epoch)
                samples = (min(next_step * self.batch_size, self.samples_per_epoch)
                           - first_step * self.batch_size)
                self.executions.append({"epoch": epoch, "seconds": stop - start,
                                        "steps": next_step - first_step, "samples": samples})
            self.epoch_seconds.append(end - self._epoch_start)
            self.on_epoch(epoch + 1)

    return ExecutionTimer


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


def judge(rows: list[dict]) -> list[dict]:
    """Rows with `accuracy_holds`, `accuracy_delta` and `speedup` against the baseline's row.

    Accuracy holds when it is at most `ACCURACY_TOLERANCE` (1.5 pp) below the baseline's; it is
    None for every row when no baseline row succeeded, since there is nothing to compare with.
    """
    baseline_fields = BASELINE.to_dict()
    baseline = next((row for row in rows if not row.get("error")
                     and all(row.get(key) == value for key, value in baseline_fields.items())),
                    None)
    judged = []
    for row in rows:
        verdict = {"baseline": row is baseline, "accuracy_delta": None, "speedup": None,
                   "accuracy_holds": False if row.get("error") else None}
        if baseline is not None and not row.get("error"):
            delta = row["test_accuracy"] - baseline["test_accuracy"]
            verdict.update(accuracy_delta=delta, accuracy_holds=delta >= -ACCURACY_TOLERANCE,
                           speedup=row["samples_per_second"] / baseline["samples_per_second"])
        judged.append({**row, **verdict})
    return judged


def _qualified(rows: list[dict]) -> list[dict]:
    return [row for row in rows if row.get("accuracy_holds") is True
            and not row.get("error") and row.get("samples_per_second")]


def choose(rows: list[dict]) -> dict:
    """The fastest row whose accuracy holds; only confirmed rows compete when there are any.

    Raises:
        ValueError: no row qualifies (all failed, or none kept the baseline's accuracy).
    """
    qualified = _qualified(rows)
    if not qualified:
        raise ValueError(
            f"None of the {len(rows)} measured settings kept the baseline's accuracy (the "
            "float32 batch-32 row must be among them and succeed). See the table's error column "
            "and measure again, on a quieter host if the errors are timeouts."
        )
    # A confirmed row's speed is a mean of two rounds: a one-round row is no fair rival to it.
    qualified = [row for row in qualified if row.get("confirmed")] or qualified
    return max(qualified, key=lambda row: row["samples_per_second"])


def confirm(rows: list[dict], dataset=None, epochs: int = EPOCHS,
            on_progress: ProgressHandler | None = None, count: int = FINALISTS) -> list[dict]:
    """Measures the `count` fastest rows whose accuracy holds once more; returns all rows.

    On a shared host one lucky round (a neighbour paused) can crown a mediocre setting: the
    finalists' speeds become the mean of their two rounds (`round_samples_per_second`), and
    they get `confirmed`.
    """
    finalists = sorted(_qualified(rows), key=lambda row: -row["samples_per_second"])[:count]
    repeats = measure([Candidate.from_dict(row) for row in finalists], dataset, epochs,
                      on_progress)
    confirmed = {}
    for row, repeat in zip(finalists, repeats):
        if repeat.get("error"):
            continue  # the first round stands
        speeds = [row["samples_per_second"], repeat["samples_per_second"]]
        confirmed[id(row)] = {
            "samples_per_second": sum(speeds) / 2,
            "ms_per_step": (row["ms_per_step"] + repeat["ms_per_step"]) / 2,
            "round_samples_per_second": speeds,
            "confirmed": True,
        }
    return judge([{**row, **confirmed.get(id(row), {})} for row in rows])


def _read_hosts(home: Path) -> dict:
    document = read_json(Path(home) / CALIBRATION_FILE)
    if not isinstance(document, dict) or not isinstance(document.get("hosts"), dict):
        return {}
    return document["hosts"]


def save_calibration(home: str | Path, rows: list[dict], winner: dict,
                     seconds: float | None = None) -> dict:
    """Stores the table and the winner as this host's entry of `fastpath.json`; returns it.

    Entries of other hosts (other fingerprints) in the file are kept.
    """
    home = Path(home)
    fingerprint = host_fingerprint()
    entry = {
        "fingerprint": fingerprint,
        "key": fingerprint_key(fingerprint),
        "cpu": fingerprint["cpu"],
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "winner": {**Candidate.from_dict(winner).to_dict(),
                   **{key: winner.get(key) for key in ("samples_per_second", "speedup",
                                                        "test_accuracy")}},
        "rows": rows,
        "seconds": seconds,
        "accuracy_tolerance": ACCURACY_TOLERANCE,
    }
    hosts = _read_hosts(home)
    hosts[entry["key"]] = entry
    write_json_atomic(home / CALIBRATION_FILE, {"version": FILE_VERSION, "hosts": hosts})
    return entry


def load_calibration(home: str | Path) -> dict | None:
    """This host's entry of `fastpath.json` (table, winner, date, CPU), or None.

    None too when the file is missing or unreadable, or its entry for this host is malformed.
    """
    entry = _read_hosts(Path(home)).get(fingerprint_key(host_fingerprint()))
    if not isinstance(entry, dict) or not isinstance(entry.get("winner"), dict):
        return None
    try:
        Candidate.from_dict(entry["winner"])
    except (TypeError, ValueError):
        return None
    return entry


def execution_settings(home: str | Path | None = None) -> tuple[dict, str]:
    """This host's calibrated winner, or `SAFE_DEFAULT`, and a sentence saying which.

    Returns:
        (settings, source): `settings` holds the `Candidate` fields (`TrainConfig`'s
        precision, batch_size, learning_rate, steps_per_execution and threads, and pipeline).
    """
    if home is None:
        from lepton.registry import default_home

        home = default_home()
    entry = load_calibration(home)
    if entry is None:
        return SAFE_DEFAULT.to_dict(), NOT_CALIBRATED
    winner = Candidate.from_dict(entry["winner"])
    speed = entry["winner"].get("samples_per_second")
    speedup = entry["winner"].get("speedup")
    measured = str(entry.get("measured", ""))[:10] or "an unknown date"
    details = []
    if isinstance(speed, (int, float)):
        details.append(f"{speed:,.0f} samples/s")
    if isinstance(speedup, (int, float)):
        details.append(f"{speedup:.1f}× the float32 batch-32 baseline")
    suffix = f" ({', '.join(details)})" if details else ""
    source = f"calibrated on {measured} on {entry.get('cpu')}: {winner.label}{suffix}"
    return winner.to_dict(), source


def calibration_progress(home: str | Path) -> dict | None:
    """The latest calibration's progress: fraction, text, status (running, done or failed),
    error, pid, started and updated; None before the first calibration.

    A "running" record whose process is gone reads as failed.
    """
    return read_progress(Path(home) / PROGRESS_FILE, "calibration")


def run_calibration(
    home: str | Path,
    candidates: Iterable[Candidate | dict] | None = None,
    on_progress: ProgressHandler | None = None,
    dataset=None,
    epochs: int = EPOCHS,
) -> dict:
    """Measures, chooses and stores this host's fastest execution settings; returns the entry.

    Holds the training lock meanwhile, so that no training competes for the cores. Without
    `candidates` it searches in two stages: `default_candidates()`, then
    `second_stage_candidates` of stage one's winner. Progress also goes to
    `calibration_progress(home)` for pages in other processes.

    Raises:
        lepton.jobs.TrainingBusy: a training (or calibration) holds the lock.
        ValueError: no setting kept the baseline's accuracy (nothing is stored then).
    """
    from lepton.jobs import TrainingLock

    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    lock = TrainingLock(home)
    lock.acquire(f"calibration, process {os.getpid()}")
    # Only now: a refused calibration must not overwrite the progress of the one that runs.
    progress = ProgressFile(Path(home) / PROGRESS_FILE, on_progress)
    started = time.perf_counter()
    try:
        progress(0.0, f"loading {DATASET}")
        if dataset is None:
            from lepton.data import load_dataset

            dataset = load_dataset(DATASET)
        if candidates is None:
            first = default_candidates()
            # Stage two's size before stage one ends, for a progress bar that does not jump.
            planned = len(first) + len(second_stage_candidates(SAFE_DEFAULT)) + FINALISTS
            shares = (len(first) / planned, (planned - FINALISTS) / planned)

            def stage(begin: float, end: float, name: str) -> ProgressHandler:
                return lambda fraction, text: progress(begin + fraction * (end - begin),
                                                       f"{name}: {text}")

            rows = measure(first, dataset, epochs, stage(0.0, shares[0], "stage 1"))
            best = Candidate.from_dict(choose(rows))
            second = [candidate for candidate in second_stage_candidates(best)
                      if candidate not in {Candidate.from_dict(row) for row in rows}]
            rows += measure(second, dataset, epochs, stage(*shares, "stage 2"))
            rows = confirm(judge(rows), dataset, epochs, stage(shares[1], 1.0, "confirming"))
        else:
            rows = measure(candidates, dataset, epochs, progress)
        rows = judge(rows)
        winner = choose(rows)
        for row in rows:
            row["winner"] = row is winner
        entry = save_calibration(home, rows, winner, seconds=time.perf_counter() - started)
        label = Candidate.from_dict(winner).label
        progress.write(1.0, f"done in {entry['seconds']:.0f} s: {label}", status="done")
        return entry
    except BaseException as error:
        progress.write(0.0, "calibration failed", status="failed",
                       error=f"{type(error).__name__}: {error}")
        raise
    finally:
        lock.release()


def start_calibration(home: str | Path, quick: bool = False) -> subprocess.Popen:
    """Starts `python -m lepton.fastpath calibrate` in its own process, for a page.

    Follow it with `calibration_progress(home)`; its output goes to
    `LEPTON_HOME/calibration.log`.

    Raises:
        lepton.jobs.TrainingBusy: a training or calibration holds the lock right now.
    """
    from lepton.jobs import TrainingLock

    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    probe = TrainingLock(home)
    probe.acquire("checking before a calibration")  # raises TrainingBusy early, for the page
    probe.release()
    arguments = ["lepton.fastpath", "calibrate", "--home", str(home)]
    if quick:
        arguments.append("--quick")
    return background.start(arguments, home / "calibration.log", home / PROGRESS_FILE)


def format_table(rows: list[dict]) -> str:
    """The rows as a Markdown table, fastest first; ★ marks the winner."""
    lines = [
        "| | precision | batch | learning rate | steps/execution | threads | pipeline | "
        "samples/s | ms/step | × baseline | test accuracy | Δ accuracy | holds | "
        "first epoch s | load | rounds (samples/s) |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]

    def number(value, pattern):
        return "–" if value is None else format(value, pattern)

    ordered = sorted(rows, key=lambda row: -(row.get("samples_per_second") or 0))
    for row in ordered:
        mark = "★" if row.get("winner") else ("baseline" if row.get("baseline") else "")
        holds = {True: "yes", False: "no", None: "?"}[row.get("accuracy_holds")]
        if row.get("error"):
            holds = f"failed: {str(row['error'])[:80]}"
        delta = row.get("accuracy_delta")
        lines.append(
            f"| {mark} | {row['precision']} | {row['batch_size']} | {row['learning_rate']:.2g} | "
            f"{row['steps_per_execution']} | {row['threads'] or 'auto'} | {row['pipeline']} | "
            f"{number(row.get('samples_per_second'), ',.0f')} | "
            f"{number(row.get('ms_per_step'), '.2f')} | {number(row.get('speedup'), '.2f')} | "
            f"{number(row.get('test_accuracy'), '.1%')} | "
            f"{'–' if delta is None else f'{100 * delta:+.1f} pp'} | {holds} | "
            f"{number(row.get('first_epoch_seconds'), '.1f')} | "
            f"{number(row.get('load_average'), '.2f')} | "
            f"{' / '.join(f'{speed:,.0f}' for speed in row.get('round_samples_per_second', []))}"
            " |"
        )
    return "\n".join(lines)


def _print_progress(fraction: float, text: str) -> None:
    print(f"[{fraction:4.0%}] {text}", file=sys.stderr, flush=True)


def _child_measure(as_json: bool) -> int:
    """Child mode: reads {"candidates", "epochs", "dataset_file", …} as JSON on stdin and prints
    the rows (stdout) and progress lines (stderr, after `PROGRESS_PREFIX`)."""
    request = json.loads(sys.stdin.read())
    candidates = [Candidate.from_dict(values) for values in request["candidates"]]
    thread_counts = {candidate.threads for candidate in candidates}
    if len(thread_counts) != 1:
        raise ValueError(f"Expected candidates of one thread count per process, got "
                         f"{sorted(thread_counts)}. Send one request per thread count.")
    threads = thread_counts.pop()
    set_threads(threads)  # before any TensorFlow operation
    dataset = None
    if request.get("dataset_file"):
        import numpy as np

        from lepton.data import DIGIT_CLASSES, Dataset

        arrays = np.load(request["dataset_file"], allow_pickle=False)
        dataset = Dataset(name=request.get("dataset_name", "calibration"),
                          x_train=arrays["x_train"], y_train=arrays["y_train"],
                          x_test=arrays["x_test"], y_test=arrays["y_test"],
                          class_names=tuple(request.get("class_names") or DIGIT_CLASSES),
                          source="sent by the calibrating process")

    def report(fraction: float, text: str) -> None:
        message = json.dumps({"fraction": fraction, "text": f"{text} (threads {threads})"})
        print(f"{PROGRESS_PREFIX}{message}", file=sys.stderr, flush=True)

    rows = measure(candidates, dataset, int(request.get("epochs", EPOCHS)), report)
    print(json.dumps(rows) if as_json else format_table(rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lepton.fastpath",
                                     description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    calibrate = commands.add_parser("calibrate", help="measure, choose and store the fast path")
    calibrate.add_argument("--quick", action="store_true",
                           help=f"{len(quick_candidates())} settings, {QUICK_EPOCHS} epochs")
    calibrate.add_argument("--json", action="store_true", help="print one JSON document")
    calibrate.add_argument("--home", type=Path, default=None, help="LEPTON_HOME to store into")
    child = commands.add_parser("measure", help="child mode: candidates as JSON on stdin")
    child.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    if args.command == "measure":
        return _child_measure(args.json)

    from lepton.jobs import TrainingBusy
    from lepton.registry import default_home

    home = args.home or default_home()
    try:
        entry = run_calibration(
            home,
            candidates=quick_candidates() if args.quick else None,
            on_progress=_print_progress,
            epochs=QUICK_EPOCHS if args.quick else EPOCHS,
        )
    except TrainingBusy as error:
        print(error, file=sys.stderr)
        return 2
    except ValueError as error:
        print(error, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(entry, indent=2))
    else:
        winner = Candidate.from_dict(entry["winner"])
        print(f"Calibrated on {entry['cpu']} ({entry['fingerprint']['usable_cores']} cores, "
              f"TensorFlow {entry['fingerprint']['tensorflow']}) in {entry['seconds']:.0f} s.\n")
        print(format_table(entry["rows"]))
        print(f"\nWinner: {winner.label}; stored in {Path(home) / CALIBRATION_FILE}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
