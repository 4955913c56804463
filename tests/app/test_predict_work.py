"""The Predict page's work happens in the worker processes, once per content, and only for
what is on screen."""

from streamlit.testing.v1 import AppTest

from tests.app.session import open_page
from tests.digit_images import mnist_digit, realistic_upload


def open_predict() -> AppTest:
    return open_page("pages/predict.py")


def work_pool():
    from pages.common import get_work_pool  # the pool every session of this process shares

    return get_work_pool()


def computed() -> int:
    return work_pool().statistics.computed


def test_each_picture_is_worked_on_once_whoever_sends_it(finished_run):
    photo = realistic_upload(mnist_digit(7)[0], fmt="JPEG", seed=7)
    at = open_predict()
    before = computed()
    at.file_uploader(key="uploads").set_value([("seven.jpg", photo, "image/jpeg")]).run()
    assert not at.exception, at.exception
    assert [metric.label for metric in at.metric] == ["Prediction"]
    assert computed() - before == 2  # the prediction and the explanation; no feature maps

    at.slider(key="top_k").set_value(5).run()  # a rerun of the same picture: nothing new
    assert not at.exception, at.exception
    other = open_predict()  # another session, the same photo
    other.file_uploader(key="uploads").set_value([("seven.jpg", photo, "image/jpeg")]).run()
    assert [metric.value for metric in other.metric] == [at.metric[0].value]
    assert computed() - before == 2
    assert work_pool().statistics.cache_hits >= 4


def test_feature_maps_are_worked_out_only_once_their_expander_opens(finished_run):
    photo = realistic_upload(mnist_digit(3)[0], fmt="PNG", seed=3)
    at = open_predict()
    at.file_uploader(key="uploads").set_value([("three.png", photo, "image/png")]).run()
    images_closed = len(at.get("image"))
    before = computed()
    at.session_state["feature_maps_open"] = True
    at.run()
    assert not at.exception, at.exception
    assert computed() - before == 1
    captions = [caption for image in at.get("image") for caption in image.captions]
    assert any("Conv2D" in caption for caption in captions), captions
    assert len(at.get("image")) > images_closed
