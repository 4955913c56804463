"""What a user does in a real Chromium: train and watch it live, share the link, draw a digit,
evaluate a run, export and download a compressed model."""

import re

from playwright.sync_api import expect

EXCEPTION = '[data-testid="stException"]'
LONG = 180_000  # ms: a training on a shared 2-core host


def go(page, title: str, heading: str | None = None) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=heading or title).first).to_be_visible(timeout=60_000)


def slider_value(page, label: str) -> str:
    slider = page.get_by_test_id("stSlider").filter(has_text=label)
    return slider.get_by_test_id("stSliderThumbValue").inner_text()


def test_train_live_leave_come_back_and_share_the_link(page, server, shoot, context):
    page.goto(f"{server['url']}/train?epochs=6&blocks=1&dense=32")
    expect(page.get_by_role("heading", name="Train")).to_be_visible(timeout=60_000)
    assert slider_value(page, "Epochs") == "6"
    assert slider_value(page, "Conv blocks") == "1"
    page.get_by_role("button", name="Start training").click()
    done = page.get_by_role("heading", name=re.compile(r"Run \d+ — done"))
    # A fast host may finish before the first poll: the progress bar or the result will do.
    expect(page.get_by_test_id("stProgress").or_(done)).to_be_visible(timeout=LONG)
    shoot("journey-01-training-live")

    go(page, "Runs")  # leave while it trains: the worker belongs to the server, not the page
    go(page, "Train")
    expect(page.get_by_role("heading", name=re.compile(r"Run \d+ — done"))).to_be_visible(
        timeout=LONG)
    expect(page.get_by_test_id("stMetric").filter(has_text="Energy")).to_be_visible()
    page.wait_for_timeout(1500)  # let the charts paint before the screenshot
    shoot("journey-02-training-done")
    assert page.locator(EXCEPTION).count() == 0

    shared = page.url
    assert "epochs=6" in shared and "blocks=1" in shared
    other = context.new_page()
    other.goto(shared)
    expect(other.get_by_role("heading", name="Train")).to_be_visible(timeout=60_000)
    assert slider_value(other, "Epochs") == "6"
    assert slider_value(other, "Conv blocks") == "1"
    other.close()


def test_draw_a_digit_on_the_canvas(page, server, shoot):
    page.goto(server["url"])
    go(page, "Predict")
    page.get_by_role("tab", name="Draw").click()
    canvas = page.locator("canvas.upper-canvas")
    expect(canvas).to_be_visible(timeout=60_000)
    box = canvas.bounding_box()
    left, top = box["x"], box["y"]
    page.mouse.move(left + box["width"] * 0.5, top + box["height"] * 0.15)
    page.mouse.down()
    for step in range(1, 21):  # a vertical stroke: a "1"
        page.mouse.move(left + box["width"] * 0.5, top + box["height"] * (0.15 + 0.035 * step))
    page.mouse.up()
    prediction = page.get_by_test_id("stMetric").filter(has_text="Prediction")
    expect(prediction).to_be_visible(timeout=60_000)
    expect(prediction.get_by_test_id("stMetricValue")).to_have_text(re.compile(r"^\d$"))
    shoot("journey-03-canvas")
    assert page.locator(EXCEPTION).count() == 0


def test_evaluate_then_export_and_download(page, server, shoot):
    page.goto(server["url"])
    go(page, "Evaluate")
    expect(page.get_by_test_id("stMetric").filter(has_text="Test accuracy")).to_be_visible(
        timeout=120_000)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
    shoot("journey-04-evaluate")

    go(page, "Optimize")
    page.get_by_role("button", name="Export and measure").click()
    download_button = page.get_by_test_id("stDownloadButton").first
    expect(download_button).to_be_visible(timeout=LONG)
    shoot("journey-05-optimize")
    with page.expect_download(timeout=60_000) as download:
        download_button.get_by_role("button").click()
    path = download.value.path()
    assert path is not None and open(path, "rb").read(8)  # a real, non-empty file
    assert page.locator(EXCEPTION).count() == 0
