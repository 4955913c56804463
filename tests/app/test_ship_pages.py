"""Calibration on Evaluate, the layer profile on Architecture, the model card on Runs."""

import json
import os
import re
import time

import pytest
from streamlit.testing.v1 import AppTest

from lepton.export import export_run
from lepton.i18n import catalogue
from lepton.model_card import CARD_FILE
from lepton.prediction import ModelReference, calibration
from lepton.profiling import PROFILE_FILE, load_profile, profile_progress
from lepton.registry import RunStore
from tests.app.session import TIMEOUT, keep_language, open_page

HAN = re.compile(r"[\u4e00-\u9fff]")


def chinese(text: str) -> bool:
    return bool(HAN.search(text))


def figure(at: AppTest, key: str) -> dict:
    (chart,) = [chart for chart in at.get("plotly_chart") if chart.key == key]
    return json.loads(chart.proto.spec)


def figure_texts(spec: dict) -> list[str]:
    layout = spec["layout"]
    titles = [layout.get(part, {}).get("title", {}) for part in ("xaxis", "yaxis")]
    titles.append(layout.get("title", {}))
    return [title["text"] for title in titles if title.get("text")]


# --- Evaluate: calibration ----------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "zh"])
def test_evaluate_page_shows_calibration_and_a_reliability_chart(finished_run, lepton_home,
                                                                 language):
    words = catalogue(language)
    at = open_page("pages/evaluate.py", language)
    assert not at.exception, at.exception
    expected = calibration(ModelReference.of_run(finished_run), finished_run, str(lepton_home))
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics[words["evaluate.ece"]] == f"{expected['as_trained']['ece']:.4f}"
    assert metrics[words["evaluate.ece_scaled"]] == f"{expected['scaled']['ece']:.4f}"
    assert metrics[words["evaluate.temperature"]] == f"{expected['temperature']:.2f}"
    assert metrics[words["evaluate.nll_scaled"]] == f"{expected['scaled']['nll']:.4f}"
    assert 0.0 <= float(metrics[words["evaluate.ece"]]) <= 1.0
    assert 0.05 <= float(metrics[words["evaluate.temperature"]]) <= 20.0
    assert words["evaluate.calibration"] in [header.value for header in at.subheader]

    spec = figure(at, "reliability")
    traces = spec["data"]
    assert len(traces) == 3  # the diagonal, as trained, with temperature
    assert traces[0]["x"] == [0, 1] and traces[0]["y"] == [0, 1]
    for trace, part in zip(traces[1:], ("as_trained", "scaled")):
        filled = [row for row in expected[part]["bins"] if row["count"]]
        assert trace["x"] == pytest.approx([row["confidence"] for row in filled])
        assert trace["y"] == pytest.approx([row["accuracy"] for row in filled])
        assert f"{expected[part]['ece']:.4f}" in trace["name"]
    texts = figure_texts(spec)
    assert len(texts) == 3
    before = expected["as_trained"]
    caption = next(caption.value for caption in at.caption
                   if f"{before['mean_confidence']:.2%}" in caption.value
                   and f"{before['accuracy']:.2%}" in caption.value)
    assert f"{expected['validation_images']:,}" in caption and f"{expected['test_images']:,}" in \
        caption
    if language == "zh":
        assert all(chinese(text) for text in texts), texts
        assert all(chinese(trace["name"]) for trace in traces), [t["name"] for t in traces]
        assert all(chinese(label) for label in (words["evaluate.ece"],
                                                words["evaluate.temperature"]))
        assert chinese(caption), caption
    else:
        assert texts[-1] == "Reliability on the test set: accuracy against confidence"
        assert not any(chinese(text) for text in texts)


def test_evaluate_page_without_a_validation_split_says_why(finished_run, lepton_home):
    RunStore(lepton_home).update_run(
        finished_run["id"], train_config={**finished_run["train_config"], "validation_split": 0})
    at = open_page("pages/evaluate.py")
    labels = {metric.label for metric in at.metric}
    assert "Test accuracy" in labels and "ECE as trained" not in labels
    assert "reliability" not in [chart.key for chart in at.get("plotly_chart")]
    assert any(info.value.startswith("No calibration for this run: Fitting a temperature needs "
                                     "a validation set of 10 images or more")
               for info in at.info), [info.value for info in at.info]


# --- Architecture: profile ----------------------------------------------------------------------


def choose_run(at: AppTest, run_id: int) -> AppTest:
    at.radio(key="arch_source").set_value("A finished run").run()
    assert not at.exception, at.exception
    at.selectbox(key="arch_run").set_value(run_id).run()
    assert not at.exception, at.exception
    return at


def wait_for_profile(store: RunStore, run_id: int) -> dict:
    deadline = time.monotonic() + TIMEOUT
    while (progress := profile_progress(store, run_id)) and progress["status"] == "running":
        assert time.monotonic() < deadline, "the profile did not finish"
        time.sleep(0.5)
    return progress


def test_architecture_page_profiles_a_run_in_its_own_process(finished_run, lepton_home):
    store = RunStore(lepton_home)
    run_id = finished_run["id"]
    at = choose_run(open_page("pages/architecture.py"), run_id)
    assert "profile_chart" not in [chart.key for chart in at.get("plotly_chart")]
    assert "µs" not in at.get("graphviz_chart")[0].proto.spec
    assert at.button(key="profile_start")

    at.button(key="profile_start").click().run()
    assert not at.exception, at.exception
    progress = profile_progress(store, run_id)
    assert progress is not None, "no profile was started"
    # Its own process: it imports TensorFlow and times 300 calls a layer, it is still running.
    assert progress["status"] == "running", progress
    assert progress["pid"] != os.getpid()
    assert "profile_start" not in [button.key for button in at.button]
    (bar,) = at.get("progress")
    assert bar.proto.text == f"Profiling run {run_id}"

    final = wait_for_profile(store, run_id)
    assert final["status"] == "done", final
    profile = load_profile(store, finished_run)
    assert profile is not None and (store.run_folder(run_id) / PROFILE_FILE).is_file()

    at.run()
    assert not at.exception, at.exception
    assert "profile_start" not in [button.key for button in at.button]
    spec = figure(at, "profile_chart")
    names = [layer["name"] for layer in profile["layers"]]
    assert [trace["y"] for trace in spec["data"]] == [names, names]
    assert spec["data"][0]["x"] == pytest.approx([layer["ms"] * 1000
                                                  for layer in profile["layers"]])
    diagram = at.get("graphviz_chart")[0].proto.spec
    assert "µs" in diagram
    for layer in profile["layers"]:
        assert f"⏱ {layer['ms'] * 1000:.1f} µs one image (LiteRT)" in diagram
    assert any(f"{profile['model']['ms'] * 1000:.1f}" in caption.value
               and profile["method"]["cpu"] in caption.value for caption in at.caption)


# --- Runs: model card ---------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "zh"])
def test_runs_page_writes_the_model_card_to_download(finished_run, lepton_home, language):
    words = catalogue(language)
    at = open_page("pages/runs.py", language)
    assert not at.get("download_button") or "download_card" not in [
        button.key for button in at.get("download_button")]
    keep_language(at, language).button(key="write_card").click().run()
    assert not at.exception, at.exception
    downloads = {button.key: button for button in at.get("download_button")}
    assert "download_card" in downloads
    assert downloads["download_card"].proto.label == words["runs.download_card"]

    path = RunStore(lepton_home).run_folder(finished_run["id"]) / CARD_FILE
    assert path.is_file()
    text = path.read_text()
    assert text.startswith(f"# Model card: Lepton run {finished_run['id']}\n")
    assert "# Model card: Lepton run" in text
    assert "## Calibration" in text
    # The preview shows the same card (Streamlit drops its final newline).
    assert [markdown.value for markdown in at.markdown
            if markdown.value.startswith("# Model card")] == [text.rstrip("\n")]


def test_a_second_session_gets_a_card_written_for_its_click(finished_run, lepton_home,
                                                            tiny_data):
    store = RunStore(lepton_home)
    first = open_page("pages/runs.py")
    first.button(key="write_card").click().run()
    assert not first.exception, first.exception
    path = store.run_folder(finished_run["id"]) / CARD_FILE
    assert "Not exported yet" in path.read_text()

    export_run(store, finished_run, tiny_data, ["fp32"], repeats=30)
    second = open_page("pages/runs.py")
    second.button(key="write_card").click().run()
    assert not second.exception, second.exception
    (preview,) = [markdown.value for markdown in second.markdown
                  if markdown.value.startswith("# Model card")]
    assert "Not exported yet" not in preview
    assert "| fp32 |" in preview
    assert "| fp32 |" in path.read_text()
