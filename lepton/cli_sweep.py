"""`lepton sweep`: a multi-objective sweep from the command line (see `lepton.sweeps`)."""

from __future__ import annotations

import json
import signal
import sys

from lepton.cli_common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from lepton.objectives import OBJECTIVES
from lepton.sweep_space import DEFAULT_SPACE


def add_sweep_command(command) -> None:
    """Adds `sweep` to the parser; `command(name, help)` makes a sub-parser with --json."""
    sweep = command("sweep", "search setups that trade accuracy against time, cost, energy, "
                             "latency or size (Optuna TPE); each trial is a stored run, trained "
                             "on a Dask cluster (a local one unless --scheduler is given)")
    sweep.add_argument("--dataset", help="a dataset name (see `lepton datasets`)")
    sweep.add_argument("--trials", type=int, help="how many setups to try")
    sweep.add_argument("--scheduler", default="",
                       help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786, whose "
                            "workers have Lepton installed; default: a local cluster")
    sweep.add_argument("--objectives", default="accuracy,train_seconds",
                       help=f"two or more of {', '.join(OBJECTIVES)}")
    sweep.add_argument("--space", default=DEFAULT_SPACE,
                       help="Train-page fields to vary, e.g. \"filters1=8,16 lr=0.001,0.003 "
                            f"epochs=3..15\"; the rest stay at the default recipe (default: "
                            f"\"{DEFAULT_SPACE}\")")
    sweep.add_argument("--min-accuracy", type=float, help="accuracy floor, 0..1")
    sweep.add_argument("--max-latency-ms", type=float, help="one-image LiteRT latency limit")
    sweep.add_argument("--max-size-kb", type=float, help="LiteRT fp32 file limit (1 KB = 1000 B)")
    sweep.add_argument("--max-train-seconds", type=float)
    sweep.add_argument("--max-cost", type=float, help="limit on a trial's cost (host price)")
    sweep.add_argument("--timeout", type=float,
                       help="seconds after which no new trial starts (running ones finish)")
    sweep.add_argument("--seed", type=int, help="seed of the sampler")
    sweep.add_argument("--sampler", default="tpe", choices=("tpe", "grid"),
                       help="tpe (default) models the trials so far; grid tries every setup "
                            "of the space's choices")
    sweep.add_argument("--resume", type=int, metavar="SWEEP_ID",
                       help="go on with a stored sweep until its budget is spent")


def _spec_from(args, home):
    from lepton.sweep_spec import make_spec

    missing = [flag for flag, value in (("--dataset", args.dataset), ("--trials", args.trials))
               if value is None]
    if missing:
        raise ValueError(f"Give {' and '.join(missing)} (or --resume SWEEP_ID).")
    limits = {"min_accuracy": args.min_accuracy, "max_latency_ms": args.max_latency_ms,
              "max_size_kb": args.max_size_kb, "max_train_seconds": args.max_train_seconds,
              "max_cost": args.max_cost}
    return make_spec(args.dataset, args.trials, args.space, home,
                     objectives=tuple(args.objectives.split(",")), limits=limits,
                     timeout_seconds=args.timeout, seed=args.seed, sampler=args.sampler,
                     scheduler=args.scheduler.strip())


def cmd_sweep(args, store) -> int:
    from lepton.sweep_spec import SweepError, create_sweep, read_spec, summary
    from lepton.sweep_state import request_stop
    from lepton.sweeps import run_sweep

    try:
        if args.resume is not None:
            read_spec(args.resume, store.home)  # a clear error for an unknown id
            sweep_id = args.resume
        else:
            sweep_id = create_sweep(_spec_from(args, store.home), store.home)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    _say(f"sweep {sweep_id}: starting (Ctrl-C stops it after the running trials' current batch)")
    reported: set[int] = set()

    def report(state: dict) -> None:
        for trial in state["trials"]:
            if trial["status"] in ("queued", "running") or trial["number"] in reported:
                continue
            reported.add(trial["number"])
            values = ", ".join(f"{name} {value:.4g}" for name, value
                               in (trial.get("values") or {}).items())
            _say(f"trial {trial['number']} (run {trial['run_id']}): {trial['status']} "
                 f"{values or trial.get('reason', '')}".rstrip())

    previous = signal.signal(signal.SIGINT, lambda *_: request_stop(store.home, sweep_id))
    try:
        state = run_sweep(sweep_id, store.home, on_change=report)
    except SweepError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        signal.signal(signal.SIGINT, previous)
    document = summary(state)
    if args.json:
        print(json.dumps(document, indent=2), file=args.output)
    else:
        print(_text(document), file=args.output)
    return EXIT_OK


def _text(document: dict) -> str:
    lines = [f"sweep {document['sweep_id']}: {document['status']} {document['reason']}".rstrip(),
             f"pareto front (runs): {', '.join(map(str, document['pareto'])) or 'none'}"]
    pick = document["recommended"]
    if pick:
        values = ", ".join(f"{name} {value:.4g}" for name, value in pick["values"].items())
        lines.append(f"recommended: run {pick['run_id']} ({values}) with {pick['params']}")
    else:
        lines.append("recommended: none (no trial met the limits)")
    return "\n".join(lines)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
