"""What every benchmark does with its result: print it and keep it in benchmarks/results/."""

import sys
from pathlib import Path


def publish(text: str, path: Path) -> None:
    """Prints `text` and writes it to `path` (folders made as needed)."""
    print(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"written to {path}", file=sys.stderr)
