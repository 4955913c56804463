"""The Single node vs many page under AppTest: calibration source, verdict, refused inputs."""

import pytest
from streamlit.testing.v1 import AppTest

from lepton.registry import RunStore
from lepton.scaling import REFERENCE_PARAMS
from tests.app import session

PAGE = "pages/scaling.py"


def open_page() -> AppTest:
    at = session.open_page(PAGE)
    assert at.title[0].value == "Single node vs many"
    return at


def texts(elements) -> str:
    return "\n".join(element.value for element in elements)


def test_without_runs_the_article_figure_is_used_and_labelled(lepton_home):
    at = open_page()
    assert "3,300 samples/s" in texts(at.warning)
    assert "not measured here" in texts(at.warning)
    assert at.number_input(key="scaling_samples_per_second").value == 3300.0
    # 10 Gbit/s, batch 32, the reference CNN: splitting the batch saves more than it costs.
    assert "Many nodes are faster" in texts(at.success)
    assert "One node wins" not in texts(at.warning)
    assert len(at.get("plotly_chart")) == 1
    assert list(at.dataframe[0].value["nodes"])[:3] == [1, 2, 4]


def test_tiny_bandwidth_makes_the_page_say_one_node_wins(lepton_home):
    at = open_page()
    at.number_input(key="scaling_bandwidth_gbit_per_s").set_value(0.001).run()
    assert not at.exception, at.exception
    assert "One node wins" in texts(at.warning)
    assert not at.success
    assert bool(at.dataframe[0].value["beats one node"].any()) is False


def test_defaults_are_calibrated_from_finished_runs(lepton_home):
    store = RunStore(lepton_home)
    for speed in (12_000.0, 12_345.0, 13_000.0):
        run_id = store.create_run("mnist-5k", {}, {"batch_size": 64})
        store.update_run(run_id, status="done", timings={"samples_per_second": speed},
                         metrics={"params": REFERENCE_PARAMS})
    at = open_page()
    assert "12,345 samples/s" in texts(at.info)
    assert "runs 1, 2, 3" in texts(at.info)
    assert at.number_input(key="scaling_samples_per_second").value == pytest.approx(12_345.0)
    assert at.number_input(key="scaling_global_batch_size").value == 64


def test_impossible_inputs_are_refused_with_a_reason(lepton_home):
    at = open_page()
    at.number_input(key="scaling_samples_per_epoch").set_value(10).run()
    assert not at.exception, at.exception
    assert "cannot use more samples than an epoch" in texts(at.error)
