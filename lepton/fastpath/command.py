"""This host's fastest execution settings, found by measuring them.

The command line of `lepton.fastpath` (the line above is its --help description):

    python -m lepton.fastpath calibrate [--quick] [--json] [--home PATH]
    python -m lepton.fastpath measure --json < request.json   (child mode, see `measure`)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lepton.fastpath.calibration import run_calibration
from lepton.fastpath.candidates import Candidate, quick_candidates
from lepton.fastpath.measurement import EPOCHS, PROGRESS_PREFIX, QUICK_EPOCHS, measure
from lepton.fastpath.report import format_table
from lepton.fastpath.store import CALIBRATION_FILE


def _print_progress(fraction: float, text: str) -> None:
    print(f"[{fraction:4.0%}] {text}", file=sys.stderr, flush=True)


def _child_measure(as_json: bool) -> int:
    """Child mode: reads {"candidates", "epochs", "dataset_file", …} as JSON on stdin and prints
    the rows (stdout) and progress lines (stderr, after `PROGRESS_PREFIX`)."""
    from lepton.training import set_threads  # this child trains; its parent needs no Keras

    request = json.loads(sys.stdin.read())
    candidates = [Candidate.from_dict(values) for values in request["candidates"]]
    thread_counts = {candidate.threads for candidate in candidates}
    if len(thread_counts) != 1:
        raise ValueError(f"Expected candidates of one thread count per process, got "
                         f"{sorted(thread_counts)}. Send one request per thread count.")
    threads = thread_counts.pop()
    set_threads(threads)  # before any TensorFlow operation
    dataset = None
    if request.get("dataset_file"):
        import numpy as np

        from lepton.data import DIGIT_CLASSES, Dataset

        arrays = np.load(request["dataset_file"], allow_pickle=False)
        dataset = Dataset(name=request.get("dataset_name", "calibration"),
                          x_train=arrays["x_train"], y_train=arrays["y_train"],
                          x_test=arrays["x_test"], y_test=arrays["y_test"],
                          class_names=tuple(request.get("class_names") or DIGIT_CLASSES),
                          source="sent by the calibrating process")

    def report(fraction: float, text: str) -> None:
        message = json.dumps({"fraction": fraction, "text": f"{text} (threads {threads})"})
        print(f"{PROGRESS_PREFIX}{message}", file=sys.stderr, flush=True)

    rows = measure(candidates, dataset, int(request.get("epochs", EPOCHS)), report)
    print(json.dumps(rows) if as_json else format_table(rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lepton.fastpath",
                                     description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    calibrate = commands.add_parser("calibrate", help="measure, choose and store the fast path")
    calibrate.add_argument("--quick", action="store_true",
                           help=f"{len(quick_candidates())} settings, {QUICK_EPOCHS} epochs")
    calibrate.add_argument("--json", action="store_true", help="print one JSON document")
    calibrate.add_argument("--home", type=Path, default=None, help="LEPTON_HOME to store into")
    child = commands.add_parser("measure", help="child mode: candidates as JSON on stdin")
    child.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    if args.command == "measure":
        return _child_measure(args.json)

    from lepton.jobs import TrainingBusy
    from lepton.registry import default_home

    home = args.home or default_home()
    try:
        entry = run_calibration(
            home,
            candidates=quick_candidates() if args.quick else None,
            on_progress=_print_progress,
            epochs=QUICK_EPOCHS if args.quick else EPOCHS,
        )
    except TrainingBusy as error:
        print(error, file=sys.stderr)
        return 2
    except ValueError as error:
        print(error, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(entry, indent=2))
    else:
        winner = Candidate.from_dict(entry["winner"])
        print(f"Calibrated on {entry['cpu']} ({entry['fingerprint']['usable_cores']} cores, "
              f"TensorFlow {entry['fingerprint']['tensorflow']}) in {entry['seconds']:.0f} s.\n")
        print(format_table(entry["rows"]))
        print(f"\nWinner: {winner.label}; stored in {Path(home) / CALIBRATION_FILE}.")
    return 0
