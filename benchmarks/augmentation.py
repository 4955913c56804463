"""Augmentation's cost: three Keras layers in a row against Lepton's one fused affine layer.

Variants: no augmentation; `RandomTranslation` → `RandomRotation` → `RandomZoom` (the "mild"
factors, what Lepton used before); `lepton.augmentation.RandomAffine` with the same factors.
Two figures, variants alternating in one process, `--repeats` times:
- the augmentation alone: ms per batch of `--batch-size` digits in a compiled `tf.function`
  (median of 200 calls after 20 warm-up calls);
- a training step: the reference CNN with the variant in front, Adam, float32, on batches of
  the first 3,600 digits; the three models take turns step by step (`--steps` timed steps
  each, after 10 untimed ones), and samples/s is the batch size over the median step time.

    .venv/bin/python benchmarks/augmentation.py [--repeats 3] [--batch-size 64] [--steps 300]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.report import publish  # noqa: E402
from lepton.augmentation import RandomAffine  # noqa: E402
from lepton.data import load_dataset  # noqa: E402
from lepton.host import host_info  # noqa: E402
from lepton.model import build_model  # noqa: E402
from lepton.train_config import AUGMENTATIONS  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "augmentation.md"
VARIANTS = ("none", "three Keras layers", "one fused layer")
SAMPLES = 3_600
WARM_UP = 10  # steps left out: the first ones trace the graph


def augmentation_layers(variant: str) -> list:
    settings = AUGMENTATIONS["mild"]
    if variant == "none":
        return []
    if variant == "three Keras layers":
        shift = settings["translation"]
        return [keras.layers.RandomTranslation(shift, shift, fill_mode="constant"),
                keras.layers.RandomRotation(settings["rotation"], fill_mode="constant"),
                keras.layers.RandomZoom(settings["zoom"], fill_mode="constant")]
    return [RandomAffine(**settings)]


def augmentation_ms(variant: str, images) -> float | None:
    layers = augmentation_layers(variant)
    if not layers:
        return None
    augment = keras.Sequential(layers)
    step = tf.function(lambda batch: augment(batch, training=True))
    for _ in range(20):
        step(images)
    times = []
    for _ in range(200):
        started = time.perf_counter()
        step(images).numpy()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def compiled_model(variant: str, input_shape):
    network = build_model()
    model = keras.Sequential([keras.Input(input_shape), *augmentation_layers(variant), network])
    model.compile(optimizer=keras.optimizers.Adam(0.002),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def step_ms(dataset, steps: int, batch_size: int, seed: int) -> dict:
    """Median ms of one training step per variant, the variants taking turns step by step.

    Turn by turn rather than run after run: this host's speed changes for seconds at a time,
    and taking turns gives every variant the same share of fast and slow moments.
    """
    keras.utils.set_random_seed(seed)
    models = {variant: compiled_model(variant, dataset.input_shape) for variant in VARIANTS}
    starts = range(0, SAMPLES - batch_size + 1, batch_size)
    batches = [(dataset.x_train[start:start + batch_size],
                dataset.y_train[start:start + batch_size]) for start in starts]
    times = {variant: [] for variant in VARIANTS}
    for step in range(WARM_UP + steps):
        images, labels = batches[step % len(batches)]
        order = VARIANTS[step % 3:] + VARIANTS[:step % 3]
        for variant in order:
            started = time.perf_counter()
            models[variant].train_on_batch(images, labels)
            if step >= WARM_UP:
                times[variant].append((time.perf_counter() - started) * 1000)
    keras.backend.clear_session()
    return {variant: statistics.median(values) for variant, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=300, help="timed steps per variant")
    args = parser.parse_args()
    dataset = load_dataset("mnist-5k")
    images = tf.constant(dataset.x_train[:args.batch_size])
    alone = {variant: [] for variant in VARIANTS}
    speed = {variant: [] for variant in VARIANTS}
    for repeat in range(args.repeats):
        for variant in VARIANTS:
            alone[variant].append(augmentation_ms(variant, images))
        for variant, milliseconds in step_ms(dataset, args.steps, args.batch_size,
                                             repeat).items():
            speed[variant].append(args.batch_size * 1000 / milliseconds)
        print(f"repeat {repeat + 1}: augmentation alone {alone} ms; training {speed} samples/s",
              flush=True)

    host = host_info()
    baseline = statistics.median(speed["none"])
    lines = [
        f"Host: {host['cpu']}, {host['logical_cores']} cores, TensorFlow {host['tensorflow']}. "
        f"mnist-5k, batch {args.batch_size}, float32; {args.repeats} alternating repeats. "
        f"Factors: {AUGMENTATIONS['mild']}.",
        "",
        "| augmentation | ms per batch, alone (each repeat) | training samples/s, median "
        "(each repeat) | against none |",
        "|---|---:|---:|---:|",
    ]
    for variant in VARIANTS:
        milliseconds = ("—" if alone[variant][0] is None
                        else ", ".join(f"{value:.2f}" for value in alone[variant]))
        median_speed = statistics.median(speed[variant])
        lines.append(f"| {variant} | {milliseconds} | {median_speed:,.0f} ("
                     + ", ".join(f"{value:,.0f}" for value in speed[variant])
                     + f") | {median_speed / baseline:.2f}× |")
    lines += ["", "Command: `.venv/bin/python benchmarks/augmentation.py --repeats "
              f"{args.repeats} --batch-size {args.batch_size} --steps {args.steps}`"]
    publish("\n".join(lines) + "\n", RESULTS)


if __name__ == "__main__":
    main()
