"""Training speed of every candidate execution setting on this host: the fast-path calibration.

    .venv/bin/python benchmarks/calibration.py [--quick] [--save] [--output PATH]

Runs `lepton.fastpath`'s full two-stage search (12 settings of precision × batch ×
steps_per_execution, then threads and the tf.data pipeline of the winner; `--quick`: 4 settings)
on the embedded mnist-5k digits, in a temporary LEPTON_HOME unless `--save` stores the winner in
yours. Prints a Markdown table naming the CPU and writes it to benchmarks/results/calibration.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import publish
from lepton import fastpath
from lepton.registry import default_home

RESULTS = ROOT / "benchmarks" / "results" / "calibration.md"


def _progress(fraction: float, text: str) -> None:
    print(f"[{fraction:4.0%}] {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 settings, 2 epochs each")
    parser.add_argument("--save", action="store_true",
                        help="store the winner in LEPTON_HOME (default: a temporary home)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    home = default_home() if args.save else Path(tempfile.mkdtemp(prefix="lepton-calibration-"))
    epochs = fastpath.QUICK_EPOCHS if args.quick else fastpath.EPOCHS
    load_before = os.getloadavg()
    started = time.perf_counter()
    entry = fastpath.run_calibration(
        home, candidates=fastpath.quick_candidates() if args.quick else None,
        on_progress=_progress, epochs=epochs,
    )
    seconds = time.perf_counter() - started
    load_after = os.getloadavg()
    fingerprint = entry["fingerprint"]
    winner = fastpath.Candidate.from_dict(entry["winner"])
    header = [
        "# Fast-path calibration",
        "",
        f"Measured {datetime.now(UTC).isoformat(timespec='seconds')} on {fingerprint['cpu']} "
        f"({fingerprint['usable_cores']} usable of {fingerprint['logical_cores']} logical "
        f"cores; {', '.join(fingerprint['flags']) or 'no vector flags found'}), TensorFlow "
        f"{fingerprint['tensorflow']}, Keras {fingerprint['keras']}; fingerprint "
        f"`{entry['key']}`. Load average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
        f"(1-minute); the whole calibration took {seconds:.0f} s.",
        f"Method: the reference CNN (Conv32 → Conv64 → Dense128) trains {epochs} epochs of the "
        "4,000 mnist-5k training digits per setting, from the same seeded initial weights. "
        "samples/s and ms/step: median over the executions after the first epoch (which pays "
        "for graph tracing). Test accuracy on the 1,000 test digits after the same number of "
        "samples for every setting; it holds within "
        f"{100 * fastpath.ACCURACY_TOLERANCE:.1f} pp of the "
        "float32 batch-32 baseline. Learning rate: 2e-3 at batch 64, scaled by √(batch/64). "
        "Settings with another thread count run in a child process. The "
        f"{fastpath.FINALISTS} fastest settings whose accuracy holds are measured twice and "
        "compete on the mean (rounds column; not with `--quick`); on a shared host differences "
        "under ~15 % are noise (see the load column).",
        f"Winner (★): {winner.label}.",
        "",
    ]
    text = "\n".join(header) + "\n" + fastpath.format_table(entry["rows"]) + "\n"
    publish(text, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
