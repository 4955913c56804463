"""A real `streamlit run app.py` for tests that need the server: browser and fault tests."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(home: Path, log_path: Path | None = None, address_from_config: bool = False):
    """Starts the app on a free port with LEPTON_HOME=home and stops it afterwards.

    Args:
        address_from_config: leave `--server.address` out, so the bind address comes from
            `.streamlit/config.toml` as it does for `make run`.
    Yields:
        {"url", "port", "home", "process", "log"}
    """
    port = free_port()
    log_path = log_path or Path(home) / "server.log"
    env = {**os.environ, "LEPTON_HOME": str(home), "LEPTON_DATASET": "mnist-5k",
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.fileWatcherType", "none"]
    if not address_from_config:
        command += ["--server.address", "127.0.0.1"]
    log = open(log_path, "w")
    process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
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
        log.close()
        pytest.fail(f"Streamlit did not start; log: {log_path.read_text()[-2000:]}")
    try:
        yield {"url": url, "port": port, "home": home, "process": process, "log": log_path}
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
