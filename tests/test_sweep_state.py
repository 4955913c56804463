"""lepton.sweep_state: a sweep's folder and state file, its driver's liveness, front and pick."""

import json
import math
import os

import pytest

from lepton.sweep_state import (
    list_sweeps,
    new_sweep_folder,
    pareto,
    projection,
    read_state,
    recommended,
    request_stop,
    stop_requested,
    study_name,
    sweep_folder,
    this_process,
    write_state,
)

# Linux never hands out a pid above 2**22 (PID_MAX_LIMIT), so no process has this one.
MISSING_PID = 2**22 + 1
OBJECTIVES = ("accuracy", "train_seconds")
INTERRUPTED_TEXT = ("its driver process stopped before the sweep ended; resume it to finish "
                    "the remaining trials")


def _trial(number, accuracy, seconds, status="done", feasible=True, trial_seconds=None):
    return {"number": number, "status": status, "feasible": feasible,
            "values": {"accuracy": accuracy, "train_seconds": seconds},
            "trial_seconds": trial_seconds}


def _running(home, sweep_id, driver):
    write_state(home, sweep_id, {"sweep_id": sweep_id, "status": "running", "driver": driver,
                                 "trials": []})


# --- folders ---------------------------------------------------------------------------------

def test_new_sweep_folder_reserves_distinct_ids_from_one(tmp_path):
    ids = [new_sweep_folder(tmp_path) for _ in range(3)]
    assert ids == [1, 2, 3]
    assert all(sweep_folder(tmp_path, sweep_id).is_dir() for sweep_id in ids)


def test_new_sweep_folder_continues_after_the_highest_id_and_ignores_other_names(tmp_path):
    for name in ("2", "7", "notes", "10x"):
        (tmp_path / "sweeps" / name).mkdir(parents=True)
    assert new_sweep_folder(tmp_path) == 8


def test_study_names_carry_the_sweep_id():
    assert study_name(12) == "lepton-sweep-12"


# --- state files -----------------------------------------------------------------------------

def test_a_written_state_reads_back(tmp_path):
    sweep_id = new_sweep_folder(tmp_path)
    state = {"sweep_id": sweep_id, "status": "done", "trials": [_trial(0, 0.9, 10.0)],
             "pareto": [0]}
    write_state(tmp_path, sweep_id, state)
    assert read_state(tmp_path, sweep_id) == state


def test_write_state_stores_nan_and_infinity_as_null(tmp_path):
    sweep_id = new_sweep_folder(tmp_path)
    write_state(tmp_path, sweep_id, {
        "status": "done", "score": math.nan,
        "trials": [{"violations": {"max_cost": math.inf, "min_accuracy": -0.02}}],
        "pair": (1.5, -math.inf)})
    text = (sweep_folder(tmp_path, sweep_id) / "state.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {
        "status": "done", "score": None,
        "trials": [{"violations": {"max_cost": None, "min_accuracy": -0.02}}],
        "pair": [1.5, None]}


def test_a_sweep_with_only_a_spec_reads_as_created(tmp_path):
    sweep_id = new_sweep_folder(tmp_path)
    spec = {"objectives": list(OBJECTIVES), "trials": 12}
    (sweep_folder(tmp_path, sweep_id) / "spec.json").write_text(json.dumps(spec))
    assert read_state(tmp_path, sweep_id) == {"sweep_id": sweep_id, "status": "created",
                                              "spec": spec, "trials": [], "driver": None}


def test_a_started_sweep_reads_as_starting_until_its_driver_writes(tmp_path):
    from lepton.background import ProgressFile

    sweep_id = new_sweep_folder(tmp_path)
    spec = {"objectives": list(OBJECTIVES), "trials": 12}
    (sweep_folder(tmp_path, sweep_id) / "spec.json").write_text(json.dumps(spec))
    ProgressFile(sweep_folder(tmp_path, sweep_id) / "progress.json").write(0.0, "starting")
    state = read_state(tmp_path, sweep_id)  # this process stands in for the starting driver
    assert state["status"] == "starting" and state["driver"]["pid"] == os.getpid()


def test_a_sweep_without_state_or_spec_reads_as_none(tmp_path):
    assert read_state(tmp_path, new_sweep_folder(tmp_path)) is None
    assert read_state(tmp_path, 99) is None


def test_an_unreadable_state_file_falls_back_to_the_spec(tmp_path):
    sweep_id = new_sweep_folder(tmp_path)
    folder = sweep_folder(tmp_path, sweep_id)
    (folder / "state.json").write_text("{not json")
    (folder / "spec.json").write_text(json.dumps({"trials": 3}))
    assert read_state(tmp_path, sweep_id)["status"] == "created"


# --- the driver's liveness -------------------------------------------------------------------

def test_a_running_sweep_whose_driver_is_alive_stays_running(tmp_path):
    sweep_id = new_sweep_folder(tmp_path)
    _running(tmp_path, sweep_id, this_process())
    state = read_state(tmp_path, sweep_id)
    assert state["status"] == "running"
    assert "reason" not in state


def test_a_running_sweep_whose_driver_pid_is_gone_reads_as_interrupted(tmp_path):
    sweep_id = new_sweep_folder(tmp_path)
    _running(tmp_path, sweep_id, {"pid": MISSING_PID, "started": 1.0})
    state = read_state(tmp_path, sweep_id)
    assert state["status"] == "interrupted"
    assert state["reason"] == INTERRUPTED_TEXT
    assert state["reason_message"] == {"key": "balance.reason_interrupted", "values": {}}


def test_a_driver_pid_reused_by_another_process_reads_as_interrupted(tmp_path):
    sweep_id = new_sweep_folder(tmp_path)
    driver = this_process()
    _running(tmp_path, sweep_id, {**driver, "started": driver["started"] - 60.0})
    assert read_state(tmp_path, sweep_id)["status"] == "interrupted"


@pytest.mark.parametrize("status", ["starting", "stopping"])
def test_every_active_status_without_a_driver_reads_as_interrupted(tmp_path, status):
    sweep_id = new_sweep_folder(tmp_path)
    write_state(tmp_path, sweep_id, {"status": status, "trials": []})
    assert read_state(tmp_path, sweep_id)["status"] == "interrupted"


@pytest.mark.parametrize("status", ["done", "stopped", "failed"])
def test_a_finished_sweep_keeps_its_status_when_its_driver_is_gone(tmp_path, status):
    sweep_id = new_sweep_folder(tmp_path)
    write_state(tmp_path, sweep_id, {"status": status, "trials": [],
                                     "driver": {"pid": MISSING_PID, "started": 1.0}})
    state = read_state(tmp_path, sweep_id)
    assert state["status"] == status
    assert "reason" not in state


def test_reading_an_interrupted_sweep_leaves_its_file_unchanged(tmp_path):
    sweep_id = new_sweep_folder(tmp_path)
    _running(tmp_path, sweep_id, {"pid": MISSING_PID, "started": 1.0})
    read_state(tmp_path, sweep_id)
    saved = json.loads((sweep_folder(tmp_path, sweep_id) / "state.json").read_text())
    assert saved["status"] == "running"


# --- listing and stopping --------------------------------------------------------------------

def test_list_sweeps_is_newest_first_and_skips_empty_reservations(tmp_path):
    for status in ("done", "stopped", "done"):
        sweep_id = new_sweep_folder(tmp_path)
        write_state(tmp_path, sweep_id, {"sweep_id": sweep_id, "status": status})
    new_sweep_folder(tmp_path)  # reserved, nothing written yet
    listed = list_sweeps(tmp_path)
    assert [state["sweep_id"] for state in listed] == [3, 2, 1]
    assert [state["status"] for state in listed] == ["done", "stopped", "done"]


def test_list_sweeps_orders_ids_as_numbers(tmp_path):
    for sweep_id in (2, 10, 9):
        sweep_folder(tmp_path, sweep_id).mkdir(parents=True)
        write_state(tmp_path, sweep_id, {"sweep_id": sweep_id, "status": "done"})
    assert [state["sweep_id"] for state in list_sweeps(tmp_path)] == [10, 9, 2]


def test_list_sweeps_of_a_home_without_sweeps_is_empty(tmp_path):
    assert list_sweeps(tmp_path) == []


def test_a_stop_request_is_seen_by_that_sweep_only(tmp_path):
    first, second = new_sweep_folder(tmp_path), new_sweep_folder(tmp_path)
    assert not stop_requested(tmp_path, first)
    request_stop(tmp_path, first)
    assert stop_requested(tmp_path, first)
    assert not stop_requested(tmp_path, second)


# --- the front and its pick ------------------------------------------------------------------

def test_pareto_keeps_the_undominated_trials():
    trials = [_trial(0, 0.90, 10.0), _trial(1, 0.95, 20.0), _trial(2, 0.93, 25.0),
              _trial(3, 0.98, 60.0)]
    assert [trial["number"] for trial in pareto(trials, OBJECTIVES)] == [0, 1, 3]


def test_an_infeasible_trial_is_off_the_front_and_hides_no_one():
    trials = [_trial(0, 0.99, 1.0, feasible=False), _trial(1, 0.90, 10.0),
              _trial(2, 0.95, 20.0)]
    assert [trial["number"] for trial in pareto(trials, OBJECTIVES)] == [1, 2]


def test_unfinished_and_unmeasured_trials_are_off_the_front():
    trials = [_trial(0, 0.99, 1.0, status="failed"), _trial(1, 0.99, 1.0, status="running"),
              _trial(2, None, 1.0), _trial(3, 0.80, 30.0)]
    assert [trial["number"] for trial in pareto(trials, OBJECTIVES)] == [3]


def test_recommended_is_the_balanced_trial_of_the_front():
    trials = [_trial(0, 0.90, 10.0), _trial(1, 0.96, 20.0), _trial(2, 0.97, 100.0),
              _trial(3, 0.95, 90.0)]
    assert recommended(trials, OBJECTIVES)["number"] == 1


def test_recommended_of_no_feasible_trial_is_none():
    assert recommended([], OBJECTIVES) is None
    assert recommended([_trial(0, 0.9, 1.0, feasible=False)], OBJECTIVES) is None


# --- projection ------------------------------------------------------------------------------

def test_projection_scales_the_mean_measured_trial_time():
    trials = [_trial(0, 0.9, 1.0, trial_seconds=10.0), _trial(1, 0.9, 1.0, trial_seconds=30.0),
              _trial(2, 0.9, 1.0, trial_seconds=None)]
    result = projection(trials, more=5, workers=2, price_per_hour=1.8)
    assert result == pytest.approx({
        "trials": 5, "workers": 2, "measured_trials": 2, "mean_trial_seconds": 20.0,
        "slowest_trial_seconds": 30.0,
        "wall_seconds": 60.0,  # 3 rounds of 2 workers × 20 s
        "money": 0.06})  # 2 workers × 60 s at 1.8 per hour


@pytest.mark.parametrize("more, workers", [(0, 2), (5, 0)])
def test_projection_of_no_trials_or_no_workers_is_none(more, workers):
    trials = [_trial(0, 0.9, 1.0, trial_seconds=10.0)]
    assert projection(trials, more, workers, 1.0) is None


def test_projection_without_measured_trial_times_is_none():
    assert projection([_trial(0, 0.9, 1.0)], 5, 2, 1.0) is None


def test_a_front_of_one_trial_keeps_its_accuracy_axis_within_a_hundred_percent():
    from lepton.sweep_charts import front_figure

    trial = {"status": "done", "run_id": 1, "number": 0, "params": {"epochs": 4},
             "feasible": True, "figures": {"accuracy": 0.966, "train_seconds": 3.9}}
    figure = front_figure([trial], "train_seconds", "accuracy", [1], 1)
    low, high = figure.layout.yaxis.range
    assert low < 0.966 < high <= 1.0
