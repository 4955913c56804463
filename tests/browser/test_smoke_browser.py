"""Click through the app in a real Chromium: every page, quick train, upload a photo of a digit."""

import re
from pathlib import Path

import psutil
from playwright.sync_api import expect

from lepton.data import load_dataset
from tests.digit_images import realistic_upload

EXCEPTION = '[data-testid="stException"]'


# Navigation link → the page's heading, where they differ.
HEADINGS = {"Home": "Lepton", "Single vs many": "Single node vs many"}
EVERY_PAGE = ("Home", "Train", "Runs", "Data", "Predict", "Evaluate", "Architecture",
              "Formula lab", "Optimize", "Single vs many", "Balance")


def open_page(page, server, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    heading = HEADINGS.get(title, title)
    expect(page.get_by_role("heading", name=heading).first).to_be_visible(timeout=60_000)


def held_out_digit(index: int = 0):
    """A digit of mnist-5k's test split (never trained on) as 28×28 uint8, and its label."""
    dataset = load_dataset("mnist-5k")
    return (dataset.x_test[index, ..., 0] * 255).round().astype("uint8"), int(dataset.y_test[index])


def test_visit_every_page_quick_train_and_predict_an_upload(page, fresh_server, shoot, tmp_path):
    server = fresh_server  # a newcomer's app: no run yet, so Predict offers the quick train
    page.goto(server["url"])
    expect(page.get_by_role("heading", name="Lepton")).to_be_visible(timeout=60_000)
    shoot("01-home")

    open_page(page, server, "Train")
    expect(page.get_by_text("Parameters")).to_be_visible(timeout=60_000)
    shoot("02-train")

    open_page(page, server, "Predict")
    page.get_by_role("button", name=re.compile("Quick train")).click()
    uploader = page.get_by_test_id("stFileUploaderDropzoneInput")
    # The default recipe's whole training: about a minute on an idle AVX2 host, slower under the
    # rest of the suite.
    expect(uploader).to_be_attached(timeout=300_000)

    digit, label = held_out_digit()
    photo = tmp_path / "digit-photo.jpg"
    photo.write_bytes(realistic_upload(digit))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n but the rest is not an image")
    uploader.set_input_files([str(photo), str(broken)])
    expect(page.get_by_test_id("stAlert").filter(has_text="broken.png")).to_be_visible(
        timeout=60_000)  # the bad file gets its own error; the photo is still answered
    prediction = page.get_by_test_id("stMetric").filter(has_text="Prediction")
    expect(prediction).to_be_visible(timeout=60_000)
    expect(prediction.get_by_test_id("stMetricValue")).to_have_text(str(label))
    expect(page.get_by_test_id("stImage").first).to_be_visible()  # the preprocessing strip
    expect(page.locator(".js-plotly-plot").first).to_be_visible()  # the probability bars
    page.wait_for_timeout(1500)  # let the images and charts paint before the screenshot
    shoot("03-predict")

    for title in EVERY_PAGE:
        open_page(page, server, title)
        assert page.locator(EXCEPTION).count() == 0, f"exception shown on {title}"

    # Every page drew its real model, trained and predicted, yet the server only handed the
    # work over: TensorFlow is loaded in the worker processes, never in the server.
    libraries = {Path(mapped.path).name
                 for mapped in psutil.Process(server["process"].pid).memory_maps()}
    assert not [name for name in libraries if "tensorflow" in name.lower()]
