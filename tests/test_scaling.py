"""The single-node-vs-many estimator against hand-computed numbers, and its refusals."""

import dataclasses
import itertools

import pytest

from lepton import scaling
from lepton.scaling import ScalingInputs, break_even, calibrate_from_runs, estimate, sweep

# Round numbers so every case can be checked on paper:
# 20 steps (2 epochs × 1000/100), 0.1 s of compute per step on one node,
# 4,000,000 gradient bytes, 8 Gbit/s = 1e9 bytes/s, 10 µs per message, no start-up.
PAPER = ScalingInputs(
    samples_per_epoch=1000, epochs=2, global_batch_size=100, parameter_count=1_000_000,
    bytes_per_parameter=4, samples_per_second=1000.0, bandwidth_gbit_per_s=8.0, latency_us=10.0,
    price_per_node_hour=1.0, startup_seconds=0.0,
)


def test_one_node_has_no_communication():
    row = estimate(PAPER, 1)
    assert row["steps"] == 20
    assert row["communication_seconds"] == 0.0
    assert row["messages_per_step"] == 0
    assert row["bytes_sent_per_step"] == 0.0
    assert row["compute_seconds"] == pytest.approx(0.1)
    assert row["total_seconds"] == pytest.approx(2.0)
    assert row["cost"] == pytest.approx(2.0 / 3600)
    assert row["speedup"] == pytest.approx(1.0)
    assert row["efficiency"] == pytest.approx(1.0)
    assert row["faster_than_one_node"] is False


def test_two_nodes_by_hand():
    row = estimate(PAPER, 2)
    # compute 50/1000 = 0.05 s; ring: 2·1/2 × 4e6 B / 1e9 B/s = 0.004 s + 2·1 × 10 µs
    assert row["per_node_batch"] == 50
    assert row["compute_seconds"] == pytest.approx(0.05)
    assert row["bytes_sent_per_step"] == pytest.approx(4_000_000)
    assert row["messages_per_step"] == 2
    assert row["communication_seconds"] == pytest.approx(0.00402)
    assert row["total_seconds"] == pytest.approx(20 * 0.05402)
    assert row["cost"] == pytest.approx(20 * 0.05402 / 3600 * 2)
    assert row["node_hours"] == pytest.approx(20 * 0.05402 / 3600 * 2)
    assert row["speedup"] == pytest.approx(2.0 / 1.0804)
    assert row["efficiency"] == pytest.approx(2.0 / 1.0804 / 2)
    assert row["faster_than_one_node"] is True


def test_four_nodes_by_hand():
    row = estimate(PAPER, 4)
    # compute 25/1000; ring: 2·3/4 × 4e6 / 1e9 = 0.006 s + 6 × 10 µs
    assert row["communication_seconds"] == pytest.approx(0.00606)
    assert row["total_seconds"] == pytest.approx(20 * (0.025 + 0.00606))


def test_start_up_is_paid_once_in_time_and_by_every_node_in_cost():
    inputs = dataclasses.replace(PAPER, startup_seconds=100.0)
    row = estimate(inputs, 4)
    assert row["total_seconds"] == pytest.approx(20 * 0.03106 + 100.0)
    assert row["cost"] == pytest.approx((20 * 0.03106 + 100.0) / 3600 * 4 * 1.0)


def test_overhead_factor_scales_communication_only():
    doubled = dataclasses.replace(PAPER, overhead_factor=2.0)
    assert estimate(doubled, 1)["total_seconds"] == pytest.approx(2.0)
    assert estimate(doubled, 2)["communication_seconds"] == pytest.approx(2 * 0.00402)
    assert estimate(doubled, 2)["compute_seconds"] == pytest.approx(0.05)


def test_uneven_split_uses_the_largest_shard_and_counts_idle_nodes():
    row = estimate(PAPER, 3)  # 100 samples on 3 nodes: the slowest holds 34
    assert row["per_node_batch"] == 34
    assert row["compute_seconds"] == pytest.approx(0.034)
    assert row["idle_nodes"] == 0
    small_batch = dataclasses.replace(PAPER, global_batch_size=32)
    assert estimate(small_batch, 64)["idle_nodes"] == 32
    assert estimate(small_batch, 64)["per_node_batch"] == 1


def test_huge_bandwidth_gives_near_linear_speedup():
    inputs = dataclasses.replace(PAPER, samples_per_epoch=64_000, global_batch_size=6400,
                                 bandwidth_gbit_per_s=10_000.0, latency_us=0.0)
    for row in sweep(inputs, [2, 4, 8, 16, 32, 64]):
        assert row["efficiency"] > 0.99, row
    assert break_even(inputs)["fastest"] == 64


def test_tiny_bandwidth_makes_one_node_win():
    inputs = dataclasses.replace(PAPER, bandwidth_gbit_per_s=0.001)
    result = break_even(inputs)
    assert result == {"first_faster": None, "last_faster": None, "fastest": 1, "cheapest": 1,
                      "one_node_wins": True}
    assert all(row["speedup"] < 1 for row in sweep(inputs)[1:])


def test_cost_grows_with_nodes_when_communication_dominates():
    costs = [row["cost"] for row in sweep(dataclasses.replace(PAPER, bandwidth_gbit_per_s=0.01))]
    assert all(later > earlier for earlier, later in itertools.pairwise(costs))


def test_break_even_found_where_latency_catches_up_with_saved_compute():
    # One node: 6400/64000 = 0.1 s per step. N nodes save 0.1·(1 − 1/N) and add
    # 2·(N−1) ms of latency (plus a few µs of transfer): they win while N < 0.1 / 0.002 = 50.
    # Time is lowest near N = sqrt(0.1 / 0.002) ≈ 7.
    inputs = ScalingInputs(samples_per_epoch=64_000, epochs=1, global_batch_size=6400,
                           parameter_count=1000, samples_per_second=64_000.0,
                           bandwidth_gbit_per_s=8.0, latency_us=1000.0, startup_seconds=0.0)
    result = break_even(inputs)
    assert result["first_faster"] == 2
    assert result["last_faster"] == 49
    assert result["fastest"] == 7
    assert result["cheapest"] == 1  # strong scaling never makes node-hours cheaper here
    assert result["one_node_wins"] is False
    assert estimate(inputs, 50)["faster_than_one_node"] is False


def test_break_even_respects_the_node_range():
    inputs = ScalingInputs(samples_per_epoch=64_000, epochs=1, global_batch_size=6400,
                           parameter_count=1000, samples_per_second=64_000.0,
                           bandwidth_gbit_per_s=8.0, latency_us=1000.0)
    assert break_even(inputs, range(1, 5))["fastest"] == 4
    assert break_even(inputs, [1])["one_node_wins"] is True


def test_sweep_defaults_to_one_through_64():
    rows = sweep(PAPER)
    assert [row["nodes"] for row in rows] == list(range(1, 65))


def test_reference_params_match_keras():
    from lepton.model import ModelConfig, build_model

    assert build_model(ModelConfig()).count_params() == scaling.REFERENCE_PARAMS


@pytest.mark.parametrize("changes, message", [
    ({"samples_per_second": 0.0}, "samples_per_second in (0"),
    ({"samples_per_second": float("nan")}, "finite number"),
    ({"bandwidth_gbit_per_s": -1.0}, "bandwidth_gbit_per_s in (0"),
    ({"latency_us": -5.0}, "latency_us in [0"),
    ({"epochs": 2.5}, "whole number"),
    ({"epochs": True}, "whole number"),
    ({"global_batch_size": 0}, "global_batch_size in 1.."),
    ({"global_batch_size": 2000}, "cannot use more samples than an epoch"),
    ({"bytes_per_parameter": 16}, "bytes_per_parameter in 1..8"),
    ({"algorithm": "tree"}, "Only the ring"),
    ({"price_per_node_hour": -0.1}, "price_per_node_hour in [0"),
    ({"startup_seconds": -1.0}, "startup_seconds in [0"),
    ({"overhead_factor": 0.0}, "None) for the ideal model"),
])
def test_invalid_inputs_are_refused_with_a_reason(changes, message):
    with pytest.raises(ValueError) as error:
        dataclasses.replace(PAPER, **changes)
    assert message in str(error.value)


@pytest.mark.parametrize("nodes", [0, -1, 5000, 2.0])
def test_invalid_node_counts_are_refused(nodes):
    with pytest.raises(ValueError, match="nodes to be a whole number"):
        estimate(PAPER, nodes)


def test_empty_sweep_is_refused():
    with pytest.raises(ValueError, match="at least one node count"):
        sweep(PAPER, [])


def run_row(run_id, samples_per_second, params=scaling.REFERENCE_PARAMS, status="done",
            batch_size=32):
    return {"id": run_id, "status": status, "train_config": {"batch_size": batch_size},
            "timings": {"samples_per_second": samples_per_second},
            "metrics": {"params": params}}


def test_calibration_is_none_without_a_usable_finished_run():
    assert calibrate_from_runs([]) is None
    assert calibrate_from_runs([run_row(1, 5000.0, status="failed"),
                                run_row(2, 0.0),
                                {"id": 3, "status": "done", "timings": {}, "metrics": {}}]) is None


def test_calibration_takes_the_median_of_reference_runs():
    runs = [run_row(5, 4000.0), run_row(4, 3000.0, batch_size=128), run_row(3, 9000.0),
            run_row(2, 1.0, params=1234), run_row(1, 7000.0, status="running")]
    calibration = calibrate_from_runs(runs)
    assert calibration.samples_per_second == 4000.0
    assert calibration.run_ids == (3, 4, 5)
    assert calibration.parameter_count == scaling.REFERENCE_PARAMS
    assert calibration.batch_size == 32
    assert calibration.reference_model is True
    assert "runs 3, 4, 5" in calibration.describe()


def test_calibration_falls_back_to_the_newest_model_without_reference_runs():
    runs = [run_row(3, 8000.0, params=500), run_row(2, 6000.0, params=500),
            run_row(1, 1000.0, params=999)]
    calibration = calibrate_from_runs(runs)
    assert calibration.samples_per_second == 7000.0
    assert calibration.parameter_count == 500
    assert calibration.run_ids == (2, 3)
    assert calibration.reference_model is False
    assert "no finished run of the reference CNN" in calibration.describe()


def test_speed_for_macs_scales_each_runs_speed_by_its_work_per_sample():
    from lepton.scaling import speed_for_macs

    runs = [{"status": "done", "timings": {"samples_per_second": 1000.0}, "metrics": {"macs": 2e6}},
            {"status": "done", "timings": {"samples_per_second": 4000.0}, "metrics": {"macs": 1e6}},
            {"status": "failed", "timings": {"samples_per_second": 9e9}, "metrics": {"macs": 1}},
            {"status": "done", "timings": {}, "metrics": {"macs": 1e6}}]
    speed, based_on = speed_for_macs(runs, 4e6)  # MACs/s: 2e9 and 4e9, median 3e9
    assert speed == pytest.approx(750.0) and based_on == 2
    assert speed_for_macs(runs[2:], 4e6) is None
