"""The Train page's fast path, honest live charts and Stop, under AppTest."""

import time

import pytest
from streamlit.testing.v1 import AppTest

from lepton import fastpath
from lepton.fastpath import Candidate, choose, judge, save_calibration
from lepton.jobs import JobManager, TrainingLock
from lepton.registry import RunStore
from lepton.training import TrainConfig
from tests.app.session import APP, TIMEOUT
from tests.conftest import SMALL_MODEL

WINNER = Candidate("mixed_bfloat16", 128, steps_per_execution=8)


def _row(candidate, samples_per_second, accuracy):
    return {**candidate.to_dict(), "label": candidate.label,
            "samples_per_second": samples_per_second, "test_accuracy": accuracy}


@pytest.fixture
def train_page(lepton_home):
    def open_page():
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.run()
        at.selectbox(key="dataset").set_value("mnist-5k").run()
        at.switch_page("pages/train.py").run()
        assert not at.exception, at.exception
        return at

    return open_page


def test_before_calibration_the_safe_default_applies_and_says_so(train_page):
    at = train_page()
    assert any("safe default for this CPU's features: not calibrated" in caption.value
               for caption in at.caption)
    assert at.select_slider(key="batch").value == fastpath.SAFE_DEFAULT.batch_size
    assert at.selectbox(key="precision").value == fastpath.SAFE_DEFAULT.precision
    assert at.selectbox(key="augmentation").value == "mild"
    assert at.selectbox(key="schedule").value == "cosine"


def test_a_calibrated_winner_becomes_the_pages_default(train_page, lepton_home):
    rows = judge([_row(fastpath.BASELINE, 2000.0, 0.97), _row(WINNER, 6000.0, 0.968)])
    winner = choose(rows)
    for row in rows:  # as run_calibration marks them
        row["winner"] = row is winner
    save_calibration(lepton_home, rows, winner, seconds=80.0)
    at = train_page()
    assert any(caption.value.startswith("Execution settings of the default recipe: calibrated")
               for caption in at.caption)
    assert at.select_slider(key="batch").value == 128
    assert at.selectbox(key="precision").value == "mixed_bfloat16"
    assert at.select_slider(key="steps_per_execution").value == 8
    assert at.select_slider(key="lr").value == WINNER.train_changes()["learning_rate"]
    (table,) = [frame.value for frame in at.dataframe]
    assert list(table["samples_per_second"]) == [6000.0, 2000.0]
    assert list(table["winner"]) == [True, False]


def test_calibrate_while_a_training_holds_the_lock_says_busy(train_page, lepton_home):
    at = train_page()
    lock = TrainingLock(lepton_home)
    lock.acquire("held by the test")
    try:
        at.button(key="calibrate").click().run()
    finally:
        lock.release()
    assert not at.exception
    assert any("already running on this host (held by the test)" in warning.value
               for warning in at.warning)
    assert fastpath.calibration_progress(lepton_home) is None  # nothing was started


def test_the_live_view_draws_per_batch_values_with_a_caption(train_page, lepton_home):
    store = RunStore(lepton_home)
    jobs = JobManager(store)
    run_id = jobs.start("mnist-5k", SMALL_MODEL, TrainConfig(epochs=2, subset=300,
                                                             batch_size=64))
    assert jobs.wait(TIMEOUT)
    assert store.get_run(run_id)["status"] == "done"
    at = train_page()
    charts = {chart.key for chart in at.get("plotly_chart")}
    assert {f"batches-{run_id}", f"loss-{run_id}", f"speed-{run_id}"} <= charts
    assert any("values here are each stretch's own" in caption.value for caption in at.caption)
    at.slider(key="smoothing").set_value(0.0).run()
    assert not at.exception


def test_pausing_live_charts_then_stop_on_the_page_cancels_a_running_training(train_page,
                                                                             lepton_home):
    store = RunStore(lepton_home)
    jobs = JobManager(store)  # as another session or the CLI would have started it
    run_id = jobs.start("mnist-5k", SMALL_MODEL, TrainConfig(epochs=50, subset=2000,
                                                             batch_size=64))
    try:
        deadline = time.monotonic() + TIMEOUT
        while not store.batches(run_id):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        at = train_page()
        assert not any("Live charts are off" in caption.value for caption in at.caption)
        at.toggle(key="live_charts").set_value(False).run()
        # Paused, the charts are still drawn once, and the page says they are not live.
        assert any("Live charts are off" in caption.value for caption in at.caption)
        assert f"batches-{run_id}" in {chart.key for chart in at.get("plotly_chart")}
        at.button(key="stop").click().run()
        assert not at.exception
        assert jobs.wait(TIMEOUT)
    finally:
        jobs.stop()
        jobs.wait(TIMEOUT)
    run = store.get_run(run_id)
    assert run["status"] == "cancelled" and run["reason"] == "stopped by the user"
