"""The fast path: fingerprint, candidates, choosing, the stored calibration, tiny real runs."""

import json
import math
import os
import subprocess
import sys

import pytest

from lepton import fastpath
from lepton.fastpath import (
    BASELINE,
    SAFE_DEFAULT,
    Candidate,
    calibration_progress,
    choose,
    execution_settings,
    fingerprint_key,
    host_fingerprint,
    judge,
    load_calibration,
    measure,
    run_calibration,
    save_calibration,
)
from lepton.jobs import TrainingBusy, TrainingLock
from lepton.training import TrainConfig

# Two settings, so a real measurement stays a few seconds; the baseline makes accuracy judgeable.
TINY_CANDIDATES = [BASELINE, Candidate("float32", 64, steps_per_execution=4)]
ROW_KEYS = {
    "precision", "batch_size", "learning_rate", "steps_per_execution", "threads", "pipeline",
    "label", "samples_per_second", "ms_per_step", "test_accuracy", "first_epoch_seconds",
    "executions_timed", "samples_trained", "seconds", "load_average", "process", "error",
    "baseline", "accuracy_delta", "accuracy_holds", "speedup",
}


def row(candidate: Candidate, samples_per_second: float | None, accuracy: float | None,
        error: str | None = None) -> dict:
    ms_per_step = 1000 * candidate.batch_size / samples_per_second if samples_per_second else None
    return {**candidate.to_dict(), "label": candidate.label, "ms_per_step": ms_per_step,
            "samples_per_second": samples_per_second, "test_accuracy": accuracy, "error": error}


def hand_made_rows() -> list[dict]:
    return judge([
        row(BASELINE, 1000.0, 0.970),
        row(Candidate("mixed_bfloat16", 128), 5000.0, 0.940),  # fastest, but loses 3 pp
        row(Candidate("float32", 128, steps_per_execution=16), 3000.0, 0.9551),  # within 1.5 pp
        row(Candidate("float32", 64, steps_per_execution=16), 2000.0, 0.980),
        row(Candidate("mixed_bfloat16", 64), None, None, error="RuntimeError: no bfloat16"),
    ])


def test_fingerprint_is_stable_and_its_key_ignores_key_order():
    fingerprint = host_fingerprint()
    assert fingerprint == host_fingerprint()
    assert {"cpu", "flags", "logical_cores", "tensorflow"} <= set(fingerprint)
    assert fingerprint["flags"] == sorted(fingerprint["flags"])
    key = fingerprint_key(fingerprint)
    assert len(key) == 16 and key == fingerprint_key(dict(reversed(list(fingerprint.items()))))
    assert fingerprint_key({**fingerprint, "flags": [*fingerprint["flags"], "amx_tile"]}) != key


def test_fingerprint_keeps_only_the_flags_that_choose_kernels(monkeypatch):
    monkeypatch.setattr("lepton.fastpath.fingerprint.cpu_flags",
                        lambda: {"fpu", "avx2", "fma", "avx512_bf16", "amx_tile", "hypervisor"})
    assert host_fingerprint()["flags"] == ["amx_tile", "avx2", "avx512_bf16", "fma"]


def test_candidate_scales_adams_learning_rate_by_the_square_root_of_the_batch():
    assert Candidate(batch_size=64).learning_rate == pytest.approx(2e-3)
    assert Candidate(batch_size=256).learning_rate == pytest.approx(4e-3)
    assert Candidate(batch_size=32, learning_rate=1e-3).learning_rate == 1e-3
    changes = Candidate("mixed_bfloat16", 128, steps_per_execution=16, threads=2,
                        pipeline="tf.data").train_changes()
    assert "pipeline" not in changes
    assert TrainConfig(**changes).batch_size == 128


def test_candidate_rejects_bad_settings_with_the_training_messages():
    with pytest.raises(ValueError, match="pipeline"):
        Candidate(pipeline="torch")
    with pytest.raises(ValueError, match="batch_size"):
        Candidate(batch_size=0)
    with pytest.raises(ValueError, match="precision"):
        Candidate(precision="float16")


def test_default_candidates_start_with_the_baseline_and_stage_two_varies_the_winner():
    candidates = fastpath.default_candidates()
    assert candidates[0] == BASELINE
    assert len(candidates) == len(set(candidates)) == 12
    assert {(candidate.threads, candidate.pipeline) for candidate in candidates} == {(0, "arrays")}
    best = Candidate("mixed_bfloat16", 128, steps_per_execution=16)
    second = fastpath.second_stage_candidates(best, cores=2)
    assert [(candidate.threads, candidate.pipeline) for candidate in second] == [
        (1, "arrays"), (2, "arrays"), (0, "tf.data")]
    assert fastpath.second_stage_candidates(best, cores=1)[0].threads == 1


def test_judge_compares_with_the_baseline_and_choose_picks_the_fastest_that_holds():
    rows = hand_made_rows()
    assert [item["accuracy_holds"] for item in rows] == [True, False, True, True, False]
    assert rows[0]["baseline"] and not any(item["baseline"] for item in rows[1:])
    assert rows[2]["speedup"] == pytest.approx(3.0)
    assert rows[2]["accuracy_delta"] == pytest.approx(-0.0149)
    assert choose(rows)["samples_per_second"] == 3000.0


def test_confirm_measures_the_finalists_again_and_only_they_compete(monkeypatch):
    rows = hand_made_rows()
    measured = []

    def second_round(candidates, dataset, epochs, on_progress):
        measured.extend(candidates)
        speeds = {3000.0: 1000.0, 2000.0: 2600.0, 1000.0: 1000.0}  # the 3,000 was a lucky round
        by_candidate = {Candidate.from_dict(item): item for item in rows}
        return [{**by_candidate[candidate],
                 "samples_per_second": speeds[by_candidate[candidate]["samples_per_second"]]}
                for candidate in candidates]

    monkeypatch.setattr("lepton.fastpath.calibration.measure", second_round)
    confirmed = fastpath.confirm(rows, count=3)
    assert measured == [Candidate.from_dict(rows[index]) for index in (2, 3, 0)]
    assert confirmed[2]["round_samples_per_second"] == [3000.0, 1000.0]
    assert confirmed[2]["samples_per_second"] == 2000.0 and confirmed[2]["confirmed"]
    assert "confirmed" not in confirmed[1]  # accuracy did not hold: not a finalist
    assert choose(confirmed)["samples_per_second"] == 2300.0
    assert confirmed[3]["speedup"] == pytest.approx(2.3)


def test_without_a_baseline_nothing_holds_and_choose_says_what_is_missing():
    rows = judge([row(Candidate("float32", 64), 2000.0, 0.97)])
    assert rows[0]["accuracy_holds"] is None
    with pytest.raises(ValueError, match="float32 batch-32"):
        choose(rows)


def test_save_and_load_round_trip(lepton_home):
    rows = hand_made_rows()
    winner = choose(rows)
    saved = save_calibration(lepton_home, rows, winner, seconds=12.5)
    loaded = load_calibration(lepton_home)
    assert loaded == saved
    assert Candidate.from_dict(loaded["winner"]) == Candidate.from_dict(winner)
    assert loaded["rows"] == rows and loaded["seconds"] == 12.5
    assert loaded["cpu"] == host_fingerprint()["cpu"] and loaded["measured"][:2] == "20"
    assert not list(lepton_home.glob(".fastpath.json.*"))  # no temporary file left behind


@pytest.mark.parametrize("content", ["{not json", "[]", '{"hosts": 3}', ""])
def test_a_bad_file_reads_as_not_calibrated_and_is_replaced_on_save(lepton_home, content):
    lepton_home.mkdir(parents=True)
    (lepton_home / fastpath.CALIBRATION_FILE).write_text(content)
    assert load_calibration(lepton_home) is None
    assert execution_settings(lepton_home)[0] == SAFE_DEFAULT.to_dict()
    rows = hand_made_rows()
    save_calibration(lepton_home, rows, choose(rows))
    assert load_calibration(lepton_home) is not None


def test_a_malformed_entry_for_this_host_reads_as_not_calibrated(lepton_home):
    rows = hand_made_rows()
    entry = save_calibration(lepton_home, rows, choose(rows))
    path = lepton_home / fastpath.CALIBRATION_FILE
    document = json.loads(path.read_text())
    document["hosts"][entry["key"]]["winner"]["batch_size"] = -1
    path.write_text(json.dumps(document))
    assert load_calibration(lepton_home) is None


def test_other_hosts_entries_are_ignored_and_kept(lepton_home):
    lepton_home.mkdir(parents=True)
    other = {"cpu": "Other CPU", "winner": Candidate("mixed_bfloat16", 256).to_dict(),
             "rows": [], "measured": "2026-01-01T00:00:00+00:00"}
    path = lepton_home / fastpath.CALIBRATION_FILE
    path.write_text(json.dumps({"version": 1, "hosts": {"0123456789abcdef": other}}))
    assert load_calibration(lepton_home) is None
    assert execution_settings(lepton_home)[1] == fastpath.NOT_CALIBRATED
    rows = hand_made_rows()
    save_calibration(lepton_home, rows, choose(rows))
    hosts = json.loads(path.read_text())["hosts"]
    assert hosts["0123456789abcdef"] == other and len(hosts) == 2


def test_execution_settings_before_and_after_calibration(lepton_home):
    settings, source = execution_settings(lepton_home)
    assert settings == SAFE_DEFAULT.to_dict()
    assert source.startswith("safe default") and "calibrate" in source
    rows = hand_made_rows()
    winner = choose(rows)
    save_calibration(lepton_home, rows, winner)
    settings, source = execution_settings(lepton_home)
    assert settings == Candidate.from_dict(winner).to_dict()
    assert TrainConfig(**Candidate.from_dict(settings).train_changes()).batch_size == 128
    assert source.startswith("calibrated on ") and host_fingerprint()["cpu"] in source
    assert "3.0× the float32 batch-32 baseline" in source


def test_measure_trains_each_candidate_and_reports_rows(tiny_data):
    progress = []
    rows = measure(TINY_CANDIDATES, tiny_data, epochs=2,
                   on_progress=lambda fraction, text: progress.append(fraction))
    assert [Candidate.from_dict(item) for item in rows] == TINY_CANDIDATES
    for item in rows:
        assert set(item) == ROW_KEYS
        assert item["error"] is None, item["error"]
        assert item["samples_per_second"] > 0 and item["ms_per_step"] > 0
        assert 0 <= item["test_accuracy"] <= 1 and item["accuracy_holds"] in (True, False)
        assert item["samples_trained"] == 2 * len(tiny_data.y_train)
        assert item["process"] == os.getpid()
    assert rows[0]["baseline"] and rows[0]["speedup"] == 1.0
    assert progress == sorted(progress) and progress[-1] == 1.0
    json.dumps(rows)  # rows go to fastpath.json and through the child's stdout


def test_a_candidate_with_other_threads_is_measured_in_a_child_process(tiny_data):
    import tensorflow as tf

    threads = tf.config.threading.get_intra_op_parallelism_threads() + 1
    candidate = Candidate("float32", 64, steps_per_execution=4, threads=threads)
    [measured] = measure([candidate], tiny_data, epochs=2)
    assert measured["error"] is None, measured["error"]
    assert measured["process"] != os.getpid() and measured["threads"] == threads
    assert measured["samples_per_second"] > 0 and math.isfinite(measured["test_accuracy"])


def test_a_failing_child_becomes_a_row_with_its_error(monkeypatch, tiny_data):
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the child exits 1, printing nothing
    [failed] = measure([Candidate(threads=7)], tiny_data, epochs=2)
    assert "exit code 1" in failed["error"] and failed["accuracy_holds"] is False


def test_run_calibration_measures_chooses_stores_and_reports_progress(lepton_home, tiny_data):
    seen = []
    entry = run_calibration(lepton_home, TINY_CANDIDATES, dataset=tiny_data, epochs=2,
                            on_progress=lambda fraction, text: seen.append(text))
    assert load_calibration(lepton_home) == entry
    assert sum(item["winner"] for item in entry["rows"]) == 1
    assert execution_settings(lepton_home)[1].startswith("calibrated on ")
    progress = calibration_progress(lepton_home)
    assert progress["status"] == "done" and progress["fraction"] == 1.0 and seen
    TrainingLock(lepton_home).acquire()  # released again


def test_run_calibration_refuses_while_a_training_holds_the_lock(lepton_home):
    lepton_home.mkdir(parents=True)
    lock = TrainingLock(lepton_home)
    lock.acquire("run 7")
    try:
        with pytest.raises(TrainingBusy, match="run 7"):
            run_calibration(lepton_home, TINY_CANDIDATES)
        assert fastpath.main(["calibrate", "--quick", "--home", str(lepton_home)]) == 2
    finally:
        lock.release()
    # The refused calibration must not overwrite the progress of one that is running.
    assert calibration_progress(lepton_home) is None


def test_start_calibration_runs_it_in_a_process_a_page_can_follow(lepton_home, monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/true")  # a child that ends at once
    process = fastpath.start_calibration(lepton_home)
    assert calibration_progress(lepton_home)["pid"] == process.pid
    process.wait()
    assert calibration_progress(lepton_home)["status"] == "failed"
    lock = TrainingLock(lepton_home)
    lock.acquire("run 3")
    try:
        with pytest.raises(TrainingBusy, match="run 3"):
            fastpath.start_calibration(lepton_home)
    finally:
        lock.release()


def test_a_running_record_of_a_dead_process_reads_as_failed(lepton_home):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    lepton_home.mkdir(parents=True)
    (lepton_home / fastpath.PROGRESS_FILE).write_text(json.dumps(
        {"status": "running", "fraction": 0.4, "text": "stage 1", "pid": finished.pid}))
    assert calibration_progress(lepton_home)["status"] == "failed"
    (lepton_home / fastpath.PROGRESS_FILE).write_text(json.dumps(
        {"status": "running", "fraction": 0.4, "text": "stage 1", "pid": os.getpid()}))
    assert calibration_progress(lepton_home)["status"] == "running"
    (lepton_home / fastpath.PROGRESS_FILE).write_text("{half")
    assert calibration_progress(lepton_home) is None


def test_format_table_marks_the_winner_and_the_failures():
    rows = hand_made_rows()
    winner = choose(rows)
    for item in rows:
        item["winner"] = item is winner
    lines = fastpath.format_table(rows).splitlines()
    assert len(lines) == 2 + len(rows)
    assert "★" in next(line for line in lines if "3,000" in line)
    assert "failed: RuntimeError" in lines[-1]
