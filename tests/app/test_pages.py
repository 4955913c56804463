"""Every page renders under AppTest; Train completes a tiny run; Predict answers an upload."""

import io
import shutil

import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from lepton import recipes
from lepton.recipes import default_config
from lepton.registry import RunStore
from tests.app.session import APP, TIMEOUT, new_session


@pytest.fixture
def app(lepton_home):
    at = new_session()
    at.selectbox(key="dataset").set_value("mnist-5k").run()
    return at


def wait_until_finished(home, timeout=180):
    import time

    store = RunStore(home)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = store.list_runs()
        if runs and runs[0]["status"] not in ("queued", "running"):
            return runs[0]
        time.sleep(0.2)
    raise AssertionError("the run did not finish in time")


def test_home_renders(app):
    assert not app.exception
    assert app.title[0].value == "Lepton"
    assert any("mnist-5k" in markdown.value for markdown in app.markdown)


PAGES = ["pages/home.py", "pages/train.py", "pages/runs.py", "pages/predict.py",
         "pages/evaluate.py", "pages/architecture.py", "pages/formula_lab.py",
         "pages/optimize.py", "pages/scaling.py", "pages/data.py"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_runs(app, page):
    app.switch_page(page).run()
    assert not app.exception, app.exception


@pytest.fixture(scope="module")
def two_runs_home(tmp_path_factory):
    """A LEPTON_HOME with two finished tiny runs of different sizes, trained once per module."""
    from lepton.jobs import execute_run
    from lepton.model import ModelConfig
    from lepton.training import TrainConfig

    home = tmp_path_factory.mktemp("two_runs_home")
    store = RunStore(home)
    ids = []
    for filters in ((8,), (16, 32)):
        config = ModelConfig(filters=filters, dense_units=32)
        run_id = store.create_run("mnist-5k", config.to_dict(),
                                  TrainConfig(epochs=1, subset=300, batch_size=64).to_dict())
        assert execute_run(store, run_id)["status"] == "done"
        ids.append(run_id)
    return home, ids


@pytest.fixture
def two_runs(two_runs_home, lepton_home):
    """A private copy of `two_runs_home` as this test's LEPTON_HOME; returns the run ids."""
    template, ids = two_runs_home
    shutil.rmtree(lepton_home, ignore_errors=True)  # the app may have opened an empty store
    shutil.copytree(template, lepton_home)
    store = RunStore(lepton_home)
    for run_id in ids:  # point each copied run at its copied model
        model_path = lepton_home / "runs" / str(run_id) / "model.keras"
        store.update_run(run_id, model_path=str(model_path))
    return ids


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_runs(app, two_runs, page):
    app.switch_page(page).run()
    assert not app.exception, app.exception


def test_runs_page_shows_table_and_pareto_chart(app, two_runs):
    app.switch_page("pages/runs.py").run()
    assert not app.exception
    table = app.dataframe(key="runs_table").value
    assert sorted(table["id"]) == sorted(two_runs)
    assert {"test_accuracy", "wall_seconds", "money", "energy_wh", "model_bytes"} <= set(table)
    charts = {element.key for element in app.get("plotly_chart")}
    assert {"overlay_loss", "overlay_accuracy", "pareto"} <= charts
    for axis in ("wall_seconds", "model_bytes", "energy_wh"):
        app.radio(key="cost_axis").set_value(axis).run()
        assert not app.exception


def test_runs_page_deletes_a_run_after_confirmation(app, two_runs, lepton_home):
    app.switch_page("pages/runs.py").run()
    app.selectbox(key="manage_run").set_value(two_runs[0]).run()
    assert app.button(key="delete_run").disabled
    app.checkbox(key="confirm_delete").check().run()
    app.button(key="delete_run").click().run()
    assert not app.exception
    assert [run["id"] for run in RunStore(lepton_home).list_runs()] == [two_runs[1]]
    assert not (lepton_home / "runs" / str(two_runs[0])).exists()


def test_evaluate_page_shows_confusion_matrix_and_metrics(app, two_runs):
    app.switch_page("pages/evaluate.py").run()
    assert not app.exception
    labels = [metric.label for metric in app.metric]
    assert {"Test accuracy", "Test loss", "Test images"} <= set(labels)
    assert [metric.value for metric in app.metric if metric.label == "Test images"] == ["1,000"]
    assert app.get("plotly_chart")


def test_train_page_link_sets_controls_and_rejects_bad_values(lepton_home):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"epochs": "3", "lr": "0.01", "blocks": "1", "batch": "oops",
                            "dropout": "nan"})
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert at.slider(key="epochs").value == 3
    assert at.select_slider(key="lr").value == 0.01
    assert at.slider(key="blocks").value == 1
    assert at.select_slider(key="batch").value == default_config(lepton_home).batch_size
    notices = " ".join(warning.value for warning in at.warning)
    assert "batch='oops'" in notices and "dropout='nan'" in notices


def test_train_page_completes_a_tiny_run(app, lepton_home):
    app.switch_page("pages/train.py").run()
    app.number_input(key="subset").set_value(300)
    app.slider(key="epochs").set_value(1)
    app.select_slider(key="batch").set_value(128)
    app.button(key="start").click().run()
    assert not app.exception
    run = wait_until_finished(lepton_home)
    assert run["status"] == "done", run["reason"]
    app.run()
    assert not app.exception
    assert any(metric.label == "Test accuracy" for metric in app.metric)
    assert f"Run {run['id']} — done" in [header.value for header in app.subheader]


def test_train_page_explains_an_impossible_architecture(app):
    app.switch_page("pages/train.py").run()
    app.slider(key="blocks").set_value(3)
    app.slider(key="kernel").set_value(7).run()
    assert not app.exception
    assert "shrink" in app.error[0].value
    assert "start" not in [button.key for button in app.button]


def digit_png() -> bytes:
    image = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(image).line([(100, 30), (100, 170)], fill=0, width=18)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_predict_page_quick_trains_then_answers_a_good_file_and_reports_a_bad_one(
        app, lepton_home, monkeypatch):
    # The default's 30 epochs take a minute here; 4 of them still tell a clear 1, and the
    # page must pass on whatever the default is.
    monkeypatch.setitem(recipes.DEFAULT_TRAINING, "epochs", 4)
    app.switch_page("pages/predict.py").run()
    assert not app.exception
    assert "4 epochs" in app.button(key="quick_train").label  # what it will train, said
    app.button(key="quick_train").click().run()
    assert not app.exception
    run = RunStore(lepton_home).list_runs()[0]
    assert run["status"] == "done", run["reason"]
    assert run["train_config"] == default_config(lepton_home).to_dict()  # the one default
    app.run()
    app.file_uploader(key="uploads").set_value([
        ("broken.png", b"not an image", "image/png"),
        ("one.png", digit_png(), "image/png"),
    ]).run()
    assert not app.exception
    assert any("broken.png" in error.value for error in app.error)
    assert [metric.value for metric in app.metric if metric.label == "Prediction"] == ["1"]
