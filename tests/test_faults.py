"""Injected faults: a training process killed with SIGKILL, a full or unwritable disk, two Starts
at once, and five sessions predicting at the same time. Nothing finished may be lost.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import psutil
import pytest
import requests
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

from lepton.imaging import preprocess_image
from lepton.inference import Predictor, load_model
from lepton.jobs import JobManager, TrainingBusy, execute_run
from lepton.prediction import predictor_for
from lepton.registry import RunStore
from lepton.training import TrainConfig
from tests.conftest import SMALL_MODEL
from tests.hostile_corpus import hostile_cases
from tests.servers import running_server

PROJECT = Path(__file__).resolve().parent.parent
QUICK = TrainConfig(epochs=1, subset=300, batch_size=64)
WAIT_SECONDS = 180  # upper bound for anything to happen; all of it takes seconds here
INTERRUPTED_REASON = "the process running it stopped before it finished"
SESSIONS = 5  # concurrent sessions in the load tests

# Runs in its own process (the "server"): one finished tiny run, then a long training in a
# JobManager worker; says which run trains, and its worker's pid, once batches are stored; after
# the worker is killed, says how the run ended.
TRAINER = """
import time
from lepton.jobs import JobManager, execute_run
from lepton.model import ModelConfig
from lepton.registry import RunStore
from lepton.training import TrainConfig

store = RunStore()
small = ModelConfig(filters=(8,), dense_units=16)
first = store.create_run("mnist-5k", small.to_dict(),
                         TrainConfig(epochs=1, subset=300, batch_size=64).to_dict())
run = execute_run(store, first)
assert run["status"] == "done", run["reason"]
print("finished", first, flush=True)
jobs = JobManager(store)
second = jobs.start("mnist-5k", small, TrainConfig(epochs=50, subset=2000, batch_size=64))
while not (store.get_run(second)["status"] == "running" and store.batches(second)):
    time.sleep(0.05)
print("training", second, jobs.pid, flush=True)
jobs.wait()
print("ended", store.get_run(second)["status"], flush=True)
time.sleep(600)
"""
KILLED_REASON = "the training process was killed (SIGKILL)"


def _lines(stream) -> queue.Queue:
    """The stream's lines, read by a daemon thread, so the test can wait with a timeout."""
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in stream:
            lines.put(line.strip())
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _expect(lines: queue.Queue, word: str, log: Path, values: int = 1):
    """The number(s) after `word` on the next line: one int, or a tuple of `values` ints."""
    try:
        line = lines.get(timeout=WAIT_SECONDS)
    except queue.Empty:
        line = None
    if not line or not line.startswith(word):
        pytest.fail(f"expected '{word} <id>', got {line!r}; log: {log.read_text()[-3000:]}")
    numbers = tuple(int(part) for part in line.split()[1:1 + values])
    return numbers[0] if values == 1 else numbers


@pytest.fixture(scope="module")
def killed_home(tmp_path_factory):
    """A LEPTON_HOME whose training worker was SIGKILLed mid-run, after one finished run; then
    the server process that started it was killed too.

    While the worker trains, this (second) process tries to start a training as well.
    """
    home = tmp_path_factory.mktemp("killed_home")
    log = home.parent / "trainer.log"
    env = {**os.environ, "LEPTON_HOME": str(home), "PYTHONPATH": str(PROJECT)}
    with open(log, "w") as log_file:
        trainer = subprocess.Popen([sys.executable, "-c", TRAINER], cwd=PROJECT, env=env,
                                   stdout=subprocess.PIPE, stderr=log_file, text=True)
    try:
        lines = _lines(trainer.stdout)
        first = _expect(lines, "finished", log)
        second, worker_pid = _expect(lines, "training", log, values=2)
        store = RunStore(home)  # opening the store must not touch a live process's run
        assert store.get_run(second)["status"] == "running"
        with pytest.raises(TrainingBusy) as busy:
            JobManager(store).start("mnist-5k", SMALL_MODEL, QUICK)
        runs_while_busy = [run["id"] for run in store.list_runs()]
        batches_before_kill = len(store.batches(second))
        os.kill(worker_pid, signal.SIGKILL)  # the training process dies mid-run
        ended = lines.get(timeout=WAIT_SECONDS)
        os.kill(trainer.pid, signal.SIGKILL)  # then the server that watched it
        assert trainer.wait(timeout=30) == -signal.SIGKILL
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()
        trainer.stdout.close()
    return {"home": home, "first": first, "second": second, "busy": str(busy.value),
            "ended": ended,
            "trainer_pid": trainer.pid, "runs_while_busy": runs_while_busy,
            "batches_before_kill": batches_before_kill}


# --- SIGKILL during training ----------------------------------------------------------------


def test_after_sigkill_the_store_opens_and_marks_the_run_interrupted(killed_home):
    assert killed_home["ended"] == "ended interrupted"  # the server noticed its worker die
    store = RunStore(killed_home["home"])
    killed = store.get_run(killed_home["second"])
    assert killed["status"] == "interrupted"
    assert killed["reason"] == KILLED_REASON
    assert len(store.batches(killed_home["second"])) >= killed_home["batches_before_kill"] >= 1
    assert [run["id"] for run in store.list_runs()] == [killed_home["second"],
                                                        killed_home["first"]]


def test_a_run_whose_owner_died_unnoticed_reads_as_interrupted(store):
    """A run row owned by a process that is gone (no supervisor left to say so)."""
    run_id = store.create_run("mnist-5k", SMALL_MODEL.to_dict(), QUICK.to_dict())
    store.update_run(run_id, status="running")
    with sqlite3.connect(store.path) as connection:
        connection.execute("UPDATE runs SET pid = 2147483646 WHERE id = ?", (run_id,))
    assert RunStore(store.home).get_run(run_id)["status"] == "interrupted"
    assert store.get_run(run_id)["reason"] == INTERRUPTED_REASON


def test_after_sigkill_the_finished_run_and_its_model_are_intact(killed_home):
    store = RunStore(killed_home["home"])
    finished = store.get_run(killed_home["first"])
    assert finished["status"] == "done"
    assert store.resolve("latest")["id"] == killed_home["first"]
    model = load_model(finished["model_path"])
    assert model.output_shape == (None, 10)
    assert model.count_params() == finished["metrics"]["params"]
    assert len(store.epochs(killed_home["first"])) == 1


def test_after_sigkill_the_database_passes_an_integrity_check(killed_home):
    RunStore(killed_home["home"])  # replays the write-ahead log the killed process left
    with sqlite3.connect(killed_home["home"] / "lepton.db") as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_second_process_was_refused_while_the_first_trained(killed_home):
    assert killed_home["busy"] == (
        f"A training is already running on this host (started by process "
        f"{killed_home['trainer_pid']}). Wait for it to finish or stop it, then start again."
    )
    assert killed_home["runs_while_busy"] == [killed_home["second"], killed_home["first"]]


# --- The server restarted on the killed store ------------------------------------------


class BrowserSession:
    """One browser tab's conversation with the server, spoken the way Streamlit's frontend does:
    protobuf messages over the /_stcore/stream websocket, files PUT to the upload route with
    the XSRF token, then a rerun carrying the file uploader's state."""

    def __init__(self, url: str, page: str):
        self.url, self.page = url, page
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=30) as response:
            cookie = response.headers["Set-Cookie"].split(";")[0]  # _streamlit_xsrf=...
        self.xsrf = cookie.split("=", 1)[1]
        self.socket = connect(url.replace("http", "ws", 1) + "/_stcore/stream",
                              subprotocols=["streamlit"], max_size=None, open_timeout=30,
                              additional_headers={"Origin": url, "Cookie": cookie})
        self.session_id = ""
        self.uploader_id = ""

    def _receive(self) -> ForwardMsg:
        message = ForwardMsg()
        message.ParseFromString(self.socket.recv(timeout=WAIT_SECONDS))
        if message.WhichOneof("type") == "new_session":
            self.session_id = message.new_session.initialize.session_id
        return message

    def run(self, files: list[UploadedFileInfo] = ()) -> list:
        """Reruns the page (with these uploaded files); returns the elements it drew."""
        request = BackMsg()
        request.rerun_script.page_name = self.page
        if files:
            widget = request.rerun_script.widget_states.widgets.add()
            widget.id = self.uploader_id
            widget.file_uploader_state_value.uploaded_file_info.extend(files)
        self.socket.send(request.SerializeToString())
        elements = []
        while True:
            message = self._receive()
            kind = message.WhichOneof("type")
            if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                element = message.delta.new_element
                elements.append(element)
                if element.WhichOneof("type") == "file_uploader":
                    self.uploader_id = element.file_uploader.id
            elif kind == "script_finished":
                if message.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                    return elements
                elements = []  # finished early for a rerun: the next run follows

    def upload(self, name: str, data: bytes, mime: str) -> UploadedFileInfo:
        request = BackMsg()
        request.file_urls_request.request_id = name
        request.file_urls_request.file_names.append(name)
        request.file_urls_request.session_id = self.session_id
        self.socket.send(request.SerializeToString())
        while True:
            message = self._receive()
            if (message.WhichOneof("type") == "file_urls_response"
                    and message.file_urls_response.response_id == name):
                break
        urls = message.file_urls_response.file_urls[0]
        response = requests.put(self.url + urls.upload_url, files={"file": (name, data, mime)},
                                headers={"X-Xsrftoken": self.xsrf},
                                cookies={"_streamlit_xsrf": self.xsrf}, timeout=60)
        response.raise_for_status()
        return UploadedFileInfo(file_id=urls.file_id, name=name, size=len(data), file_urls=urls)

    def __enter__(self) -> BrowserSession:
        self.socket.__enter__()
        return self

    def __exit__(self, *exception) -> None:
        self.socket.__exit__(*exception)


def _shown(elements: list) -> dict:
    """What a person sees: error alerts, the prediction, any exception box."""
    kinds = [element.WhichOneof("type") for element in elements]
    return {
        "errors": [element.alert.body for element, kind in zip(elements, kinds)
                   if kind == "alert" and element.alert.format == element.alert.ERROR],
        "predictions": [element.metric.body for element, kind in zip(elements, kinds)
                        if kind == "metric" and element.metric.label == "Prediction"],
        "exceptions": [element.exception.message for element, kind in zip(elements, kinds)
                       if kind == "exception"],
    }


@pytest.fixture(scope="module")
def server(killed_home):
    """`streamlit run app.py` as `make run` starts it (address from .streamlit/config.toml),
    on the LEPTON_HOME whose trainer was killed."""
    with running_server(killed_home["home"], log_path=killed_home["home"].parent / "server.log",
                        address_from_config=True) as started:
        yield started


def test_the_restarted_server_shows_the_killed_run_as_interrupted(server, killed_home):
    with BrowserSession(server["url"], "train") as browser:
        elements = browser.run()
    kinds = [element.WhichOneof("type") for element in elements]
    assert "exception" not in kinds
    assert f"Run {killed_home['second']} — interrupted" in [
        element.heading.body for element, kind in zip(elements, kinds) if kind == "heading"]
    assert f"Interrupted: {KILLED_REASON}" in [
        element.alert.body for element, kind in zip(elements, kinds)
        if kind == "alert" and element.alert.format == element.alert.WARNING]


def test_the_server_listens_on_loopback_only(server):
    listening = {connection.laddr for connection in
                 psutil.Process(server["process"].pid).net_connections(kind="inet")
                 if connection.status == psutil.CONN_LISTEN}
    assert listening == {("127.0.0.1", server["port"])}


def test_an_upload_without_the_xsrf_token_is_refused(server):
    response = requests.put(f"{server['url']}/_stcore/upload_file/some-session/some-file",
                            files={"file": ("seven.png", b"\x89PNG", "image/png")}, timeout=30)
    assert response.status_code == 403


def test_an_upload_above_max_upload_size_is_refused_before_it_is_read(server):
    import http.client

    with BrowserSession(server["url"], "") as browser:
        browser.run()  # the upload route only accepts files for a live session
        connection = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=30)
        connection.putrequest("PUT", f"/_stcore/upload_file/{browser.session_id}/file-1")
        connection.putheader("Content-Type", "multipart/form-data; boundary=x")
        connection.putheader("Content-Length", str(21 * 2**20))  # maxUploadSize is 20 MB
        connection.putheader("X-Xsrftoken", browser.xsrf)
        connection.putheader("Cookie", f"_streamlit_xsrf={browser.xsrf}")
        connection.endheaders()  # no body is sent: the header alone must be refused
        response = connection.getresponse()
        assert response.status == 413
        connection.close()


def test_a_websocket_from_a_foreign_origin_is_refused(server):
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused, connect(
        server["url"].replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
        open_timeout=30, additional_headers={"Origin": "http://evil.example"},
    ):
        pass
    assert refused.value.response.status_code == 403


def test_five_clients_at_once_are_all_answered(server):
    """Five concurrent HTTP clients, 20 requests each, on the page, health and config routes."""
    paths = ["/", "/_stcore/health", "/_stcore/host-config", "/predict"]
    statuses: list[tuple[str, int]] = []
    failures: list[BaseException] = []
    server_process = psutil.Process(server["process"].pid)
    rss_before = server_process.memory_info().rss

    def client(index):
        try:
            for turn in range(20):
                path = paths[(index + turn) % len(paths)]
                with urllib.request.urlopen(server["url"] + path, timeout=30) as response:
                    response.read()
                    statuses.append((path, response.status))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=client, args=(index,)) for index in range(SESSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    assert not failures, failures
    assert len(statuses) == 100 and {status for _, status in statuses} == {200}
    assert server["process"].poll() is None
    assert server_process.memory_info().rss - rss_before < 100 * 2**20


TURNS = 4  # predictions per session after the first, all five sessions at once


def test_five_browser_sessions_predicting_at_once_on_the_real_server(server):
    """Each session uploads one bad and one good file, then reruns the Predict page in a loop;
    every run must show the error for the bad file and a prediction for the good one."""
    cases = hostile_cases()
    bad = [case for case in cases if case.expect == "error"][:SESSIONS]
    good = [case for case in cases if case.expect == "answer"][:SESSIONS]
    seen: list[list[dict]] = [[] for _ in range(SESSIONS)]
    failures: list[BaseException] = []
    warmed = threading.Barrier(SESSIONS + 1, timeout=WAIT_SECONDS)
    go = threading.Barrier(SESSIONS + 1, timeout=WAIT_SECONDS)

    def session(index):
        try:
            with BrowserSession(server["url"], "predict") as browser:
                browser.run()
                files = [browser.upload(case.name, case.data, case.mime)
                         for case in (bad[index], good[index])]
                seen[index].append(_shown(browser.run(files)))
                warmed.wait()
                go.wait()
                for _ in range(TURNS):
                    seen[index].append(_shown(browser.run(files)))
        except BaseException as error:  # reported below
            failures.append(error)
            warmed.abort()
            go.abort()

    server_process = psutil.Process(server["process"].pid)
    rss_before, started = server_process.memory_info().rss, time.perf_counter()
    threads = [threading.Thread(target=session, args=(index,)) for index in range(SESSIONS)]
    for thread in threads:
        thread.start()
    try:
        warmed.wait()  # every session has its files and one answer: the model is loaded
        rss_before = server_process.memory_info().rss
        started = time.perf_counter()
        go.wait()
    except threading.BrokenBarrierError:
        pass
    for thread in threads:
        thread.join(WAIT_SECONDS)
    assert not failures, failures
    seconds = time.perf_counter() - started
    rss_growth = server_process.memory_info().rss - rss_before
    for index, runs in enumerate(seen):
        assert len(runs) == 1 + TURNS
        for shown in runs:
            assert shown["exceptions"] == []
            assert len(shown["errors"]) == 1
            assert shown["errors"][0].startswith(f"{bad[index].name}: ")
            assert bad[index].fragment in shown["errors"][0]
            assert len(shown["predictions"]) == 1
            assert shown["predictions"][0] in list("0123456789")
    assert server["process"].poll() is None
    print(f"{SESSIONS}×{TURNS} page runs in {seconds:.1f} s, server RSS "
          f"{rss_growth / 2**20:+.1f} MiB")  # shown with pytest -rP
    assert rss_growth < 100 * 2**20, f"server RSS grew by {rss_growth / 2**20:.0f} MiB"
    assert seconds < 120  # bounded: about 10 s here


# --- Training again after the kill ---------------------------------------------------------


def test_after_sigkill_a_new_training_can_start(killed_home):
    """The kernel released the killed process's flock: no stale lock blocks the next run."""
    store = RunStore(killed_home["home"])
    jobs = JobManager(store)
    run_id = jobs.start("mnist-5k", SMALL_MODEL, QUICK)
    jobs.stop()
    assert jobs.wait(WAIT_SECONDS)
    assert store.get_run(run_id)["status"] == "cancelled"
    assert store.get_run(killed_home["first"])["status"] == "done"


# --- Five sessions predicting at once -------------------------------------------------------

PREDICTIONS_PER_SESSION = 50


def _good_uploads() -> list[bytes]:
    return [case.data for case in hostile_cases() if case.expect == "answer"]


def _predict_in_sessions(model_path: str, runtime: str) -> dict:
    """Each thread does what a Predict session does per upload: decode and preprocess the
    file's bytes, then ask the one shared predictor (the app caches one per model).

    Three rounds of SESSIONS threads after a warm-up one; every answer is checked against a
    lone prediction. Returns the last round's seconds and the process's RSS after each round.
    """
    predictor = (Predictor(load_model(model_path)) if runtime == "keras"
                 else predictor_for(model_path))
    assert predictor.runtime == runtime
    uploads = _good_uploads()
    expected = [predictor(preprocess_image(upload).input[np.newaxis])[0] for upload in uploads]
    answers: list[list] = [[] for _ in range(SESSIONS)]
    failures: list[BaseException] = []

    def session(index):
        try:
            for turn in range(PREDICTIONS_PER_SESSION):
                which = (index + turn) % len(uploads)
                image = preprocess_image(uploads[which])
                answers[index].append((which, predictor(image.input[np.newaxis])[0]))
        except BaseException as error:  # reported below, with the thread's index
            failures.append(error)

    def run_sessions():
        threads = [threading.Thread(target=session, args=(index,)) for index in range(SESSIONS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_SECONDS)
        return threads

    process = psutil.Process()
    run_sessions()  # warm-up: traced functions, interpreters and allocator pools settle
    rss_after_rounds = []
    for _ in range(3):
        answers = [[] for _ in range(SESSIONS)]
        started = time.perf_counter()
        threads = run_sessions()
        seconds = time.perf_counter() - started
        rss_after_rounds.append(process.memory_info().rss)
        assert not failures, failures
        assert not any(thread.is_alive() for thread in threads)
        assert [len(session_answers) for session_answers in answers] == [
            PREDICTIONS_PER_SESSION] * SESSIONS
        for session_answers in answers:
            for which, probabilities in session_answers:
                np.testing.assert_allclose(probabilities, expected[which], atol=1e-5)
    return {"seconds": seconds, "rss_after_rounds": rss_after_rounds}


def test_five_sessions_predicting_in_a_loop_are_all_answered_by_keras(killed_home):
    model_path = RunStore(killed_home["home"]).get_run(killed_home["first"])["model_path"]
    measured = _predict_in_sessions(model_path, "keras")
    assert measured["seconds"] < 60  # bounded: about a second here


def test_five_sessions_predicting_in_a_loop_are_all_answered_by_litert_in_flat_memory(
        killed_home):
    # LiteRT is what the app serves with. Its memory is measured in a fresh process: in the
    # suite's long-lived ones, other tests' threads and TensorFlow state make RSS drift.
    model_path = RunStore(killed_home["home"]).get_run(killed_home["first"])["model_path"]
    probe = ("import json, sys\nfrom tests.test_faults import _predict_in_sessions\n"
             "print(json.dumps(_predict_in_sessions(sys.argv[1], 'litert')))")
    result = subprocess.run([sys.executable, "-c", probe, model_path], cwd=PROJECT,
                            capture_output=True, text=True, timeout=WAIT_SECONDS)
    assert result.returncode == 0, result.stderr[-3000:]
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    rss = measured["rss_after_rounds"]
    late_growth = rss[-1] - rss[0]
    print(f"litert: 3 rounds of {SESSIONS}×{PREDICTIONS_PER_SESSION} predictions, last in "
          f"{measured['seconds']:.2f} s; RSS over the last two rounds "
          f"{late_growth / 2**20:+.1f} MiB")  # shown with pytest -rP
    assert late_growth < 50 * 2**20, f"RSS kept growing: {late_growth / 2**20:.0f} MiB"
    assert measured["seconds"] < 60  # bounded: about a second here


# --- Unwritable or full LEPTON_HOME ---------------------------------------------------------


def test_lepton_home_under_a_regular_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(RuntimeError) as error:
        RunStore(blocker / "home")
    assert str(error.value) == (
        f"LEPTON_HOME {blocker / 'home'} is not writable (Not a directory). Point LEPTON_HOME "
        "at a folder you can write to, or free some disk space."
    )
    assert blocker.read_text() == "not a folder"
    assert list(tmp_path.iterdir()) == [blocker]


def test_the_cli_reports_an_unwritable_home_and_exits_1(tmp_path, monkeypatch, capsys):
    from lepton.cli import main

    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv("LEPTON_HOME", str(blocker / "home"))
    assert main(["runs", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: LEPTON_HOME {blocker / 'home'} is not writable "
                                   "(Not a directory).")


def test_a_full_disk_at_start_is_a_clear_error_and_writes_no_database(tmp_path, monkeypatch):
    real_write_text = Path.write_text

    def full_disk(path, *arguments, **keywords):
        if path.name == ".write-test":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_write_text(path, *arguments, **keywords)

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(RuntimeError, match=r"is not writable \(No space left on device\)\. "
                                           r"Point LEPTON_HOME at a folder you can write to, "
                                           r"or free some disk space\."):
        RunStore(tmp_path / "home")
    assert not (tmp_path / "home" / "lepton.db").exists()


class _DiskFillingFile:
    """A real file that takes `budget` bytes, then fails like a full disk (ENOSPC)."""

    def __init__(self, path, mode, budget: int):
        self._file = builtins.open(path, mode)
        self._left = budget

    def write(self, data):
        if len(data) > self._left:
            self._file.write(bytes(data[: self._left]))
            self._left = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._left -= len(data)
        return self._file.write(data)

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self._file.close()


def test_disk_full_while_saving_the_model_fails_the_run_with_the_reason(store, monkeypatch):
    from keras.src.saving import saving_lib

    # Keras writes model.keras through the built-in open(); the disk fills 4 KB into it.
    monkeypatch.setattr(saving_lib, "open",
                        lambda path, mode="r", *rest: _DiskFillingFile(path, mode, 4096),
                        raising=False)
    run_id = store.create_run("mnist-5k", SMALL_MODEL.to_dict(), QUICK.to_dict())
    run = execute_run(store, run_id)
    assert run["status"] == "failed"
    assert run["reason"] == "OSError: [Errno 28] No space left on device"
    assert run["progress"] == {"stage": "failed"}
    assert run["model_path"] == ""  # the half-written file is never offered as the model
    # Regression: the partial file used to stay behind as runs/<id>/model.keras.
    assert list(store.run_folder(run_id).glob("*.keras")) == []
    with pytest.raises(ValueError, match="There is no finished run yet"):
        store.resolve("latest")


# --- Two Starts at the same moment ----------------------------------------------------------


@pytest.mark.parametrize("managers", ["one shared", "one per caller"])
def test_two_simultaneous_starts_start_exactly_one_run(store, managers):
    """"one shared": two sessions of one server (the app caches one JobManager per process);
    "one per caller": two JobManagers on one LEPTON_HOME, as two server processes would be."""
    shared = JobManager(store)
    jobs = [shared, shared] if managers == "one shared" else [shared, JobManager(store)]
    barrier = threading.Barrier(2)
    outcomes: list = [None, None]

    def press_start(index):
        barrier.wait(timeout=30)
        try:
            outcomes[index] = jobs[index].start("mnist-5k", SMALL_MODEL, QUICK)
        except TrainingBusy as error:
            outcomes[index] = error

    threads = [threading.Thread(target=press_start, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    started = [outcome for outcome in outcomes if isinstance(outcome, int)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, TrainingBusy)]
    assert len(started) == 1 and len(refused) == 1, outcomes
    assert [run["id"] for run in store.list_runs()] == started
    if managers == "one shared":
        assert str(refused[0]) == (f"Run {started[0]} is still training. Stop it or wait "
                                   "until it finishes.")
    else:
        # The holder's note ("started by process N") may not be written yet when the loser
        # reads it, which then says "another process".
        assert re.fullmatch(r"A training is already running on this host \((started by process "
                            rf"{os.getpid()}|another process)\)\. Wait for it to finish or stop "
                            r"it, then start again\.", str(refused[0]))
    for manager in set(jobs):
        manager.stop()
    for manager in set(jobs):
        assert manager.wait(WAIT_SECONDS)
    assert store.get_run(started[0])["status"] == "cancelled"
