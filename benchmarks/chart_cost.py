"""What the Train page's live charts cost the browser while a run trains: toggle on against off.

Starts the real app on a fresh LEPTON_HOME and Debian's Chromium (Playwright), starts one long
training of the default recipe through a `JobManager` (as another tab or the CLI would), opens
the Train page and measures alternating windows with the page's "Live charts" toggle on and off:
Chromium's CPU (all its processes, psutil), the page's renderer main-thread time (Chrome DevTools
`Performance.getMetrics`: TaskDuration, of which ScriptDuration, and the layout count), and the
training's progress per second in the window (from the run's progress fraction).

Needs the test requirements (playwright) and /usr/bin/chromium (`make test` installs it).

    .venv/bin/python benchmarks/chart_cost.py [--windows 3] [--seconds 20]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import psutil  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from benchmarks.report import publish  # noqa: E402
from benchmarks.watched import chromium_processes, cpu_seconds  # noqa: E402
from lepton.host import cpu_model  # noqa: E402
from lepton.jobs import JobManager  # noqa: E402
from lepton.model import ModelConfig  # noqa: E402
from lepton.recipes import default_config  # noqa: E402
from lepton.registry import RunStore  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.servers import running_server  # noqa: E402

RESULTS = PROJECT / "benchmarks" / "results" / "chart_cost.md"
SETTLE_SECONDS = 8.0  # after a toggle: the page reruns and draws every chart once


def renderer_metrics(session) -> dict:
    return {metric["name"]: metric["value"]
            for metric in session.send("Performance.getMetrics")["metrics"]}


def window(page, session, store: RunStore, run_id: int, seconds: float) -> dict:
    """Chromium's CPU, the renderer's main-thread time and the training's progress, per second."""
    browsers = chromium_processes()
    cpu_before, metrics_before = cpu_seconds(browsers), renderer_metrics(session)
    fraction_before = store.get_run(run_id)["progress"].get("fraction") or 0.0
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    metrics = renderer_metrics(session)
    run = store.get_run(run_id)
    if run["status"] != "running":
        raise RuntimeError(f"run {run_id} ended ({run['status']}) before the window did: "
                           "pass more --epochs")
    return {
        "chromium_cpu": (cpu_seconds(chromium_processes()) - cpu_before) / elapsed,
        "main_thread": (metrics["TaskDuration"] - metrics_before["TaskDuration"]) / elapsed,
        "script": (metrics["ScriptDuration"] - metrics_before["ScriptDuration"]) / elapsed,
        "layouts": (metrics["LayoutCount"] - metrics_before["LayoutCount"]) / elapsed,
        "progress": ((run["progress"].get("fraction") or 0.0) - fraction_before) / elapsed,
    }


def set_live_charts(page, on: bool) -> None:
    switch = page.get_by_role("switch", name="Live charts")
    if switch.is_checked() != on:
        switch.click(force=True)  # the input is hidden behind Streamlit's styled switch
    time.sleep(SETTLE_SECONDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=3, help="windows per state")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of a window")
    parser.add_argument("--epochs", type=int, default=200,
                        help="epochs of the training watched; it must outlast the windows")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="lepton-chart-cost-"))
    store = RunStore(home)
    config = default_config(home, epochs=args.epochs)
    rows = []
    with running_server(home) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        jobs = JobManager(store)
        run_id = jobs.start("mnist-5k", ModelConfig(), config)
        try:
            while (store.get_run(run_id)["progress"].get("epoch") or 0) < 2:  # past tracing
                time.sleep(0.5)
            page.goto(f"{server['url']}/train")
            page.get_by_role("switch", name="Live charts").wait_for(state="attached",
                                                                      timeout=60_000)
            session = page.context.new_cdp_session(page)
            session.send("Performance.enable")
            for number in range(args.windows):
                order = (True, False) if number % 2 == 0 else (False, True)
                for live in order:
                    set_live_charts(page, live)
                    rows.append({"window": number + 1, "live": live,
                                 **window(page, session, store, run_id, args.seconds)})
                    print(rows[-1], flush=True)
        finally:
            jobs.stop(run_id)
            jobs.wait(120)
            browser.close()
    medians = {live: {key: statistics.median(row[key] for row in rows if row["live"] == live)
                      for key in ("chromium_cpu", "main_thread", "script", "layouts", "progress")}
               for live in (True, False)}
    lines = [f"The Train page's live charts during a training (default recipe, mnist-5k, "
             f"{config.precision}, batch {config.batch_size}), CPU: {cpu_model()}, "
             f"{psutil.cpu_count()} logical cores; {args.windows} alternating windows of "
             f"{args.seconds:g} s per state, each after {SETTLE_SECONDS:g} s of settling.", "",
             "| window | live charts | Chromium CPU | renderer main thread | of which script | "
             "layouts/s | training progress/s |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['window']} | {'on' if row['live'] else 'off'} | "
                     f"{row['chromium_cpu']:.0%} | {row['main_thread']:.0%} | "
                     f"{row['script']:.0%} | {row['layouts']:.0f} | {row['progress']:.4f} |")
    on, off = medians[True], medians[False]
    lines += ["", f"Medians, on → off: Chromium CPU {on['chromium_cpu']:.0%} → "
                  f"{off['chromium_cpu']:.0%} of one core; renderer main thread "
                  f"{on['main_thread']:.0%} → {off['main_thread']:.0%}; training progress "
                  f"per second, off against on: **{off['progress'] / on['progress']:.2f}×**."]
    publish("\n".join(lines) + "\n", RESULTS)


if __name__ == "__main__":
    main()
