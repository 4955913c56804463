"""A Markdown model card for a run: every figure read from the run store or measured now."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from lepton.background import write_atomic
from lepton.costs import load_settings, run_costs
from lepton.export import load_measurements
from lepton.host import cpu_model
from lepton.inference import load_model
from lepton.model import layer_table
from lepton.prediction import ModelReference, calibration
from lepton.profiling import load_profile

CARD_FILE = "model_card.md"


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _number(value, pattern: str = "{:,.4g}") -> str:
    return "not measured" if value is None else pattern.format(value)


def card_text(store, run: dict, on_progress=None) -> str:
    """The card of a finished run, as Markdown."""
    progress = on_progress or (lambda fraction, text: None)
    if not run.get("model_path"):
        raise ValueError(f"Run {run['id']} has no model to describe; it is {run['status']}.")
    metrics, timings, train = run["metrics"], run["timings"], run["train_config"]
    progress(0.1, "reading the model")
    model = load_model(run["model_path"])
    rows = layer_table(model)
    progress(0.4, "measuring calibration on the validation split and the test set")
    try:
        confidence = calibration(ModelReference.of_run(run), run, str(store.home))
    except ValueError as error:
        confidence = {"error": str(error)}
    settings = load_settings(store.home)
    costs = run_costs(timings, settings) if timings else {}
    measured = load_measurements(store, run["id"])
    profile = load_profile(store, run)
    progress(0.9, "writing the card")
    lepton_version = metadata.version("lepton") if _installed("lepton") else "source"
    lines = [
        f"# Model card: Lepton run {run['id']}", "",
        f"Written {datetime.now(UTC).isoformat(timespec='seconds')} by Lepton {lepton_version} "
        f"on {cpu_model()}. Every figure is read from the run store (`{store.home}`) or measured "
        "while writing this card; nothing is typed in.", "",
        "## Model", "",
        f"A convolutional network of {len(model.layers)} layers, {model.count_params():,} "
        f"parameters and {sum(row['macs'] for row in rows):,} multiply-accumulates per image. "
        f"Files: {_files_text(run)}.", "",
        *_table(["layer", "type", "output", "parameters", "MACs per image"],
                [[row["name"], row["type"], "×".join(map(str, row["output_shape"])),
                  f"{row['params']:,}", f"{row['macs']:,}"] for row in rows]), "",
        "## Data", "",
        f"- Dataset `{run['dataset']}`: {metrics.get('dataset_source', 'source not recorded')}.",
        f"- {_number(metrics.get('train_samples'), '{:,}')} training images "
        f"({train.get('validation_split', 0):.0%} of them held out for validation), "
        f"{_number(metrics.get('test_samples'), '{:,}')} test images; classes: "
        f"{', '.join(map(str, metrics.get('class_names', [])))}.",
        f"- Preprocessing of new pictures: {_preprocessing(metrics.get('preprocessing'))}.",
        *([f"- Note: {metrics['dataset_note']}"] if metrics.get("dataset_note") else []), "",
        "## Training", "",
        *_table(["setting", "value"], [[key, value] for key, value in sorted(train.items())]),
        "",
        f"Trained on host `{run['host']}` ({_trained_on(run)}) in "
        f"{_number(timings.get('wall_seconds'), '{:.1f}')} s "
        f"wall ({_number(timings.get('train_seconds'), '{:.1f}')} s inside `fit`, "
        f"{_number(timings.get('cpu_seconds'), '{:.1f}')} CPU-s), "
        f"{_number(timings.get('samples_per_second'), '{:,.0f}')} samples/s over "
        f"{timings.get('epochs_done', '?')} epochs.",
        f"Cost {settings.currency}{costs['money']:.5f} ({costs['money_inputs']}); energy "
        f"{costs['energy_wh']:.3f} Wh ({costs['energy_method']})." if costs
        else "Cost and energy: not measured (the run has no timings).",
        *([f"Found by sweep {metrics['sweep']['id']} (trial {metrics['sweep']['trial']})."]
          if metrics.get("sweep") else []), "",
        "## Accuracy", "",
        f"Test accuracy **{_number(metrics.get('test_accuracy'), '{:.2%}')}**, test loss "
        f"{_number(metrics.get('test_loss'), '{:.4f}')}.", "",
        *_table(["class", "precision", "recall", "F1", "images"],
                [[item["class"], f"{item['precision']:.3f}", f"{item['recall']:.3f}",
                  f"{item['f1']:.3f}", item["support"]]
                 for item in metrics.get("per_class", [])]), "",
        "## Calibration", "",
        *_calibration_lines(confidence), "",
        "## Exported variants", "",
        *_variant_lines(measured), "",
        "## Where the time goes", "",
        *_profile_lines(profile, run["id"]), "",
        "## Intended use and known limits", "",
        *_limits(run, metrics, confidence), "",
    ]
    progress(1.0, "done")
    return "\n".join(lines)


def write_card(store, run: dict, path: str | Path | None = None, on_progress=None) -> Path:
    """Writes the card (by default `model_card.md` in the run's folder); returns its path."""
    path = Path(path) if path else store.run_folder(run["id"]) / CARD_FILE
    write_atomic(path, card_text(store, run, on_progress).encode())
    return path


def card_for(home: str, run_id: int) -> str:
    """Writes run `run_id`'s card in its folder and returns it (for a worker process)."""
    from lepton.registry import RunStore

    store = RunStore(home)
    return write_card(store, store.resolve(run_id)).read_text()


def _installed(package: str) -> bool:
    try:
        metadata.version(package)
    except metadata.PackageNotFoundError:
        return False
    return True


def _files_text(run: dict) -> str:
    """The model files the run has, with their sizes read from disk now."""
    folder = Path(run["model_path"]).parent
    present = [(name, folder / name) for name in ("model.keras", "model.tflite")
               if (folder / name).is_file()]
    return ", ".join(f"`{name}` {path.stat().st_size:,} bytes" for name, path in present)


def _trained_on(run: dict) -> str:
    """The CPU a run trained on: a sweep trial records it; else this host's when it is the
    run's host."""
    import socket

    recorded = (run["metrics"].get("trained_on") or {}).get("cpu")
    if recorded:
        return recorded
    return cpu_model() if run["host"] == socket.gethostname() else "CPU not recorded"


def _preprocessing(kind: str | None) -> str:
    if kind == "digit":
        return ("MNIST-style: grayscale, ink made light on dark, cropped to the ink, scaled "
                "into a 20×20 box centred by its centre of mass in a 28×28 field, values 0..1")
    if kind == "plain":
        return "resized to the model's input size, values 0..1, no centring"
    return "not recorded (a run older than the preprocessing record)"


def _calibration_lines(report: dict) -> list[str]:
    if "error" in report:
        return [f"Not measured: {report['error']}"]
    before, after = report["as_trained"], report["scaled"]
    return [f"On {report['test_images']:,} test images: expected calibration error (10 bins) "
            f"**{before['ece']:.4f}** as trained, mean confidence {before['mean_confidence']:.2%}"
            f" for an accuracy of {before['accuracy']:.2%}. A temperature of "
            f"{report['temperature']:.2f}, fitted on the {report['validation_images']:,} "
            f"validation images, gives an ECE of {after['ece']:.4f} and a test loss of "
            f"{after['nll']:.4f} (as trained {before['nll']:.4f}); answers do not change."]


def _variant_lines(document: dict | None) -> list[str]:
    if document is None:
        return ["Not exported yet (`lepton export --run ID`, or the Optimize page)."]
    method = document["method"]
    rows = [[row["variant"], _number(row["bytes"], "{:,}"),
             _number(row["test_accuracy"], "{:.2%}"), _number(row["p50_ms"], "{:.3f}"),
             _number(row["p95_ms"], "{:.3f}"), _number(row["images_per_second"], "{:,.0f}"),
             _number(row.get("top1_agreement"), "{:.2%}")]
            if row["error"] is None else [row["variant"], "failed: " + row["error"], "", "", "",
                                          "", ""]
            for row in document["rows"]]
    return [f"Measured {document['measured_at']} on {method['cpu']} "
            f"({method['logical_cores']} logical cores), {method['test_images']:,} test images, "
            f"latency of one image over {method['repeats']} calls, throughput at batch "
            f"{method['batch_size']}.", "",
            *_table(["variant", "bytes", "test accuracy", "p50 ms", "p95 ms", "images/s",
                     "same answer as Keras"], rows)]


def _profile_lines(profile: dict | None, run_id: int) -> list[str]:
    if profile is None:
        return [f"Not profiled yet (`lepton profile --run {run_id}`, or the Architecture page)."]
    rows = [[layer["name"], layer["type"], f"{layer['macs']:,}", f"{layer['ms'] * 1000:.1f}",
             f"{layer['batch_ms_per_image'] * 1000:.2f}"] for layer in profile["layers"]]
    return [f"Each layer alone in LiteRT fp32 on {profile['method']['cpu']}, measured "
            f"{profile['measured_at']}; whole model {profile['model']['ms'] * 1000:.1f} µs for "
            f"one image.", "",
            *_table(["layer", "type", "MACs", "one image µs", "batch µs per image"], rows)]


def _limits(run: dict, metrics: dict, confidence: dict) -> list[str]:
    kind = metrics.get("preprocessing")
    lines = ["- Intended use: demonstrating and comparing how a small CNN trades speed, cost "
             "and accuracy; classifying pictures like its training data."]
    if kind == "digit":
        lines.append("- Expects one handwritten digit per picture, MNIST-style; several "
                     "digits, letters, photos of scenes or digits touching the border are "
                     "outside what it learnt, and it will still name a digit.")
    tested = metrics.get("test_samples") or confidence.get("test_images")
    lines.append(f"- Measured on {_number(tested, '{:,}')} test images of `{run['dataset']}` "
                 "only; accuracy on other pictures may be lower.")
    if "error" not in confidence and confidence["as_trained"]["ece"] > 0.05:
        lines.append(f"- Its confidence is off by {confidence['as_trained']['ece']:.1%} on "
                     "average (ECE): do not read a probability as a chance of being right "
                     "without the temperature above.")
    lines.append("- Not for decisions about people, safety or money.")
    return lines
