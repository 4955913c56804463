"""lepton.confidence: reliability bins and ECE by hand, calibrated and over-confident data."""

import math

import numpy as np
import pytest

from lepton.confidence import (
    BINS,
    calibration_report,
    fit_temperature,
    reliability,
    with_temperature,
)

SAMPLES = 20_000
CLASSES = 10


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def sample_labels(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One label per row drawn from that row's distribution."""
    cumulative = probabilities.cumsum(axis=1)
    drawn = (rng.random((len(probabilities), 1)) > cumulative).sum(axis=1)
    return np.minimum(drawn, probabilities.shape[1] - 1)


@pytest.fixture(scope="module")
def synthetic():
    """Logits, the calibrated softmax(logits), labels drawn from it, and an over-confident
    softmax(3 × logits) of the same labels."""
    rng = np.random.default_rng(7)
    logits = rng.normal(0.0, 1.5, (SAMPLES, CLASSES))
    calibrated = softmax(logits)
    labels = sample_labels(calibrated, rng)
    return {"logits": logits, "calibrated": calibrated, "labels": labels,
            "over_confident": softmax(3.0 * logits)}


# --- reliability by hand ------------------------------------------------------------------------

# Confidence 0.95 right (bin 9); 0.85 wrong and 0.82 right (bin 8); 0.65 right (bin 6);
# 0.55 wrong (bin 5). No confidence sits on a bin edge.
HAND_PROBABILITIES = np.array([[0.95, 0.05], [0.85, 0.15], [0.82, 0.18], [0.35, 0.65],
                               [0.45, 0.55]])
HAND_LABELS = np.array([0, 1, 0, 1, 0])


def test_ece_of_hand_made_probabilities_equals_the_hand_computed_value():
    report = reliability(HAND_PROBABILITIES, HAND_LABELS)
    # bin 9: 1/5·|1 − 0.95|; bin 8: 2/5·|0.5 − 0.835|; bin 6: 1/5·|1 − 0.65|; bin 5: 1/5·0.55
    expected = 0.05 / 5 + 2 * 0.335 / 5 + 0.35 / 5 + 0.55 / 5
    assert expected == pytest.approx(0.324)
    assert report["ece"] == pytest.approx(expected, abs=1e-12)
    assert report["accuracy"] == pytest.approx(3 / 5)
    assert report["mean_confidence"] == pytest.approx((0.95 + 0.85 + 0.82 + 0.65 + 0.55) / 5)
    assert report["nll"] == pytest.approx(
        -np.mean(np.log([0.95, 0.15, 0.82, 0.65, 0.45])))
    counts = [row["count"] for row in report["bins"]]
    assert counts == [0, 0, 0, 0, 0, 1, 1, 0, 2, 1]
    bin_8 = report["bins"][8]
    assert bin_8["confidence"] == pytest.approx(0.835)
    assert bin_8["accuracy"] == pytest.approx(0.5)
    assert report["bins"][5] == {"low": pytest.approx(0.5), "high": pytest.approx(0.6),
                                 "count": 1, "confidence": pytest.approx(0.55),
                                 "accuracy": 0.0}
    assert all(row["confidence"] is None and row["accuracy"] is None
               for row in report["bins"] if row["count"] == 0)


def test_certain_answers_fall_in_the_last_bin():
    probabilities = np.eye(4)[[0, 1, 2, 3, 0]]
    report = reliability(probabilities, np.array([0, 1, 2, 3, 1]))
    assert [row["count"] for row in report["bins"]] == [0] * (BINS - 1) + [5]
    assert report["bins"][-1]["confidence"] == 1.0
    assert report["bins"][-1]["accuracy"] == pytest.approx(0.8)
    assert report["ece"] == pytest.approx(0.2)


@pytest.mark.parametrize("bins", [BINS, 4, 15])
def test_bins_cover_zero_to_one_and_counts_sum_to_n(synthetic, bins):
    report = reliability(synthetic["over_confident"], synthetic["labels"], bins)
    rows = report["bins"]
    assert len(rows) == bins
    assert rows[0]["low"] == 0.0 and rows[-1]["high"] == 1.0
    for before, after in zip(rows, rows[1:]):
        assert before["high"] == after["low"]
        assert after["high"] - after["low"] == pytest.approx(1 / bins)
    assert sum(row["count"] for row in rows) == SAMPLES
    for row in rows:
        if row["count"]:
            assert row["low"] <= row["confidence"] <= row["high"]


# --- synthetic calibration ----------------------------------------------------------------------


def test_a_perfectly_calibrated_set_has_an_ece_near_zero(synthetic):
    report = reliability(synthetic["calibrated"], synthetic["labels"])
    assert report["ece"] < 0.02
    # Its accuracy is what it says: the mean of its top probability.
    assert report["accuracy"] == pytest.approx(report["mean_confidence"], abs=0.02)


def test_over_confident_probabilities_fit_a_temperature_near_three(synthetic):
    over, labels = synthetic["over_confident"], synthetic["labels"]
    temperature = fit_temperature(over, labels)
    assert temperature == pytest.approx(3.0, rel=0.15)
    before = reliability(over, labels)
    after = reliability(with_temperature(over, temperature), labels)
    assert before["ece"] > 0.2  # far off: confident 3× more than it is right
    assert after["ece"] < 0.03 < before["ece"]
    assert after["nll"] < before["nll"] - 0.5
    assert after["accuracy"] == before["accuracy"]


def test_an_under_confident_set_fits_a_temperature_below_one(synthetic):
    timid = softmax(synthetic["logits"] / 2.0)
    temperature = fit_temperature(timid, synthetic["labels"])
    assert temperature == pytest.approx(0.5, rel=0.15)


def test_a_calibrated_set_keeps_a_temperature_near_one(synthetic):
    assert fit_temperature(synthetic["calibrated"], synthetic["labels"]) == pytest.approx(
        1.0, rel=0.1)


def test_calibration_report_fits_on_validation_and_scores_the_test_set(synthetic):
    over, labels = synthetic["over_confident"], synthetic["labels"]
    half = SAMPLES // 2
    report = calibration_report((over[:half], labels[:half]), (over[half:], labels[half:]))
    assert report["validation_images"] == half and report["test_images"] == SAMPLES - half
    assert report["temperature"] == pytest.approx(fit_temperature(over[:half], labels[:half]))
    assert report["temperature"] == pytest.approx(3.0, rel=0.15)
    assert report["as_trained"] == reliability(over[half:], labels[half:])
    assert report["scaled"]["ece"] < report["as_trained"]["ece"]
    assert report["scaled"]["nll"] < report["as_trained"]["nll"]


# --- with_temperature ---------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0.05, 0.3, 1.0, 2.5, 20.0])
def test_with_temperature_never_changes_the_answer(synthetic, temperature):
    probabilities = synthetic["over_confident"][:5000]
    scaled = with_temperature(probabilities, temperature)
    assert scaled.shape == probabilities.shape
    np.testing.assert_array_equal(scaled.argmax(axis=1), probabilities.argmax(axis=1))
    np.testing.assert_allclose(scaled.sum(axis=1), 1.0, atol=1e-9)
    assert np.isfinite(scaled).all() and (scaled >= 0).all()


def test_with_temperature_one_is_the_identity_and_others_sharpen_or_soften(synthetic):
    probabilities = synthetic["calibrated"][:1000]
    np.testing.assert_allclose(with_temperature(probabilities, 1.0), probabilities, atol=1e-9)
    top = probabilities.max(axis=1)
    assert (with_temperature(probabilities, 0.5).max(axis=1) >= top - 1e-12).all()
    assert (with_temperature(probabilities, 2.0).max(axis=1) <= top + 1e-12).all()
    # softmax(log p / T) by hand for one row
    row = np.array([[0.7, 0.2, 0.1]])
    powered = row ** (1 / 2.0)
    np.testing.assert_allclose(with_temperature(row, 2.0), powered / powered.sum())


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize("predictions, labels", [(5, 4), (4, 5), (0, 0)])
def test_reliability_refuses_mismatched_or_empty_inputs(predictions, labels):
    probabilities = np.full((predictions, 3), 1 / 3)
    with pytest.raises(ValueError, match=f"Expected one label per prediction, got {labels} "
                                         f"labels for {predictions} predictions"):
        reliability(probabilities, np.zeros(labels, dtype=int))


def test_calibration_report_refuses_a_mismatched_test_set(synthetic):
    over, labels = synthetic["over_confident"], synthetic["labels"]
    with pytest.raises(ValueError, match="one label per prediction, got 99 labels for 100"):
        calibration_report((over[:100], labels[:100]), (over[:100], labels[:99]))


@pytest.mark.parametrize("images", [0, 1, 9])
def test_calibration_report_refuses_fewer_than_ten_validation_images(synthetic, images):
    over, labels = synthetic["over_confident"], synthetic["labels"]
    with pytest.raises(ValueError, match="validation set of 10 images or more; train with a "
                                         "validation split"):
        calibration_report((over[:images], labels[:images]), (over, labels))


def test_calibration_report_accepts_exactly_ten_validation_images(synthetic):
    over, labels = synthetic["over_confident"], synthetic["labels"]
    report = calibration_report((over[:10], labels[:10]), (over[:100], labels[:100]))
    assert report["validation_images"] == 10
    assert 0.05 <= report["temperature"] <= 20.0
    assert math.isfinite(report["scaled"]["ece"])


@pytest.mark.parametrize("predictions, labels", [(50, 40), (40, 50)])
def test_calibration_report_refuses_a_mismatched_validation_set(synthetic, predictions, labels):
    over, all_labels = synthetic["over_confident"], synthetic["labels"]
    with pytest.raises(ValueError, match="one label per prediction"):
        calibration_report((over[:predictions], all_labels[:labels]), (over, all_labels))
