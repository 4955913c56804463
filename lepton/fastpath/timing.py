"""The Keras callback that times every execution of a measured training."""

from __future__ import annotations

import time
from collections.abc import Callable


def _keras_callback_classes():
    """The timing callback, defined on first use so that importing this module stays light."""
    import keras

    class ExecutionTimer(keras.callbacks.Callback):
        """Times every execution (`steps_per_execution` steps) of every epoch.

        Uses the batch-begin hook, which Keras always calls synchronously right before each
        execution: the time from one to the next is the execution's full cost, with the
        callbacks' share, and leaves the batch-end hooks free to run asynchronously as in
        `lepton.training.fit`.
        """

        async_safe = True

        def __init__(self, steps_per_epoch: int, batch_size: int, samples_per_epoch: int,
                     on_epoch: Callable[[int], None]):
            super().__init__()
            self.steps_per_epoch = steps_per_epoch
            self.batch_size = batch_size
            self.samples_per_epoch = samples_per_epoch
            self.on_epoch = on_epoch
            self.executions: list[dict] = []  # epoch, seconds, steps, samples
            self.epoch_seconds: list[float] = []
            self._marks: list[tuple[float, int]] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._marks = []
            self._epoch_start = time.perf_counter()

        def on_train_batch_begin(self, batch, logs=None):
            self._marks.append((time.perf_counter(), batch))

        def on_epoch_end(self, epoch, logs=None):
            end = time.perf_counter()
            bounds = [*self._marks, (end, self.steps_per_epoch)]
            for (start, first_step), (stop, next_step) in zip(bounds, bounds[1:]):
                next_step = min(next_step, self.steps_per_epoch)
                samples = (min(next_step * self.batch_size, self.samples_per_epoch)
                           - first_step * self.batch_size)
                self.executions.append({"epoch": epoch, "seconds": stop - start,
                                        "steps": next_step - first_step, "samples": samples})
            self.epoch_seconds.append(end - self._epoch_start)
            self.on_epoch(epoch + 1)

    return ExecutionTimer
