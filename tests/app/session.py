"""Opening the app under AppTest: one home for the entry point, the timeout and page opening."""

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from lepton.export import export_progress
from lepton.registry import RunStore

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 120  # a page's first run imports TensorFlow; a training test trains


def new_session() -> AppTest:
    """A fresh session that has run app.py once (the Home page)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    return at


def open_page(page: str, language: str | None = None) -> AppTest:
    """A fresh session on `page` (e.g. "pages/predict.py"), in `language` when given, with no
    exception shown."""
    at = new_session()
    if language:
        at.session_state["language"] = language
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def keep_language(at: AppTest, language: str) -> AppTest:
    """Sets the language again before the next run.

    Under AppTest (Streamlit 1.67) a run after a page switch executes the page alone, not
    app.py, so the sidebar's language selector is not drawn and Streamlit drops its value at the
    end of that run; a real server always runs app.py and keeps it.
    """
    at.session_state["language"] = language
    return at


def wait_for_export(home, run_id: int) -> dict:
    """Waits for the export the Optimize page started (in its own process); its last record."""
    store = RunStore(home)
    deadline = time.monotonic() + TIMEOUT
    while (progress := export_progress(store, run_id))["status"] == "running":
        assert time.monotonic() < deadline, "the export did not finish"
        time.sleep(0.5)
    return progress
