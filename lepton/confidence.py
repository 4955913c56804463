"""Can its confidence be trusted? Reliability bins, expected calibration error, temperature.

Temperature scaling divides the log-probabilities by one number T fitted on validation data
(minimum cross-entropy); it never changes the answer, only how sure the model says it is.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

BINS = 10
EPSILON = 1e-7  # as Keras clips probabilities in its cross-entropy


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> dict:
    """Top-1 confidence against accuracy in `bins` equal-width bins, and the ECE.

    ECE = Σ over bins of (share of images in the bin) × |accuracy − mean confidence|.
    """
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    if len(probabilities) != len(labels) or len(labels) == 0:
        raise ValueError(f"Expected one label per prediction, got {len(labels)} labels for "
                         f"{len(probabilities)} predictions.")
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows, error = [], 0.0
    for bin_index in range(bins):
        inside = index == bin_index
        count = int(inside.sum())
        row = {"low": float(edges[bin_index]), "high": float(edges[bin_index + 1]),
               "count": count, "confidence": None, "accuracy": None}
        if count:
            row["confidence"] = float(confidence[inside].mean())
            row["accuracy"] = float(correct[inside].mean())
            error += count / len(labels) * abs(row["accuracy"] - row["confidence"])
        rows.append(row)
    return {"bins": rows, "ece": float(error), "accuracy": float(correct.mean()),
            "mean_confidence": float(confidence.mean()),
            "nll": float(-np.mean(np.log(np.clip(
                probabilities[np.arange(len(labels)), labels], EPSILON, 1.0))))}


def with_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): the same ranking, confidence sharpened (T < 1) or softened (T > 1)."""
    logits = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), EPSILON, 1.0))
    scaled = logits / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exponentials = np.exp(scaled)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The T in [0.05, 20] that minimises cross-entropy of `probabilities` on `labels`."""
    labels = np.asarray(labels)
    if len(labels) != len(probabilities):
        raise ValueError(f"Expected one label per prediction, got {len(labels)} labels for "
                         f"{len(probabilities)} predictions.")
    rows = np.arange(len(labels))

    def loss(log_temperature: float) -> float:
        scaled = with_temperature(probabilities, float(np.exp(log_temperature)))
        return float(-np.mean(np.log(np.clip(scaled[rows, labels], EPSILON, 1.0))))

    found = minimize_scalar(loss, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(found.x))


def calibration_report(validation: tuple[np.ndarray, np.ndarray],
                       test: tuple[np.ndarray, np.ndarray], bins: int = BINS) -> dict:
    """The test set's reliability as trained and after a temperature fitted on validation."""
    validation_probabilities, validation_labels = validation
    if len(validation_labels) < 10:
        raise ValueError("Fitting a temperature needs a validation set of 10 images or more; "
                         "train with a validation split.")
    temperature = fit_temperature(validation_probabilities, validation_labels)
    test_probabilities, test_labels = test
    return {"temperature": temperature, "validation_images": int(len(validation_labels)),
            "test_images": int(len(test_labels)),
            "as_trained": reliability(test_probabilities, test_labels, bins),
            "scaled": reliability(with_temperature(test_probabilities, temperature),
                                  test_labels, bins)}
