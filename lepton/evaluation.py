"""Evaluation: test loss and accuracy, per-class precision/recall/F1, confusion matrix."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean sparse categorical cross-entropy, clipped like Keras (epsilon 1e-7)."""
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))


def evaluate_probabilities(
    probabilities: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...]
) -> dict:
    """Metrics from predicted class probabilities (N, classes) and true integer labels (N,)."""
    if len(probabilities) != len(labels):
        raise ValueError(
            f"Got {len(probabilities)} predictions for {len(labels)} labels; pass one per sample."
        )
    if len(labels) == 0:
        raise ValueError("Cannot evaluate on an empty test set.")
    labels = np.asarray(labels, dtype=np.int64)
    predicted = probabilities.argmax(axis=1)
    class_ids = np.arange(len(class_names))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=class_ids, zero_division=0
    )
    return {
        "test_loss": cross_entropy(probabilities, labels),
        "test_accuracy": float(np.mean(predicted == labels)),
        "test_samples": int(len(labels)),
        "per_class": [
            {
                "class": name,
                "precision": float(precision[index]),
                "recall": float(recall[index]),
                "f1": float(f1[index]),
                "support": int(support[index]),
            }
            for index, name in enumerate(class_names)
        ],
        "confusion_matrix": confusion_matrix(labels, predicted, labels=class_ids).tolist(),
    }


def evaluate(model, x_test: np.ndarray, y_test: np.ndarray, class_names: tuple[str, ...],
             batch_size: int = 256) -> dict:
    """Runs `model` over the test set and returns `evaluate_probabilities`' metrics."""
    from lepton.inference import predict_batch

    return evaluate_probabilities(predict_batch(model, x_test, batch_size), y_test, class_names)


def confident_mistakes(probabilities: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Indices of up to `count` wrongly classified images, the most confident mistake first."""
    wrong = np.flatnonzero(probabilities.argmax(axis=1) != labels)
    return wrong[np.argsort(-probabilities.max(axis=1)[wrong], kind="stable")][:count]
