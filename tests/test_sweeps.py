"""`lepton sweep` end to end: real Optuna studies, real Dask clusters, real trainings.

Trials are tiny (300 samples, one epoch); the figures they reach do not matter here, only
that every trial is accounted for and every figure is measured.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lepton.cli import main
from lepton.registry import RunStore
from lepton.sweep_state import read_state

TINY = "subset=300 epochs=1 filters1=8,16 filters2=8,16 dense=16,32 batch=64"
TIMEOUT = 240


def sweep(home: Path, *arguments: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lepton", "sweep", *arguments],
                          env={**os.environ, "LEPTON_HOME": str(home)}, capture_output=True,
                          text=True, timeout=timeout)


def test_a_local_sweep_prints_its_trials_front_and_pick_and_keeps_every_trial(tmp_path):
    result = sweep(tmp_path, "--dataset", "mnist-5k", "--trials", "3", "--space", TINY,
                   "--max-latency-ms", "50", "--seed", "3", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    document = json.loads(result.stdout)
    assert document["status"] == "done"
    assert document["objectives"] == ["accuracy", "train_seconds"]
    assert len(document["trials"]) == 3
    store = RunStore(tmp_path)
    for trial in document["trials"]:
        assert trial["status"] == "done", trial
        assert set(trial["params"]) <= {"filters1", "filters2", "dense"}
        assert 0 <= trial["values"]["accuracy"] <= 1 and trial["values"]["train_seconds"] > 0
        run = store.get_run(trial["run_id"])  # a real run, as the Train page would store it
        assert run["status"] == "done" and Path(run["model_path"]).is_file()
        assert run["metrics"]["sweep"] == {"id": document["sweep_id"], "trial": trial["number"]}
        assert run["metrics"]["latency_ms"] > 0 and store.epochs(run["id"])
    assert document["pareto"] and set(document["pareto"]) <= {
        trial["run_id"] for trial in document["trials"]}
    assert document["recommended"]["run_id"] in document["pareto"]

    # The study is an Optuna RDB storage another process (optuna-dashboard, say) can open.
    reopened = subprocess.run(
        [sys.executable, "-c",
         "import json, optuna, sys; study = optuna.load_study(study_name=sys.argv[1], "
         "storage=sys.argv[2]); print(json.dumps([[t.state.name, t.values, "
         "t.user_attrs['run_id']] for t in study.trials]))",
         document["study"], document["storage"]],
        capture_output=True, text=True, timeout=120)
    assert reopened.returncode == 0, reopened.stderr[-2000:]
    trials = json.loads(reopened.stdout)
    assert [state for state, _, _ in trials] == ["COMPLETE"] * 3
    assert [values[0] for _, values, _ in trials] == [
        trial["values"]["accuracy"] for trial in document["trials"]]

    # Resuming a finished sweep trains nothing more and loses nothing.
    again = sweep(tmp_path, "--resume", str(document["sweep_id"]), "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    assert [trial["run_id"] for trial in json.loads(again.stdout)["trials"]] == [
        trial["run_id"] for trial in document["trials"]]
    assert store.count_runs() == 3


@pytest.mark.parametrize("arguments, says", [
    (("--dataset", "mnist-5k", "--trials", "2", "--objectives", "accuracy"), "two or more"),
    (("--dataset", "mnist-5k", "--trials", "2", "--objectives", "accuracy,speed"),
     "Unknown objective 'speed'"),
    (("--dataset", "nope", "--trials", "2"), "Unknown dataset 'nope'"),
    (("--dataset", "mnist-5k", "--trials", "2", "--space", "filters1=7"), "filters1=7"),
    (("--dataset", "mnist-5k", "--trials", "0"), "1..10000 trials"),
    (("--trials", "2",), "--dataset"),
    (("--resume", "99",), "no sweep 99"),
    (("--dataset", "mnist-5k", "--trials", "2", "--scheduler", "10.0.0.1:8786"), "tcp://"),
])
def test_bad_arguments_exit_2_and_say_what_to_change(lepton_home, capsys, arguments, says):
    assert main(["sweep", *arguments, "--json"]) == 2
    output = capsys.readouterr()
    assert says in output.err
    assert output.out == ""


def test_an_unreachable_scheduler_fails_within_seconds_with_what_to_do(lepton_home, capsys):
    assert main(["sweep", "--dataset", "mnist-5k", "--trials", "2", "--space", TINY,
                 "--scheduler", "tcp://127.0.0.1:9", "--json"]) == 1
    errors = capsys.readouterr().err
    assert "Could not reach the Dask scheduler at tcp://127.0.0.1:9 within 5 s" in errors
    assert "dask scheduler" in errors
    state = read_state(lepton_home, 1)
    assert state["status"] == "failed" and "Could not reach" in state["reason"]


@pytest.fixture
def dask_cluster(tmp_path):
    """A real `dask scheduler` and two `dask worker` processes on 127.0.0.1."""
    scheduler_file = tmp_path / "scheduler.json"
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    bin_folder = Path(sys.executable).parent
    processes = [subprocess.Popen(
        [str(bin_folder / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
         "--no-dashboard", "--scheduler-file", str(scheduler_file)],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)]
    deadline = time.monotonic() + 60
    while not scheduler_file.exists():
        assert time.monotonic() < deadline, "the Dask scheduler did not start"
        time.sleep(0.2)
    address = json.loads(scheduler_file.read_text())["address"]
    for name in ("one", "two"):
        processes.append(subprocess.Popen(
            [str(bin_folder / "dask"), "worker", address, "--nthreads", "1", "--name", name,
             "--no-dashboard"],
            env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True))
    yield address
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_worker_killed_mid_trial_loses_nothing_on_a_real_cluster(tmp_path, dask_cluster):
    """Two `dask worker` processes; the one training the first trial gets SIGKILL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "lepton", "sweep", "--dataset", "mnist-5k", "--trials", "2",
         "--space", TINY.replace("epochs=1", "epochs=4"), "--scheduler", dask_cluster,
         "--seed", "5", "--json"],
        env={**os.environ, "LEPTON_HOME": str(tmp_path)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.monotonic() + TIMEOUT
    while killed is None:
        assert time.monotonic() < deadline and process.poll() is None, "no trial started"
        state = read_state(tmp_path, 1) or {"trials": []}
        running = [trial for trial in state["trials"]
                   if trial["status"] == "running" and trial.get("worker_pid")]
        if running:
            killed = running[0]
            os.kill(killed["worker_pid"], signal.SIGKILL)
        time.sleep(0.2)
    output, errors = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, errors[-3000:]
    document = json.loads(output)
    assert len(document["trials"]) == 2
    assert all(trial["status"] in ("done", "failed") for trial in document["trials"])
    victim = next(trial for trial in document["trials"] if trial["number"] == killed["number"])
    # Dask gave the lost task to a live worker; the note says so, and the run is whole.
    assert victim["status"] == "done", victim
    assert "retried on" in victim["reason"] and killed["worker"] in victim["reason"]
    run = RunStore(tmp_path).get_run(victim["run_id"])
    assert run["status"] == "done" and Path(run["model_path"]).is_file()
    assert victim["worker"] != killed["worker"]  # the retry ran on a live worker


def test_a_killed_driver_leaves_an_interrupted_sweep_that_resumes_to_its_budget(tmp_path):
    """SIGKILL the `lepton sweep` process mid-trial: its local cluster ends with it, the sweep
    reads interrupted, and `--resume` asks for the lost trial again and finishes the rest."""
    import psutil

    process = subprocess.Popen(
        [sys.executable, "-m", "lepton", "sweep", "--dataset", "mnist-5k", "--trials", "2",
         "--space", TINY.replace("epochs=1", "epochs=5"), "--seed", "4", "--json"],
        env={**os.environ, "LEPTON_HOME": str(tmp_path)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + TIMEOUT
    while not any(trial["status"] == "running"
                  for trial in (read_state(tmp_path, 1) or {"trials": []})["trials"]):
        assert time.monotonic() < deadline and process.poll() is None, "no trial started"
        time.sleep(0.2)
    children = psutil.Process(process.pid).children(recursive=True)
    process.kill()
    process.wait()
    psutil.wait_procs(children, timeout=30)
    assert not [child for child in children if child.is_running()
                and child.status() != psutil.STATUS_ZOMBIE], "a Dask worker outlived its driver"
    state = read_state(tmp_path, 1)
    assert state["status"] == "interrupted" and "resume" in state["reason"]

    resumed = sweep(tmp_path, "--resume", "1", "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    trials = json.loads(resumed.stdout)["trials"]
    assert [trial["status"] for trial in trials] == ["interrupted", "done", "done"]
    store = RunStore(tmp_path)
    assert store.get_run(trials[0]["run_id"])["status"] == "interrupted"
    assert all(store.get_run(trial["run_id"])["status"] == "done" for trial in trials[1:])


def test_a_trial_far_under_the_accuracy_floor_stops_from_half_way():
    from lepton.sweep_trial import _EarlyStop

    early = _EarlyStop(floor=0.97, epochs=10)
    early.see({"epoch": 4, "val_accuracy": 0.5})  # before half-way: still learning
    assert not early.stopped
    early.see({"epoch": 5, "val_accuracy": 0.93})  # within 5 points of the floor
    assert not early.stopped
    early.see({"epoch": 6, "val_accuracy": 0.90})
    assert early.stopped
    assert "90.0%" in early.reason and "97.0%" in early.reason
    assert "90.0%" in early.reason.text("zh") and "提前停止" in early.reason.text("zh")
    unlimited = _EarlyStop(floor=None, epochs=10)
    unlimited.see({"epoch": 9, "val_accuracy": 0.1})
    assert not unlimited.stopped


def test_a_grid_sweep_trains_each_setup_once_within_its_budget(tmp_path):
    result = sweep(tmp_path, "--dataset", "mnist-5k", "--trials", "3", "--sampler", "grid",
                   "--space", "subset=300 epochs=1 filters1=8 dense=16,32", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    trials = json.loads(result.stdout)["trials"]
    # The grid holds two setups: a budget of three trains each once, and no more.
    assert sorted(trial["params"]["dense"] for trial in trials) == [16, 32]
    assert [trial["status"] for trial in trials] == ["done", "done"]
