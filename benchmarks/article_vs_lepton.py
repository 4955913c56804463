"""The article's script against Lepton's default training path, side by side in one process.

Article: `tf.keras.Sequential` reference CNN, `compile("adam")`, `fit(epochs=5)` (batch 32,
float32), `evaluate`, then `model.predict` on one image. Lepton: the same architecture through
`lepton.training.fit` with the Train page's fast recipe (bfloat16 compute where the CPU has it,
batch 128, learning rate 0.002), evaluated with `lepton.evaluation`, one image predicted through
`lepton.inference`'s fastest predictor. Runs alternate (article, Lepton, article, …) on the same
data. Full MNIST needs a download; offline, Fashion-MNIST (same shapes and sizes) stands in.

    .venv/bin/python benchmarks/article_vs_lepton.py [--dataset fashion-mnist] [--repeats 2]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tensorflow as tf  # noqa: E402

from lepton import inference  # noqa: E402
from lepton.data import load_dataset  # noqa: E402
from lepton.evaluation import evaluate  # noqa: E402
from lepton.host import host_info  # noqa: E402
from lepton.model import ModelConfig  # noqa: E402
from lepton.training import fast_config, fit  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "article_vs_lepton.md"
LATENCY_REPEATS = 200


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


def p50_ms(call, repeats=LATENCY_REPEATS) -> float:
    call()  # warm-up: tracing and first allocation are not what a user waits for each time
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def article_run(dataset, epochs, seed) -> dict:
    tf.keras.utils.set_random_seed(seed)
    model = create_model((28, 28, 1))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(dataset.x_train, dataset.y_train, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - started
    _, accuracy = model.evaluate(dataset.x_test, dataset.y_test, verbose=0)
    one = dataset.x_test[:1]
    latency = p50_ms(lambda: model.predict(one, verbose=0), repeats=30)
    tf.keras.backend.clear_session()
    return {"fit_seconds": seconds, "samples_per_second": len(dataset.y_train) * epochs / seconds,
            "test_accuracy": float(accuracy), "latency_ms": latency}


def lepton_run(dataset, epochs, seed) -> dict:
    config = fast_config(epochs=epochs, seed=seed, validation_split=0.0)
    started = time.perf_counter()
    result = fit(ModelConfig(), config, dataset.x_train, dataset.y_train)
    seconds = time.perf_counter() - started
    metrics = evaluate(result.model, dataset.x_test, dataset.y_test, dataset.class_names)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        result.model.save(path)
        predictor = inference.predictor_for(str(path), convert_missing=True)
        one = dataset.x_test[:1]
        latency = p50_ms(lambda: predictor(one))
    tf.keras.backend.clear_session()
    return {"fit_seconds": seconds, "samples_per_second": len(dataset.y_train) * epochs / seconds,
            "test_accuracy": metrics["test_accuracy"], "latency_ms": latency,
            "recipe": f"{config.precision}, batch {config.batch_size}, lr {config.learning_rate}",
            "predictor": type(predictor).__name__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    results = {"article": [], "lepton": []}
    for repeat in range(args.repeats):
        for name, run in (("article", article_run), ("lepton", lepton_run)):
            outcome = run(dataset, args.epochs, seed=repeat)
            results[name].append(outcome)
            print(f"repeat {repeat + 1} {name}: {outcome}", flush=True)

    def median(name, key):
        return statistics.median(outcome[key] for outcome in results[name])

    def accuracies(name):
        return ", ".join(f"{outcome['test_accuracy']:.4f}" for outcome in results[name])

    speed_ratio = median("lepton", "samples_per_second") / median("article", "samples_per_second")
    latency_ratio = median("article", "latency_ms") / median("lepton", "latency_ms")
    host = host_info()
    lepton_recipe = results["lepton"][0]["recipe"]
    lines = [
        "| | article's script | Lepton | ratio |",
        "|---|---|---|---|",
        f"| training samples/s (median) | {median('article', 'samples_per_second'):,.0f} | "
        f"{median('lepton', 'samples_per_second'):,.0f} | **{speed_ratio:.2f}×** |",
        f"| fit wall seconds, {args.epochs} epochs | {median('article', 'fit_seconds'):.1f} | "
        f"{median('lepton', 'fit_seconds'):.1f} | |",
        f"| test accuracy (each run) | {accuracies('article')} | {accuracies('lepton')} | |",
        f"| one-image latency p50 | {median('article', 'latency_ms'):.2f} ms (`model.predict`) | "
        f"{median('lepton', 'latency_ms'):.3f} ms ({results['lepton'][0]['predictor']}) | "
        f"**{latency_ratio:,.0f}×** |",
        "",
        f"{dataset.name}: {len(dataset.y_train):,} train / {len(dataset.y_test):,} test "
        f"({dataset.source}); {args.epochs} epochs, {args.repeats} alternating repeats (seeds "
        f"0..{args.repeats - 1}). Article: float32, batch 32, Adam 0.001, no validation. Lepton: "
        f"{lepton_recipe}, no validation. Host: {host['cpu']}, {host['logical_cores']} cores, "
        f"TensorFlow {host['tensorflow']}.",
        f"Command: `.venv/bin/python benchmarks/article_vs_lepton.py --dataset {args.dataset} "
        f"--epochs {args.epochs} --repeats {args.repeats}`",
    ]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
