"""Two local workers with MultiWorkerMirroredStrategy against one process: the real overhead.

Measures, on this host, per-step times of the reference CNN on mnist-5k (global batch 64):

  one process  2 threads on cores {0, 1}, batch 64: the real "single node" here.
  two workers  1 thread each, pinned to core 0 and core 1, TF_CONFIG on 127.0.0.1 free ports,
               RING collectives over gRPC. Each worker alternates blocks of
                 - local steps: its own model copy, batch 32, no communication, and
                 - distributed steps: 32 of the global 64 samples, gradients all-reduced,
                 - bare all-reduces of as many float32 values as the model has parameters,
               so all kinds run under the same machine load, seconds apart.

`distributed − local` is the overhead per step of going distributed (all-reduce,
synchronisation, collective threads competing with compute); the bare all-reduce shows how
much of it is communication proper. It calibrates `lepton.scaling`'s
overhead factor: with each worker as one node at its local speed, the estimator's N = 2
communication term is compared with the measured overhead. Loopback has no wire, so on a real
network the overhead is at least this. (A first version timed "local" in a separate process;
on this shared machine that baseline drifted by 40% between runs and gave negative overheads.)

Training uses a custom loop (`strategy.run` of a Keras model and optimizer), not `model.fit`:
in Keras 3.15.1 / TF 2.21, `model.fit` under MultiWorkerMirroredStrategy fails before its first
step. Keras' `_maybe_symbolic_build` calls `strategy.reduce("MEAN", batch)` eagerly and TF
raises "ValueError: Attempt to convert a value (PerReplica: ...) with an unsupported type"
(keras-team/keras#20585, open). `--check-fit` re-tries it and writes the outcome.

    .venv/bin/python benchmarks/multiworker.py [--steps 200] [--block 20] [--check-fit]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

RESULTS = PROJECT / "benchmarks" / "results" / "multiworker.md"
PROCESS_TIMEOUT_SECONDS = 120  # per setup; the whole script stays under 3 minutes
FIT_TIMEOUT_SECONDS = 60
GLOBAL_BATCH = 64
WARMUP_STEPS = 10  # per kind of step: traces the tf.functions and fills the pipelines


# --- worker side (a subprocess: TensorFlow is imported only here) -----------------------------


def worker_main(spec: dict) -> None:
    os.sched_setaffinity(0, spec["cpus"])
    if spec.get("tf_config"):
        os.environ["TF_CONFIG"] = json.dumps(spec["tf_config"])
    import keras
    import numpy as np
    import tensorflow as tf

    from lepton.data import load_dataset
    from lepton.model import ModelConfig, build_model

    keras.config.disable_traceback_filtering()  # a failure should show where it happened
    tf.config.threading.set_intra_op_parallelism_threads(spec["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(spec["threads"])
    local = tf.distribute.get_strategy()  # the default, single-replica strategy
    distributed = None
    if spec.get("tf_config"):
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING)
        distributed = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    keras.utils.set_random_seed(0)
    data = load_dataset("mnist-5k")

    def batches(batch_size: int):
        dataset = (tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
                   .shuffle(len(data.y_train), seed=0).repeat()
                   .batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
        options = tf.data.Options()
        # In-memory data has no files to split: each worker takes its share of every batch.
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        return dataset.with_options(options)

    def trainer(strategy, global_batch: int):
        """A model, its optimizer and a step function, all created under `strategy`."""
        with strategy.scope():
            model = build_model(ModelConfig())
            optimizer = keras.optimizers.Adam()
            optimizer.build(model.trainable_variables)
        per_sample_loss = keras.losses.SparseCategoricalCrossentropy(reduction=None)

        def replica_step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.nn.compute_average_loss(  # divided by the GLOBAL batch size
                    per_sample_loss(y, model(x, training=True)), global_batch_size=global_batch)
            gradients = tape.gradient(loss, model.trainable_variables)
            # Keras' TF optimizer sums gradients over all replicas (the all-reduce) in here.
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            return loss

        @tf.function
        def step(iterator):
            return strategy.reduce("SUM", strategy.run(replica_step, args=next(iterator)),
                                   axis=None)

        iterator = iter(strategy.experimental_distribute_dataset(batches(global_batch)))
        return model, optimizer, lambda: float(step(iterator))  # float() waits for the step

    def timed(run_step, count: int) -> list[float]:
        ends = [time.perf_counter()]
        for _ in range(count):
            run_step()
            ends.append(time.perf_counter())
        return [later - earlier for earlier, later in itertools.pairwise(ends)]

    started = time.perf_counter()
    if spec.get("keras_fit"):
        # Keras 3's own fit under MultiWorkerMirroredStrategy (fails in 3.15.1, see docstring).
        with distributed.scope():
            model = build_model(ModelConfig())
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(batches(spec["batch"]), epochs=1, steps_per_epoch=5, verbose=0)
        print("RESULT {}", flush=True)
        return
    result = {"local_step_seconds": [], "distributed_step_seconds": []}
    local_batch = spec["batch"] // (2 if distributed else 1)
    _, _, local_step = trainer(local, local_batch)
    timed(local_step, WARMUP_STEPS)
    if distributed is None:
        result["local_step_seconds"] = timed(local_step, spec["steps"])
    else:
        model, _, distributed_step = trainer(distributed, spec["batch"])
        gradient_values = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)

        @tf.function
        def all_reduce_only():
            """One all-reduce of as many float32 values as the gradients, nothing else."""
            def replica_fn():
                context = tf.distribute.get_replica_context()
                summed = context.all_reduce("SUM", tf.ones([gradient_values]))
                return tf.reduce_sum(summed)
            return distributed.experimental_local_results(distributed.run(replica_fn))[0]

        def reduce_step():
            float(all_reduce_only())

        timed(distributed_step, WARMUP_STEPS)
        timed(reduce_step, WARMUP_STEPS)
        result["all_reduce_seconds"] = []
        for _ in range(spec["steps"] // spec["block"]):
            # The first step of a block also waits for the other worker: dropped.
            result["local_step_seconds"] += timed(local_step, spec["block"])[1:]
            result["distributed_step_seconds"] += timed(distributed_step, spec["block"])[1:]
            result["all_reduce_seconds"] += timed(reduce_step, spec["block"])[1:]
        result["gradient_values"] = gradient_values
        result["replicas"] = distributed.num_replicas_in_sync
        # Equal on both workers when the all-reduce keeps their weights identical.
        result["weight_checksum"] = float(sum(np.abs(w).sum() for w in model.get_weights()))
    result["wall_seconds"] = time.perf_counter() - started
    print("RESULT " + json.dumps(result), flush=True)


# --- orchestrator ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(spec: dict) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "OMP_NUM_THREADS": str(spec["threads"]),
           "PYTHONPATH": str(PROJECT)}
    env.pop("TF_CONFIG", None)
    return subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=PROJECT)


def collect(processes: list[subprocess.Popen], label: str,
            timeout: float = PROCESS_TIMEOUT_SECONDS) -> list[dict]:
    """Waits for every process of a setup; kills them all if one fails or time runs out."""
    deadline = time.monotonic() + timeout
    results = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
            if process.returncode != 0 or not lines:
                messages = err.strip().splitlines()
                errors = [line for line in messages if "Error" in line[:60]]
                # An exception message can span lines (a tensor printed in it): keep both ends.
                tail = (f"{errors[-1][:120]} … {messages[-1][-160:]}" if errors
                        else "\n".join(messages[-15:]))
                raise RuntimeError(f"{label}: a process exited with {process.returncode}.\n{tail}")
            results.append(json.loads(lines[-1][len("RESULT "):]))
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{label}: no result within {timeout:.0f} s.") from None
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


def two_workers(spec: dict) -> list[subprocess.Popen]:
    """Launches worker 0 and 1 of a fresh two-worker cluster on free loopback ports."""
    workers = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    return [launch({**spec, "cpus": [index],
                    "tf_config": {"cluster": {"worker": workers},
                                  "task": {"type": "worker", "index": index}}})
            for index in range(2)]


def run_setups(steps: int, block: int, check_fit: bool) -> dict:
    common = {"steps": steps, "block": block, "batch": GLOBAL_BATCH}
    load_before = os.getloadavg()[0]
    one_process = {**common, "cpus": [0, 1], "threads": 2}
    before = collect([launch(one_process)], "one process")[0]
    pair = collect(two_workers({**common, "threads": 1}), "two workers")
    after = collect([launch(one_process)], "one process")[0]
    fit = "not checked (run with --check-fit)"
    if check_fit:
        try:
            collect(two_workers({**common, "threads": 1, "keras_fit": True}), "Keras model.fit",
                    timeout=FIT_TIMEOUT_SECONDS)
            fit = "works"
        except RuntimeError as error:
            fit = f"fails: `{str(error).splitlines()[-1]}`"
    return {"single": [before, after], "pair": pair, "fit": fit,
            "load": (load_before, os.getloadavg()[0])}


def summarise(results: dict, steps: int, block: int, seconds: float, check_fit: bool) -> str:
    from lepton.host import host_info
    from lepton.scaling import REFERENCE_PARAMS, ScalingInputs, estimate

    def median_ms(values: list[float]) -> float:
        return statistics.median(values) * 1e3

    single, pair = results["single"], results["pair"]
    singles_ms = [median_ms(run["local_step_seconds"]) for run in single]
    single_ms = min(singles_ms)  # the shared machine only ever slows a run down
    local_ms = [median_ms(worker["local_step_seconds"]) for worker in pair]
    distributed_ms = [median_ms(worker["distributed_step_seconds"]) for worker in pair]
    # Workers run in lockstep: the slower one sets the pace of a distributed step.
    pair_ms, half_ms = max(distributed_ms), max(local_ms)
    overhead_ms = pair_ms - half_ms
    reduce_ms = [median_ms(worker["all_reduce_seconds"]) for worker in pair]
    gradient_bytes = pair[0]["gradient_values"] * 4
    nodes = ScalingInputs(samples_per_epoch=4000, epochs=1, global_batch_size=GLOBAL_BATCH,
                          samples_per_second=(GLOBAL_BATCH // 2) / (half_ms / 1e3),
                          startup_seconds=0.0)  # the page's network defaults: 10 Gbit/s, 50 µs
    modelled = estimate(nodes, 2)
    modelled_comm_ms = modelled["communication_seconds"] * 1e3
    factor = overhead_ms / modelled_comm_ms
    reduce_factor = max(reduce_ms) / modelled_comm_ms
    checksums = [worker["weight_checksum"] for worker in pair]
    in_sync = abs(checksums[0] - checksums[1]) <= 1e-6 * abs(checksums[0])
    host = host_info()
    rows = [
        ("one process, 2 threads, cores {0,1}, batch 64", singles_ms, GLOBAL_BATCH),
        ("each worker alone (local steps), 1 thread, batch 32", local_ms, GLOBAL_BATCH // 2),
        ("two workers, 1 thread each, global batch 64, all-reduce", distributed_ms,
         GLOBAL_BATCH),
    ]
    reduce_row = (f"| all-reduce alone of {pair[0]['gradient_values']:,} float32 values "
                  f"({gradient_bytes / 1e3:,.0f} kB) | "
                  f"{' / '.join(f'{ms:.2f}' for ms in reduce_ms)} | "
                  f"{gradient_bytes / (max(reduce_ms) / 1e3) * 8 / 1e9:.2f} Gbit/s |")
    lines = [
        "# MultiWorkerMirroredStrategy on two local workers vs one process",
        "",
        "| setup | median step (ms) | samples/s |",
        "|---|---|---|",
        *[f"| {name} | {' / '.join(f'{ms:.2f}' for ms in values)} | "
          f"{batch / (pick(values) / 1e3):,.0f} |"
          for (name, values, batch), pick in zip(rows, (min, max, max))],
        reduce_row,
        "",
        ("Two numbers are worker 0 / worker 1 (one process: before / after the workers); "
         "samples/s uses the slower, except for one process, where it uses the faster. The "
         "all-reduce row gives gradient bytes over time instead of samples/s."),
        "",
        (f"- Two workers ({pair[0]['replicas']} replicas) against one process on the same "
         f"2 cores: **{single_ms / pair_ms:.2f}×** the speed."),
        (f"- Overhead of a distributed step over a local one: **{overhead_ms:.2f} ms** "
         f"({overhead_ms / pair_ms:.0%} of a distributed step): the all-reduce alone takes "
         f"{max(reduce_ms):.2f} ms; the other {overhead_ms - max(reduce_ms):.2f} ms are "
         "synchronisation (each step waits for the slower worker) and collective threads "
         "competing with compute on a single core."),
        (f"- Estimator (`lepton.scaling`, N = 2, each node at {nodes.samples_per_second:,.0f} "
         f"samples/s, 10 Gbit/s, 50 µs, ring, {REFERENCE_PARAMS:,} float32 parameters): "
         f"communication {modelled_comm_ms:.3f} ms per step, step "
         f"{modelled['step_seconds'] * 1e3:.2f} ms."),
        (f"- Implied overhead factor k = {overhead_ms:.2f} / {modelled_comm_ms:.3f} = "
         f"**{factor:.1f}** (or ≈ {overhead_ms / 2 * 1e3:,.0f} µs per message if all of it "
         "were latency). Loopback has no wire: on a real network k is at least this. "
         f"The all-reduce alone gives k = {reduce_factor:.1f}."),
        (f"- Workers in sync: {'yes' if in_sync else 'NO'} (weight checksums "
         f"{checksums[0]:.6f} and {checksums[1]:.6f})."),
        f"- Keras `model.fit` under MultiWorkerMirroredStrategy: {results['fit']}",
        "",
        (f"Method: reference CNN (`ModelConfig()`), mnist-5k (4,000 training images, repeated), "
         f"Adam, the same custom loop (`strategy.run`, loss averaged over the global batch) "
         f"everywhere. {WARMUP_STEPS} warm-up steps per kind, then {steps} timed steps; the "
         f"workers alternate blocks of {block} local steps, {block} distributed steps and "
         f"{block} bare all-reduces, and drop each block's first step. The one-process run "
         "cannot be interleaved with them: it runs before and after the workers, and the "
         "faster of the two is compared (the one favouring a single node). Step = time between "
         "the ends of consecutive steps (each waits for its loss). Workers: `TF_CONFIG` on "
         "127.0.0.1 free ports, RING collectives over gRPC, auto-shard policy DATA, pinned "
         "with `sched_setaffinity`, thread pools set with `tf.config.threading`."),
        (f"Host: {host['cpu']}, {host['logical_cores']} logical cores, shared: 1-minute load "
         f"average {results['load'][0]:.1f} before and {results['load'][1]:.1f} after (other "
         "jobs ran too; one-process timings drift by tens of % between runs), TensorFlow "
         f"{host['tensorflow']}, Keras {host['keras']}. Whole benchmark: {seconds:.0f} s."),
        (f"Command: `.venv/bin/python benchmarks/multiworker.py --steps {steps} "
         f"--block {block}{' --check-fit' if check_fit else ''}`"),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="timed steps of each kind")
    parser.add_argument("--block", type=int, default=20,
                        help="local and distributed steps alternate in blocks of this size")
    parser.add_argument("--check-fit", action="store_true",
                        help="also try Keras' model.fit on two workers (adds about a minute)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        worker_main(json.loads(arguments.worker))
        return
    if not 2 <= arguments.block <= arguments.steps:
        sys.exit(f"Expected 2 ≤ --block ≤ --steps, got block {arguments.block}.")
    if not {0, 1} <= os.sched_getaffinity(0):
        sys.exit(f"Needs CPUs 0 and 1; this process may use {sorted(os.sched_getaffinity(0))}.")
    started = time.perf_counter()
    results = run_setups(arguments.steps, arguments.block, arguments.check_fit)
    report = summarise(results, arguments.steps, arguments.block, time.perf_counter() - started,
                       arguments.check_fit)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
