"""A real Streamlit server and Debian's Chromium driven by Playwright (see shared testing.md)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
SCREENSHOTS = PROJECT / "screenshots"
CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(home: Path):
    """`streamlit run app.py` on a free port with LEPTON_HOME=home, stopped afterwards."""
    port = _free_port()
    env = {**os.environ, "LEPTON_HOME": str(home), "LEPTON_DATASET": "mnist-5k",
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    log = open(home / "server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.fileWatcherType", "none"],
        cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail(f"Streamlit did not start; log: {(home / 'server.log').read_text()[-2000:]}")
    try:
        yield {"url": url, "home": home, "process": process}
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


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
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"],
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


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.path):
            item.add_marker(pytest.mark.browser)
