"""Cold start: seconds from `streamlit run app.py` to the Home page's heading in Chromium.

Also reports whether TensorFlow was imported to serve Home (it should not be: pages that need
no model do not import it).

    .venv/bin/python benchmarks/cold_start.py [--repeats 3]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
from playwright.sync_api import sync_playwright

from lepton.host import host_info
from tests.servers import running_server

RESULTS = Path(__file__).resolve().parent / "results" / "cold_start.md"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def one_cold_start(browser) -> tuple[float, float, bool]:
    """(seconds to health, seconds to the rendered heading, TensorFlow imported by the server)."""
    started = time.perf_counter()
    with running_server(Path(tempfile.mkdtemp(prefix="lepton-cold-"))) as server:
        healthy = time.perf_counter() - started
        page = browser.new_page()
        page.goto(server["url"])
        page.get_by_role("heading", name="Lepton").wait_for(timeout=60_000)
        rendered = time.perf_counter() - started
        page.close()
        maps = psutil.Process(server["process"].pid).memory_maps()
        tensorflow = any("libtensorflow" in item.path for item in maps)
    return healthy, rendered, tensorflow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=CHROMIUM_ARGS)
        results = [one_cold_start(browser) for _ in range(args.repeats)]
        browser.close()
    for healthy, rendered, tensorflow in results:
        print(f"health {healthy:.2f} s, Home rendered {rendered:.2f} s, TensorFlow loaded: "
              f"{tensorflow}")
    host = host_info()
    lines = [
        "| measure | median | runs |",
        "|---|---|---|",
        f"| `streamlit run` → health endpoint answers | "
        f"{statistics.median(r[0] for r in results):.2f} s | "
        f"{', '.join(f'{r[0]:.2f}' for r in results)} |",
        f"| `streamlit run` → Home heading rendered in Chromium | "
        f"**{statistics.median(r[1] for r in results):.2f} s** | "
        f"{', '.join(f'{r[1]:.2f}' for r in results)} |",
        f"| TensorFlow loaded by the server to show Home | "
        f"{'yes' if any(r[2] for r in results) else 'no'} | |",
        "",
        f"Empty LEPTON_HOME each time; {host['cpu']}, {host['logical_cores']} cores.",
        f"Command: `.venv/bin/python benchmarks/cold_start.py --repeats {args.repeats}`",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
