"""Comparing runs: one flat row per run, and the Pareto front of accuracy against a cost."""

from __future__ import annotations

from lepton.costs import CostSettings, run_costs

COST_AXES = {  # row key → message key of its axis title; lower is better on every one
    "wall_seconds": "compare.wall_seconds",
    "money": "compare.money",
    "energy_wh": "compare.energy_wh",
    "model_bytes": "compare.model_bytes",
    "latency_ms": "compare.latency_ms",
}


def run_row(run: dict, settings: CostSettings) -> dict:
    """The comparable figures of one run (None where not measured)."""
    metrics, timings = run["metrics"], run["timings"]
    model_config, train_config = run["model_config"], run["train_config"]
    costs = run_costs(timings, settings) if timings else {}
    return {
        "id": run["id"],
        "status": run["status"],
        "dataset": run["dataset"],
        "created": run["created"],
        "filters": "-".join(str(count) for count in model_config.get("filters", ())),
        "kernel": model_config.get("kernel_size"),
        "dense": model_config.get("dense_units"),
        "optimizer": train_config.get("optimizer"),
        "learning_rate": train_config.get("learning_rate"),
        "batch_size": train_config.get("batch_size"),
        "epochs": train_config.get("epochs"),
        "test_accuracy": metrics.get("test_accuracy"),
        "wall_seconds": timings.get("wall_seconds"),
        "samples_per_second": timings.get("samples_per_second"),
        "money": costs.get("money"),
        "energy_wh": costs.get("energy_wh"),
        "model_bytes": metrics.get("model_bytes"),
        "params": metrics.get("params"),
        "latency_ms": metrics.get("latency_ms"),
    }


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """For (cost, accuracy) points, True where no other point is at least as good on both and
    strictly better on one (lower cost, higher accuracy)."""
    flags = []
    for cost, accuracy in points:
        dominated = any(
            other_cost <= cost and other_accuracy >= accuracy
            and (other_cost < cost or other_accuracy > accuracy)
            for other_cost, other_accuracy in points
        )
        flags.append(not dominated)
    return flags
