"""What a sweep trades: the measured figures of a run, limits on them, the front and its pick."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lepton.costs import CostSettings, run_costs


@dataclass(frozen=True)
class Objective:
    name: str
    direction: str  # "maximize" or "minimize", as Optuna names them
    unit: str
    how: str  # how it is measured, shown beside the figure

    @property
    def sign(self) -> int:
        """+1 when lower is better: multiply by it to compare every objective as a cost."""
        return 1 if self.direction == "minimize" else -1


OBJECTIVES = {objective.name: objective for objective in (
    Objective("accuracy", "maximize", "", "test accuracy on the dataset's held-out test set"),
    Objective("val_accuracy", "maximize", "", "validation accuracy after the last epoch"),
    Objective("train_seconds", "minimize", "s", "seconds inside model.fit"),
    Objective("cost", "minimize", "$", "wall seconds of the run × the host price per hour"),
    Objective("energy_wh", "minimize", "Wh", "RAPL counters, else CPU-seconds × watts per core"),
    Objective("latency_ms", "minimize", "ms", "p50 of one image through LiteRT fp32"),
    Objective("size_kb", "minimize", "KB", "LiteRT fp32 file, KB of 1,000 bytes"),
)}
DEFAULT_OBJECTIVES = ("accuracy", "train_seconds")
# Limit name → (figure, +1 for an upper limit, -1 for a lower one).
LIMITS = {
    "min_accuracy": ("accuracy", -1),
    "max_train_seconds": ("train_seconds", 1),
    "max_cost": ("cost", 1),
    "max_energy_wh": ("energy_wh", 1),
    "max_latency_ms": ("latency_ms", 1),
    "max_size_kb": ("size_kb", 1),
}


def parse_objectives(text: str) -> tuple[str, ...]:
    """"accuracy,train_seconds" → the names, checked.

    Raises:
        ValueError: fewer than two, an unknown or a repeated name.
    """
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in OBJECTIVES]
    if unknown:
        raise ValueError(f"Unknown objective {unknown[0]!r}. Choose from: "
                         f"{', '.join(OBJECTIVES)}.")
    if len(set(names)) != len(names):
        raise ValueError(f"An objective is given twice in {text!r}; give each once.")
    if len(names) < 2:
        raise ValueError(f"Give two or more objectives to trade, e.g. accuracy,train_seconds "
                         f"(got {text!r}).")
    return names


def check_limits(limits: dict) -> dict:
    """The limits that are set (None dropped), checked to be known and finite."""
    checked = {}
    for name, value in limits.items():
        if value is None:
            continue
        if name not in LIMITS:
            raise ValueError(f"Unknown limit {name!r}. Choose from: {', '.join(LIMITS)}.")
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ValueError(f"Expected {name} to be a number ≥ 0, got {value!r}.")
        checked[name] = float(value)
    return checked


def figures(run: dict, settings: CostSettings) -> dict:
    """Every objective's value for a finished run (None where it was not measured)."""
    metrics, timings = run.get("metrics") or {}, run.get("timings") or {}
    costs = run_costs(timings, settings) if timings else {}
    size = metrics.get("tflite_bytes")
    return {
        "accuracy": metrics.get("test_accuracy"),
        "val_accuracy": metrics.get("val_accuracy"),
        "train_seconds": timings.get("train_seconds"),
        "cost": costs.get("money"),
        "energy_wh": costs.get("energy_wh"),
        "latency_ms": metrics.get("latency_ms"),
        "size_kb": size / 1000 if size else None,
    }


def violations(measured: dict, limits: dict) -> dict:
    """Limit name → how far over it the figure is (≤ 0 means within it), Optuna's convention.

    A figure that was not measured counts as over its limit: a setup is feasible only when
    it was shown to be.
    """
    result = {}
    for name, limit in limits.items():
        figure, side = LIMITS[name]
        value = measured.get(figure)
        result[name] = math.inf if value is None else side * (value - limit)
    return result


def dominates(first: list[float], second: list[float]) -> bool:
    """True when `first` is no worse on every cost and better on one (all minimised)."""
    return all(a <= b for a, b in zip(first, second)) and any(
        a < b for a, b in zip(first, second))


def front(points: list[list[float]]) -> list[bool]:
    """True for each point (a list of costs, all minimised) that no other point dominates."""
    return [not any(dominates(other, point) for other in points if other is not point)
            for point in points]


def as_costs(measured: dict, objectives: tuple[str, ...]) -> list[float]:
    """The objectives' values signed so that lower is better on each."""
    return [OBJECTIVES[name].sign * measured[name] for name in objectives]


def recommend(points: list[list[float]]) -> int | None:
    """The index of the balanced point of a front: nearest the ideal corner once every
    objective is scaled to 0 (best on the front) … 1 (worst on the front)."""
    if not points:
        return None
    lows = [min(values) for values in zip(*points)]
    highs = [max(values) for values in zip(*points)]

    def distance(point: list[float]) -> float:
        return math.sqrt(sum(((value - low) / (high - low) if high > low else 0.0) ** 2
                             for value, low, high in zip(point, lows, highs)))

    return min(range(len(points)), key=lambda index: (distance(points[index]), index))


def hypervolume_2d(points: list[list[float]], reference: list[float]) -> float:
    """The area two minimised costs dominate up to `reference` (larger is a better front)."""
    inside = sorted({(x, y) for x, y in points if x < reference[0] and y < reference[1]})
    area, best_y = 0.0, reference[1]
    for x, y in inside:
        if y < best_y:
            area += (reference[0] - x) * (best_y - y)
            best_y = y
    return area
