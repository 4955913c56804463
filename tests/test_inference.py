"""lepton.inference: the traced Predictor against the model itself, top_k, and safe loading."""

import keras
import numpy as np
import pytest

from lepton.inference import Predictor, load_model, predict_batch, top_k

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def predictor(tiny_model):
    return Predictor(tiny_model)


@pytest.fixture(scope="module")
def saved_model_path(tiny_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "model.keras"
    tiny_model.save(path)
    return path


@pytest.mark.parametrize("count", [1, 7, 300])
def test_predictor_matches_the_model(predictor, tiny_model, tiny_data, count):
    """300 images cross the internal batch size of 256: the two chunks must line up."""
    images = tiny_data.x_train[:count]
    expected = np.asarray(tiny_model(images, training=False))
    probabilities = predictor(images)
    assert probabilities.shape == (count, 10)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities, expected, atol=TOLERANCE)


def test_predictor_with_a_small_batch_size_matches_the_model(tiny_model, tiny_data):
    images = tiny_data.x_test[:10]
    expected = np.asarray(tiny_model(images, training=False))
    np.testing.assert_allclose(Predictor(tiny_model, batch_size=3)(images), expected,
                               atol=TOLERANCE)


def test_predictor_accepts_other_number_types(predictor, tiny_model, tiny_data):
    images = tiny_data.x_test[:4]
    expected = np.asarray(tiny_model(images, training=False))
    np.testing.assert_allclose(predictor(images.astype(np.float64)), expected, atol=TOLERANCE)
    np.testing.assert_allclose(predictor(images.tolist()), expected, atol=TOLERANCE)


def test_predictor_of_no_images_is_empty(predictor):
    probabilities = predictor(np.zeros((0, 28, 28, 1)))
    assert probabilities.shape == (0, 10)


@pytest.mark.parametrize(
    "shape",
    [(28, 28, 1), (5, 28, 28), (5, 32, 32, 1), (5, 28, 28, 3), (5, 784)],
    ids=["no-batch-axis", "no-channel-axis", "wrong-size", "rgb", "flat"],
)
def test_predictor_refuses_the_wrong_shape(predictor, shape):
    with pytest.raises(ValueError, match=r"Expected images of shape \(N, 28, 28, 1\), got"):
        predictor(np.zeros(shape, dtype=np.float32))


def test_predict_batch_equals_the_predictor(predictor, tiny_model, tiny_data):
    images = tiny_data.x_test[:20]
    np.testing.assert_allclose(predict_batch(tiny_model, images, batch_size=8),
                               predictor(images), atol=TOLERANCE)


# --- top_k ----------------------------------------------------------------------------------


def test_top_k_orders_by_probability():
    probabilities = np.array([0.10, 0.50, 0.05, 0.35])
    assert top_k(probabilities, ("a", "b", "c", "d"), k=3) == [
        {"class": "b", "index": 1, "probability": 0.50},
        {"class": "d", "index": 3, "probability": 0.35},
        {"class": "a", "index": 0, "probability": 0.10},
    ]


def test_top_k_larger_than_the_classes_lists_them_all():
    ranked = top_k(np.array([0.2, 0.8]), ("no", "yes"), k=5)
    assert [entry["class"] for entry in ranked] == ["yes", "no"]


def test_top_k_of_a_real_prediction_is_consistent(predictor, tiny_data):
    probabilities = predictor(tiny_data.x_test[:1])[0]
    ranked = top_k(probabilities, tiny_data.class_names)
    assert ranked[0]["index"] == int(np.argmax(probabilities))
    assert ranked[0]["class"] == tiny_data.class_names[ranked[0]["index"]]
    assert [entry["probability"] for entry in ranked] == sorted(
        (entry["probability"] for entry in ranked), reverse=True)


# --- load_model -----------------------------------------------------------------------------


def test_load_model_of_a_missing_file_says_so(tmp_path):
    with pytest.raises(ValueError, match="No model file at .*gone.keras; it may have been deleted"):
        load_model(tmp_path / "gone.keras")


def test_saved_model_loads_and_predicts_the_same(saved_model_path, tiny_model, tiny_data):
    loaded = load_model(saved_model_path)
    images = tiny_data.x_test[:16]
    np.testing.assert_allclose(Predictor(loaded)(images),
                               np.asarray(tiny_model(images, training=False)), atol=TOLERANCE)
    assert not loaded.compiled  # loaded without compiling: inference only


def test_load_model_refuses_a_lambda_layer(tmp_path):
    """Safe mode: a `.keras` file with a Python lambda could run arbitrary code when loaded."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: x * 2)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ValueError, match="deserialization of a `Lambda` layer.*safe_mode=False"):
        load_model(path)
