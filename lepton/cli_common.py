"""What every `lepton` command shares: exit codes, the usage error, output and progress."""

from __future__ import annotations

import json
import sys

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
