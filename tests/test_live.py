"""lepton.live: a followed run reads only new rows, and builds each figure once per change."""

import time

import pytest

from lepton import live
from lepton.live import RunFollower
from tests.conftest import SMALL_MODEL


def _batch(epoch, step):
    return {"epoch": epoch, "step": step, "loss": 1.0 / step, "accuracy": 0.5, "seconds": 0.1}


@pytest.fixture
def followed(store, monkeypatch):
    monkeypatch.setattr(live, "MIN_REFRESH_SECONDS", 0.0)
    run_id = store.create_run("mnist-5k", SMALL_MODEL.to_dict(), {})
    reads = []
    real_batches = store.batches

    def counting_batches(run, after=(0, 0)):
        rows = real_batches(run, after=after)
        reads.append((after, len(rows)))
        return rows

    monkeypatch.setattr(store, "batches", counting_batches)
    return store, run_id, RunFollower(store, run_id), reads


def test_each_refresh_reads_only_the_rows_added_since_the_last(followed):
    store, run_id, follower, reads = followed
    store.add_batches(run_id, [_batch(1, 1), _batch(1, 2)])
    follower.refresh()
    store.add_batches(run_id, [_batch(1, 3), _batch(2, 1)])
    store.add_epoch(run_id, {"epoch": 1, "loss": 0.5})
    follower.refresh()
    follower.refresh()
    assert reads == [((0, 0), 2), ((1, 2), 2), ((2, 1), 0)]
    assert [(row["epoch"], row["step"]) for row in follower.batches] == [
        (1, 1), (1, 2), (1, 3), (2, 1)]
    assert [row["epoch"] for row in follower.epochs] == [1]


def test_the_version_moves_only_when_something_changed(followed):
    store, run_id, follower, _ = followed
    follower.refresh()
    first = follower.version
    follower.refresh()
    assert follower.version == first
    store.update_run(run_id, status="running")
    assert follower.refresh()["status"] == "running"
    assert follower.version == first + 1


def test_a_figure_is_built_once_per_version_and_parameters(followed):
    store, run_id, follower, _ = followed
    built = []

    def build():
        built.append(len(follower.batches))
        return object()

    follower.refresh()
    figure = follower.figure("batches", build, 0.6)
    assert follower.figure("batches", build, 0.6) is figure
    follower.figure("batches", build, 0.9)  # other smoothing: another figure
    store.add_batches(run_id, [_batch(1, 1)])
    follower.refresh()
    follower.figure("batches", build, 0.6)
    assert built == [0, 0, 1]


def test_ticks_within_the_refresh_window_share_one_read(store, monkeypatch):
    run_id = store.create_run("mnist-5k", SMALL_MODEL.to_dict(), {})
    follower = RunFollower(store, run_id)
    follower.refresh()
    store.add_batches(run_id, [_batch(1, 1)])
    monkeypatch.setattr(live, "MIN_REFRESH_SECONDS", 3600.0)
    follower.refresh()  # within the window: the cached rows
    assert follower.batches == []
    monkeypatch.setattr(live, "MIN_REFRESH_SECONDS", 0.0)
    follower.refresh()
    assert len(follower.batches) == 1


# --- StoreSnapshot: the run list every session shares -------------------------------------------


def test_a_snapshot_serves_many_readers_from_one_read(store):
    from concurrent.futures import ThreadPoolExecutor

    from lepton.live import StoreSnapshot

    for _ in range(3):
        store.create_run("mnist-5k", SMALL_MODEL.to_dict(), {})
    snapshot = StoreSnapshot(store, max_age=60)
    with ThreadPoolExecutor(8) as readers:
        seen = list(readers.map(lambda _: [run["id"] for run in snapshot.runs()], range(200)))
    assert seen == [[3, 2, 1]] * 200
    assert snapshot.reads == 1


def test_a_snapshot_sees_its_own_process_writes_at_once_and_others_after_max_age(store,
                                                                                 lepton_home):
    from lepton.live import StoreSnapshot
    from lepton.registry import RunStore

    snapshot = StoreSnapshot(store, max_age=0.3)
    assert snapshot.runs() == []
    run_id = store.create_run("mnist-5k", SMALL_MODEL.to_dict(), {})
    assert [run["id"] for run in snapshot.runs()] == [run_id]  # ours: no wait
    other = RunStore(lepton_home)  # its own connection: stands for another process
    other.update_run(run_id, status="done", model_path="m.keras")
    assert snapshot.latest()["status"] == "queued"  # within max_age: the list in memory
    time.sleep(0.35)
    assert snapshot.latest()["status"] == "done"
    assert [run["id"] for run in snapshot.finished()] == [run_id]
    assert snapshot.reads == 3
