"""Opening pages in a chosen language under AppTest (shared by the i18n page tests)."""

from streamlit.testing.v1 import AppTest

APP = "../../app.py"  # resolved against this file, which sits beside the page tests
TIMEOUT = 120


def open_page(page: str, language: str) -> AppTest:
    """A fresh session on `page` in `language`, with no exception shown."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
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
