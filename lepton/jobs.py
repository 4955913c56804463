"""Runs a training end to end into the run store, in the foreground or in one background worker."""

from __future__ import annotations

import fcntl
import gc
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from lepton.costs import read_rapl_joules
from lepton.model import ModelConfig, layer_table
from lepton.registry import RunStore
from lepton.training import TrainConfig

BATCH_FLUSH_SECONDS = 0.5  # how often per-batch points reach the store (and so the live charts)


class TrainingBusy(RuntimeError):
    """Another training holds this host's training lock."""


class TrainingLock:
    """One training at a time per `LEPTON_HOME`, across threads and processes (an flock)."""

    def __init__(self, home: Path):
        self.path = Path(home) / "training.lock"
        self._file = None

    def acquire(self, run_hint: str = "") -> None:
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise TrainingBusy(
                f"A training is already running on this host ({holder}). Wait for it to finish "
                "or stop it, then start again."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(run_hint)
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.truncate(0)
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class _StoreWriter:
    """Turns training events into run-store rows and a live progress record."""

    def __init__(self, store: RunStore, run_id: int, epochs: int):
        self.store, self.run_id, self.epochs = store, run_id, epochs
        self.pending: list[dict] = []
        self.started = time.perf_counter()
        self.last_flush = 0.0

    def __call__(self, event: dict) -> None:
        if event["type"] == "batch":
            self.pending.append(event)
            if time.perf_counter() - self.last_flush >= BATCH_FLUSH_SECONDS:
                self.flush(event)
        else:
            self.flush()
            self.store.add_epoch(self.run_id, event)

    def flush(self, latest: dict | None = None) -> None:
        self.store.add_batches(self.run_id, self.pending)
        latest = latest or (self.pending[-1] if self.pending else None)
        self.pending = []
        self.last_flush = time.perf_counter()
        if latest is None:
            return
        done = (latest["epoch"] - 1) * latest["steps"] + latest["step"]
        fraction = done / (self.epochs * latest["steps"])
        elapsed = time.perf_counter() - self.started
        self.store.update_run(self.run_id, progress={
            "stage": "training",
            "epoch": latest["epoch"],
            "epochs": self.epochs,
            "step": latest["step"],
            "steps": latest["steps"],
            "fraction": fraction,
            "elapsed_seconds": elapsed,
            "eta_seconds": elapsed * (1 - fraction) / fraction if fraction else None,
            "loss": latest["loss"],
            "accuracy": latest["accuracy"],
        })


def execute_run(
    store: RunStore,
    run_id: int,
    should_stop: Callable[[], bool] | None = None,
    on_event: Callable[[dict], None] | None = None,
) -> dict:
    """Loads data, trains, evaluates and saves the model of an existing run; returns the run.

    Every outcome ends in the store: done, cancelled (model kept if an epoch finished), or failed
    with the reason. Never raises for training problems.
    """
    import keras

    from lepton.data import load_dataset
    from lepton.evaluation import evaluate
    from lepton.training import fit

    run = store.get_run(run_id)
    train_config = TrainConfig.from_dict(run["train_config"])
    writer = _StoreWriter(store, run_id, train_config.epochs)

    def on_training_event(event: dict) -> None:
        writer(event)
        if on_event:
            on_event(event)

    try:
        store.update_run(run_id, status="running", progress={"stage": "loading data"})
        dataset = load_dataset(run["dataset"], subset=train_config.subset, seed=train_config.seed)
        model_config = ModelConfig.from_dict(
            {**run["model_config"], "input_shape": dataset.input_shape,
             "num_classes": dataset.num_classes}
        )
        store.update_run(
            run_id,
            dataset=dataset.name,
            model_config=model_config.to_dict(),
            metrics={"dataset_source": dataset.source, "dataset_note": dataset.note,
                     "class_names": list(dataset.class_names),
                     "preprocessing": dataset.preprocessing,
                     "train_samples": int(len(dataset.y_train))},
            progress={"stage": "training", "fraction": 0.0, "epochs": train_config.epochs},
        )
        rapl_start = read_rapl_joules()
        tensorboard = keras.callbacks.TensorBoard(
            log_dir=str(store.run_folder(run_id) / "logs"), write_graph=False
        )
        result = fit(model_config, train_config, dataset.x_train, dataset.y_train,
                     on_event=on_training_event, should_stop=should_stop,
                     callbacks=(tensorboard,))
        rapl_end = read_rapl_joules()
        writer.flush()
        metrics = store.get_run(run_id)["metrics"]
        timings = result.timings()
        if rapl_start is not None and rapl_end is not None and rapl_end >= rapl_start:
            timings["rapl_joules"] = rapl_end - rapl_start
        values = {"status": result.status, "reason": result.reason,
                  "timings": timings, "progress": {"stage": result.status}}
        if result.history and result.status != "failed":
            store.update_run(run_id, progress={"stage": "evaluating"})
            metrics.update(evaluate(result.model, dataset.x_test, dataset.y_test,
                                    dataset.class_names))
            model_path = store.run_folder(run_id) / "model.keras"
            partial = model_path.with_name("model.partial.keras")  # Keras wants the suffix
            try:  # a full disk or a kill mid-save must not leave a half-written model.keras
                result.model.save(partial)
                os.replace(partial, model_path)
            finally:
                partial.unlink(missing_ok=True)
            metrics["model_bytes"] = model_path.stat().st_size
            metrics["params"] = int(result.model.count_params())
            metrics["macs"] = sum(row["macs"] for row in layer_table(result.model))
            values["model_path"] = str(model_path)
            store.update_run(run_id, progress={"stage": "exporting for fast inference"})
            try:  # model.tflite (fp32, LiteRT) answers ~20× faster; the run is fine without it
                from lepton.export import write_fast_model

                metrics.update(write_fast_model(result.model, model_path, dataset.x_test[:200]))
            except Exception as error:
                metrics["tflite_error"] = f"{type(error).__name__}: {str(error)[:500]}"
        if result.history:
            last = result.history[-1]
            metrics.update({key: last[key] for key in ("loss", "accuracy", "val_loss",
                                                       "val_accuracy")})
        values["metrics"] = _finite(metrics)
        store.update_run(run_id, **values)
    except Exception as error:  # the run must end as failed, whatever went wrong
        store.update_run(run_id, status="failed", reason=f"{type(error).__name__}: {error}",
                         progress={"stage": "failed"})
    finally:
        keras.backend.clear_session()  # drop this run's graphs so memory does not grow per run
        gc.collect()
    return store.get_run(run_id)


def _finite(values: dict) -> dict:
    """JSON cannot hold NaN: replace non-finite floats with None."""
    return {
        key: None if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in values.items()
    }


class JobManager:
    """Owns the one background training worker of a process (the app holds one per server).

    The worker thread never touches the UI: it writes to the run store, which pages poll.
    """

    def __init__(self, store: RunStore):
        self.store = store
        self._lock = threading.Lock()
        self._training_lock = TrainingLock(store.home)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.run_id: int | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, dataset: str, model_config: ModelConfig, train_config: TrainConfig) -> int:
        """Queues a run and starts training it in the background; returns its id.

        Raises:
            TrainingBusy: a training is already running on this host (this process or another).
        """
        with self._lock:
            if self.busy:
                raise TrainingBusy(
                    f"Run {self.run_id} is still training. Stop it or wait until it finishes."
                )
            self._training_lock.acquire(f"started by process {os.getpid()}")
            try:
                run_id = self.store.create_run(dataset, model_config.to_dict(),
                                               train_config.to_dict())
            except Exception:
                self._training_lock.release()
                raise
            self._stop.clear()
            self.run_id = run_id
            self._thread = threading.Thread(
                target=self._work, args=(run_id,), name=f"lepton-train-{run_id}", daemon=True
            )
            self._thread.start()
            return run_id

    def _work(self, run_id: int) -> None:
        try:
            execute_run(self.store, run_id, should_stop=self._stop.is_set)
        finally:
            self._training_lock.release()

    def stop(self) -> bool:
        """Asks the running training to stop after its current batch; False if none runs."""
        if not self.busy:
            return False
        self._stop.set()
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Waits for the worker to finish; True when it has."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.busy

