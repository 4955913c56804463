"""Command line: lepton (or python -m lepton)
{datasets,train,evaluate,predict,export,calibrate,runs,sweep,profile,card,prune} [--json].

`datasets` lists; `datasets import PATH --name NAME` imports a .zip or .npz; `datasets delete NAME`.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from pathlib import Path

from lepton.cli_common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    emit,
    positive_int,
    progress,
    published_progress,
    resolve,
)
from lepton.cli_datasets import cmd_datasets
from lepton.cli_prune import add_prune_command, cmd_prune
from lepton.cli_ship import add_ship_commands, cmd_card, cmd_profile
from lepton.cli_sweep import add_sweep_command, cmd_sweep
from lepton.data import DATASET_NAMES


def _filters(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated filter counts such as 32,64, got {text!r}"
        ) from None


def _variants(text: str) -> tuple[str, ...]:
    from lepton.export import VARIANTS

    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [part for part in chosen if part not in VARIANTS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated variants from {','.join(VARIANTS)}, got {text!r}"
        )
    return tuple(dict.fromkeys(chosen))  # keeps the order given, drops repeats


def _dataset_name(text: str) -> str:
    from lepton.data import available_datasets

    names = available_datasets()
    if text not in names:
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r} (choose from {', '.join(names)})"
        )
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lepton", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        return sub

    datasets = command("datasets", "list, import (.zip of class folders or .npz) or delete "
                                   "datasets")
    datasets.add_argument("action", nargs="?", choices=("list", "import", "delete"),
                          default="list")
    datasets.add_argument("target", nargs="?", help="import: the .zip/.npz file; delete: a name")
    datasets.add_argument("--name", help="import: the new dataset's name, e.g. pets-32")
    datasets.add_argument("--size", type=positive_int, default=28,
                          help="import: input height and width in pixels")
    datasets.add_argument("--channels", type=int, choices=(1, 3), default=1,
                          help="import: 1 grayscale, 3 RGB")
    datasets.add_argument("--digit-like", action="store_true",
                          help="import: MNIST-style centring (28×28×1) instead of a plain resize")
    datasets.add_argument("--test-fraction", type=float, default=0.2,
                          help="import: share held out for testing when the source has no split")
    datasets.add_argument("--seed", type=int, default=0, help="import: seed of that split")
    datasets.add_argument("--overwrite", action="store_true",
                          help="import: replace an imported dataset of the same name")

    train = command(
        "train", "train a CNN and store the run. With no recipe flags it trains exactly the "
                 "Train page's default recipe (this host's calibrated or safe execution settings, "
                 "mild augmentation, cosine decay; see `--recipe`); each flag given overrides "
                 "one setting of the chosen recipe.")
    train.add_argument("--dataset", type=_dataset_name, default="auto",
                       help=f"{', '.join(DATASET_NAMES)} or an imported dataset's name")
    train.add_argument("--recipe", default="default",
                       help="default: Lepton's (as the Train page); article: the article's script "
                            "as printed (float32, batch 32, Adam 0.001, 5 epochs, no augmentation)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--optimizer", help="adam, sgd or rmsprop")
    train.add_argument("--validation-split", type=float)
    train.add_argument("--subset", type=int, help="training samples to keep")
    train.add_argument("--seed", type=int)
    train.add_argument("--precision", help="float32 or mixed_bfloat16")
    train.add_argument("--steps-per-execution", type=int,
                       help="training steps per call into the compiled graph")
    train.add_argument("--threads", type=int, help="TensorFlow intra-op threads (0 = default)")
    train.add_argument("--augmentation", help="none or mild (random shifts, rotation, zoom)")
    train.add_argument("--schedule", help="constant or cosine (learning-rate decay)")
    train.add_argument("--filters", type=_filters, help="filters per conv block, e.g. 32,64 "
                                                        "(1 to 3 blocks; default 32,64)")
    train.add_argument("--kernel-size", type=int, help="default 3")
    train.add_argument("--pooling", help="max (default) or avg")
    train.add_argument("--dense-units", type=int, help="default 128")
    train.add_argument("--dropout", type=float, help="default 0")
    train.add_argument("--activation", help="relu (default), sigmoid or tanh")

    evaluate = command("evaluate", "evaluate a stored run on a test set")
    evaluate.add_argument("--run", default="latest", help="run id, latest or best")
    evaluate.add_argument("--dataset", type=_dataset_name, default=None,
                          help="defaults to the run's own dataset")

    predict = command("predict", "predict image files with a stored run")
    predict.add_argument("--run", default="latest", help="run id, latest or best")
    predict.add_argument("--top", type=positive_int, default=3, help="classes to list")
    predict.add_argument("files", nargs="+", type=Path)

    export = command("export", "export a run as TFLite fp32/fp16/int8 and ONNX and measure each "
                               "variant")
    export.add_argument("--run", default="latest", help="run id, latest or best")
    export.add_argument("--variants", type=_variants,
                        default="fp32,fp16,int8-dynamic,int8-full,onnx",
                        help="comma-separated: fp32, fp16, int8-dynamic, int8-full, onnx")
    export.add_argument("--repeats", type=positive_int, default=1000,
                        help="single-image latency samples per variant")
    export.add_argument("--progress-file", type=Path,
                        help="also publish progress as JSON there (the app follows it)")

    calibrate = command("calibrate", "find this host's fastest execution settings (precision, "
                                     "batch size, steps per execution, threads, input pipeline) "
                                     "by measurement; the winner becomes the default recipe's")
    calibrate.add_argument("--quick", action="store_true", help="a few settings, fewer epochs")

    command("runs", "list stored runs")
    add_sweep_command(command)
    add_ship_commands(command)
    add_prune_command(command)
    return parser


# TrainConfig fields set by the --flag of the same name; the model flags, by flag → field.
TRAIN_FIELDS = ("optimizer", "learning_rate", "batch_size", "epochs", "validation_split", "seed",
                "subset", "precision", "steps_per_execution", "threads", "augmentation",
                "schedule")
MODEL_FLAGS = {"filters": "filters", "kernel_size": "kernel_size", "pooling": "pooling",
               "dense_units": "dense_units", "dropout": "dropout_rate",
               "activation": "activation"}


def _given(args, flags: dict) -> dict:
    """The settings whose flags were given, keyed by their config field."""
    return {field: getattr(args, flag) for flag, field in flags.items()
            if getattr(args, flag) is not None}


def cmd_train(args, store) -> int:
    from lepton.jobs import JobManager
    from lepton.model import ModelConfig
    from lepton.recipes import recipe_config

    try:
        model_config = ModelConfig(**_given(args, MODEL_FLAGS))
        changes = _given(args, {name: name for name in TRAIN_FIELDS})
        train_config = recipe_config(args.recipe, store.home, **changes)
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None
    jobs = JobManager(store)
    run_id = jobs.start(args.dataset, model_config, train_config)
    progress(f"run {run_id}: training on {args.dataset} in worker process {jobs.pid} "
              f"({args.recipe} recipe; Ctrl-C stops after the current batch)")
    previous_handler = signal.signal(signal.SIGINT, lambda *_: jobs.stop(run_id))
    try:
        reported = 0
        while not jobs.wait(0.25):
            reported = _report_epochs(store, run_id, train_config.epochs, reported)
        _report_epochs(store, run_id, train_config.epochs, reported)
    finally:
        signal.signal(signal.SIGINT, previous_handler)
    run = store.get_run(run_id)
    metrics, timings = run["metrics"], run["timings"]
    epochs_done = timings.get("epochs_done") or 0
    document = {
        "run_id": run["id"],
        "status": run["status"],
        "reason": run["reason"],
        "dataset": run["dataset"],
        "dataset_source": metrics.get("dataset_source"),
        "dataset_note": metrics.get("dataset_note"),
        "test_accuracy": metrics.get("test_accuracy"),
        "test_loss": metrics.get("test_loss"),
        "wall_seconds": timings.get("wall_seconds"),
        "cpu_seconds": timings.get("cpu_seconds"),
        "samples_per_second": timings.get("samples_per_second"),
        "steady_samples_per_second": timings.get("steady_samples_per_second"),
        "recipe": args.recipe,
        "train_config": run["train_config"],
        "seconds_per_epoch": (timings["train_seconds"] / epochs_done) if epochs_done else None,
        "peak_rss_bytes": timings.get("peak_rss_bytes"),
        "params": metrics.get("params"),
        "model_bytes": metrics.get("model_bytes"),
        "model_path": run["model_path"],
    }
    lines = [f"run {run['id']}: {run['status']} {run['reason']}".rstrip()]
    if document["test_accuracy"] is not None:
        lines.append(
            f"dataset {run['dataset']} ({document['dataset_source']})\n"
            f"test accuracy {document['test_accuracy']:.4f}, test loss {document['test_loss']:.4f}"
            f"\n{document['wall_seconds']:.1f} s wall, {document['samples_per_second']:,.0f} "
            f"samples/s\nmodel {run['model_path']}"
        )
    emit(args, document, lines)
    return EXIT_OK if run["status"] == "done" else EXIT_FAILURE


def _report_epochs(store, run_id: int, epochs: int, reported: int) -> int:
    """Prints the epochs finished since the last call; returns how many are printed now."""
    rows = store.epochs(run_id, after=reported)
    for row in rows:
        progress(f"epoch {row['epoch']}/{epochs}: loss {row['loss']:.4f}, accuracy "
                  f"{row['accuracy']:.4f}, {row['seconds']:.1f} s, "
                  f"{row['samples_per_second']:,.0f} samples/s")
    return reported + len(rows)


def cmd_evaluate(args, store) -> int:
    from lepton.data import load_dataset
    from lepton.evaluation import evaluate_probabilities
    from lepton.prediction import predictor_for

    run = resolve(store, args.run)
    dataset = load_dataset(args.dataset or run["dataset"])
    predictor = predictor_for(run["model_path"], convert_missing=True)
    expected = predictor.input_shape
    if dataset.input_shape != expected or dataset.num_classes != predictor.num_classes:
        raise UsageError(
            f"Run {run['id']} expects {expected} images and {predictor.num_classes} classes; "
            f"{dataset.name} has {dataset.input_shape} and {dataset.num_classes}."
        )
    metrics = evaluate_probabilities(predictor(dataset.x_test), dataset.y_test,
                                     dataset.class_names)
    document = {"run_id": run["id"], "dataset": dataset.name, "dataset_source": dataset.source,
                **metrics}
    lines = [f"run {run['id']} on {dataset.name}: accuracy {metrics['test_accuracy']:.4f}, "
             f"loss {metrics['test_loss']:.4f} over {metrics['test_samples']} images"]
    lines += [f"  {row['class']:>12}: precision {row['precision']:.3f} recall {row['recall']:.3f}"
              f" F1 {row['f1']:.3f}" for row in metrics["per_class"]]
    emit(args, document, lines)
    return EXIT_OK


def cmd_predict(args, store) -> int:
    from lepton import prediction

    run = resolve(store, args.run)
    try:
        reference = prediction.ModelReference.of_run(run)
    except ValueError as error:
        raise UsageError(str(error)) from None
    predictions = []
    for path in args.files:
        try:
            data = path.read_bytes()
        except OSError as error:
            answer = prediction.Prediction(file=str(path), error=str(error))
        else:  # latency_ms counts from here: decode + preprocess + inference, not the read
            answer = prediction.predict(reference, str(path), data)
        predictions.append(answer.to_json(args.top))
    lines = [
        f"{item['file']}: error: {item['error']}" if item["error"]
        else f"{item['file']}: {item['label']} ({item['confidence']:.1%}) in "
             f"{item['latency_ms']:.1f} ms"
        for item in predictions
    ]
    emit(args, {"run_id": run["id"], "predictions": predictions}, lines)
    return EXIT_OK if all(item["error"] is None for item in predictions) else EXIT_FAILURE


def _size(count: int | None) -> str:
    if count is None:
        return "-"
    return f"{count / 1e6:.2f} MB" if count >= 1e6 else f"{count / 1e3:.0f} KB"


def cmd_export(args, store) -> int:

    def report(fraction: float, text: str) -> None:
        progress(f"  {text}")

    with published_progress(args.progress_file, report, "export") as on_progress:
        run, dataset, rows = _export(args, store, on_progress)
    keys = ("variant", "path", "bytes", "test_accuracy", "p50_ms", "p95_ms",
            "images_per_second", "size_vs_keras", "accuracy_delta", "top1_agreement",
            "max_abs_diff", "convert_seconds", "error")
    document = {"run_id": run["id"], "dataset": dataset.name,
                "variants": [{key: row.get(key) for key in keys} for row in rows]}
    lines = [f"run {run['id']} on {dataset.name} ({len(dataset.y_test):,} test images); "
             f"latency = one image, {args.repeats} repeats; throughput = batches of 256",
             f"{'variant':<13} {'size':>9} {'vs keras':>8} {'accuracy':>8} {'Δ acc':>7} "
             f"{'p50 ms':>8} {'p95 ms':>8} {'img/s':>9}  file"]
    for row in rows:
        if row["error"]:
            lines.append(f"{row['variant']:<13} failed: {row['error']}")
            continue
        lines.append(
            f"{row['variant']:<13} {_size(row['bytes']):>9} {row['size_vs_keras']:>8.1%} "
            f"{row['test_accuracy']:>8.4f} {row['accuracy_delta'] * 100:>+5.2f}pp "
            f"{row['p50_ms']:>8.3f} {row['p95_ms']:>8.3f} {row['images_per_second']:>9,.0f}  "
            f"{row['path']}"
        )
    emit(args, document, lines)
    return EXIT_OK if all(row["error"] is None for row in rows) else EXIT_FAILURE


def _export(args, store, on_progress) -> tuple[dict, object, list[dict]]:
    from lepton.data import load_dataset
    from lepton.export import export_run

    run = resolve(store, args.run)
    dataset = load_dataset(run["dataset"])
    progress(f"run {run['id']}: exporting {', '.join(args.variants)} and measuring on "
              f"{len(dataset.y_test):,} {dataset.name} test images")
    try:
        rows = export_run(store, run, dataset, args.variants, repeats=args.repeats,
                          on_progress=on_progress)
    except ValueError as error:  # a dataset that does not fit the model
        raise UsageError(str(error)) from None
    return run, dataset, rows


def cmd_calibrate(args, store) -> int:
    from lepton import fastpath

    arguments = ["calibrate", "--home", str(store.home)]
    arguments += ["--quick"] * args.quick + ["--json"] * args.json
    return fastpath.main(arguments)


def cmd_runs(args, store) -> int:
    runs = store.list_runs()
    rows = [
        {"id": run["id"], "created": run["created"], "status": run["status"],
         "reason": run["reason"], "dataset": run["dataset"],
         "test_accuracy": run["metrics"].get("test_accuracy"),
         "wall_seconds": run["timings"].get("wall_seconds"),
         "samples_per_second": run["timings"].get("samples_per_second"),
         "model_config": run["model_config"], "train_config": run["train_config"],
         "model_path": run["model_path"]}
        for run in runs
    ]
    lines = [f"{'id':>4} {'status':<12} {'dataset':<14} {'accuracy':>8} {'wall s':>8}  created"]
    for row in rows:
        accuracy = f"{row['test_accuracy']:.4f}" if row["test_accuracy"] is not None else "-"
        wall = f"{row['wall_seconds']:.1f}" if row["wall_seconds"] is not None else "-"
        lines.append(f"{row['id']:>4} {row['status']:<12} {row['dataset']:<14} {accuracy:>8} "
                     f"{wall:>8}  {row['created']}")
    emit(args, {"runs": rows}, lines)
    return EXIT_OK


COMMANDS = {"datasets": cmd_datasets, "train": cmd_train, "evaluate": cmd_evaluate,
            "predict": cmd_predict, "export": cmd_export, "calibrate": cmd_calibrate,
            "runs": cmd_runs, "sweep": cmd_sweep, "profile": cmd_profile, "card": cmd_card,
            "prune": cmd_prune}


def main(argv: list[str] | None = None) -> int:
    from lepton.registry import RunStore

    args = build_parser().parse_args(argv)
    args.output = sys.stdout
    try:
        store = RunStore()
        # Libraries print progress on stdout; with --json it must hold only the JSON document.
        quiet = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
        with quiet:
            return COMMANDS[args.command](args, store)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (RuntimeError, ValueError, OSError) as error:  # TrainingBusy is a RuntimeError
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILURE
