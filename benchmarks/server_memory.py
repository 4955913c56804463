"""What the Streamlit server itself costs while a user opens Home, Train and Architecture.

    .venv/bin/python benchmarks/server_memory.py [--home-seconds 10]

Starts `streamlit run app.py` on an empty LEPTON_HOME, opens it in Debian's Chromium, stays on
Home for `--home-seconds` (a user reading it), then opens Train and Architecture and times each
until its "Parameters" figure shows. Reports the server process's RSS and CPU seconds
(psutil) and whether any TensorFlow library is mapped into it: the pages' Keras work runs in
the work pool's processes, not in the server. Writes benchmarks/results/server_memory.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import publish
from lepton.host import cpu_model
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.servers import running_server

RESULTS = ROOT / "benchmarks" / "results" / "server_memory.md"
PAGES = ("Train", "Architecture")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home-seconds", type=float, default=10.0,
                        help="how long the user stays on Home first")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    shown = {}
    with running_server(Path(tempfile.mkdtemp(prefix="lepton-memory-"))) as server:
        process = psutil.Process(server["process"].pid)
        rss_at_start = process.memory_info().rss
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(server["url"])
            page.get_by_role("heading", name="Lepton").first.wait_for(timeout=60_000)
            time.sleep(args.home_seconds)
            for title in PAGES:
                started = time.perf_counter()
                page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
                page.get_by_text("Parameters").first.wait_for(timeout=120_000)
                shown[title] = time.perf_counter() - started
            browser.close()
        cpu = process.cpu_times()
        rss = process.memory_info().rss
        tensorflow = sorted({Path(mapped.path).name for mapped in process.memory_maps()
                             if "tensorflow" in Path(mapped.path).name.lower()})

    lines = [
        "# The Streamlit server's own cost",
        "",
        f"Measured {datetime.now(UTC).isoformat(timespec='seconds')} on {cpu_model()} "
        f"({os.cpu_count()} logical cores): `streamlit run app.py` on an empty LEPTON_HOME, "
        f"Chromium on Home for {args.home_seconds:g} s, then "
        + " and ".join(PAGES) + " until their \"Parameters\" figure shows.",
        "",
        "| figure | value |",
        "|---|---:|",
        *(f"| {title} shown after its click | {seconds:.1f} s |"
          for title, seconds in shown.items()),
        f"| server RSS at start | {rss_at_start / 2**20:.0f} MiB |",
        f"| server RSS after both pages | {rss / 2**20:.0f} MiB |",
        f"| server CPU (user + system) | {cpu.user + cpu.system:.1f} s |",
        f"| TensorFlow libraries mapped in the server | {', '.join(tensorflow) or 'none'} |",
    ]
    publish("\n".join(lines) + "\n", args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
