"""The stored calibrations (`LEPTON_HOME/fastpath.json`) and the settings they give."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from lepton.background import read_json, write_json_atomic
from lepton.fastpath.candidates import SAFE_DEFAULT, Candidate
from lepton.fastpath.fingerprint import fingerprint_key, host_fingerprint
from lepton.fastpath.judging import ACCURACY_TOLERANCE

CALIBRATION_FILE = "fastpath.json"
FILE_VERSION = 1
NOT_CALIBRATED = ("safe default for this CPU's features: not calibrated on this host yet; run "
                  "`python -m lepton calibrate`")


def _read_hosts(home: Path) -> dict:
    document = read_json(Path(home) / CALIBRATION_FILE)
    if not isinstance(document, dict) or not isinstance(document.get("hosts"), dict):
        return {}
    return document["hosts"]


def save_calibration(home: str | Path, rows: list[dict], winner: dict,
                     seconds: float | None = None) -> dict:
    """Stores the table and the winner as this host's entry of `fastpath.json`; returns it.

    Entries of other hosts (other fingerprints) in the file are kept.
    """
    home = Path(home)
    fingerprint = host_fingerprint()
    entry = {
        "fingerprint": fingerprint,
        "key": fingerprint_key(fingerprint),
        "cpu": fingerprint["cpu"],
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "winner": {**Candidate.from_dict(winner).to_dict(),
                   **{key: winner.get(key) for key in ("samples_per_second", "speedup",
                                                        "test_accuracy")}},
        "rows": rows,
        "seconds": seconds,
        "accuracy_tolerance": ACCURACY_TOLERANCE,
    }
    hosts = _read_hosts(home)
    hosts[entry["key"]] = entry
    write_json_atomic(home / CALIBRATION_FILE, {"version": FILE_VERSION, "hosts": hosts})
    return entry


def load_calibration(home: str | Path) -> dict | None:
    """This host's entry of `fastpath.json` (table, winner, date, CPU), or None.

    None too when the file is missing or unreadable, or its entry for this host is malformed.
    """
    entry = _read_hosts(Path(home)).get(fingerprint_key(host_fingerprint()))
    if not isinstance(entry, dict) or not isinstance(entry.get("winner"), dict):
        return None
    try:
        Candidate.from_dict(entry["winner"])
    except (TypeError, ValueError):
        return None
    return entry


def execution_settings(home: str | Path | None = None) -> tuple[dict, str]:
    """This host's calibrated winner, or `SAFE_DEFAULT`, and a sentence saying which.

    Returns:
        (settings, source): `settings` holds the `Candidate` fields (`TrainConfig`'s
        precision, batch_size, learning_rate, steps_per_execution and threads, and pipeline).
    """
    if home is None:
        from lepton.registry import default_home

        home = default_home()
    entry = load_calibration(home)
    if entry is None:
        return SAFE_DEFAULT.to_dict(), NOT_CALIBRATED
    winner = Candidate.from_dict(entry["winner"])
    speed = entry["winner"].get("samples_per_second")
    speedup = entry["winner"].get("speedup")
    measured = str(entry.get("measured", ""))[:10] or "an unknown date"
    details = []
    if isinstance(speed, (int, float)):
        details.append(f"{speed:,.0f} samples/s")
    if isinstance(speedup, (int, float)):
        details.append(f"{speedup:.1f}× the float32 batch-32 baseline")
    suffix = f" ({', '.join(details)})" if details else ""
    source = f"calibrated on {measured} on {entry.get('cpu')}: {winner.label}{suffix}"
    return winner.to_dict(), source
