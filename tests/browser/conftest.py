"""A real Streamlit server and Debian's Chromium driven by Playwright (see shared testing.md)."""

from pathlib import Path

import pytest

from tests.servers import running_server

PROJECT = Path(__file__).resolve().parents[2]
SCREENSHOTS = PROJECT / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# This machine's closed network refuses Chromium's background connections (shared testing.md).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One server for the whole browser suite, starting from an empty LEPTON_HOME."""
    with running_server(tmp_path_factory.mktemp("lepton_home")) as started:
        yield started


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    """A server of this module's own, for journeys that must start with no runs at all."""
    with running_server(tmp_path_factory.mktemp("fresh_home")) as started:
        yield started


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: apt-get install chromium (make test does).")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1800}}


@pytest.fixture
def shoot(page):
    """Saves a full-page screenshot into the git-ignored screenshots/ folder."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
