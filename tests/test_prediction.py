"""lepton.prediction: a run's model reference, the answer for one picture, content keys."""

import os
import sys

import numpy as np
import pytest

from lepton import prediction
from lepton.prediction import ModelReference, picture_key, predict
from tests.digit_images import mnist_digit, realistic_upload


def test_a_run_from_before_the_recorded_fields_gets_the_digit_defaults(finished_run):
    reference = ModelReference.of_run(
        {**finished_run, "metrics": {}, "model_config": {}})  # as runs of early versions
    assert (reference.kind, reference.input_shape) == ("digit", (28, 28, 1))
    assert reference.class_names == tuple(str(digit) for digit in range(10))


def test_a_run_without_its_model_file_is_refused_with_the_fix(finished_run, tmp_path):
    with pytest.raises(ValueError, match="missing.*train it again"):
        ModelReference.of_run({**finished_run, "model_path": str(tmp_path / "gone.keras")})
    with pytest.raises(ValueError, match="pick a finished run"):
        ModelReference.of_run({**finished_run, "model_path": ""})


def test_an_unreadable_picture_is_an_answer_with_its_reason(finished_run):
    answer = predict(ModelReference.of_run(finished_run), "broken.png", b"not an image")
    assert answer.image is None and "not a picture" in answer.error
    assert answer.to_json() == {"file": "broken.png", "label": None, "confidence": None,
                                "probabilities": None, "top": None, "error": answer.error}


def test_a_good_picture_is_answered_with_every_class_and_its_latency(finished_run):
    digit = np.zeros((28, 28, 4), np.uint8)
    digit[4:24, 12:16] = 255  # a white "1" on a black, opaque field
    answer = predict(ModelReference.of_run(finished_run), "one", digit)
    entry = answer.to_json(top=3)
    assert answer.error is None and len(answer.top) == 10 and len(entry["top"]) == 3
    assert sum(entry["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert entry["label"] == answer.top[0]["class"] and entry["latency_ms"] > 0


def test_equal_pictures_have_equal_keys_and_different_ones_do_not():
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert picture_key(pixels) == picture_key(pixels.copy())
    assert picture_key(pixels) != picture_key(pixels.reshape(4, 3))  # same bytes, other shape
    assert picture_key(b"abc") == picture_key(b"abc") != picture_key(b"abd")



def test_a_colour_photo_is_shown_in_colour_though_its_luma_is_all_that_is_read(finished_run):
    photo = realistic_upload(mnist_digit(7)[0], size=(400, 300), ink=(20, 40, 200))
    answer = predict(ModelReference.of_run(finished_run), "photo.jpg", photo)
    original, grayscale = answer.image.steps[0].image, answer.image.steps[1].image
    # Decoded at 1/2 scale, in colour again for display at the scale the recipe read.
    assert original.shape == (150, 200, 3) and grayscale.shape == (150, 200)
    assert (original[..., 2].astype(int) - original[..., 0]).max() > 100  # the blue pen


def test_warm_up_loads_the_runtimes_and_runs_the_digit_recipe_once(monkeypatch):
    prepared = []
    real = prediction.with_colour_original
    monkeypatch.setattr(prediction, "with_colour_original",
                        lambda image, source: prepared.append(image) or real(image, source))
    assert prediction.warm_up() == os.getpid()
    assert "keras" in sys.modules and "ai_edge_litert.interpreter" in sys.modules
    # Both sample pictures (JPEG, PNG) were read as a digit: an ink stroke, centred.
    assert len(prepared) == 2 and all(image.input.max() == pytest.approx(1.0) for image in prepared)
