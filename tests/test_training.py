"""lepton.training: config validation, fit's events, cancellation, NaN handling and seeding."""

import math
import types

import numpy as np
import pytest

from lepton.training import ProgressCallback, TrainConfig, fit, make_optimizer
from tests.conftest import SMALL_MODEL

BATCH_SIZE = 64
TRAIN_SAMPLES = 540  # 600 tiny samples minus the last 10 % that validate
STEPS = math.ceil(TRAIN_SAMPLES / BATCH_SIZE)  # 9


class _Recorder:
    """Collects fit's events; `stop_after` batches, asks it to stop."""

    def __init__(self, stop_after: int | None = None):
        self.events: list[dict] = []
        self.stop_after = stop_after
        self.polls = 0

    def __call__(self, event: dict) -> None:
        self.events.append(event)

    def should_stop(self) -> bool:
        self.polls += 1
        return self.stop_after is not None and self.polls >= self.stop_after

    def of_type(self, kind: str) -> list[dict]:
        return [event for event in self.events if event["type"] == kind]


@pytest.fixture(scope="module")
def one_epoch(tiny_data):
    recorder = _Recorder()
    result = fit(SMALL_MODEL, TrainConfig(epochs=1, batch_size=BATCH_SIZE), tiny_data.x_train,
                 tiny_data.y_train, on_event=recorder, should_stop=recorder.should_stop)
    return result, recorder


# --- TrainConfig ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": -1}, r"epochs in 1\.\.500, got -1"),
        ({"epochs": 0}, r"epochs in 1\.\.500, got 0"),
        ({"batch_size": 0}, r"batch_size in 1\.\.8192, got 0"),
        ({"learning_rate": float("nan")}, r"finite learning_rate, got nan"),
        ({"learning_rate": float("inf")}, r"finite learning_rate, got inf"),
        ({"learning_rate": "0.01"}, r"finite learning_rate, got '0\.01'"),
        ({"learning_rate": 0.0}, r"learning_rate in \(0, 10\], got 0\.0\. Typical values"),
        ({"learning_rate": 11.0}, r"learning_rate in \(0, 10\], got 11\.0"),
        ({"optimizer": "adagrad"}, r"optimizer in \('adam', 'sgd', 'rmsprop'\), got 'adagrad'"),
        ({"validation_split": 0.95}, r"validation_split in \[0, 0\.9\), got 0\.95\. Use 0 to"),
        ({"validation_split": -0.1}, r"validation_split in \[0, 0\.9\), got -0\.1"),
        ({"seed": -1}, r"non-negative seed, got -1"),
        ({"precision": "float16"}, r"precision in \('float32', 'mixed_bfloat16'\), got 'float16'"),
        ({"subset": 5}, r"subset ≥ 10 .*got 5"),
    ],
)
def test_invalid_train_configs_are_refused_with_a_clear_message(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**values)


def test_train_config_round_trip():
    config = TrainConfig(optimizer="rmsprop", learning_rate=0.01, batch_size=128, epochs=3,
                         validation_split=0.0, seed=4, subset=500)
    assert TrainConfig.from_dict({**config.to_dict(), "unknown": 1}) == config


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_integer_learning_rate_reaches_keras_as_a_float(optimizer):
    """Regression: TrainConfig accepted learning_rate=10 but Keras' optimizers refuse an int."""
    config = TrainConfig(optimizer=optimizer, learning_rate=10)
    assert isinstance(config.learning_rate, float)
    assert float(make_optimizer(config).learning_rate) == 10.0


# --- fit ------------------------------------------------------------------------------------


def test_fit_emits_one_batch_event_per_step(one_epoch):
    result, recorder = one_epoch
    assert result.status == "done"
    assert result.reason == ""
    batches = recorder.of_type("batch")
    assert [event["step"] for event in batches] == list(range(1, STEPS + 1))
    for event in batches:
        assert event["epoch"] == 1
        assert event["steps"] == STEPS
        assert math.isfinite(event["loss"]) and event["loss"] > 0
        assert 0.0 <= event["accuracy"] <= 1.0
        assert event["seconds"] > 0
    assert [event["seconds"] for event in batches] == sorted(event["seconds"] for event in batches)


def test_fit_emits_one_epoch_event_with_validation_metrics(one_epoch):
    result, recorder = one_epoch
    (epoch,) = recorder.of_type("epoch")
    assert recorder.events[-1] is epoch
    assert epoch["epoch"] == 1
    assert math.isfinite(epoch["loss"])
    assert 0.0 <= epoch["accuracy"] <= 1.0
    assert math.isfinite(epoch["val_loss"])
    assert 0.0 <= epoch["val_accuracy"] <= 1.0
    assert epoch["seconds"] >= epoch["train_seconds"] > 0
    assert epoch["samples_per_second"] > 0
    assert result.history == [{key: value for key, value in epoch.items() if key != "type"}]


def test_fit_timings_are_positive(one_epoch):
    result, _ = one_epoch
    timings = result.timings()
    for key in ("wall_seconds", "cpu_seconds", "train_seconds", "peak_rss_bytes",
                "samples_per_second"):
        assert timings[key] > 0, key
    assert timings["samples_seen"] == TRAIN_SAMPLES
    assert timings["epochs_done"] == 1
    assert timings["wall_seconds"] >= timings["train_seconds"]


def test_fit_returns_a_trained_model(one_epoch, tiny_data):
    result, _ = one_epoch
    probabilities = np.asarray(result.model(tiny_data.x_test[:5], training=False))
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_fit_refuses_mismatched_data(tiny_data):
    config = TrainConfig(epochs=1)
    with pytest.raises(ValueError, match="600 samples but y_train has 599"):
        fit(SMALL_MODEL, config, tiny_data.x_train, tiny_data.y_train[:-1])
    with pytest.raises(ValueError, match=r"images are \(28, 28\).*set ModelConfig.input_shape"):
        fit(SMALL_MODEL, config, tiny_data.x_train[..., 0], tiny_data.y_train)


def test_cancellation_stops_after_the_current_batch(tiny_data):
    recorder = _Recorder(stop_after=3)
    result = fit(SMALL_MODEL, TrainConfig(epochs=2, batch_size=BATCH_SIZE), tiny_data.x_train,
                 tiny_data.y_train, on_event=recorder, should_stop=recorder.should_stop)
    assert result.status == "cancelled"
    assert result.reason == "stopped by the user"
    assert [event["step"] for event in recorder.of_type("batch")] == [1, 2, 3]
    assert recorder.of_type("epoch") == []
    assert result.history == []  # a partial epoch is not a point of the learning curve
    assert result.samples_seen == 3 * BATCH_SIZE


def test_step_count_matches_keras_validation_split(tiny_data):
    """Regression: 25 samples with split 0.1 train on floor(22.5) = 22 (Keras), not 25 - 2 = 23.

    With batch 11 that made fit announce 3 steps per epoch while Keras ran 2.
    """
    recorder = _Recorder()
    result = fit(SMALL_MODEL, TrainConfig(epochs=1, batch_size=11), tiny_data.x_train[:25],
                 tiny_data.y_train[:25], on_event=recorder)
    batches = recorder.of_type("batch")
    assert [(event["step"], event["steps"]) for event in batches] == [(1, 2), (2, 2)]
    assert result.samples_seen == 22


def test_cancelling_on_the_last_batch_keeps_the_finished_epoch(tiny_data):
    """Regression (same off-by-one): the complete epoch was dropped as 'partial' (22 < 23)."""
    recorder = _Recorder(stop_after=2)
    result = fit(SMALL_MODEL, TrainConfig(epochs=3, batch_size=11), tiny_data.x_train[:25],
                 tiny_data.y_train[:25], on_event=recorder, should_stop=recorder.should_stop)
    assert result.status == "cancelled"
    assert [record["epoch"] for record in result.history] == [1]


def test_non_finite_loss_fails_the_run_and_blames_the_learning_rate(tiny_data):
    """Pixels ×1e10 with SGD at learning rate 10 overflow float32 by the second step."""
    recorder = _Recorder()
    config = TrainConfig(optimizer="sgd", learning_rate=10.0, epochs=2, batch_size=BATCH_SIZE)
    result = fit(SMALL_MODEL, config, tiny_data.x_train * 1e10, tiny_data.y_train,
                 on_event=recorder)
    assert result.status == "failed"
    assert "learning rate" in result.reason
    assert "loss became nan at epoch 1" in result.reason
    batches = recorder.of_type("batch")
    assert len(batches) < STEPS
    assert not math.isfinite(batches[-1]["loss"])
    assert recorder.of_type("epoch") == []
    assert result.history == []


def test_same_seed_gives_the_same_first_epoch(one_epoch, tiny_data):
    first, _ = one_epoch
    again = fit(SMALL_MODEL, TrainConfig(epochs=1, batch_size=BATCH_SIZE), tiny_data.x_train,
                tiny_data.y_train)
    other_seed = fit(SMALL_MODEL, TrainConfig(epochs=1, batch_size=BATCH_SIZE, seed=1),
                     tiny_data.x_train, tiny_data.y_train)
    assert again.history[0]["loss"] == pytest.approx(first.history[0]["loss"], rel=1e-6)
    assert again.history[0]["val_loss"] == pytest.approx(first.history[0]["val_loss"], rel=1e-6)
    assert other_seed.history[0]["loss"] != pytest.approx(first.history[0]["loss"], rel=1e-6)


# --- ProgressCallback with fake logs --------------------------------------------------------


def _callback(recorder, steps=3, batch_size=4, samples=10):
    callback = ProgressCallback(steps_per_epoch=steps, batch_size=batch_size,
                                samples_per_epoch=samples, on_event=recorder,
                                should_stop=recorder.should_stop)
    callback.set_model(types.SimpleNamespace(stop_training=False))
    return callback


def test_progress_callback_turns_an_epoch_into_events():
    recorder = _Recorder()
    callback = _callback(recorder)
    callback.on_epoch_begin(0)
    for batch, loss in enumerate((2.0, 1.5, 1.0)):
        callback.on_train_batch_end(batch, {"loss": loss, "accuracy": 0.25 * batch})
    callback.on_epoch_end(0, {"loss": 1.5, "accuracy": 0.4, "val_loss": 1.7,
                              "val_accuracy": 0.3})
    batches = recorder.of_type("batch")
    assert [(event["step"], event["steps"], event["loss"], event["accuracy"])
            for event in batches] == [(1, 3, 2.0, 0.0), (2, 3, 1.5, 0.25), (3, 3, 1.0, 0.5)]
    (epoch,) = recorder.of_type("epoch")
    assert (epoch["epoch"], epoch["loss"], epoch["accuracy"]) == (1, 1.5, 0.4)
    assert (epoch["val_loss"], epoch["val_accuracy"]) == (1.7, 0.3)
    assert callback.samples_seen == 10  # 4 + 4 + the last, short batch of 2
    assert callback.model.stop_training is False
    assert callback.failure == ""
    assert callback.history == [{key: value for key, value in epoch.items() if key != "type"}]
    assert callback.peak_rss_bytes > 0


def test_progress_callback_without_validation_reports_none():
    recorder = _Recorder()
    callback = _callback(recorder, steps=1, samples=4)
    callback.on_epoch_begin(0)
    callback.on_train_batch_end(0, {"loss": 1.0, "accuracy": 0.5})
    callback.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5})
    assert callback.history[0]["val_loss"] is None
    assert callback.history[0]["val_accuracy"] is None


@pytest.mark.parametrize("bad_loss", [float("nan"), float("inf")])
def test_progress_callback_stops_on_a_non_finite_loss(bad_loss):
    recorder = _Recorder()
    callback = _callback(recorder)
    callback.on_epoch_begin(1)
    callback.on_train_batch_end(0, {"loss": 2.0, "accuracy": 0.1})
    assert callback.model.stop_training is False
    callback.on_train_batch_end(1, {"loss": bad_loss, "accuracy": 0.1})
    assert callback.model.stop_training is True
    assert f"loss became {bad_loss} at epoch 2, step 2" in callback.failure
    assert "learning rate" in callback.failure
    callback.on_epoch_end(1, {"loss": bad_loss, "accuracy": 0.1})
    assert callback.history == []
    assert recorder.of_type("epoch") == []
    assert recorder.polls == 1  # a failed batch does not also ask to cancel


def test_progress_callback_cancels_when_asked():
    recorder = _Recorder(stop_after=1)
    callback = _callback(recorder)
    callback.on_epoch_begin(0)
    callback.on_train_batch_end(0, {"loss": 2.0, "accuracy": 0.1})
    assert callback.cancelled is True
    assert callback.model.stop_training is True
    callback.on_epoch_end(0, {"loss": 2.0, "accuracy": 0.1})
    assert callback.history == []
    assert callback.samples_seen == 4


def test_progress_callback_missing_logs_give_nan_and_fail():
    recorder = _Recorder()
    callback = _callback(recorder)
    callback.on_epoch_begin(0)
    callback.on_train_batch_end(0, None)
    assert math.isnan(recorder.events[0]["loss"])
    assert "loss became nan" in callback.failure
