"""What a run cost: money from wall time × price, energy from RAPL or CPU time × watts per core."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lepton.background import write_json_atomic

RAPL_ROOT = Path("/sys/class/powercap")

# Editable starting points; a user's own prices are saved next to the runs.
DEFAULT_PRESETS = {
    "This machine (electricity only)": {"price_per_hour": 0.01, "watts_per_core": 10.0},
    "Cloud VM, 2 vCPU": {"price_per_hour": 0.10, "watts_per_core": 12.0},
    "Cloud VM, 8 vCPU": {"price_per_hour": 0.40, "watts_per_core": 12.0},
    "Laptop on battery": {"price_per_hour": 0.0, "watts_per_core": 6.0},
}


@dataclass
class CostSettings:
    preset: str = "Cloud VM, 2 vCPU"
    price_per_hour: float = 0.10  # currency units per wall-clock hour of the host
    watts_per_core: float = 12.0  # average power drawn per busy core
    currency: str = "$"
    presets: dict = field(default_factory=lambda: dict(DEFAULT_PRESETS))

    def __post_init__(self):
        if not 0 <= self.price_per_hour <= 1000:
            raise ValueError(f"Expected a price per hour in 0..1000, got {self.price_per_hour}.")
        if not 0 <= self.watts_per_core <= 1000:
            raise ValueError(f"Expected watts per core in 0..1000, got {self.watts_per_core}.")


def settings_path(home: Path) -> Path:
    return Path(home) / "settings.json"


def load_settings(home: Path) -> CostSettings:
    """The saved cost settings of a `LEPTON_HOME`, or the defaults (also when the file is bad)."""
    try:
        values = json.loads(settings_path(home).read_text())
        known = CostSettings.__annotations__
        return CostSettings(**{key: value for key, value in values.items() if key in known})
    except (OSError, ValueError, TypeError):
        return CostSettings()


def save_settings(home: Path, settings: CostSettings) -> None:
    # A unique temporary name: two sessions saving at once must not write the same file.
    write_json_atomic(settings_path(home), asdict(settings))


def money(wall_seconds: float, price_per_hour: float) -> float:
    return wall_seconds / 3600 * price_per_hour


def energy_wh_from_cpu(cpu_seconds: float, watts_per_core: float) -> float:
    """CPU-seconds × watts per core, in watt-hours: an estimate that ignores idle power."""
    return cpu_seconds * watts_per_core / 3600


def read_rapl_joules() -> float | None:
    """Package energy counters summed, in joules, or None when RAPL is not readable here."""
    total, found = 0.0, False
    for counter in sorted(RAPL_ROOT.glob("intel-rapl:[0-9]*/energy_uj")):
        try:
            total += int(counter.read_text()) / 1e6
            found = True
        except (OSError, ValueError):
            return None
    return total if found else None


def run_costs(timings: dict, settings: CostSettings) -> dict:
    """Money and energy of a run, each with the inputs and the method used."""
    wall, cpu = timings.get("wall_seconds") or 0.0, timings.get("cpu_seconds") or 0.0
    rapl = timings.get("rapl_joules")
    if rapl is not None:
        energy, method = rapl / 3600, "measured by RAPL package counters"
    else:
        energy = energy_wh_from_cpu(cpu, settings.watts_per_core)
        method = f"estimated: {cpu:.1f} CPU-s × {settings.watts_per_core:g} W per core (no RAPL)"
    return {
        "money": money(wall, settings.price_per_hour),
        "money_inputs": f"{wall / 3600:.4f} h × {settings.currency}{settings.price_per_hour:g}/h",
        "energy_wh": energy,
        "energy_method": method,
    }


def time_to_accuracy(epochs: list[dict], target: float) -> tuple[int, float] | None:
    """(epoch, cumulative seconds) when validation (else training) accuracy first reaches target."""
    elapsed = 0.0
    for record in epochs:
        elapsed += record.get("seconds") or 0.0
        accuracy = record.get("val_accuracy")
        if accuracy is None:
            accuracy = record.get("accuracy")
        if accuracy is not None and accuracy >= target:
            return record["epoch"], elapsed
    return None
