"""Upload preprocessing speed, side by side: the full-decode pipeline of before against today's.

    .venv/bin/python benchmarks/uploads.py [--run ID] [--train] [--rounds 7] [--files 30]

Generates realistic uploads: phone photos of a real MNIST digit written on unevenly lit paper
(JPEG at quality 75/85/95, and PNG) and flatbed scans (grayscale PNG), 0.1–0.5 megapixels each,
plus 12 MP phone JPEGs, landscape and portrait (stored sideways with EXIF orientation 6, as
phones do). Each file's bytes go through

- old: the pipeline as it was before issue 12 ("Fast uploads"), reimplemented below: full
  decode, EXIF turn of the full picture, then every step over float32 pixels;
- new: `lepton.imaging.preprocess_image`: large JPEGs decoded at reduced size (`Image.draft`),
  statistics from level counts, speck removal and cropping inside the ink's box.

Both paths run on the same file one right after the other, in alternating order, `--rounds`
times, so a busy neighbour on a shared host slows both alike. With a finished run (the latest
digit run in LEPTON_HOME, `--run`, or `--train` for a fresh one) it also times end to end
(+ LiteRT inference, one image) and counts the files on which both paths predict the same class,
and then times every file alone through `lepton.prediction.predict`, the call behind the Predict
page and `lepton predict --json`: its `latency_ms` is the figure issue 12's goals are set on.
Prints a Markdown table and writes it to benchmarks/results/uploads.md.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import publish
from lepton import imaging
from lepton.host import cpu_model
from lepton.imaging import Preprocessed, Step, preprocess_image
from lepton.imaging.decoding import COARSE_DRAFT_MIN_PIXELS
from tests.digit_images import mnist_digit, realistic_upload

RESULTS = ROOT / "benchmarks" / "results" / "uploads.md"
PHONE_SIZE = (4032, 3024)  # 12.2 MP, a typical phone camera
SMALL_KIND_NAMES = ("photo JPEG", "photo PNG", "scan PNG")


# --- The pipeline before issue 12 -------------------------------------------------------------
# Copied from lepton/imaging.py as it was; the helpers it shares with today's are imported.


LEGACY_WORKING_MAX_PIXELS = 2_000_000  # the working size before issue 12 (now 0.25 MP)


def _legacy_shrink(image):
    width, height = image.size
    if width * height <= LEGACY_WORKING_MAX_PIXELS:
        return image
    factor = math.ceil(math.sqrt(width * height / LEGACY_WORKING_MAX_PIXELS))
    return image.reduce((min(factor, width), min(factor, height)))


def legacy_preprocess(data: bytes) -> Preprocessed:
    """File bytes → MNIST-style input the old way: full decode, float32 pixels throughout."""
    image = imaging._open(data)
    image.seek(0)
    image.load()
    image = ImageOps.exif_transpose(image)
    source_size = image.size
    image = _legacy_shrink(imaging._to_working_mode(image))
    to_uint8 = imaging._to_uint8
    steps = [Step("original", to_uint8(np.asarray(image)))]
    gray = _legacy_ink_source(image)
    steps.append(Step("grayscale / ink", to_uint8(gray)))
    inverted = _legacy_is_dark_on_light(gray)
    if inverted:
        gray = 255.0 - gray
        steps.append(Step("inverted", to_uint8(gray)))
    ink = _legacy_remove_specks(_legacy_remove_background(gray))
    steps.append(Step("background removed", to_uint8(ink)))
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    cropped = ink[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1]
    steps.append(Step("cropped to ink", to_uint8(cropped)))
    fitted = imaging._fit_to_box(cropped)
    steps.append(Step(f"fitted to {imaging.BOX_SIZE}×{imaging.BOX_SIZE}", to_uint8(fitted)))
    centred = imaging._centre_by_mass(fitted)
    centred = centred / max(float(centred.max()), 1e-6)
    steps.append(Step(f"centred {imaging.FIELD_SIZE}×{imaging.FIELD_SIZE}",
                      to_uint8(centred * 255.0)))
    return Preprocessed(centred.astype(np.float32)[..., np.newaxis], tuple(steps), inverted,
                        source_size)


def _legacy_ink_source(image: Image.Image) -> np.ndarray:
    if image.mode == "F":
        return np.asarray(image, dtype=np.float32)
    luminance = np.asarray(image.convert("L"), dtype=np.float32)
    if image.mode != "RGBA":
        return luminance
    alpha = np.asarray(image.getchannel("A"), dtype=np.float32)
    if np.mean(alpha < 128) < imaging.TRANSPARENT_FRACTION:
        return luminance
    opaque = luminance[alpha >= 128]
    if opaque.size > alpha.size / 2 and imaging._spread_of(opaque) > 2 * imaging.MIN_INK_CONTRAST:
        paper = float(np.median(opaque))
        weight = alpha / 255.0
        return luminance * weight + paper * (1.0 - weight)
    return alpha


def _legacy_background_level(values: np.ndarray) -> tuple[float, float]:
    border = imaging._border_pixels(values)
    level = float(np.median(border))
    return level, 1.4826 * float(np.median(np.abs(border - level)))


def _legacy_is_dark_on_light(gray: np.ndarray) -> bool:
    level, noise = _legacy_background_level(gray)
    margin = 3.0 * noise + 2.0
    darker = np.clip(level - margin - gray, 0.0, None).sum(dtype=np.float64)
    lighter = np.clip(gray - level - margin, 0.0, None).sum(dtype=np.float64)
    return bool(darker > lighter)


def _legacy_remove_background(gray: np.ndarray) -> np.ndarray:
    level, noise = _legacy_background_level(gray)
    signal = np.clip(gray - level, 0.0, None)
    peak = float(signal.max())
    if peak < max(imaging.MIN_INK_CONTRAST, 6.0 * noise):
        raise imaging.ImageError("No ink found.")
    ink_level = float(np.median(signal[signal >= peak / 2]))
    cutoff = float(np.clip(4.0 * noise, 0.08 * ink_level, 0.5 * ink_level))
    return np.clip((signal - cutoff) * (255.0 / (ink_level - cutoff)), 0.0, 255.0)


def _legacy_remove_specks(ink: np.ndarray) -> np.ndarray:
    labels, count = ndimage.label(ink > 0, structure=np.ones((3, 3)))
    if count <= 1:
        return ink
    masses = ndimage.sum_labels(ink, labels, index=np.arange(1, count + 1))
    keep = np.concatenate([[False], masses >= imaging.SPECK_FRACTION * masses.max()])
    return np.where(keep[labels], ink, 0.0).astype(np.float32)


# --- Uploads ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    kind: str
    data: bytes
    pixels: int


def _encoded(picture: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **options)
    return buffer.getvalue()


def _photo(index: int, size: tuple[int, int], seed: int, **colours) -> Image.Image:
    """A phone photo of MNIST digit `index` on paper (realistic_upload), as an RGB picture."""
    generator = np.random.default_rng(seed)
    offset = (generator.uniform(0.3, 0.7), generator.uniform(0.3, 0.7))
    digit, _ = mnist_digit(index)
    # BMP: lossless and instant to encode; the formats under test are made from it below.
    bmp = realistic_upload(digit, size=size, offset=offset, fmt="BMP", seed=seed, **colours)
    return Image.open(io.BytesIO(bmp)).convert("RGB")


def small_uploads(files_per_kind: int) -> list[Upload]:
    """Photos (JPEG, PNG) and scans (grayscale PNG) of 0.1–0.5 MP, each of another digit."""
    generator = np.random.default_rng(12)
    uploads = []
    for number in range(files_per_kind * len(SMALL_KIND_NAMES)):
        kind = SMALL_KIND_NAMES[number % len(SMALL_KIND_NAMES)]
        pixels = generator.uniform(100_000, 500_000)
        aspect = generator.choice([4 / 3, 3 / 4, 1.0, 3 / 2, 2 / 3])
        size = (round((pixels * aspect) ** 0.5), round((pixels / aspect) ** 0.5))
        index = int(generator.integers(0, 5000))
        if kind == "scan PNG":  # a flatbed: whiter paper, blacker ink, saved as 8-bit gray
            picture = _photo(index, size, number, paper=(246, 246, 244), ink=(25, 25, 30))
            data = _encoded(picture.convert("L"), "PNG")
        elif kind == "photo PNG":
            data = _encoded(_photo(index, size, number), "PNG")
        else:
            quality = (75, 85, 95)[number // len(SMALL_KIND_NAMES) % 3]
            data = _encoded(_photo(index, size, number), "JPEG", quality=quality)
        uploads.append(Upload(kind, data, size[0] * size[1]))
    return uploads


def phone_uploads() -> list[Upload]:
    """12 MP phone JPEGs at quality 90: landscape, and portrait stored sideways (EXIF 6)."""
    width, height = PHONE_SIZE
    landscape = _photo(1234, PHONE_SIZE, 1)
    portrait = _photo(3456, (height, width), 2)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": the sensor's landscape frame
    stored = portrait.transpose(Image.Transpose.ROTATE_90)
    return [
        Upload("12 MP phone JPEG, landscape", _encoded(landscape, "JPEG", quality=90),
               width * height),
        Upload("12 MP phone JPEG, portrait (EXIF 6)",
               _encoded(stored, "JPEG", quality=90, exif=exif.tobytes()), width * height),
    ]


# --- Predictor ----------------------------------------------------------------------------------


def find_model(run_reference: str | None, train: bool) -> tuple[str | None, str]:
    """(The model file of a digit run or None, where it came from)."""
    if train:
        from lepton.data import load_dataset
        from lepton.model import ModelConfig
        from lepton.training import TrainConfig, fit

        dataset = load_dataset("mnist-5k")
        print("training the reference CNN on mnist-5k (3 epochs)…", file=sys.stderr, flush=True)
        result = fit(ModelConfig(), TrainConfig(epochs=3), dataset.x_train, dataset.y_train)
        path = Path(tempfile.mkdtemp(prefix="lepton-uploads-")) / "model.keras"
        result.model.save(path)
        return str(path), "reference CNN trained now, 3 epochs"
    from lepton.registry import RunStore

    store = RunStore()
    if run_reference:
        runs = [store.resolve(run_reference)]
    else:
        runs = [run for run in store.list_runs("done") if run["model_path"]
                and run["metrics"].get("preprocessing", "digit") == "digit"]
    if not runs:
        return None, f"no finished digit run in {store.home} (pass --train for one)"
    run = runs[0]
    return run["model_path"], f"run {run['id']}"


def digit_reference(model_path: str):
    """What `lepton.prediction.predict` needs of a 28×28 digit model file."""
    from lepton.prediction import ModelReference

    return ModelReference(model_path=model_path, version=Path(model_path).stat().st_mtime_ns,
                          kind="digit", input_shape=(28, 28, 1),
                          class_names=tuple(str(digit) for digit in range(10)))


# --- Measuring --------------------------------------------------------------------------------


def new_decode(data: bytes):
    """The new path's first decoding alone (a JPEG at reduced size, a colour one to its luma),
    for the table's floor."""
    return imaging._decode(imaging._open(data), draft=True, luma=True,
                           min_pixels=COARSE_DRAFT_MIN_PIXELS)


def measure(uploads: list[Upload], rounds: int, predictor) -> dict:
    """Per path: milliseconds of decode + preprocess (and end to end) of every call, per file."""
    paths = {"old": legacy_preprocess, "new": preprocess_image}
    timings = {name: {"prepare": [[] for _ in uploads], "end_to_end": [[] for _ in uploads]}
               for name in paths}
    timings["decode"] = [[] for _ in uploads]
    answers = {name: [None] * len(uploads) for name in paths}
    inputs = {name: [None] * len(uploads) for name in paths}
    for round_index in range(rounds + 1):  # round 0 warms caches up and is not kept
        print(f"round {round_index}/{rounds}", file=sys.stderr, flush=True)
        for number, upload in enumerate(uploads):
            order = list(paths) if (round_index + number) % 2 else list(paths)[::-1]
            for name in order:
                started = time.perf_counter()
                result = paths[name](upload.data)
                prepared = time.perf_counter()
                if predictor is not None:
                    probabilities = predictor(result.input[np.newaxis])[0]
                finished = time.perf_counter()
                if round_index == 0:
                    inputs[name][number] = result.input
                    if predictor is not None:
                        answers[name][number] = int(np.argmax(probabilities))
                    continue
                timings[name]["prepare"][number].append((prepared - started) * 1000)
                timings[name]["end_to_end"][number].append((finished - started) * 1000)
            started = time.perf_counter()
            new_decode(upload.data)
            if round_index > 0:
                timings["decode"][number].append((time.perf_counter() - started) * 1000)
    return {"timings": timings, "answers": answers, "inputs": inputs}


def measure_reported(uploads: list[Upload], rounds: int, reference) -> list[list[float]]:
    """Per file: the `latency_ms` that `lepton.prediction.predict` reports, one file at a time.

    Between two files runs only what `predict` does after its clock (a colour JPEG's display
    decode), as on the Predict page and in `lepton predict --json`.
    """
    from lepton.prediction import predict

    latencies = [[] for _ in uploads]
    for round_index in range(rounds + 1):  # round 0 warms caches up and is not kept
        print(f"reported latency, round {round_index}/{rounds}", file=sys.stderr, flush=True)
        for number, upload in enumerate(uploads):
            answer = predict(reference, upload.kind, upload.data)
            if answer.error is not None:
                raise RuntimeError(f"{upload.kind} #{number} was refused: {answer.error}")
            if round_index > 0:
                latencies[number].append(answer.latency_ms)
    return latencies


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    p50, p95 = np.percentile(samples, [50, 95])
    return float(p50), float(p95), float(max(samples))


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=None, help="run id, latest or best (default: the "
                                                    "latest finished digit run)")
    parser.add_argument("--train", action="store_true", help="train a fresh reference model")
    parser.add_argument("--rounds", type=int, default=7, help="timed calls per file and path")
    parser.add_argument("--files", type=int, default=30, help="0.1–0.5 MP files per kind")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    print("generating uploads…", file=sys.stderr, flush=True)
    small, phones = small_uploads(args.files), phone_uploads()
    uploads = small + phones
    model_path, origin = find_model(args.run, args.train)
    predictor = None
    if model_path is not None:
        from lepton.prediction import predictor_for

        predictor = predictor_for(model_path, convert_missing=True)
    load_before = os.getloadavg()
    measured = measure(uploads, args.rounds, predictor)
    reported = (measure_reported(uploads, args.rounds, digit_reference(model_path))
                if model_path is not None else None)
    load_after = os.getloadavg()
    timings = measured["timings"]

    groups = {f"all 0.1–0.5 MP ({len(small)} files)": range(len(small))}
    for kind in SMALL_KIND_NAMES:
        groups[kind] = [number for number, upload in enumerate(small) if upload.kind == kind]
    for number, upload in enumerate(phones, start=len(small)):
        groups[upload.kind] = [number]

    def pooled(samples_per_file: list[list[float]], members) -> tuple[float, float, float]:
        return percentiles([value for number in members for value in samples_per_file[number]])

    def best_round(samples_per_file: list[list[float]], members) -> float:
        """The group's p50 in its fastest round: what the host gives when no neighbour runs."""
        return min(float(np.median([samples_per_file[number][round_index]
                                    for number in members]))
                   for round_index in range(args.rounds))

    def megapixels_of(members) -> str:
        megapixels = [uploads[number].pixels / 1e6 for number in members]
        return (f"{min(megapixels):.2f}–{max(megapixels):.2f}" if len(members) > 1
                else f"{megapixels[0]:.1f}")

    def row(column: str) -> list[str]:
        lines = []
        for name, members in groups.items():
            size = megapixels_of(members)
            old = pooled(timings["old"][column], members)
            new = pooled(timings["new"][column], members)
            decode = pooled(timings["decode"], members)[0]
            best_old = best_round(timings["old"][column], members)
            best_new = best_round(timings["new"][column], members)
            lines.append(
                f"| {name} | {size} | {old[0]:.2f} | {old[1]:.2f} | **{new[0]:.2f}** | "
                f"**{new[1]:.2f}** | {new[2]:.2f} | {best_old:.2f} → {best_new:.2f} | "
                f"{decode:.2f} | {old[0] / new[0]:.1f}× |"
            )
        return lines

    def reported_rows(latencies: list[list[float]]) -> list[str]:
        lines = []
        for name, members in groups.items():
            size = megapixels_of(members)
            p50, p95, largest = pooled(latencies, members)
            if len(members) > 1:
                goal = "p50 ≤ 1.5, p95 ≤ 4: " + ("met" if p50 <= 1.5 and p95 <= 4 else "not met")
            else:
                goal = "≤ 20: " + ("met at p50" if p50 <= 20 else "not met")
            lines.append(f"| {name} | {size} | **{p50:.2f}** | **{p95:.2f}** | {largest:.2f} | "
                         f"{best_round(latencies, members):.2f} | {goal} |")
        return lines

    header_row = ("| uploads | MP | old p50 ms | old p95 ms | new p50 ms | new p95 ms | "
                  "new max ms | best round p50 ms, old → new | of which decoding, p50 ms | "
                  "p50 speed-up |")
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    inputs = measured["inputs"]
    largest_difference = max(float(np.abs(old - new).max())
                             for old, new in zip(inputs["old"], inputs["new"]))
    lines = [
        "# Upload preprocessing benchmark",
        "",
        f"Measured {datetime.now(UTC).isoformat(timespec='seconds')} on {cpu_model()} "
        f"({os.cpu_count()} logical cores), Pillow {_version('pillow')}, NumPy "
        f"{_version('numpy')}, SciPy {_version('scipy')}. Load average {load_before[0]:.2f} "
        f"before, {load_after[0]:.2f} after (1-minute).",
        f"Each file's bytes through both paths, one right after the other in alternating order, "
        f"{args.rounds} timed rounds after a warm-up round; p50/p95/max over every timed call "
        "of the group (time.perf_counter); best round = the group's p50 in its fastest round, "
        "what the host gives when no neighbour competes. Old = the full-decode pipeline before "
        "issue 12 (reimplemented in this script); new = `lepton.imaging.preprocess_image`.",
        "",
        "## Decode + preprocess (file bytes → 28×28 input, every step kept for display)",
        "",
        header_row,
        rule,
        *row("prepare"),
        "",
        "Goals (issue 12, item 7): 0.1–0.5 MP uploads p50 ≤ 1.5 ms and p95 ≤ 4 ms; a 12 MP "
        "phone JPEG ≤ 20 ms. \"Of which decoding\" is the new path's file decoding alone "
        "(timed separately): a floor no preprocessing change can go under.",
        "",
        f"Largest difference between the old and new 28×28 inputs over all {len(uploads)} "
        f"files: {largest_difference:.4f} (of 1.0).",
    ]
    if predictor is None:
        lines += ["", f"End to end and agreement not measured: {origin}."]
    else:
        same = sum(old == new for old, new in zip(measured["answers"]["old"],
                                                  measured["answers"]["new"]))
        lines += [
            "",
            f"## End to end: decode + preprocess + LiteRT inference ({origin}, "
            f"{type(predictor).__name__}, one image)",
            "",
            header_row,
            rule,
            *row("end_to_end"),
            "",
            f"Same predicted class from old and new path: **{same} of {len(uploads)}** files.",
            "",
            "## As the Predict page and `lepton predict --json` report it",
            "",
            f"`latency_ms` of `lepton.prediction.predict` (decode + preprocess + inference, the "
            f"call behind both), every file alone, in turn, {args.rounds} timed rounds after a "
            "warm-up round; the old path does not run in between.",
            "",
            "| uploads | MP | latency_ms p50 | p95 | max | best round p50 | goal |",
            "|---|---:|---:|---:|---:|---:|---|",
            *reported_rows(reported),
        ]
    text = "\n".join(lines) + "\n"
    publish(text, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
