"""The article's script against Lepton's default recipe, side by side in one process.

Article: `tf.keras.Sequential` reference CNN, `compile("adam")`, `fit(batch_size=32)` in float32,
as printed. Lepton: the same architecture through `lepton.training.fit` with the default recipe
of `lepton.recipes` (this host's calibrated execution settings, or the safe default before a
calibration; mild augmentation; cosine decay). Same data, same validation split (0.1), runs
alternating (article, Lepton, article, …) with seeds 0, 1, ….

Two comparisons:
- equal epochs (`--epochs`, default 5) on the same 3,600 training samples with no validation (so
  an epoch's time is its training steps only): steady-state samples/s (median of epochs 2+, whose
  time has no graph tracing) and test accuracy;
- time to a target: both trained `--long-epochs` (default: the default recipe's epochs), test
  accuracy measured after every epoch (its time left out of the clock): wall seconds from the
  start of `fit` until 97 % and 98 % were first reached, and the final accuracy.

    .venv/bin/python benchmarks/article_vs_lepton.py [--repeats 2] [--home LEPTON_HOME]
"""

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.report import publish  # noqa: E402
from lepton.data import load_dataset  # noqa: E402
from lepton.host import host_info  # noqa: E402
from lepton.model import ModelConfig  # noqa: E402
from lepton.recipes import default_config, execution_settings  # noqa: E402
from lepton.registry import default_home  # noqa: E402
from lepton.training import fit  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "article_vs_lepton.md"
TARGETS = (0.97, 0.98)
VALIDATION_SPLIT = 0.1


def create_model(input_shape):
    """The article's `create_model`, verbatim apart from `keras.Input` for Keras 3."""
    return tf.keras.Sequential([
        tf.keras.Input(shape=input_shape),
        tf.keras.layers.Conv2D(32, (3, 3), activation="relu"),
        tf.keras.layers.MaxPooling2D((2, 2)),
        tf.keras.layers.Conv2D(64, (3, 3), activation="relu"),
        tf.keras.layers.MaxPooling2D((2, 2)),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dense(10, activation="softmax"),
    ])


class Stopwatch(keras.callbacks.Callback):
    """Epoch times and, per epoch, test accuracy measured off the clock."""

    def __init__(self, evaluate):
        super().__init__()
        self.evaluate = evaluate
        self.epoch_seconds, self.accuracy_at = [], []  # accuracy_at: (seconds so far, accuracy)
        self.clock = 0.0
        self.train_begin = 0.0

    def on_train_begin(self, logs=None):
        self.train_begin = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.started
        self.epoch_seconds.append(seconds)
        self.clock += seconds
        if self.evaluate is not None:
            self.accuracy_at.append((self.clock, self.evaluate(self.model)))


def time_to(accuracy_at, target, set_up):
    return next((set_up + seconds for seconds, accuracy in accuracy_at if accuracy >= target),
                None)


def summary(stopwatch, samples_per_epoch, final_accuracy, started) -> dict:
    """Figures of one run; `started` is when building the model began (wall time's zero)."""
    later = stopwatch.epoch_seconds[1:] or stopwatch.epoch_seconds
    set_up = stopwatch.train_begin - started  # building and compiling the model
    return {"steady": samples_per_epoch / statistics.median(later),
            "first_epoch": stopwatch.epoch_seconds[0], "accuracy": final_accuracy,
            "wall": set_up + stopwatch.clock,
            **{f"to_{target}": time_to(stopwatch.accuracy_at, target, set_up)
               for target in TARGETS}}


def test_accuracy(model, dataset) -> float:
    probabilities = model.predict(dataset.x_test, batch_size=1000, verbose=0)
    return float((probabilities.argmax(axis=1) == dataset.y_test).mean())


def article_run(dataset, epochs, seed, track, validation_split) -> dict:
    tf.keras.utils.set_random_seed(seed)
    started = time.perf_counter()
    model = create_model(dataset.input_shape)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    stopwatch = Stopwatch((lambda trained: test_accuracy(trained, dataset)) if track else None)
    model.fit(dataset.x_train, dataset.y_train, epochs=epochs, batch_size=32,
              validation_split=validation_split, callbacks=[stopwatch], verbose=0)
    samples = int(len(dataset.y_train) * (1 - validation_split))
    result = summary(stopwatch, samples, test_accuracy(model, dataset), started)
    tf.keras.backend.clear_session()
    return result


def lepton_run(dataset, epochs, seed, track, validation_split, home) -> dict:
    config = default_config(home, epochs=epochs, seed=seed, validation_split=validation_split)

    def evaluate(trained):
        # The augmented training wrapper's last layer is the network itself.
        network = trained.layers[-1] if trained.name == "augmented" else trained
        return test_accuracy(network, dataset)

    stopwatch = Stopwatch(evaluate if track else None)
    started = time.perf_counter()
    result = fit(ModelConfig(), config, dataset.x_train, dataset.y_train, callbacks=(stopwatch,))
    samples = int(len(dataset.y_train) * (1 - validation_split))
    outcome = summary(stopwatch, samples, test_accuracy(result.model, dataset), started)
    tf.keras.backend.clear_session()
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist-5k")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the equal-epochs part")
    parser.add_argument("--long-epochs", type=int, default=None,
                        help="epochs of the time-to-target part (default recipe's by default)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--home", type=Path, default=None,
                        help="LEPTON_HOME whose calibration to use (default: LEPTON_HOME)")
    args = parser.parse_args()
    home = args.home or default_home()
    long_epochs = args.long_epochs or default_config(home).epochs
    dataset = load_dataset(args.dataset)
    # The equal-epochs part trains on the samples the long part trains on, without validating.
    kept = int(len(dataset.y_train) * (1 - VALIDATION_SPLIT))
    speed_data = dataclasses.replace(dataset, x_train=dataset.x_train[:kept],
                                     y_train=dataset.y_train[:kept])
    results = {(part, name): [] for part in ("equal", "long") for name in ("article", "lepton")}
    for repeat in range(args.repeats):
        for part, epochs in (("equal", args.epochs), ("long", long_epochs)):
            for name in ("article", "lepton"):
                track = part == "long"
                data, split = (dataset, VALIDATION_SPLIT) if track else (speed_data, 0.0)
                outcome = (article_run(data, epochs, repeat, track, split) if name == "article"
                           else lepton_run(data, epochs, repeat, track, split, home))
                results[(part, name)].append(outcome)
                print(f"repeat {repeat + 1} {part} {name}: {outcome}", flush=True)

    def median(part, name, key):
        values = [outcome[key] for outcome in results[(part, name)]]
        if any(value is None for value in values):
            return None
        return statistics.median(values)

    def each(part, name, key, pattern):
        return ", ".join("not reached" if outcome[key] is None else format(outcome[key], pattern)
                         for outcome in results[(part, name)])

    ratio = median("equal", "lepton", "steady") / median("equal", "article", "steady")
    recipe = default_config(home)
    source = execution_settings(home)[1]
    host = host_info()
    lines = [
        f"Host: {host['cpu']}, {host['logical_cores']} cores, TensorFlow {host['tensorflow']}. "
        f"{dataset.name}: {len(dataset.y_train):,} train / {len(dataset.y_test):,} test; equal "
        f"epochs: the first {kept:,} training samples, no validation; long runs: 10 % of the "
        f"training samples validate. {args.repeats} alternating repeats, seeds "
        f"0..{args.repeats - 1}.",
        f"Lepton's default: {recipe.precision}, batch {recipe.batch_size}, lr "
        f"{recipe.learning_rate:g} ({recipe.schedule}), augmentation {recipe.augmentation}, "
        f"steps_per_execution {recipe.steps_per_execution}; execution settings: {source}.",
        "",
        f"| {args.epochs} epochs each | article's script | Lepton's default | ratio |",
        "|---|---:|---:|---:|",
        f"| steady-state samples/s (median of epochs 2+) | "
        f"{median('equal', 'article', 'steady'):,.0f} | "
        f"{median('equal', 'lepton', 'steady'):,.0f} | **{ratio:.2f}×** |",
        f"| first epoch s (includes tracing) | {median('equal', 'article', 'first_epoch'):.2f} | "
        f"{median('equal', 'lepton', 'first_epoch'):.2f} | |",
        f"| test accuracy (each run) | {each('equal', 'article', 'accuracy', '.2%')} | "
        f"{each('equal', 'lepton', 'accuracy', '.2%')} | |",
        "",
        f"| {long_epochs} epochs each, test accuracy after every epoch | article's script | "
        "Lepton's default |",
        "|---|---:|---:|",
    ]
    for target in TARGETS:
        lines.append(f"| wall s to {target:.0%} (each run) | "
                     f"{each('long', 'article', f'to_{target}', '.1f')} | "
                     f"{each('long', 'lepton', f'to_{target}', '.1f')} |")
    lines += [
        f"| wall s, whole run | {each('long', 'article', 'wall', '.1f')} | "
        f"{each('long', 'lepton', 'wall', '.1f')} |",
        f"| final test accuracy | {each('long', 'article', 'accuracy', '.2%')} | "
        f"{each('long', 'lepton', 'accuracy', '.2%')} |",
        "",
        f"Command: `.venv/bin/python benchmarks/article_vs_lepton.py --dataset {args.dataset} "
        f"--epochs {args.epochs} --long-epochs {long_epochs} --repeats {args.repeats}`",
    ]
    publish("\n".join(lines) + "\n", RESULTS)


if __name__ == "__main__":
    main()
