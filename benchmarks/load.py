"""Many users at once on the Predict page: how long until each sees the answers to its uploads.

    .venv/bin/python benchmarks/load.py [--sessions 1,5,10,20] [--uploads 5] [--sequential]
        [--timeout 240] [--idle-seconds 60] [--idle-sessions 5] [--soak-minutes 0]
        [--soak-sessions 5] [--home PATH] [--epochs 2]

Starts the real app (`streamlit run app.py`, as tests/servers.py does) on a LEPTON_HOME holding
one finished run (trained first with `python -m lepton train --dataset mnist-5k`, unless `--home`
names a home that has one). The sessions are `benchmarks/streamlit_client.py` clients speaking
Streamlit's websocket protocol in this one asyncio process, as browser tabs would: XSRF cookie
and token, file uploads over HTTP PUT, the sidebar's `st.fragment(run_every=...)` ticks.

For each N in `--sessions`: N sessions open /predict at once; when all are open, each uploads
`--uploads` realistic digit photos (phone photos of real MNIST digits on paper, JPEG and PNG,
0.1–0.5 MP, no two alike across the whole benchmark, so no cached answer helps) in one pick:
one widget change, one rerun. "Seconds to results" runs from that rerun request to the end of
the full script run that answers it, which must show the "Prediction" metric; `--sequential`
adds the files one at a time instead (each pick a rerun; each pick's time counts). A session
that has not seen its results within `--timeout` seconds counts as unanswered. Server CPU is
the share of one core over the round (page opening included), of the server process alone and
with its children (the prediction workers); RSS before and after the round.

`--idle-seconds`: `--idle-sessions` sessions left open on Predict without uploads, against the
server with no session at all. `--soak-minutes`: `--soak-sessions` sessions open Predict,
upload, close, again and again; the server's RSS sampled every 30 s.

Prints a Markdown table and writes it to benchmarks/results/load.md.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil

from benchmarks.report import publish
from benchmarks.streamlit_client import StreamlitSession, UploadFile
from lepton.host import cpu_model
from tests.digit_images import mnist_digit, realistic_upload
from tests.servers import running_server

RESULTS = ROOT / "benchmarks" / "results" / "load.md"
PAGE = "predict"
UPLOADER_KEY = "uploads"
PREDICTION_LABEL = "Prediction"
# (width, height): 0.12, 0.27, 0.48, 0.25 and 0.31 megapixels.
PHOTO_SIZES = [(400, 300), (600, 450), (800, 600), (500, 500), (480, 640)]
MNIST_DIGITS = 5000
MEGABYTE = 1024 * 1024


# --- uploads ----------------------------------------------------------------------------------


class PhotoMaker:
    """Realistic digit photos, never the same one twice (the page caches answers by content)."""

    def __init__(self) -> None:
        self.count = 0

    def photo(self) -> tuple[UploadFile, int]:
        number = self.count
        self.count += 1
        # A stride coprime to 5,000 walks through every class (the digits are sorted by class).
        digit, label = mnist_digit((number * 617) % MNIST_DIGITS)
        size = PHOTO_SIZES[number % len(PHOTO_SIZES)]
        kind = "JPEG" if number % 2 == 0 else "PNG"
        data = realistic_upload(digit, size=size, fmt=kind, seed=number,
                                offset=(0.25 + 0.1 * (number % 4), 0.3 + 0.05 * (number % 5)))
        extension, mime = ("jpg", "image/jpeg") if kind == "JPEG" else ("png", "image/png")
        return UploadFile(f"digit-{number:05d}.{extension}", data, mime), label

    def batch(self, count: int) -> tuple[list[UploadFile], list[int]]:
        photos = [self.photo() for _ in range(count)]
        return [photo for photo, _ in photos], [label for _, label in photos]


# --- server measurements ----------------------------------------------------------------------


class CpuMeter:
    """CPU seconds of the server process and of its children, sampled every `period` seconds
    in a thread so a worker that ends between two samples loses at most one period."""

    def __init__(self, server: psutil.Process, period: float = 0.5) -> None:
        self.server = server
        self.period = period
        self._last: dict[int, float] = {}
        self.server_seconds = 0.0
        self.children_seconds = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = 0.0
        self.wall_seconds = 0.0

    @staticmethod
    def _cpu(process: psutil.Process) -> float | None:
        try:
            times = process.cpu_times()
            return times.user + times.system
        except psutil.Error:
            return None

    def _children(self) -> list[psutil.Process]:
        try:
            return self.server.children(recursive=True)
        except psutil.Error:
            return []

    def _sample(self, count: bool) -> None:
        for process in [self.server, *self._children()]:
            seconds = self._cpu(process)
            if seconds is None:
                continue
            # A child born after the start is counted from zero: all its CPU is this round's.
            previous = self._last.get(process.pid, 0.0 if count else seconds)
            self._last[process.pid] = seconds
            if count:
                delta = max(0.0, seconds - previous)
                if process.pid == self.server.pid:
                    self.server_seconds += delta
                else:
                    self.children_seconds += delta

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self._sample(count=True)

    def __enter__(self) -> CpuMeter:
        self._sample(count=False)
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(count=True)
        self.wall_seconds = time.monotonic() - self.started

    @property
    def server_percent(self) -> float:
        return 100 * self.server_seconds / max(self.wall_seconds, 1e-9)

    @property
    def total_percent(self) -> float:
        return 100 * (self.server_seconds + self.children_seconds) / max(self.wall_seconds, 1e-9)


def rss_megabytes(server: psutil.Process) -> tuple[float, float, int]:
    """(server RSS, children's summed RSS, number of children), in MB."""
    children_rss = 0
    children = 0
    for child in server.children(recursive=True):
        try:
            children_rss += child.memory_info().rss
            children += 1
        except psutil.Error:
            pass
    return server.memory_info().rss / MEGABYTE, children_rss / MEGABYTE, children


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (p95 of 5 values is the largest)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# --- one session's work -----------------------------------------------------------------------


@dataclass
class SessionOutcome:
    connected: bool = False
    connect_seconds: float | None = None
    upload_seconds: list[float] = field(default_factory=list)  # file URLs + PUTs, per pick
    result_seconds: list[float] = field(default_factory=list)  # rerun request → results
    answered: bool = False
    correct: bool | None = None
    exceptions: int = 0
    file_errors: int = 0
    fragment_runs: int = 0
    failure: str = ""


def count_problems(session: StreamlitSession, outcome: SessionOutcome) -> None:
    outcome.exceptions = sum(len(run.exceptions) for run in session.runs)
    outcome.fragment_runs = sum(1 for run in session.runs if run.is_fragment_run)


async def open_session(url: str, timeout: float) -> tuple[StreamlitSession, SessionOutcome]:
    session = StreamlitSession(url)
    outcome = SessionOutcome()
    started = time.monotonic()
    try:
        await asyncio.wait_for(session.connect(PAGE), timeout)
        session.resolve_widget(UPLOADER_KEY)
        outcome.connected = True
        outcome.connect_seconds = time.monotonic() - started
    except Exception as error:
        outcome.failure = f"connect: {type(error).__name__}: {error}"[:300]
    return session, outcome


async def upload_and_wait(session: StreamlitSession, outcome: SessionOutcome,
                          files: list[UploadFile], labels: list[int], sequential: bool,
                          timeout: float) -> None:
    """The session's uploads, all in one pick or one file per pick; results checked."""
    picks = [[upload] for upload in files] if sequential else [files]

    async def work() -> None:
        for number, pick in enumerate(picks):
            started = time.monotonic()
            await session.set_files(UPLOADER_KEY, pick, append=number > 0)
            outcome.upload_seconds.append(time.monotonic() - started)
            run = await session.rerun()
            outcome.file_errors += len(run.errors)
            metric = run.metric(PREDICTION_LABEL)
            if metric is None:
                outcome.failure = (f"no {PREDICTION_LABEL!r} metric after the upload "
                                   f"(run status {run.status}, {len(run.exceptions)} exceptions)")
                return
            outcome.result_seconds.append(run.seconds)
            # The metric shows the first file's answer (the page shows the first one picked).
            outcome.correct = metric.body.strip() == str(labels[0])
        outcome.answered = True

    try:
        await asyncio.wait_for(work(), timeout)
    except TimeoutError:
        outcome.failure = f"no results within {timeout:g} s"
    except Exception as error:
        outcome.failure = f"upload: {type(error).__name__}: {error}"[:300]


# --- rounds -----------------------------------------------------------------------------------


@dataclass
class RoundResult:
    sessions: int
    outcomes: list[SessionOutcome]
    wall_seconds: float
    server_cpu: float
    total_cpu: float
    client_cpu: float
    rss_before: tuple[float, float, int]
    rss_after: tuple[float, float, int]

    @property
    def answered(self) -> int:
        return sum(outcome.answered for outcome in self.outcomes)

    @property
    def result_seconds(self) -> list[float]:
        return [seconds for outcome in self.outcomes for seconds in outcome.result_seconds]


async def close_all(sessions: list[StreamlitSession]) -> None:
    await asyncio.gather(*(session.close() for session in sessions), return_exceptions=True)


async def load_round(url: str, server: psutil.Process, count: int, uploads: int,
                     sequential: bool, timeout: float, photos: PhotoMaker) -> RoundResult:
    batches = [photos.batch(uploads) for _ in range(count)]  # made before the clock starts
    rss_before = rss_megabytes(server)
    client_started = time.process_time()
    with CpuMeter(server) as meter:
        opened = await asyncio.gather(*(open_session(url, timeout) for _ in range(count)))
        await asyncio.gather(*(
            upload_and_wait(session, outcome, files, labels, sequential, timeout)
            for (session, outcome), (files, labels) in zip(opened, batches)
            if outcome.connected))
    client_cpu = 100 * (time.process_time() - client_started) / meter.wall_seconds
    rss_after = rss_megabytes(server)
    for session, outcome in opened:
        count_problems(session, outcome)
    await close_all([session for session, _ in opened])
    return RoundResult(count, [outcome for _, outcome in opened], meter.wall_seconds,
                       meter.server_percent, meter.total_percent, client_cpu, rss_before,
                       rss_after)


@dataclass
class IdleResult:
    sessions: int
    seconds: float
    baseline_server: float
    baseline_total: float
    server_cpu: float
    total_cpu: float
    fragment_runs: int
    exceptions: int
    connected: int


async def idle_round(url: str, server: psutil.Process, count: int, seconds: float,
                     timeout: float) -> IdleResult:
    with CpuMeter(server) as baseline:
        await asyncio.sleep(min(seconds, 15.0))
    opened = await asyncio.gather(*(open_session(url, timeout) for _ in range(count)))
    await asyncio.sleep(2.0)  # let the page-opening runs settle
    ticks_before = sum(1 for session, _ in opened for run in session.runs
                       if run.is_fragment_run)
    with CpuMeter(server) as meter:
        await asyncio.sleep(seconds)
    ticks = sum(1 for session, _ in opened for run in session.runs
                if run.is_fragment_run) - ticks_before
    for session, outcome in opened:
        count_problems(session, outcome)
    await close_all([session for session, _ in opened])
    return IdleResult(count, seconds, baseline.server_percent, baseline.total_percent,
                      meter.server_percent, meter.total_percent, ticks,
                      sum(outcome.exceptions for _, outcome in opened),
                      sum(outcome.connected for _, outcome in opened))


@dataclass
class SoakResult:
    sessions: int
    minutes: float
    cycles: int = 0
    answered: int = 0
    exceptions: int = 0
    result_seconds: list[float] = field(default_factory=list)
    rss_samples: list[tuple[float, float, float]] = field(default_factory=list)  # t, server, kids
    failures: list[str] = field(default_factory=list)


async def soak(url: str, server: psutil.Process, count: int, minutes: float, uploads: int,
               timeout: float, photos: PhotoMaker) -> SoakResult:
    result = SoakResult(count, minutes)
    started = time.monotonic()
    deadline = started + 60 * minutes

    async def user() -> None:
        while time.monotonic() < deadline:
            files, labels = photos.batch(uploads)
            session, outcome = await open_session(url, timeout)
            if outcome.connected:
                await upload_and_wait(session, outcome, files, labels, False, timeout)
            count_problems(session, outcome)
            await session.close()
            result.cycles += 1
            result.answered += outcome.answered
            result.exceptions += outcome.exceptions
            result.result_seconds += outcome.result_seconds
            if outcome.failure:
                result.failures.append(outcome.failure)

    async def sample_memory() -> None:
        while True:
            server_rss, children_rss, _ = rss_megabytes(server)
            result.rss_samples.append((time.monotonic() - started, server_rss, children_rss))
            await asyncio.sleep(30)

    sampler = asyncio.create_task(sample_memory())
    await asyncio.gather(*(user() for _ in range(count)))
    sampler.cancel()
    await asyncio.sleep(5)  # sessions just closed; memory once they are gone
    server_rss, children_rss, _ = rss_megabytes(server)
    result.rss_samples.append((time.monotonic() - started, server_rss, children_rss))
    return result


# --- the report -------------------------------------------------------------------------------


def seconds_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def report(arguments, rounds: list[RoundResult], warmup: float | None, idle: IdleResult | None,
           soak_result: SoakResult | None, server_tracebacks: int) -> str:
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    command = "    .venv/bin/python benchmarks/load.py " + " ".join(sys.argv[1:])
    mode = "one file per pick" if arguments.sequential else "all in one pick"
    lines = [
        f"# Concurrent sessions on the Predict page — {cpu_model()}, "
        f"{psutil.cpu_count()} logical cores — {today}",
        "",
        f"Python {platform.python_version()}, Streamlit {metadata.version('streamlit')}, "
        f"TensorFlow {metadata.version('tensorflow')}; the real app (`streamlit run app.py`), "
        "the sessions are protocol clients (benchmarks/streamlit_client.py) in one process "
        "on the same host.",
        "",
        command.rstrip(),
        "",
        f"Each session opens /predict, then, once every session is open, uploads "
        f"{arguments.uploads} digit photos ({mode}; JPEG and PNG, 0.1–0.5 MP, all different). "
        "Seconds to results: from the rerun request to the end of the script run showing the "
        f"Prediction metric; a session without results within {arguments.timeout:g} s is "
        "unanswered. CPU in % of one core over the whole round (opening the pages included); "
        "\"total\" adds the server's child processes (prediction workers); client = this "
        "benchmark's own process, which shares the host.",
        "",
    ]
    if warmup is not None:
        lines += [f"Warm-up before the rounds (one session, one file, cold workers): "
                  f"{warmup:.2f} s to results.", ""]
    lines += [
        "| sessions | answered | open p50 s | p50 s to results | p95 s | max s | exceptions "
        "| file errors | first file right | round s | server CPU | total CPU | client CPU "
        "| server RSS MB before → after | children RSS MB before → after |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for result in rounds:
        seconds = result.result_seconds
        opens = [outcome.connect_seconds for outcome in result.outcomes if outcome.connected]
        right = sum(bool(outcome.correct) for outcome in result.outcomes)
        before, after = result.rss_before, result.rss_after
        lines.append(
            f"| {result.sessions} | {result.answered} / {result.sessions} "
            f"| {seconds_text(statistics.median(opens) if opens else None)} "
            f"| {seconds_text(statistics.median(seconds) if seconds else None)} "
            f"| {seconds_text(percentile(seconds, 0.95))} "
            f"| {seconds_text(max(seconds) if seconds else None)} "
            f"| {sum(outcome.exceptions for outcome in result.outcomes)} "
            f"| {sum(outcome.file_errors for outcome in result.outcomes)} "
            f"| {right} / {result.answered} | {result.wall_seconds:.1f} "
            f"| {result.server_cpu:.0f} % | {result.total_cpu:.0f} % | {result.client_cpu:.0f} % "
            f"| {before[0]:.0f} → {after[0]:.0f} "
            f"| {before[1]:.0f} ({before[2]}) → {after[1]:.0f} ({after[2]}) |")
    lines.append("")
    lines.append("Children RSS: summed over the server's child processes (how many in brackets).")
    failures = [(result.sessions, outcome.failure) for result in rounds
                for outcome in result.outcomes if outcome.failure]
    if failures:
        lines += ["", "Unanswered or failed sessions:", ""]
        shown: dict[tuple[int, str], int] = {}
        for key in failures:
            shown[key] = shown.get(key, 0) + 1
        lines += [f"- N={sessions}: {failure} (×{times})"
                  for (sessions, failure), times in shown.items()]
    if idle is not None:
        per_session_server = (idle.server_cpu - idle.baseline_server) / max(idle.sessions, 1)
        per_session_total = (idle.total_cpu - idle.baseline_total) / max(idle.sessions, 1)
        lines += [
            "", f"## Idle: {idle.sessions} sessions open on Predict, no uploads, "
            f"{idle.seconds:g} s", "",
            "| | server CPU | total CPU |", "|---|---:|---:|",
            f"| no session (over {min(idle.seconds, 15.0):g} s) | {idle.baseline_server:.2f} % "
            f"| {idle.baseline_total:.2f} % |",
            f"| {idle.connected} sessions open | {idle.server_cpu:.2f} % "
            f"| {idle.total_cpu:.2f} % |",
            f"| per open session, above no session | {per_session_server:.2f} % "
            f"| {per_session_total:.2f} % |",
            "",
            f"Sidebar fragment runs in that time: {idle.fragment_runs} "
            f"({idle.fragment_runs / max(idle.connected, 1) / idle.seconds * 60:.1f} per "
            f"session per minute); exceptions: {idle.exceptions}.",
        ]
    if soak_result is not None:
        samples = soak_result.rss_samples
        server_values = [server for _, server, _ in samples]
        children_values = [children for _, _, children in samples]
        seconds = soak_result.result_seconds
        lines += [
            "", f"## Soak: {soak_result.sessions} sessions opening Predict, uploading "
            f"{arguments.uploads} files and closing, over and over, {soak_result.minutes:g} min",
            "",
            f"{soak_result.cycles} sessions, {soak_result.answered} answered, "
            f"{soak_result.exceptions} exceptions; seconds to results p50 "
            f"{seconds_text(statistics.median(seconds) if seconds else None)}, p95 "
            f"{seconds_text(percentile(seconds, 0.95))}, max "
            f"{seconds_text(max(seconds) if seconds else None)}.",
            "",
            "| RSS MB | first | last | max |", "|---|---:|---:|---:|",
            f"| server | {server_values[0]:.0f} | {server_values[-1]:.0f} "
            f"| {max(server_values):.0f} |",
            f"| children | {children_values[0]:.0f} | {children_values[-1]:.0f} "
            f"| {max(children_values):.0f} |",
            "",
            "Streamlit keeps a closed session's state for reconnection (up to 128 sessions, "
            "`server.disconnectedSessionTTL` s), so the server's RSS is expected to climb "
            "before it levels off.",
            "",
            "Samples (min: server / children MB): " + ", ".join(
                f"{at / 60:.1f}: {server:.0f} / {children:.0f}"
                for at, server, children in samples),
        ]
        if soak_result.failures:
            lines += ["", f"Failures: {len(soak_result.failures)}, e.g. "
                      f"{soak_result.failures[0]}"]
    lines += ["", f"Tracebacks in the server's log over the whole benchmark: {server_tracebacks}.",
              ""]
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------


def train_home(home: Path, epochs: int) -> None:
    """One finished run in `home`, trained with the CLI."""
    environment = {**os.environ, "LEPTON_HOME": str(home), "LEPTON_DATASET": "mnist-5k"}
    print(f"training a model in {home} ({epochs} epochs)…", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "lepton", "train", "--dataset", "mnist-5k",
                    "--epochs", str(epochs)], cwd=ROOT, env=environment, check=True,
                   stdout=subprocess.DEVNULL)


async def warm_up(url: str, photos: PhotoMaker, timeout: float) -> float | None:
    files, labels = photos.batch(1)
    session, outcome = await open_session(url, timeout)
    if outcome.connected:
        await upload_and_wait(session, outcome, files, labels, False, timeout)
    await session.close()
    if not outcome.answered:
        print(f"warm-up failed: {outcome.failure}", file=sys.stderr)
        return None
    return outcome.result_seconds[0]


async def benchmark(arguments, url: str, server: psutil.Process, log_path: Path) -> str:
    """Warm-up, the rounds, idle and soak; the report's text."""
    photos = PhotoMaker()
    warmup = None if arguments.no_warmup else await warm_up(url, photos, arguments.timeout)
    rounds = []
    for count in arguments.sessions:
        print(f"{count} sessions…", file=sys.stderr)
        result = await load_round(url, server, count, arguments.uploads, arguments.sequential,
                                  arguments.timeout, photos)
        rounds.append(result)
        seconds = result.result_seconds
        print(f"  answered {result.answered}/{count}, median "
              f"{seconds_text(statistics.median(seconds) if seconds else None)} s, "
              f"max {seconds_text(max(seconds) if seconds else None)} s", file=sys.stderr)
        await asyncio.sleep(3)  # closed sessions' cleanup stays out of the next round
    idle = None
    if arguments.idle_seconds > 0:
        print(f"idle: {arguments.idle_sessions} sessions, {arguments.idle_seconds:g} s…",
              file=sys.stderr)
        idle = await idle_round(url, server, arguments.idle_sessions, arguments.idle_seconds,
                                arguments.timeout)
    soak_result = None
    if arguments.soak_minutes > 0:
        print(f"soak: {arguments.soak_sessions} sessions, {arguments.soak_minutes:g} min…",
              file=sys.stderr)
        soak_result = await soak(url, server, arguments.soak_sessions, arguments.soak_minutes,
                                 arguments.uploads, arguments.timeout, photos)
    tracebacks = log_path.read_text(errors="replace").count("Traceback (most recent call last)")
    return report(arguments, rounds, warmup, idle, soak_result, tracebacks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", default="1,5,10,20",
                        type=lambda text: [int(part) for part in text.split(",") if part],
                        help="comma-separated session counts, one round each")
    parser.add_argument("--uploads", type=int, default=5, help="files per session")
    parser.add_argument("--sequential", action="store_true",
                        help="add the files one per pick (a rerun each) instead of all at once")
    parser.add_argument("--timeout", type=float, default=240.0,
                        help="seconds a session may take to open the page, and again to see "
                             "its results")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="0 to skip")
    parser.add_argument("--idle-sessions", type=int, default=5)
    parser.add_argument("--soak-minutes", type=float, default=0.0, help="0 (default) to skip")
    parser.add_argument("--soak-sessions", type=int, default=5)
    parser.add_argument("--home", type=Path,
                        help="a LEPTON_HOME with a finished run (default: a fresh one, trained)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the model trained")
    parser.add_argument("--no-warmup", action="store_true",
                        help="measure the first round with cold prediction workers")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lepton-load-") as scratch:
        home = arguments.home
        if home is None:
            home = Path(scratch) / "home"
            home.mkdir()
            train_home(home, arguments.epochs)
        log_path = Path(scratch) / "server.log"
        with running_server(home, log_path=log_path) as server:
            process = psutil.Process(server["process"].pid)
            text = asyncio.run(benchmark(arguments, server["url"], process, log_path))
        log_text = log_path.read_text(errors="replace")
        if "Traceback (most recent call last)" in log_text:
            start = log_text.index("Traceback (most recent call last)")
            print("the server's first traceback:\n" + log_text[start:start + 3000],
                  file=sys.stderr)
    publish(text, RESULTS)


if __name__ == "__main__":
    main()
