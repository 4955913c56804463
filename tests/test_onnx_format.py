"""ONNX export (Keras 3 through tf2onnx) and its onnxruntime predictor."""

import numpy as np
import pytest

from lepton.onnx_format import MULTI_THREAD_FROM, OnnxPredictor, export_onnx


@pytest.fixture(scope="module")
def onnx_file(tiny_model, tmp_path_factory):
    return export_onnx(tiny_model, tmp_path_factory.mktemp("onnx") / "model.onnx")


def test_onnx_gives_keras_numbers_and_answers(onnx_file, tiny_model, tiny_data):
    predictor = OnnxPredictor(onnx_file)
    keras_probabilities = np.asarray(tiny_model(tiny_data.x_test, training=False))
    probabilities = predictor(tiny_data.x_test)
    assert probabilities.shape == (200, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities, keras_probabilities, atol=1e-5)
    agreement = np.mean(probabilities.argmax(axis=1) == keras_probabilities.argmax(axis=1))
    assert agreement >= 0.999
    assert predictor.input_shape == (28, 28, 1) and predictor.num_classes == 10


def test_one_image_and_a_batch_take_their_own_sessions(onnx_file, tiny_data):
    predictor = OnnxPredictor(onnx_file, num_threads=2)
    single = predictor(tiny_data.x_test[:1])
    batch = predictor(tiny_data.x_test[:MULTI_THREAD_FROM])
    np.testing.assert_allclose(single[0], batch[0], atol=1e-6)
    assert sorted(predictor._sessions) == [1, 2]


def test_wrong_shapes_and_files_are_refused_with_the_fix(onnx_file, tmp_path):
    with pytest.raises(ValueError, match=r"Expected images of shape \(N, 28, 28, 1\)"):
        OnnxPredictor(onnx_file)(np.zeros((1, 32, 32, 1), np.float32))
    with pytest.raises(ValueError, match="export the run again"):
        OnnxPredictor(tmp_path / "missing.onnx")
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(b"not an onnx model")
    with pytest.raises(ValueError, match="not a readable ONNX model"):
        OnnxPredictor(damaged)
