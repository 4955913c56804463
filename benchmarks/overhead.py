"""Dashboard overhead: the same training through Lepton's job manager and through bare `model.fit`.

Runs (a) `JobManager.start` — progress callback, run-store writes every 0.5 s, TensorBoard logs —
and (b) a bare `model.fit` with only an epoch timer, alternating a/b in one process so both see the
same machine state. Compares steady-state samples/s (epochs after the first, which traces graphs).

    .venv/bin/python benchmarks/overhead.py [--repeats 3] [--samples 20000] [--epochs 3]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402

from lepton.data import load_dataset  # noqa: E402
from lepton.host import host_info  # noqa: E402
from lepton.jobs import JobManager  # noqa: E402
from lepton.model import ModelConfig, build_model  # noqa: E402
from lepton.registry import RunStore  # noqa: E402
from lepton.training import TrainConfig, make_optimizer  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "overhead.md"


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def train_samples(dataset, config: TrainConfig) -> int:
    return len(dataset.y_train) - int(len(dataset.y_train) * config.validation_split)


def through_job_manager(jobs: JobManager, store: RunStore, dataset_name, config) -> list[float]:
    run_id = jobs.start(dataset_name, ModelConfig(), config)
    jobs.wait()
    run = store.get_run(run_id)
    assert run["status"] == "done", run["reason"]
    return [epoch["seconds"] for epoch in store.epochs(run_id)]


def bare_fit(dataset, config: TrainConfig) -> list[float]:
    keras.utils.set_random_seed(config.seed)
    model = build_model(ModelConfig(), dtype_policy=config.precision)
    model.compile(optimizer=make_optimizer(config), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(dataset.x_train, dataset.y_train, batch_size=config.batch_size,
              epochs=config.epochs, validation_split=config.validation_split, verbose=0,
              callbacks=[timer])
    keras.backend.clear_session()
    return timer.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dataset", default="fashion-mnist")
    args = parser.parse_args()
    config = TrainConfig(epochs=args.epochs, subset=args.samples, batch_size=32)
    dataset = load_dataset(args.dataset, subset=args.samples, seed=config.seed)
    samples = train_samples(dataset, config)
    store = RunStore(tempfile.mkdtemp(prefix="lepton-overhead-"))
    jobs = JobManager(store)
    speeds = {"job manager": [], "bare model.fit": []}
    for repeat in range(args.repeats):
        for name in speeds:
            seconds = (through_job_manager(jobs, store, args.dataset, config)
                       if name == "job manager" else bare_fit(dataset, config))
            speed = samples / statistics.median(seconds[1:])
            speeds[name].append(speed)
            print(f"repeat {repeat + 1} {name}: {speed:,.0f} samples/s", flush=True)
    medians = {name: statistics.median(values) for name, values in speeds.items()}
    # Each repeat's two runs are neighbours in time: their ratio cancels slow drifts in load.
    ratios = [managed / bare for managed, bare in zip(speeds["job manager"],
                                                      speeds["bare model.fit"])]
    overhead = 1 - statistics.median(ratios)
    host = host_info()
    lines = [
        "| path | median samples/s | runs |",
        "|---|---|---|",
        *[f"| {name} | {medians[name]:,.0f} | {', '.join(f'{v:,.0f}' for v in values)} |"
          for name, values in speeds.items()],
        "",
        f"Paired ratios (job manager ÷ bare, per repeat): "
        f"{', '.join(f'{ratio:.3f}' for ratio in ratios)}. Overhead of the job manager "
        f"(1 − median paired ratio): **{overhead:+.1%}**.",
        f"{args.dataset}, {samples:,} training samples, batch 32, float32, {args.epochs} epochs "
        f"(epochs 2+ timed, validation included in both), {args.repeats} alternating repeats; "
        f"{host['cpu']}, {host['logical_cores']} cores, TensorFlow {host['tensorflow']}.",
        "Command: `.venv/bin/python benchmarks/overhead.py "
        f"--repeats {args.repeats} --samples {args.samples} --epochs {args.epochs}`",
    ]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
