"""`lepton prune`: magnitude pruning with fine-tuning of a stored run (see `lepton.pruning`)."""

from __future__ import annotations

import json
import signal
import sys

from lepton.cli_common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, positive_int, resolve

KEYS = ("run_id", "parent_run_id", "sparsity", "test_accuracy", "parent_test_accuracy",
        "gzip_bytes", "parent_gzip_bytes", "weights_gzip_bytes", "parent_weights_gzip_bytes",
        "int8_gzip_bytes", "int8_test_accuracy", "latency_ms", "parent_latency_ms")


def add_prune_command(command) -> None:
    prune = command("prune", "set a finished run's smallest weights to zero and fine-tune it "
                             "(a new run, linked to its parent); measures accuracy, gzip "
                             "size and LiteRT latency against the parent")
    prune.add_argument("--run", default="latest", help="run id, latest or best")
    prune.add_argument("--sparsity", type=float, required=True,
                       help="share of the Conv2D and Dense weights set to zero, e.g. 0.8")
    prune.add_argument("--epochs", type=positive_int, default=3,
                       help="fine-tuning epochs (default 3)")
    prune.add_argument("--schedule", default="gradual", help="gradual (default) or one-shot")
    prune.add_argument("--scope", default="global",
                       help="global (default: one threshold over all layers) or layer")


def cmd_prune(args, store) -> int:
    from lepton.jobs import JobManager
    from lepton.pruning import PruneSpec, start_pruning

    parent = resolve(store, args.run)
    try:
        spec = PruneSpec(parent["id"], args.sparsity, args.epochs, args.schedule, args.scope)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    jobs = JobManager(store)
    run_id = start_pruning(jobs, parent, spec)
    print(f"run {run_id}: pruning run {parent['id']} to {spec.sparsity:.0%} and fine-tuning "
          f"{spec.epochs} epochs in worker process {jobs.pid} (Ctrl-C stops it)",
          file=sys.stderr, flush=True)
    previous = signal.signal(signal.SIGINT, lambda *_: jobs.stop(run_id))
    try:
        while not jobs.wait(0.5):
            pass
    finally:
        signal.signal(signal.SIGINT, previous)
    run = store.get_run(run_id)
    metrics = run["metrics"]
    document = {"run_id": run_id, "status": run["status"], "reason": run["reason"],
                **{key: metrics.get(key) for key in KEYS if key != "run_id"},
                "parent_run_id": parent["id"], "pruning": spec.to_dict(),
                "model_path": run["model_path"]}
    if args.json:
        print(json.dumps(document, indent=2), file=args.output)
    else:
        print(_text(document), file=args.output)
    return EXIT_OK if run["status"] == "done" else EXIT_FAILURE


def _text(document: dict) -> str:
    if document["status"] != "done":
        return f"run {document['run_id']}: {document['status']} {document['reason']}"

    def figure(value, pattern: str) -> str:
        return "not measured" if value is None else pattern.format(value)

    return "\n".join([
        f"run {document['run_id']}: {figure(document['sparsity'], '{:.1%}')} of the weights are "
        f"zero (pruned from run {document['parent_run_id']})",
        f"test accuracy {figure(document['test_accuracy'], '{:.4f}')} "
        f"(parent {figure(document['parent_test_accuracy'], '{:.4f}')})",
        f"LiteRT fp32 gzipped {figure(document['gzip_bytes'], '{:,} B')} (parent "
        f"{figure(document['parent_gzip_bytes'], '{:,} B')}); with int8 "
        f"{figure(document['int8_gzip_bytes'], '{:,} B')}",
        f"one-image latency {figure(document['latency_ms'], '{:.3f} ms')} (parent "
        f"{figure(document['parent_latency_ms'], '{:.3f} ms')}: unstructured zeros are still "
        "multiplied)",
    ])
