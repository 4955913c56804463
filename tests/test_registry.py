"""lepton.registry: the SQLite run store, its files, and runs left behind by dead processes."""

import os
import socket
import sqlite3
import subprocess

import pytest

from lepton.registry import RunStore, default_home

MODEL_CONFIG = {"filters": [32, 64], "kernel_size": 3, "dropout_rate": 0.0}
TRAIN_CONFIG = {"optimizer": "adam", "learning_rate": 0.001, "subset": None}


def _create(store, dataset="mnist-5k", status="queued"):
    return store.create_run(dataset, MODEL_CONFIG, TRAIN_CONFIG, status=status)


def _finish(store, run_id, test_accuracy):
    store.update_run(run_id, status="done", model_path=f"/models/{run_id}.keras",
                     metrics={"test_accuracy": test_accuracy})


def _set_owner(store, run_id, pid=None, host=None):
    """Rewrites who owns a run, as if another process (or host) had created it."""
    with sqlite3.connect(store.path) as connection:
        if pid is not None:
            connection.execute("UPDATE runs SET pid = ? WHERE id = ?", (pid, run_id))
        if host is not None:
            connection.execute("UPDATE runs SET host = ? WHERE id = ?", (host, run_id))
    connection.close()


@pytest.fixture(scope="module")
def dead_pid():
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


# --- creating and reading -------------------------------------------------------------------


def test_create_run_records_the_owner_and_makes_a_folder(store):
    run_id = _create(store)
    run = store.get_run(run_id)
    assert run["id"] == run_id
    assert run["status"] == "queued"
    assert run["reason"] == ""
    assert run["dataset"] == "mnist-5k"
    assert run["model_config"] == MODEL_CONFIG
    assert run["train_config"] == TRAIN_CONFIG
    assert run["metrics"] == run["timings"] == run["progress"] == {}
    assert run["model_path"] == ""
    assert run["pid"] == os.getpid()
    assert run["host"] == socket.gethostname()
    assert run["pid_started"] > 0
    assert run["created"] == run["updated"]
    assert store.run_folder(run_id).is_dir()


def test_get_run_of_an_unknown_id_is_none(store):
    assert store.get_run(999) is None


def test_default_home_comes_from_lepton_home(lepton_home):
    assert default_home() == lepton_home
    assert RunStore().home == lepton_home
    assert (lepton_home / "lepton.db").is_file()


def test_list_runs_newest_first_and_by_status(store):
    first, second, third = _create(store), _create(store), _create(store)
    store.update_run(second, status="failed", reason="boom")
    assert [run["id"] for run in store.list_runs()] == [third, second, first]
    assert [run["id"] for run in store.list_runs("queued")] == [third, first]
    assert [run["id"] for run in store.list_runs("failed")] == [second]
    assert store.list_runs("done") == []


def test_json_columns_round_trip(store):
    run_id = _create(store)
    metrics = {"test_accuracy": 0.97, "per_class": [{"class": "0", "f1": 0.5}],
               "confusion_matrix": [[1, 0], [2, 3]], "note": "é ✓", "val_loss": None}
    timings = {"wall_seconds": 1.5, "samples_seen": 540}
    progress = {"stage": "training", "fraction": 0.25, "eta_seconds": None}
    store.update_run(run_id, status="running", metrics=metrics, timings=timings,
                     progress=progress, model_config={"filters": [8]})
    run = store.get_run(run_id)
    assert run["metrics"] == metrics
    assert run["timings"] == timings
    assert run["progress"] == progress
    assert run["model_config"] == {"filters": [8]}
    assert run["status"] == "running"


def test_update_run_refuses_an_unknown_status(store):
    run_id = _create(store)
    with pytest.raises(ValueError, match="Unknown status 'finished'; expected one of"):
        store.update_run(run_id, status="finished")
    assert store.get_run(run_id)["status"] == "queued"


def test_update_run_refuses_unknown_columns(store):
    run_id = _create(store)
    with pytest.raises(ValueError, match=r"Cannot update run columns \['id', 'pid'\]"):
        store.update_run(run_id, pid=1, id=5)


def test_create_run_refuses_an_unknown_status(store):
    with pytest.raises(ValueError, match="Unknown status 'finished'"):
        store.create_run("mnist-5k", MODEL_CONFIG, TRAIN_CONFIG, status="finished")


# --- epochs and batches ---------------------------------------------------------------------


def test_epochs_are_stored_in_order_and_replaced_on_rewrite(store):
    run_id = _create(store)
    store.add_epoch(run_id, {"epoch": 2, "loss": 0.5, "accuracy": 0.8})
    store.add_epoch(run_id, {"epoch": 1, "loss": 0.9, "accuracy": 0.6, "val_loss": 0.95,
                             "val_accuracy": 0.55, "seconds": 3.0, "train_seconds": 2.5,
                             "samples_per_second": 200.0})
    store.add_epoch(run_id, {"epoch": 2, "loss": 0.4, "accuracy": 0.85})
    epochs = store.epochs(run_id)
    assert [(row["epoch"], row["loss"]) for row in epochs] == [(1, 0.9), (2, 0.4)]
    assert epochs[0] == {"run_id": run_id, "epoch": 1, "loss": 0.9, "accuracy": 0.6,
                         "val_loss": 0.95, "val_accuracy": 0.55, "seconds": 3.0,
                         "train_seconds": 2.5, "samples_per_second": 200.0}
    assert epochs[1]["val_loss"] is None


def test_batches_are_stored_in_order(store):
    run_id = _create(store)
    other = _create(store)
    records = [{"epoch": epoch, "step": step, "loss": 1.0 / step, "accuracy": 0.1 * step,
                "seconds": float(step)} for epoch in (2, 1) for step in (2, 1)]
    store.add_batches(run_id, records)
    store.add_batches(run_id, [])
    batches = store.batches(run_id)
    assert [(row["epoch"], row["step"]) for row in batches] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert batches[1]["loss"] == 0.5
    assert store.batches(other) == []


# --- resolve --------------------------------------------------------------------------------


def test_resolve_without_finished_runs_says_how_to_get_one(store):
    _create(store, status="running")
    for reference in ("latest", "best"):
        with pytest.raises(ValueError, match="no finished run yet. Train one first"):
            store.resolve(reference)


def test_resolve_latest_best_and_id(store):
    good, better, newest = _create(store), _create(store), _create(store)
    _finish(store, good, 0.90)
    _finish(store, better, 0.95)
    _finish(store, newest, 0.92)
    _create(store, status="running")  # unfinished runs are never resolved
    assert store.resolve("latest")["id"] == newest
    assert store.resolve("best")["id"] == better
    assert store.resolve(good)["id"] == good
    assert store.resolve(str(good))["id"] == good


def test_resolve_errors(store):
    running = _create(store, status="running")
    done_without_model = _create(store)
    store.update_run(done_without_model, status="done")
    with pytest.raises(ValueError, match="Expected a run id, 'latest' or 'best', got 'newest'"):
        store.resolve("newest")
    with pytest.raises(ValueError, match="There is no run 42"):
        store.resolve(42)
    with pytest.raises(ValueError, match=f"Run {running} is running and has no model"):
        store.resolve(running)
    with pytest.raises(ValueError, match=f"Run {done_without_model} is done and has no model"):
        store.resolve(done_without_model)


# --- deleting -------------------------------------------------------------------------------


def test_delete_run_removes_rows_and_folder(store):
    run_id, kept = _create(store), _create(store)
    store.add_epoch(run_id, {"epoch": 1, "loss": 1.0})
    store.add_batches(run_id, [{"epoch": 1, "step": 1, "loss": 1.0, "accuracy": 0.1,
                                "seconds": 0.1}])
    (store.run_folder(run_id) / "model.keras").write_bytes(b"weights")
    store.delete_run(run_id)
    assert store.get_run(run_id) is None
    assert store.epochs(run_id) == []
    assert store.batches(run_id) == []
    assert not store.run_folder(run_id).exists()
    assert store.get_run(kept) is not None
    assert store.run_folder(kept).is_dir()


def test_delete_unknown_run_is_refused(store):
    with pytest.raises(ValueError, match="There is no run 7"):
        store.delete_run(7)


# --- the home folder ------------------------------------------------------------------------


def test_unwritable_home_says_what_to_do(tmp_path):
    """Tests run as root, which chmod does not stop: a path under a regular file cannot exist."""
    regular_file = tmp_path / "not-a-folder"
    regular_file.write_text("")
    home = regular_file / "home"
    with pytest.raises(RuntimeError) as raised:
        RunStore(home)
    message = str(raised.value)
    assert f"LEPTON_HOME {home} is not writable (Not a directory)" in message
    assert "Point LEPTON_HOME at a folder you can write to" in message


def test_database_uses_write_ahead_logging(store):
    connection = sqlite3.connect(store.path)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        connection.close()


def test_two_stores_on_one_home_see_each_others_writes(lepton_home):
    writer, reader = RunStore(lepton_home), RunStore(lepton_home)
    run_id = _create(writer)
    assert reader.get_run(run_id)["dataset"] == "mnist-5k"
    reader.update_run(run_id, status="running", progress={"stage": "training"})
    reader.add_epoch(run_id, {"epoch": 1, "loss": 0.7})
    assert writer.get_run(run_id)["progress"] == {"stage": "training"}
    assert [row["loss"] for row in writer.epochs(run_id)] == [0.7]


# --- mark_interrupted -----------------------------------------------------------------------


def test_runs_of_a_dead_process_become_interrupted(store, dead_pid):
    orphan_running, orphan_queued, alive = (_create(store, status="running"),
                                            _create(store), _create(store, status="running"))
    orphan_done = _create(store)
    store.update_run(orphan_done, status="done")
    for run_id in (orphan_running, orphan_queued, orphan_done):
        _set_owner(store, run_id, pid=dead_pid)
    reopened = RunStore(store.home)
    for run_id in (orphan_running, orphan_queued):
        run = reopened.get_run(run_id)
        assert run["status"] == "interrupted"
        assert run["reason"] == "the process running it stopped before it finished"
    assert reopened.get_run(alive)["status"] == "running"
    assert reopened.get_run(orphan_done)["status"] == "done"


def test_mark_interrupted_returns_the_ids_once(store, dead_pid):
    orphan = _create(store, status="running")
    _set_owner(store, orphan, pid=dead_pid)
    assert store.mark_interrupted() == [orphan]
    assert store.mark_interrupted() == []


def test_a_reused_pid_does_not_keep_a_run_alive(store):
    """The pid alone is not proof of life: its start time must match (pids get reused)."""
    run_id = _create(store, status="running")
    _set_owner(store, run_id, pid=1)  # alive, but started long before this run
    assert store.mark_interrupted() == [run_id]


def test_runs_of_another_host_are_left_alone(store, dead_pid):
    run_id = _create(store, status="running")
    _set_owner(store, run_id, pid=dead_pid, host="another-host")
    assert RunStore(store.home).get_run(run_id)["status"] == "running"
