"""`lepton profile` and `lepton card`: where a run's time goes, and what to hand over."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lepton.cli_common import EXIT_OK, positive_int, published_progress, resolve


def add_ship_commands(command) -> None:
    """Adds `profile` and `card`; `command(name, help)` makes a sub-parser with --json."""
    profile = command("profile", "time each layer of a run on its own in LiteRT (one image and "
                                 "per image of a batch of 256) beside its MACs")
    profile.add_argument("--run", default="latest", help="run id, latest or best")
    profile.add_argument("--repeats", type=positive_int, default=300,
                         help="one-image samples per layer")
    profile.add_argument("--progress-file", type=Path,
                         help="also publish progress as JSON there (the app follows it)")
    card = command("card", "write a Markdown model card of a run, every figure read from the "
                           "store or measured now")
    card.add_argument("--run", default="latest", help="run id, latest or best")
    card.add_argument("--output", type=Path, dest="card_path",
                      help="where to write it (default: model_card.md in the run's folder)")


def _say(fraction: float, text: str) -> None:
    print(f"  [{fraction:4.0%}] {text}", file=sys.stderr, flush=True)


def cmd_profile(args, store) -> int:
    from lepton.data import load_dataset
    from lepton.profiling import profile_run

    run = resolve(store, args.run)
    with published_progress(args.progress_file, _say, "profile") as on_progress:
        document = profile_run(store, run, load_dataset(run["dataset"]), args.repeats,
                               on_progress=on_progress)
    if args.json:
        print(json.dumps(document, indent=2), file=args.output)
        return EXIT_OK
    lines = [f"run {run['id']} on {document['method']['cpu']} (LiteRT fp32, each layer alone)",
             f"{'layer':14} {'type':14} {'MACs':>11} {'1 image µs':>11} {'batch µs/img':>13}"]
    for layer in document["layers"]:
        lines.append(f"{layer['name']:14} {layer['type']:14} {layer['macs']:>11,} "
                     f"{layer['ms'] * 1000:>11.1f} {layer['batch_ms_per_image'] * 1000:>13.2f}")
    lines.append(f"whole model: {document['model']['ms'] * 1000:.1f} µs one image, "
                 f"{document['model']['batch_ms_per_image'] * 1000:.2f} µs per image of a batch "
                 f"(layers alone add up to {document['layers_ms'] * 1000:.1f} µs)")
    print("\n".join(lines), file=args.output)
    return EXIT_OK


def cmd_card(args, store) -> int:
    from lepton.model_card import write_card

    run = resolve(store, args.run)
    path = write_card(store, run, args.card_path, on_progress=_say)
    if args.json:
        print(json.dumps({"run_id": run["id"], "path": str(path)}, indent=2), file=args.output)
    else:
        print(path.read_text(), file=args.output)
    return EXIT_OK
