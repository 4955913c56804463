"""The Optimize page under AppTest: export and measure a run, persisted figures, downloads."""


import pytest
from streamlit.testing.v1 import AppTest

from lepton.export import VARIANTS, load_measurements
from lepton.registry import RunStore
from tests.app import session
from tests.app.session import wait_for_export

PAGE = "pages/optimize.py"


def measured_table(at: AppTest):
    (table,) = [frame.value for frame in at.dataframe if "p50 ms" in frame.value.columns]
    return table


def open_page() -> AppTest:
    at = session.open_page(PAGE)
    assert at.title[0].value == "Optimize"
    return at


def test_without_runs_the_page_says_to_train_first(lepton_home):
    at = open_page()
    assert "no finished run" in at.info[0].value
    assert not at.button


def test_export_and_measure_fills_the_table_chart_downloads_and_persists(finished_run, lepton_home):
    at = open_page()
    assert any("has not been measured yet" in caption.value for caption in at.caption)
    at.multiselect(key="optimize_variants").set_value(["fp32", "int8-dynamic"])
    at.select_slider(key="optimize_repeats").set_value(200)
    at.button(key="export_measure").click().run()
    assert not at.exception, at.exception
    # The export runs in its own process (never in the server's): the page follows it.
    assert at.get("progress"), "no progress bar while the export runs"
    assert "export_measure" not in [button.key for button in at.button]
    assert wait_for_export(lepton_home, finished_run["id"])["status"] == "done"
    at.run()
    assert not at.exception, at.exception

    table = measured_table(at)
    assert list(table["variant"]) == ["keras", "fp32", "int8-dynamic"]
    assert {"size MB", "vs .keras", "accuracy", "Δ accuracy", "p50 ms", "p95 ms",
            "img/s"} <= set(table.columns)
    assert table["p50 ms"].notna().all() and (table["img/s"] > 0).all()
    assert table.loc[1, "Δ accuracy"] == pytest.approx(0.0, abs=0.2)  # fp32 ≈ Keras (pp)
    method = " ".join(caption.value for caption in at.caption)
    assert "200 calls with one image" in method and "Load average" in method
    assert [chart.key for chart in at.get("plotly_chart")] == ["optimize_chart"]
    downloads = {element.proto.label for element in at.get("download_button")}
    assert {label.split()[0] for label in downloads} == {"keras", "fp32", "int8-dynamic"}

    at.radio(key="optimize_axis").set_value("p50_ms").run()
    assert not at.exception, at.exception

    document = load_measurements(RunStore(lepton_home), finished_run["id"])
    assert [row["variant"] for row in document["rows"]] == ["keras", "fp32", "int8-dynamic"]

    again = open_page()  # a new session, nothing clicked: the last measurement with its time
    assert list(measured_table(again)["variant"]) == ["keras", "fp32", "int8-dynamic"]
    stamp = document["measured_at"][:16].replace("T", " ")
    assert any(stamp in caption.value for caption in again.caption)


def test_no_variant_chosen_disables_the_button(finished_run):
    at = open_page()
    at.multiselect(key="optimize_variants").set_value([]).run()
    assert at.button(key="export_measure").disabled
    assert at.multiselect(key="optimize_variants").options == list(VARIANTS)
