"""What every `lepton` command shares: exit codes, the usage error, output and progress."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(ValueError):
    """Bad arguments: exit code 2."""


def emit(args, document: dict, lines: list[str]) -> None:
    """The command's answer on stdout: one JSON document with --json, else the lines."""
    text = json.dumps(document, indent=2) if args.json else "\n".join(lines)
    print(text, file=args.output)


def progress(text: str) -> None:
    """What is happening now, on stderr (stdout holds only the answer)."""
    print(text, file=sys.stderr, flush=True)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of 1 or more."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def resolve(store, reference: str) -> dict:
    """A finished run by id, latest or best; a usage error (exit 2) when there is none."""
    try:
        return store.resolve(reference)
    except ValueError as error:
        raise UsageError(str(error)) from None


@contextmanager
def published_progress(path, say, what: str):
    """Progress for `say`, and also into the JSON file at `path` when given (a page follows
    it): "done" when the block ends, "failed" with the error when it raises."""
    from lepton.background import ProgressFile

    published = ProgressFile(path, say) if path else None
    try:
        yield published or say
    except BaseException as error:
        if published:  # the page following it shows why
            published.write(0.0, f"{what} failed", status="failed",
                            error=f"{type(error).__name__}: {error}")
        raise
    if published:
        published.write(1.0, "Done", status="done")
