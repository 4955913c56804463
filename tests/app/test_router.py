"""The Streamlit 1.67 behaviour pages/common.py works around, pinned so an upgrade that changes
it fails here (then revisit `_route_through_app`)."""

from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager

PROJECT = Path(__file__).resolve().parents[2]


def test_a_pages_folder_beside_app_py_starts_streamlit_in_pages_folder_mode():
    saved = PagesManager.uses_pages_directory
    try:
        PagesManager.uses_pages_directory = None  # as on a fresh server
        PagesManager(str(PROJECT / "app.py"))
        assert PagesManager.uses_pages_directory is True, (
            "Streamlit no longer starts in pages-folder mode for a pages/ folder beside app.py; "
            "pages/common._route_through_app may be removed."
        )
    finally:
        PagesManager.uses_pages_directory = saved
