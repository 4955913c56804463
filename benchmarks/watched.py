"""Does watching a training slow it? The same run watched on the Train page and unwatched.

Starts the real app (`streamlit run app.py`) on a fresh LEPTON_HOME and Debian's Chromium
(Playwright). Each pair trains the default recipe twice on mnist-5k, in alternating order:
watched — started with the Train page's Start button, the page left open until the run ends;
unwatched — started through a `JobManager` of this script, no page open. Both go through the
same worker process. Compares the steady-state samples/s the page shows (median of epochs 2+)
and the wall time, and reports the CPU the server and Chromium used meanwhile.

Needs the test requirements (pytest, playwright) and /usr/bin/chromium (`make test` installs it).

    .venv/bin/python benchmarks/watched.py [--pairs 3] [--epochs 30]
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
from lepton.host import cpu_model  # noqa: E402
from lepton.jobs import JobManager, TrainingLock  # noqa: E402
from lepton.model import ModelConfig  # noqa: E402
from lepton.recipes import default_config  # noqa: E402
from lepton.registry import RunStore  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.servers import running_server  # noqa: E402

RESULTS = PROJECT / "benchmarks" / "results" / "watched.md"


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def chromium_processes() -> list[psutil.Process]:
    return [process for process in psutil.process_iter(["name", "cmdline"])
            if "chrom" in (process.info["name"] or "")]


def wait_until_final(store: RunStore, run_id: int, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = store.get_run(run_id)
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.2)
    raise TimeoutError(f"run {run_id} did not finish in {timeout} s")


def figures(run: dict) -> dict:
    if run["status"] != "done":
        raise RuntimeError(f"run {run['id']} ended {run['status']}: {run['reason']}")
    timings = run["timings"]
    return {"steady": timings["steady_samples_per_second"], "wall": timings["wall_seconds"],
            "accuracy": run["metrics"]["test_accuracy"]}


def unwatched(store: RunStore, config) -> dict:
    jobs = JobManager(store)
    run_id = jobs.start("mnist-5k", ModelConfig(), config)
    jobs.wait()
    return figures(store.get_run(run_id))


def watched(page, url: str, store: RunStore, server: psutil.Process, epochs: int) -> dict:
    page.goto(f"{url}/train?dataset=mnist-5k&epochs={epochs}")  # the link sets the controls
    page.get_by_role("button", name="Start training").click()
    deadline = time.monotonic() + 120
    while (store.latest_run() is None or store.latest_run()["status"] not in ("queued",
                                                                                "running")):
        if time.monotonic() > deadline:
            raise TimeoutError("the Start button did not start a run")
        time.sleep(0.1)
    run_id = store.latest_run()["id"]
    browsers = chromium_processes()
    server_before, browser_before = cpu_seconds([server]), cpu_seconds(browsers)
    started = time.monotonic()
    run = wait_until_final(store, run_id)
    elapsed = time.monotonic() - started
    result = figures(run)
    result["server_cpu"] = (cpu_seconds([server]) - server_before) / elapsed
    result["browser_cpu"] = (cpu_seconds(browsers) - browser_before) / elapsed
    page.goto("about:blank")
    lock = TrainingLock(store.home)
    lock.acquire(wait_seconds=60)  # the server's worker has exited
    lock.release()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per run (default: the default recipe's)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="lepton-watched-"))
    store = RunStore(home)
    config = default_config(home, **({"epochs": args.epochs} if args.epochs else {}))
    rows = []
    with running_server(home) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        server_process = psutil.Process(server["process"].pid)
        for pair in range(args.pairs):
            order = ("unwatched", "watched") if pair % 2 == 0 else ("watched", "unwatched")
            for mode in order:
                result = (unwatched(store, config) if mode == "unwatched"
                          else watched(page, server["url"], store, server_process, config.epochs))
                rows.append({"pair": pair + 1, "mode": mode, **result})
                print(rows[-1], flush=True)
        browser.close()
    lines = [f"Watched vs unwatched training, default recipe ({config.epochs} epochs, "
             f"mnist-5k, {config.precision}, batch {config.batch_size}, steps_per_execution "
             f"{config.steps_per_execution}), CPU: {cpu_model()}, {psutil.cpu_count()} logical "
             "cores", "",
             "| pair | mode | steady samples/s | wall s | test acc | server CPU | Chromium CPU |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        server_cpu = f"{row['server_cpu']:.0%}" if "server_cpu" in row else "–"
        browser_cpu = f"{row['browser_cpu']:.0%}" if "browser_cpu" in row else "–"
        lines.append(f"| {row['pair']} | {row['mode']} | {row['steady']:,.0f} | "
                     f"{row['wall']:.1f} | {row['accuracy']:.2%} | {server_cpu} | "
                     f"{browser_cpu} |")
    medians = {mode: statistics.median(row["steady"] for row in rows if row["mode"] == mode)
               for mode in ("watched", "unwatched")}
    lines += ["", f"Median steady samples/s: watched {medians['watched']:,.0f}, unwatched "
                  f"{medians['unwatched']:,.0f}; ratio watched/unwatched "
                  f"**{medians['watched'] / medians['unwatched']:.2f}** (CPU shares: of one core)."]
    publish("\n".join(lines) + "\n", RESULTS)


if __name__ == "__main__":
    main()
