"""Click through the app in a real Chromium: every page, quick train, upload a photo of a digit."""

import re

from playwright.sync_api import expect

from tests.digit_images import mnist_digit, realistic_upload

EXCEPTION = '[data-testid="stException"]'


def open_page(page, server, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title).first).to_be_visible(timeout=60_000)


def test_visit_every_page_quick_train_and_predict_an_upload(page, server, shoot, tmp_path):
    page.goto(server["url"])
    expect(page.get_by_role("heading", name="Lepton")).to_be_visible(timeout=60_000)
    shoot("01-home")

    open_page(page, server, "Train")
    expect(page.get_by_text("Parameters")).to_be_visible(timeout=60_000)
    shoot("02-train")

    open_page(page, server, "Predict")
    page.get_by_role("button", name=re.compile("Quick train")).click()
    uploader = page.get_by_test_id("stFileUploaderDropzoneInput")
    expect(uploader).to_be_attached(timeout=120_000)

    digit, label = mnist_digit(7)
    photo = tmp_path / "digit-photo.jpg"
    photo.write_bytes(realistic_upload(digit))
    uploader.set_input_files(str(photo))
    prediction = page.get_by_test_id("stMetric").filter(has_text="Prediction")
    expect(prediction).to_be_visible(timeout=60_000)
    expect(prediction.get_by_test_id("stMetricValue")).to_have_text(str(label))
    shoot("03-predict")

    for title in ("Home", "Train", "Predict"):
        open_page(page, server, title)
        assert page.locator(EXCEPTION).count() == 0, f"exception shown on {title}"
