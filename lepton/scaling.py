"""Single node vs many: time and cost of data-parallel training on N nodes, estimated.

The article (section 2.2) says a single node avoids the communication overhead of distributed
training. This module puts a number on that claim. It assumes STRONG scaling: the global batch
stays fixed and N nodes each process `global_batch / N` samples per step, then average their
gradients with a ring all-reduce before the next step. Per step, on every node:

    compute       = ceil(global_batch / N) / samples_per_second
    communication = k · (2·(N−1)/N · parameter_bytes / bandwidth + 2·(N−1) · latency)
    total time    = steps · (compute + communication) + start-up
    cost          = total hours · N · price per node-hour

where k is an optional measured overhead factor (1 when not given). A ring all-reduce runs
2·(N−1) steps (reduce-scatter, then all-gather), each sending a 1/N slice of the gradients, so
every node sends 2·(N−1)/N × parameter_bytes and pays the per-message latency 2·(N−1) times.

Subtracting T(1) from T(N) shows that start-up cancels: N nodes beat one exactly when the
compute they save per step is larger than the communication they add.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

ALGORITHMS = ("ring",)
MAX_NODES = 4096
DEFAULT_NODES = range(1, 65)
# The article's reference network (ModelConfig() on 28×28×1, 10 classes); tests check this
# number against Keras' count_params().
REFERENCE_PARAMS = 225_034
# Used only when the run store holds no finished run; the page labels it as not measured here.
ARTICLE_SAMPLES_PER_SECOND = 3_300.0


@dataclass(frozen=True)
class ScalingInputs:
    """Everything the estimate depends on. Defaults: the reference CNN on full MNIST."""

    samples_per_epoch: int = 60_000
    epochs: int = 5
    global_batch_size: int = 32  # fixed for every N (strong scaling); the article's batch
    parameter_count: int = REFERENCE_PARAMS
    bytes_per_parameter: int = 4  # float32 gradients
    samples_per_second: float = ARTICLE_SAMPLES_PER_SECOND  # one node, measured at steady state
    bandwidth_gbit_per_s: float = 10.0  # per node, each direction
    latency_us: float = 50.0  # per message of the all-reduce
    algorithm: str = "ring"
    price_per_node_hour: float = 0.10
    startup_seconds: float = 30.0  # per node; nodes start in parallel, so wall time pays it once
    overhead_factor: float | None = None  # multiplies the communication term; None means 1

    def __post_init__(self):
        _check_int("samples_per_epoch", self.samples_per_epoch, 1, 10**10,
                   "It is the number of training samples one epoch visits.")
        _check_int("epochs", self.epochs, 1, 100_000)
        _check_int("global_batch_size", self.global_batch_size, 1, 1_000_000,
                   "It is the batch of one optimizer step summed over all nodes.")
        if self.global_batch_size > self.samples_per_epoch:
            raise ValueError(
                f"Expected global_batch_size ≤ samples_per_epoch ({self.samples_per_epoch}), "
                f"got {self.global_batch_size}. One step cannot use more samples than an epoch has."
            )
        _check_int("parameter_count", self.parameter_count, 1, 10**13,
                   "Use the model's count_params(); the reference CNN has "
                   f"{REFERENCE_PARAMS:,}.")
        _check_int("bytes_per_parameter", self.bytes_per_parameter, 1, 8,
                   "Use 4 for float32 gradients, 2 for float16/bfloat16.")
        _check_float("samples_per_second", self.samples_per_second, 0.0, 1e9, open_low=True,
                     hint="Measure it by training a run on one node.")
        _check_float("bandwidth_gbit_per_s", self.bandwidth_gbit_per_s, 0.0, 10_000.0,
                     open_low=True, hint="Typical values: 1, 10, 25 or 100 Gbit/s.")
        _check_float("latency_us", self.latency_us, 0.0, 1e7,
                     hint="Use 0 to ignore latency; a datacenter TCP hop is tens of µs.")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(
                f"Expected algorithm in {ALGORITHMS}, got {self.algorithm!r}. Only the ring "
                "all-reduce is modelled."
            )
        _check_float("price_per_node_hour", self.price_per_node_hour, 0.0, 1e6)
        _check_float("startup_seconds", self.startup_seconds, 0.0, 86_400.0)
        if self.overhead_factor is not None:
            _check_float("overhead_factor", self.overhead_factor, 0.0, 1e6, open_low=True,
                         hint="Leave it empty (None) for the ideal model, which is factor 1.")

    @property
    def parameter_bytes(self) -> int:
        return self.parameter_count * self.bytes_per_parameter

    @property
    def bandwidth_bytes_per_s(self) -> float:
        return self.bandwidth_gbit_per_s * 1e9 / 8

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.samples_per_epoch / self.global_batch_size)

    @property
    def steps(self) -> int:
        return self.epochs * self.steps_per_epoch


def _check_int(name: str, value, low: int, high: int, hint: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"Expected {name} to be a whole number, got {value!r}. {hint}".rstrip())
    if not low <= value <= high:
        raise ValueError(f"Expected {name} in {low}..{high:,}, got {value:,}. {hint}".rstrip())


def _check_float(name: str, value, low: float, high: float, open_low: bool = False,
                 hint: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"Expected {name} to be a finite number, got {value!r}. {hint}".rstrip())
    too_low = value <= low if open_low else value < low
    if too_low or value > high:
        bracket = "(" if open_low else "["
        raise ValueError(f"Expected {name} in {bracket}{low:g}, {high:g}], got {value:g}. "
                         f"{hint}".rstrip())


def _check_nodes(nodes) -> int:
    if isinstance(nodes, bool) or not isinstance(nodes, int) or not 1 <= nodes <= MAX_NODES:
        raise ValueError(f"Expected nodes to be a whole number in 1..{MAX_NODES}, got {nodes!r}.")
    return nodes


def compute_seconds_per_step(inputs: ScalingInputs, nodes: int) -> float:
    """The slowest node's share of one step: the largest shard of the global batch."""
    return math.ceil(inputs.global_batch_size / nodes) / inputs.samples_per_second


def communication_seconds_per_step(inputs: ScalingInputs, nodes: int) -> float:
    """Ring all-reduce of the gradients: bytes over bandwidth plus 2·(N−1) message latencies."""
    transfer = 2 * (nodes - 1) / nodes * inputs.parameter_bytes / inputs.bandwidth_bytes_per_s
    latency = 2 * (nodes - 1) * inputs.latency_us * 1e-6
    factor = 1.0 if inputs.overhead_factor is None else inputs.overhead_factor
    return factor * (transfer + latency)


def _total_seconds(inputs: ScalingInputs, nodes: int) -> float:
    step = compute_seconds_per_step(inputs, nodes) + communication_seconds_per_step(inputs, nodes)
    return inputs.steps * step + inputs.startup_seconds


def estimate(inputs: ScalingInputs, nodes: int) -> dict:
    """Time and cost of training `inputs.epochs` epochs on `nodes` identical nodes.

    Returns:
        A dict of plain numbers: nodes, steps, per_node_batch, idle_nodes (nodes that get no
        sample because the global batch is smaller than N), compute_seconds and
        communication_seconds (per step), bytes_sent_per_step (per node), messages_per_step,
        step_seconds, total_seconds, total_hours, node_hours, cost, speedup (T(1) / T(N)),
        efficiency (speed-up / N) and faster_than_one_node.

    Raises:
        ValueError: when `nodes` is not a whole number in 1..4096.
    """
    nodes = _check_nodes(nodes)
    compute = compute_seconds_per_step(inputs, nodes)
    communication = communication_seconds_per_step(inputs, nodes)
    total = inputs.steps * (compute + communication) + inputs.startup_seconds
    single = _total_seconds(inputs, 1)
    speedup = single / total
    return {
        "nodes": nodes,
        "steps": inputs.steps,
        "per_node_batch": math.ceil(inputs.global_batch_size / nodes),
        "idle_nodes": max(0, nodes - inputs.global_batch_size),
        "compute_seconds": compute,
        "communication_seconds": communication,
        "bytes_sent_per_step": 2 * (nodes - 1) / nodes * inputs.parameter_bytes,
        "messages_per_step": 2 * (nodes - 1),
        "step_seconds": compute + communication,
        "total_seconds": total,
        "total_hours": total / 3600,
        "node_hours": total / 3600 * nodes,
        "cost": total / 3600 * nodes * inputs.price_per_node_hour,
        "speedup": speedup,
        "efficiency": speedup / nodes,
        "faster_than_one_node": nodes > 1 and total < single,
    }


def sweep(inputs: ScalingInputs, nodes=DEFAULT_NODES) -> list[dict]:
    """`estimate` for every node count in `nodes` (default 1…64), in that order."""
    counts = list(nodes)
    if not counts:
        raise ValueError("Expected at least one node count to sweep, got none.")
    return [estimate(inputs, count) for count in counts]


def break_even(inputs: ScalingInputs, nodes=DEFAULT_NODES) -> dict:
    """Where many nodes pay off, over the node counts in `nodes`.

    Returns:
        A dict: first_faster (the smallest N > 1 that finishes before one node, or None),
        last_faster (the largest such N, or None), fastest (the N with the shortest time),
        cheapest (the N with the lowest cost; ties go to fewer nodes) and one_node_wins
        (True when no N > 1 finishes before one node).
    """
    rows = sweep(inputs, nodes)
    faster = [row["nodes"] for row in rows if row["faster_than_one_node"]]
    fastest = min(rows, key=lambda row: (row["total_seconds"], row["nodes"]))
    cheapest = min(rows, key=lambda row: (row["cost"], row["nodes"]))
    return {
        "first_faster": min(faster) if faster else None,
        "last_faster": max(faster) if faster else None,
        "fastest": fastest["nodes"],
        "cheapest": cheapest["nodes"],
        "one_node_wins": not faster,
    }


@dataclass(frozen=True)
class Calibration:
    """A host's measured single-node throughput, and the runs it came from."""

    samples_per_second: float  # median over `run_ids`
    parameter_count: int
    batch_size: int  # median batch size of those runs: the throughput was measured at it
    run_ids: tuple[int, ...]
    reference_model: bool  # False: no run of the reference CNN, another model was used

    def describe(self) -> str:
        runs = ", ".join(str(run_id) for run_id in self.run_ids)
        plural = "s" if len(self.run_ids) > 1 else ""
        model = ("the reference CNN" if self.reference_model
                 else f"a {self.parameter_count:,}-parameter model (no finished run of the "
                      f"reference CNN, {REFERENCE_PARAMS:,} parameters)")
        return (f"Median of {len(self.run_ids)} finished run{plural} of {model} on this host "
                f"(run{plural} {runs}), measured at batch {self.batch_size}.")


def speed_for_macs(runs: list[dict], macs: int) -> tuple[float, int] | None:
    """This host's training speed for a model of `macs` multiply-accumulates per sample:
    (samples/s, how many finished runs it is based on), or None without any.

    Work per sample scales with MACs: each run's samples/s becomes MACs/s (median over runs),
    then back to samples/s at `macs`.
    """
    usable = [run for run in runs if run.get("status") == "done"
              and (run.get("timings") or {}).get("samples_per_second")
              and (run.get("metrics") or {}).get("macs")]
    if not usable:
        return None
    macs_per_second = statistics.median(
        run["timings"]["samples_per_second"] * run["metrics"]["macs"] for run in usable)
    return macs_per_second / macs, len(usable)


def calibrate_from_runs(runs: list[dict], params: int = REFERENCE_PARAMS) -> Calibration | None:
    """The host's measured samples/s from run-store rows, or None when no finished run has one.

    Uses finished runs with a positive `timings["samples_per_second"]` and a
    `metrics["params"]`. Runs of the model with `params` parameters are preferred; without any,
    the model of the newest usable run stands in (and `reference_model` is False).
    """
    usable = []
    for run in runs:
        speed = (run.get("timings") or {}).get("samples_per_second")
        count = (run.get("metrics") or {}).get("params")
        if run.get("status") == "done" and speed and speed > 0 and count:
            usable.append(run)
    if not usable:
        return None
    chosen = [run for run in usable if run["metrics"]["params"] == params]
    reference = bool(chosen)
    if not chosen:
        newest = max(usable, key=lambda run: run.get("id", 0))
        chosen = [run for run in usable if run["metrics"]["params"] == newest["metrics"]["params"]]
    chosen.sort(key=lambda run: run.get("id", 0))
    batches = [(run.get("train_config") or {}).get("batch_size") for run in chosen]
    batches = [batch for batch in batches if batch] or [ScalingInputs.global_batch_size]
    return Calibration(
        samples_per_second=float(statistics.median(
            run["timings"]["samples_per_second"] for run in chosen)),
        parameter_count=int(chosen[0]["metrics"]["params"]),
        batch_size=int(statistics.median_low(batches)),
        run_ids=tuple(int(run.get("id", 0)) for run in chosen),
        reference_model=reference,
    )
