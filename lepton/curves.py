"""Learning curves as they really are: per-batch values from Keras' running means, smoothing
the way TensorBoard does it, and downsampling so a long run stays cheap to draw."""

from __future__ import annotations

import math


def samples_done(step: int, batch_size: int, samples_per_epoch: int) -> int:
    """Samples an epoch has trained on after `step` steps (the last batch may be short)."""
    return min(step * batch_size, samples_per_epoch)


def per_batch_values(rows: list[dict], batch_size: int, samples_per_epoch: int,
                     metrics: tuple[str, ...] = ("loss", "accuracy")) -> list[dict]:
    """The loss and accuracy of each logged stretch of training, from Keras' running means.

    Keras logs, after each batch (or each execution of `steps_per_execution` batches), the mean
    over the epoch so far, weighted by samples. With m_k the mean after N_k samples, the stretch
    between two logs has the mean (m_k·N_k − m_(k−1)·N_(k−1)) / (N_k − N_(k−1)).

    Args:
        rows: the run's batch rows (epoch, step, and the running means) in order.
        batch_size, samples_per_epoch: the run's, to count samples per step.

    Returns:
        One dict per row with epoch, step, samples (in the stretch) and each metric's value.
    """
    result = []
    previous_epoch, previous = None, {}
    for row in rows:
        if row["epoch"] != previous_epoch:
            previous_epoch = row["epoch"]
            previous = {metric: (0, 0.0) for metric in metrics}  # (samples, sum) per metric
        samples = samples_done(row["step"], batch_size, samples_per_epoch)
        values = {"epoch": row["epoch"], "step": row["step"],
                  "samples": samples - min(done for done, _ in previous.values())}
        for metric in metrics:
            running = row.get(metric)
            done, total = previous[metric]
            if running is None or samples <= done or not math.isfinite(running):
                values[metric] = None  # a gap: the next value spans it
                continue
            values[metric] = (running * samples - total) / (samples - done)
            previous[metric] = (samples, running * samples)
        result.append(values)
    return result


def smooth(values: list[float | None], weight: float) -> list[float | None]:
    """TensorBoard's smoothing: a debiased exponential moving average (weight 0 = raw).

    Debiasing divides by 1 − weight^n, so the first points are not pulled towards 0.
    """
    if not 0 <= weight < 1:
        raise ValueError(f"Expected a smoothing weight in [0, 1), got {weight}.")
    smoothed, last, count = [], 0.0, 0
    for value in values:
        if value is None or not math.isfinite(value):
            smoothed.append(None)
            continue
        count += 1
        last = last * weight + (1 - weight) * value
        smoothed.append(last / (1 - weight**count))
    return smoothed


def downsample(count: int, max_points: int) -> list[int]:
    """Indices of at most `max_points` evenly spread points of `count`, first and last kept."""
    if max_points < 2:
        raise ValueError(f"Expected max_points ≥ 2, got {max_points}.")
    if count <= max_points:
        return list(range(count))
    stride = (count - 1) / (max_points - 1)
    return sorted({round(index * stride) for index in range(max_points)})
