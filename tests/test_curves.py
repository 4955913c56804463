"""lepton.curves: per-batch values from Keras' running means, smoothing, downsampling."""

import pytest

from lepton.curves import downsample, per_batch_values, smooth

# Batch size 2, 5 samples an epoch: steps of 2, 2 and 1 samples. The batches' own losses are
# 1, 3 and 5 and their accuracies 0.5, 1 and 0; Keras logs the sample-weighted means so far.
RUNNING_MEANS = [
    {"epoch": 1, "step": 1, "loss": 1.0, "accuracy": 0.5},
    {"epoch": 1, "step": 2, "loss": (2 * 1 + 2 * 3) / 4, "accuracy": (1 + 2) / 4},
    {"epoch": 1, "step": 3, "loss": (2 * 1 + 2 * 3 + 5) / 5, "accuracy": 3 / 5},
    {"epoch": 2, "step": 1, "loss": 0.25, "accuracy": 1.0},  # a new epoch starts from scratch
]


def test_per_batch_values_undo_the_running_means():
    values = per_batch_values(RUNNING_MEANS, batch_size=2, samples_per_epoch=5)
    assert [(row["epoch"], row["step"], row["samples"]) for row in values] == [
        (1, 1, 2), (1, 2, 2), (1, 3, 1), (2, 1, 2)]
    assert [row["loss"] for row in values] == pytest.approx([1.0, 3.0, 5.0, 0.25])
    assert [row["accuracy"] for row in values] == pytest.approx([0.5, 1.0, 0.0, 1.0])


def test_with_steps_per_execution_each_point_is_the_mean_of_its_execution():
    """Two steps per execution: Keras logs after steps 2 and 3 (the last execution is short)."""
    logged = [RUNNING_MEANS[1], RUNNING_MEANS[2]]
    values = per_batch_values(logged, batch_size=2, samples_per_epoch=5)
    assert [row["samples"] for row in values] == [4, 1]
    assert [row["loss"] for row in values] == pytest.approx([2.0, 5.0])


def test_a_missing_or_non_finite_mean_gives_no_value_and_does_not_poison_the_next():
    rows = [dict(RUNNING_MEANS[0]), dict(RUNNING_MEANS[1], loss=float("nan")),
            dict(RUNNING_MEANS[2], accuracy=None)]
    values = per_batch_values(rows, batch_size=2, samples_per_epoch=5)
    assert values[1]["loss"] is None
    assert values[2]["accuracy"] is None
    # The stretch after a NaN spans both batches: (13 − 2) / 3 samples.
    assert values[2]["loss"] == pytest.approx((13 - 2) / 3)


def test_smooth_is_tensorboards_debiased_moving_average():
    assert smooth([1.0, 3.0], 0.5) == pytest.approx([1.0, (0.25 + 1.5) / 0.75])
    assert smooth([2.0, None, 4.0], 0.0) == [2.0, None, 4.0]  # weight 0 leaves values raw
    with pytest.raises(ValueError, match=r"smoothing weight in \[0, 1\)"):
        smooth([1.0], 1.0)


def test_downsample_keeps_the_ends_and_spreads_the_rest():
    assert downsample(3, 400) == [0, 1, 2]
    assert downsample(10, 4) == [0, 3, 6, 9]
    indices = downsample(100_000, 400)
    assert len(indices) == 400 and indices[0] == 0 and indices[-1] == 99_999
    with pytest.raises(ValueError, match="max_points ≥ 2"):
        downsample(10, 1)
