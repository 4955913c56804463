"""Sweeps on this host: what Dask costs per trial, trials per hour, and TPE against a grid.

1. Scheduling overhead. The same tiny trials (`lepton.sweep_trial.run_trial`, mnist-5k) run
   alternately in this process and through a warm Dask LocalCluster worker, submitted one at a
   time as the sweep driver does when one worker thread is free. Alternating keeps both under
   the same machine load. Overhead = (Dask wall − in-process wall) / in-process wall.
2. Trials per hour: the TPE sweep of part 3, its driver's wall clock over its trials.
3. TPE against a grid: 24 trials each on the same space of choices (a 3 × 2 × 4 grid is
   exactly 24 setups), both through `lepton sweep`'s own code; hypervolume of each front of
   (test accuracy ↑, training seconds ↓), against the same reference point.

    .venv/bin/python benchmarks/sweeps.py [--overhead-trials 8] [--trials 24]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lepton.host import cpu_model
from lepton.objectives import hypervolume_2d
from lepton.recipes import default_config
from lepton.sweep_spec import create_sweep, make_spec
from lepton.sweeps import run_sweep
from lepton.train_fields import configs_from_values, train_fields

RESULTS = Path(__file__).resolve().parent / "results" / "sweeps.md"
GRID_SPACE = "filters1=8,16,32 dense=32,128 epochs=2,5,10,20"


def overhead(count: int) -> dict:
    from distributed import Client, LocalCluster

    from lepton.sweep_trial import run_trial

    fields = train_fields(default_config())
    values = {name: field.default for name, field in fields.items()}
    requests = []
    for index in range(count + 1):
        setup = {**values, "subset": 1000, "epochs": 2, "filters1": (8, 16)[index % 2]}
        model_config, train_config = configs_from_values(setup)
        requests.append({"sweep_id": 0, "trial": index, "dataset": "mnist-5k",
                         "model_config": model_config.to_dict(),
                         "train_config": train_config.to_dict()})
    import dask

    from lepton.sweeps import MEASURING_WORKER

    with dask.config.set(MEASURING_WORKER):  # as the sweep's own local cluster
        cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                               dashboard_address=None)
    client = Client(cluster)
    try:
        run_trial(requests[0])  # both warm: TensorFlow imported, first graphs traced
        client.submit(run_trial, requests[0], pure=False).result()
        local, remote = [], []
        for request in requests[1:]:
            started = time.perf_counter()
            run_trial(request)
            local.append(time.perf_counter() - started)
            started = time.perf_counter()
            client.submit(run_trial, request, pure=False).result()
            remote.append(time.perf_counter() - started)
    finally:
        client.close()
        cluster.close()
    return {"trials": count, "local": local, "dask": remote,
            "overhead": (sum(remote) - sum(local)) / sum(local)}


def sweep(home: Path, trials: int, sampler: str, seed: int) -> dict:
    spec = make_spec("mnist-5k", trials, GRID_SPACE, home, sampler=sampler, seed=seed)
    sweep_id = create_sweep(spec, home)
    started = time.perf_counter()
    state = run_sweep(sweep_id, home)
    wall = time.perf_counter() - started
    measured = [trial for trial in state["trials"] if trial["status"] == "done"]
    return {"sampler": sampler, "wall": wall, "state": state, "measured": measured,
            "front": [trial for trial in measured if trial["run_id"] in state["pareto"]]}


def hypervolume(result: dict, reference: list[float]) -> float:
    points = [[trial["values"]["train_seconds"], -trial["values"]["accuracy"]]
              for trial in result["measured"]]
    return hypervolume_2d(points, reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overhead-trials", type=int, default=8)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overhead-only", action="store_true",
                        help="part 1 only; its result is printed, not written")
    args = parser.parse_args()
    cost = overhead(args.overhead_trials)
    if args.overhead_only:
        print(json.dumps({"local": cost["local"], "dask": cost["dask"],
                          "overhead": cost["overhead"]}, indent=2))
        return
    # Kept after the run (the path is printed): 48 trainings are worth looking at again.
    folder = Path(tempfile.mkdtemp(prefix="lepton-sweeps-benchmark-"))
    print(f"sweeps kept in {folder}", file=sys.stderr)
    tpe = sweep(folder / "tpe", args.trials, "tpe", args.seed)
    grid = sweep(folder / "grid", args.trials, "grid", args.seed)
    slowest = max(trial["values"]["train_seconds"] for result in (tpe, grid)
                  for trial in result["measured"])
    reference = [slowest * 1.1, 0.0]  # no faster than the slowest trial, no accuracy at all
    lines = [
        "# Sweeps on this host", "",
        f"CPU: {cpu_model()}. Written by `benchmarks/sweeps.py`; every figure below comes "
        "from one run.", "",
        "## 1. Scheduling overhead (the same trials in this process and on a warm Dask "
        "worker, alternating)", "",
        "| | trials | total s | per trial s (median) |", "|---|---:|---:|---:|",
        f"| one process | {cost['trials']} | {sum(cost['local']):.2f} | "
        f"{statistics.median(cost['local']):.2f} |",
        f"| Dask LocalCluster, 1 worker | {cost['trials']} | {sum(cost['dask']):.2f} | "
        f"{statistics.median(cost['dask']):.2f} |", "",
        f"Overhead: **{cost['overhead']:+.1%}** (goal ≤ 5 %).", "",
        "## 2. Trials per hour", "",
        f"TPE sweep of {len(tpe['state']['trials'])} trials on mnist-5k (space "
        f"`{GRID_SPACE}`): {tpe['wall']:.0f} s from start to end, cluster start included: "
        f"**{3600 * len(tpe['state']['trials']) / tpe['wall']:.0f} trials per hour**.", "",
        "## 3. TPE against a grid of the same budget", "",
        "| sampler | trials measured | front size | best accuracy | fastest training s | "
        "hypervolume |", "|---|---:|---:|---:|---:|---:|",
    ]
    for result in (tpe, grid):
        lines.append(
            f"| {result['sampler']} | {len(result['measured'])} | {len(result['front'])} | "
            f"{max(t['values']['accuracy'] for t in result['measured']):.4f} | "
            f"{min(t['values']['train_seconds'] for t in result['measured']):.2f} | "
            f"{hypervolume(result, reference):.3f} |")
    lines += ["", f"Hypervolume of (training seconds, −accuracy) up to the reference "
              f"({reference[0]:.2f} s, accuracy 0); larger is better. Ratio TPE / grid: "
              f"**{hypervolume(tpe, reference) / hypervolume(grid, reference):.3f}**.", "",
              "Fronts (run: accuracy, training s):", ""]
    for result in (tpe, grid):
        front = sorted(result["front"], key=lambda trial: trial["values"]["train_seconds"])
        lines.append(f"- {result['sampler']}: " + "; ".join(
            f"{trial['params']} {trial['values']['accuracy']:.4f}, "
            f"{trial['values']['train_seconds']:.2f} s" for trial in front))
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps({"overhead": cost["overhead"]}))


if __name__ == "__main__":
    main()
