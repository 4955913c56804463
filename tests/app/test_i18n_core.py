"""Home, Train and Runs in English and Chinese; the language survives a page switch and a link."""

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from lepton.i18n import translate
from tests.app.session import APP, TIMEOUT, new_session
from tests.conftest import SMALL_MODEL

HAN = re.compile(r"[\u4e00-\u9fff]")
PAGES = {  # page → where its heading is: Home's title is the product name, its subheaders speak
    "pages/home.py": ("subheader", "home.data"),
    "pages/train.py": ("title", "train.title"),
    "pages/runs.py": ("title", "runs.title"),
}


def heading(at: AppTest, kind: str) -> str:
    return getattr(at, kind)[0].value


@pytest.fixture(autouse=True)
def router_mode(monkeypatch):
    """Sends every AppTest run through app.py's router, as a real server does.

    Before each run AppTest forgets that app.py calls st.navigation (it resets
    `PagesManager.uses_pages_directory`); with a pages/ folder next to app.py, every run after
    the first then executes the page alone, without app.py and its sidebar, and the sidebar's
    widget state (the language) is dropped. Checking that the language survives needs the
    server's behaviour.
    """
    from streamlit.runtime import pages_manager
    from streamlit.testing.v1 import app_test

    class RouterPagesManager(pages_manager.PagesManager):
        def __init__(self, *args, **kwargs):
            pages_manager.PagesManager.uses_pages_directory = False
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(app_test, "PagesManager", RouterPagesManager)


@pytest.fixture
def app(lepton_home):
    at = new_session()
    at.selectbox(key="dataset").set_value("mnist-5k").run()
    return at


@pytest.fixture
def one_run(lepton_home):
    """A finished tiny run, so Runs draws its table, curves and Pareto chart."""
    from lepton.jobs import execute_run
    from lepton.registry import RunStore
    from lepton.training import TrainConfig

    store = RunStore(lepton_home)
    run_id = store.create_run("mnist-5k", SMALL_MODEL.to_dict(),
                              TrainConfig(epochs=1, subset=300, batch_size=64).to_dict())
    assert execute_run(store, run_id)["status"] == "done"
    return run_id


@pytest.mark.parametrize("language", ["en", "zh"])
def test_core_pages_render_in_both_languages(app, one_run, language):
    app.session_state["language"] = language
    for page, (kind, key) in PAGES.items():
        app.switch_page(page).run()
        assert not app.exception, (page, app.exception)
        text = heading(app, kind)
        assert text == translate(key, language)
        if language == "zh":
            assert HAN.search(text), (page, text)
    if language == "zh":  # Runs speaks Chinese through its tables and charts too
        assert app.radio(key="cost_axis").options[0] == "实际耗时（秒）"
        figures = {chart.key: json.loads(chart.proto.spec) for chart in app.get("plotly_chart")}
        assert "帕累托前沿" in [trace.get("name") for trace in figures["pareto"]["data"]]
        assert figures["overlay_loss"]["layout"]["title"]["text"] == "每轮损失"


def test_english_titles_and_navigation_are_unchanged(app):
    assert app.title[0].value == "Lepton"
    app.switch_page("pages/train.py").run()
    assert app.title[0].value == "Train"
    assert any(metric.label == "Parameters" for metric in app.metric)
    app.switch_page("pages/runs.py").run()
    assert app.title[0].value == "Runs"


def test_language_survives_a_page_switch(app):
    app.selectbox(key="language").set_value("zh").run()
    assert heading(app, "subheader") == "数据"
    app.switch_page("pages/train.py").run()
    assert not app.exception
    assert app.session_state["language"] == "zh"
    assert app.selectbox(key="language").value == "zh"
    assert app.title[0].value == "训练"
    assert app.query_params["lang"] == "zh"


def test_lang_in_the_link_opens_the_app_in_chinese(lepton_home):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.selectbox(key="language").value == "zh"
    assert heading(at, "subheader") == "数据"
    assert at.selectbox(key="dataset").label == "数据集"
