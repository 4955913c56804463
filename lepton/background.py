"""Long work in its own process, its progress in a JSON file any process can read.

Calibrations and exports run this way: a page starts them (`start`), follows them
(`read_progress`) from any session or a restarted server, and never runs them itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from lepton.i18n import Message, message, recorded

ProgressHandler = Callable[[float, "str | Message"], None]


def write_atomic(path: Path, data: bytes) -> None:
    """Writes a file so readers (a page, a download, another process) never see half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, document) -> None:
    write_atomic(path, json.dumps(document, indent=2).encode())


def read_json(path: Path):
    """The document at `path`; None when missing, unreadable or not JSON."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


class ProgressFile:
    """Publishes one job's progress (fraction, text, status) in a JSON file, atomically."""

    def __init__(self, path: str | Path, on_progress: ProgressHandler | None = None):
        self.path = Path(path)
        self.on_progress = on_progress
        self.started = datetime.now(UTC).isoformat(timespec="seconds")

    def write(self, fraction: float, text: str | Message, status: str = "running",
              error: str | None = None, pid: int | None = None) -> None:
        """`text` in English in the file's "text"; a Message also as "text_message", for a
        page to show in its language (`text_of`)."""
        record = {
            "status": status, "fraction": round(min(max(fraction, 0.0), 1.0), 4),
            "text": str(text), "error": error, "pid": pid or os.getpid(),
            "started": self.started, "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if isinstance(text, Message):
            record["text_message"] = text.to_dict()
        write_json_atomic(self.path, record)

    def __call__(self, fraction: float, text: str | Message) -> None:
        self.write(fraction, text)
        if self.on_progress:
            self.on_progress(fraction, text)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:  # a finished child nobody waited for yet is a zombie: it will never write again
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def read_progress(path: str | Path, what: str = "job") -> dict | None:
    """A job's progress record (status running, done or failed; fraction, text, error, pid,
    started, updated); None before the first job. A "running" record whose process is gone
    reads as failed, the error naming `what` ended early. With a "message", `text_of` shows it
    in any language."""
    record = read_json(Path(path))
    if not isinstance(record, dict) or "status" not in record:
        return None
    if record["status"] == "running" and isinstance(record.get("pid"), int) \
            and not process_alive(record["pid"]):
        record = {**record, "status": "failed",
                  "error": f"the {what} process ended before it finished"}
    return record


def text_of(record: dict, language: str) -> str:
    """What a progress record says, in `language` when it carries a message."""
    text = recorded(record, "text")
    return text.text(language) if isinstance(text, Message) else text


def project_environment() -> dict:
    """The environment for a child `python -m lepton…`: this project importable, output
    unbuffered (so its log is current)."""
    environment = dict(os.environ)
    project = str(Path(__file__).resolve().parent.parent)
    environment["PYTHONPATH"] = os.pathsep.join(
        part for part in (project, environment.get("PYTHONPATH", "")) if part
    )
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


def start(arguments: list[str], log_path: str | Path,
          progress_path: str | Path) -> subprocess.Popen:
    """Starts `python -m <arguments>` in its own session, output appended to `log_path`; its
    progress file first says "starting" with the child's pid, so a child that dies before its
    first write reads as failed."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", *arguments], stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   env=project_environment(), start_new_session=True)
    ProgressFile(progress_path).write(0.0, message("common.process_starting"), pid=process.pid)
    return process
