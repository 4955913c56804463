"""lepton.evaluation against hand-computed metrics and against Keras' own evaluate."""

import math

import keras
import numpy as np
import pytest

from lepton.evaluation import cross_entropy, evaluate, evaluate_probabilities

CLASS_NAMES = ("cat", "dog", "owl")
# True labels 0, 0, 0, 1, 1, 2; predicted (argmax) 0, 0, 1, 1, 2, 2.
LABELS = np.array([0, 0, 0, 1, 1, 2])
PROBABILITIES = np.array([
    [0.80, 0.10, 0.10],
    [0.50, 0.25, 0.25],
    [0.25, 0.50, 0.25],
    [0.10, 0.80, 0.10],
    [0.10, 0.20, 0.70],
    [0.00, 0.00, 1.00],
])


@pytest.fixture(scope="module")
def hand_made():
    return evaluate_probabilities(PROBABILITIES, LABELS, CLASS_NAMES)


def test_confusion_matrix_rows_are_true_classes(hand_made):
    assert hand_made["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_accuracy_and_sample_count(hand_made):
    assert hand_made["test_accuracy"] == pytest.approx(4 / 6)
    assert hand_made["test_samples"] == 6


def test_per_class_precision_recall_f1_by_hand(hand_made):
    expected = [
        # cat: 2 of 2 predicted cats are cats; 2 of 3 cats found.
        {"class": "cat", "precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3},
        # dog: 1 of 2 predicted dogs is a dog; 1 of 2 dogs found.
        {"class": "dog", "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2},
        # owl: 1 of 2 predicted owls is an owl; the only owl found.
        {"class": "owl", "precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1},
    ]
    assert len(hand_made["per_class"]) == 3
    for row, want in zip(hand_made["per_class"], expected):
        assert row["class"] == want["class"]
        assert row["support"] == want["support"]
        for key in ("precision", "recall", "f1"):
            assert row[key] == pytest.approx(want[key]), (want["class"], key)


def test_loss_is_the_mean_cross_entropy_of_the_true_class(hand_made):
    true_class_probabilities = (0.8, 0.5, 0.25, 0.8, 0.2, 1.0)
    expected = -sum(math.log(p) for p in true_class_probabilities) / 6
    assert hand_made["test_loss"] == pytest.approx(expected, rel=1e-6)


def test_zero_probability_for_the_true_class_is_clipped_like_keras():
    loss = cross_entropy(np.array([[0.0, 1.0]]), np.array([0]))
    assert loss == pytest.approx(-math.log(1e-7), rel=1e-6)


def test_cross_entropy_matches_keras_on_random_probabilities():
    generator = np.random.default_rng(0)
    logits = generator.normal(size=(64, 10)) * 3
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = generator.integers(0, 10, size=64)
    reference = keras.losses.SparseCategoricalCrossentropy()(labels, probabilities)
    assert cross_entropy(probabilities, labels) == pytest.approx(float(reference), rel=1e-5)


def test_classes_absent_from_the_test_set_score_zero():
    metrics = evaluate_probabilities(np.array([[0.9, 0.1, 0.0]]), np.array([0]), CLASS_NAMES)
    owl = metrics["per_class"][2]
    assert (owl["precision"], owl["recall"], owl["f1"], owl["support"]) == (0.0, 0.0, 0.0, 0)
    assert metrics["confusion_matrix"] == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="Got 6 predictions for 5 labels"):
        evaluate_probabilities(PROBABILITIES, LABELS[:5], CLASS_NAMES)


def test_empty_test_set_is_refused():
    with pytest.raises(ValueError, match="empty test set"):
        evaluate_probabilities(np.zeros((0, 3)), np.zeros(0, dtype=int), CLASS_NAMES)


def test_evaluate_agrees_with_keras_evaluate(tiny_model, tiny_data):
    tiny_model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    keras_loss, keras_accuracy = tiny_model.evaluate(tiny_data.x_test, tiny_data.y_test,
                                                     batch_size=64, verbose=0)
    # batch_size 64 leaves a short last batch (200 = 3 × 64 + 8), which must not skew the mean.
    metrics = evaluate(tiny_model, tiny_data.x_test, tiny_data.y_test, tiny_data.class_names,
                       batch_size=64)
    assert metrics["test_loss"] == pytest.approx(keras_loss, abs=1e-4)
    assert metrics["test_accuracy"] == pytest.approx(keras_accuracy, abs=1e-4)
    assert metrics["test_samples"] == 200
    assert sum(map(sum, metrics["confusion_matrix"])) == 200
    assert [row["class"] for row in metrics["per_class"]] == list(tiny_data.class_names)
    assert [row["support"] for row in metrics["per_class"]] == [20] * 10


def test_confident_mistakes_lists_wrong_answers_most_confident_first():
    from lepton.evaluation import confident_mistakes

    probabilities = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.7, 0.3], [0.45, 0.55]])
    labels = np.array([0, 0, 0, 1, 1])  # wrong: 1 (0.6), 2 (0.8), 3 (0.7)
    assert confident_mistakes(probabilities, labels, 5).tolist() == [2, 3, 1]
    assert confident_mistakes(probabilities, labels, 2).tolist() == [2, 3]
    assert confident_mistakes(probabilities[:1], labels[:1], 5).tolist() == []
