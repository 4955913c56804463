"""The training worker process: `python -m lepton.worker RUN_ID` trains one stored run.

`lepton.jobs.JobManager` starts it with the training lock's descriptor in `LEPTON_LOCK_FD` and a
pipe on stdin. The worker stops after its current batch when the store holds a stop request for
the run, on SIGTERM or SIGINT, or when the pipe closes because the process that started it died.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from lepton.jobs import TrainingLock, execute_run
from lepton.registry import RunStore

STOP_POLL_SECONDS = 0.2
ORPHANED_REASON = "the app or command that started it stopped, so the training stopped too"


class StopSignals:
    """Everything that asks this worker to stop, folded into one event."""

    def __init__(self, store: RunStore, run_id: int):
        self.event = threading.Event()
        self.orphaned = False
        self._store, self._run_id = store, run_id

    def watch(self, parent_pipe: int | None) -> None:
        threading.Thread(target=self._poll_store, daemon=True, name="stop-requests").start()
        if parent_pipe is not None:
            threading.Thread(target=self._wait_for_eof, args=(parent_pipe,), daemon=True,
                             name="parent-pipe").start()
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: self.event.set())

    def _poll_store(self) -> None:
        while not self.event.wait(STOP_POLL_SECONDS):
            if self._store.stop_requested(self._run_id):
                self.event.set()

    def _wait_for_eof(self, descriptor: int) -> None:
        # os.read, not sys.stdin: a daemon thread blocked in a buffered reader aborts the
        # interpreter's shutdown. The parent never writes; data would only mean "still here".
        while os.read(descriptor, 1024):
            pass
        self.orphaned = True
        self.event.set()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m lepton.worker RUN_ID", file=sys.stderr)
        return 2
    run_id = int(argv[0])
    store = RunStore()
    run = store.get_run(run_id)
    if run is None:
        print(f"There is no run {run_id} in {store.home}.", file=sys.stderr)
        return 2
    descriptor = os.environ.get("LEPTON_LOCK_FD")
    if descriptor:
        lock = TrainingLock.adopt(store.home, int(descriptor))
    else:  # started by hand: take the lock like any trainer
        lock = TrainingLock(store.home)
        lock.acquire(f"worker process {os.getpid()}")
    try:
        store.claim_run(run_id)
        stop = StopSignals(store, run_id)
        stop.watch(sys.stdin.fileno() if descriptor else None)
        from lepton.training import set_threads

        set_threads(int(run["train_config"].get("threads") or 0))
        finished = execute_run(store, run_id, should_stop=stop.event.is_set)
        if stop.orphaned and finished["status"] == "cancelled":
            store.update_run(run_id, status="interrupted", reason=ORPHANED_REASON,
                             progress={"stage": "interrupted"})
    finally:
        lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
