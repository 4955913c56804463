"""Command line: python -m lepton {datasets,train,evaluate,predict,runs} [--json]."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path

from lepton.data import DATASET_NAMES

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(ValueError):
    """Bad arguments: exit code 2."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _filters(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated filter counts such as 32,64, got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lepton", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        return sub

    command("datasets", "list the built-in datasets and whether they load here")

    train = command("train", "train a CNN and store the run")
    train.add_argument("--dataset", choices=DATASET_NAMES, default="auto")
    train.add_argument("--epochs", type=int, default=5)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--optimizer", default="adam")
    train.add_argument("--validation-split", type=float, default=0.1)
    train.add_argument("--subset", type=int, default=None, help="training samples to keep")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--filters", type=_filters, default=(32, 64),
                       help="filters per conv block, e.g. 32,64 (1 to 3 blocks)")
    train.add_argument("--kernel-size", type=int, default=3)
    train.add_argument("--pooling", default="max", help="max or avg")
    train.add_argument("--dense-units", type=int, default=128)
    train.add_argument("--dropout", type=float, default=0.0)
    train.add_argument("--activation", default="relu", help="relu, sigmoid or tanh")

    evaluate = command("evaluate", "evaluate a stored run on a test set")
    evaluate.add_argument("--run", default="latest", help="run id, latest or best")
    evaluate.add_argument("--dataset", choices=DATASET_NAMES, default=None,
                          help="defaults to the run's own dataset")

    predict = command("predict", "predict image files with a stored run")
    predict.add_argument("--run", default="latest", help="run id, latest or best")
    predict.add_argument("--top", type=_positive_int, default=3, help="classes to list")
    predict.add_argument("files", nargs="+", type=Path)

    command("runs", "list stored runs")
    return parser


def _emit(args, document: dict, lines: list[str]) -> None:
    text = json.dumps(document, indent=2) if args.json else "\n".join(lines)
    print(text, file=args.output)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_datasets(args, store) -> int:
    from lepton.data import describe_datasets

    datasets = describe_datasets()
    _emit(args, {"datasets": datasets}, [
        f"{item['name']:<14} {'yes' if item['available'] else 'no ':<4} {item['where']}"
        for item in datasets
    ])
    return EXIT_OK


def cmd_train(args, store) -> int:
    from lepton.jobs import TrainingLock, execute_run
    from lepton.model import ModelConfig
    from lepton.training import TrainConfig

    try:
        model_config = ModelConfig(
            filters=args.filters, kernel_size=args.kernel_size, pooling=args.pooling,
            dense_units=args.dense_units, dropout_rate=args.dropout, activation=args.activation,
        )
        train_config = TrainConfig(
            optimizer=args.optimizer, learning_rate=args.learning_rate,
            batch_size=args.batch_size, epochs=args.epochs,
            validation_split=args.validation_split, seed=args.seed, subset=args.subset,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    lock = TrainingLock(store.home)
    lock.acquire("started from the command line")
    stop = threading.Event()
    previous_handler = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        run_id = store.create_run(args.dataset, model_config.to_dict(), train_config.to_dict())
        _progress(f"run {run_id}: training on {args.dataset} (Ctrl-C stops after this batch)")

        def report(event: dict) -> None:
            if event["type"] == "epoch":
                _progress(
                    f"epoch {event['epoch']}/{train_config.epochs}: loss {event['loss']:.4f}, "
                    f"accuracy {event['accuracy']:.4f}, {event['seconds']:.1f} s, "
                    f"{event['samples_per_second']:,.0f} samples/s"
                )

        run = execute_run(store, run_id, should_stop=stop.is_set, on_event=report)
    finally:
        signal.signal(signal.SIGINT, previous_handler)
        lock.release()
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
    _emit(args, document, lines)
    return EXIT_OK if run["status"] == "done" else EXIT_FAILURE


def _resolve(store, reference: str) -> dict:
    try:
        return store.resolve(reference)
    except ValueError as error:
        raise UsageError(str(error)) from None


def cmd_evaluate(args, store) -> int:
    from lepton.data import load_dataset
    from lepton.evaluation import evaluate
    from lepton.inference import load_model

    run = _resolve(store, args.run)
    dataset = load_dataset(args.dataset or run["dataset"])
    model = load_model(run["model_path"])
    expected = tuple(model.input_shape[1:])
    if dataset.input_shape != expected or dataset.num_classes != model.output_shape[-1]:
        raise UsageError(
            f"Run {run['id']} expects {expected} images and {model.output_shape[-1]} classes; "
            f"{dataset.name} has {dataset.input_shape} and {dataset.num_classes}."
        )
    metrics = evaluate(model, dataset.x_test, dataset.y_test, dataset.class_names)
    document = {"run_id": run["id"], "dataset": dataset.name, "dataset_source": dataset.source,
                **metrics}
    lines = [f"run {run['id']} on {dataset.name}: accuracy {metrics['test_accuracy']:.4f}, "
             f"loss {metrics['test_loss']:.4f} over {metrics['test_samples']} images"]
    lines += [f"  {row['class']:>12}: precision {row['precision']:.3f} recall {row['recall']:.3f}"
              f" F1 {row['f1']:.3f}" for row in metrics["per_class"]]
    _emit(args, document, lines)
    return EXIT_OK


def cmd_predict(args, store) -> int:
    import numpy as np

    from lepton.imaging import preprocess_image
    from lepton.inference import Predictor, load_model, top_k

    run = _resolve(store, args.run)
    class_names = tuple(run["metrics"].get("class_names") or [str(i) for i in range(10)])
    predictor = Predictor(load_model(run["model_path"]))
    predictions = []
    for path in args.files:
        entry = {"file": str(path), "label": None, "confidence": None, "probabilities": None,
                 "top": None, "error": None}
        try:
            image = preprocess_image(path.read_bytes())
            probabilities = predictor(image.input[np.newaxis])[0]
        except (OSError, ValueError) as error:
            entry["error"] = str(error)
        else:
            best = top_k(probabilities, class_names, args.top)
            entry.update(
                label=best[0]["class"], confidence=best[0]["probability"],
                probabilities={name: float(p) for name, p in zip(class_names, probabilities)},
                top=best,
            )
        predictions.append(entry)
    lines = [
        f"{item['file']}: error: {item['error']}" if item["error"]
        else f"{item['file']}: {item['label']} ({item['confidence']:.1%})"
        for item in predictions
    ]
    _emit(args, {"run_id": run["id"], "predictions": predictions}, lines)
    return EXIT_OK if all(item["error"] is None for item in predictions) else EXIT_FAILURE


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
    _emit(args, {"runs": rows}, lines)
    return EXIT_OK


COMMANDS = {"datasets": cmd_datasets, "train": cmd_train, "evaluate": cmd_evaluate,
            "predict": cmd_predict, "runs": cmd_runs}


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
