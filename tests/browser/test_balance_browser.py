"""The Balance page in a real Chromium: make the search space tiny, start a 2-trial sweep, watch
its trials and front fill in while its own process trains them, then open the recommended
setup on the Train page."""

import re

import pytest
from playwright.sync_api import expect

EXCEPTION = '[data-testid="stException"]'
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
TITLE = "Balance: let a sweep find the trade-off"
SWEEP = 150_000  # ms: two trials of 300 samples, one epoch, on a shared 2-core host (≈ 35 s)


def settle(page) -> None:
    """Lets the rerun a change started begin, then waits for it to end."""
    page.wait_for_timeout(300)
    expect(page.locator(IDLE)).to_be_attached(timeout=60_000)


def widget(page, key: str):
    return page.locator(f".st-key-{key}")


def chips(page, key: str) -> list[str]:
    """The values a multiselect holds (its chips)."""
    expect(widget(page, key).get_by_role("combobox")).to_be_visible(timeout=30_000)
    found = widget(page, key).locator("[data-tag]")
    return [found.nth(index).get_attribute("aria-label") for index in range(found.count())]


def choose(page, key: str, values: list[str]) -> None:
    """Leaves exactly `values` in a multiselect: removes the other chips, then picks the rest
    from its list (removing first: a click while the list is open only closes it)."""
    while unwanted := [value for value in chips(page, key) if value not in values]:
        widget(page, key).get_by_role("button", name=f"Remove {unwanted[0]}", exact=True).click()
        settle(page)
    for value in values:
        if value not in chips(page, key):
            widget(page, key).get_by_role("combobox").click()
            page.get_by_role("option", name=value, exact=True).click()
            settle(page)
            page.keyboard.press("Escape")
            settle(page)
    assert sorted(chips(page, key)) == sorted(values), (key, chips(page, key))


def press_on_thumb(page, key: str, thumb: str, keys: str) -> None:
    """Sliders move by keyboard (fill() on their hidden range input does nothing)."""
    widget(page, key).get_by_role("slider", name=thumb).focus()
    page.keyboard.press(keys)
    settle(page)


def slider_value(page, label: str) -> str:
    slider = page.get_by_test_id("stSlider").filter(has_text=label)
    return slider.get_by_test_id("stSliderThumbValue").inner_text()


def assert_train_setup(page, filters2: str) -> None:
    """The Train page holds the tiny space's recommended setup."""
    expect(page.get_by_test_id("stSlider").filter(has_text="Filters in block 1")
           .get_by_test_id("stSliderThumbValue")).to_have_text("8", timeout=30_000)
    assert slider_value(page, "Filters in block 2") == filters2
    assert slider_value(page, "Dense units") == "16"
    assert slider_value(page, "Epochs") == "1"
    expect(page.get_by_test_id("stSidebar").get_by_role("combobox", name="Dataset")
           ).to_have_value("mnist-5k")


@pytest.mark.browser
def test_start_a_tiny_sweep_watch_its_front_and_open_the_pick_on_train(page, context,
                                                                       fresh_server, shoot):
    page.goto(fresh_server["url"])
    expect(page.get_by_role("heading", name="Lepton")).to_be_visible(timeout=60_000)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Balance").click()
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible(timeout=60_000)
    settle(page)
    new_sweep = page.get_by_test_id("stExpander").filter(has_text="New sweep")
    if not widget(page, "sweep_start").is_visible():  # collapsed once a sweep exists
        new_sweep.get_by_text("New sweep").first.click()
    expect(widget(page, "sweep_start")).to_be_visible(timeout=30_000)

    # The tiny space: filters2 8 or 16, everything else fixed; 300 samples, 1 epoch, 2 trials.
    choose(page, "space_filters1", ["8"])
    choose(page, "space_filters2", ["8", "16"])
    choose(page, "space_dense", ["16"])
    choose(page, "space_lr", ["0.002"])
    choose(page, "space_batch", ["64"])
    press_on_thumb(page, "space_epochs", "epochs — start", "Home")
    press_on_thumb(page, "space_epochs", "epochs — end", "Home")
    press_on_thumb(page, "sweep_trials", "Trials", "Home")  # the smallest budget: 2
    subset = widget(page, "space_subset").locator("input")
    subset.fill("300")
    subset.press("Enter")
    settle(page)
    command = page.get_by_test_id("stCode").first.inner_text()
    assert "--dataset mnist-5k --trials 2" in command, command
    for part in ("filters1=8 ", "dense=16 ", "lr=0.002 ", "batch=64 ", "epochs=1 ",
                 "subset=300"):
        assert part in command, command
    assert re.search(r"filters2=(8,16|16,8) ", command), command
    assert page.locator(EXCEPTION).count() == 0

    widget(page, "sweep_start").get_by_role("button").click()
    progress = page.get_by_test_id("stProgress")
    expect(progress.filter(has_text=re.compile(r"^running: [01] of 2 trials ended"))
           ).to_have_count(1, timeout=SWEEP)
    table = page.get_by_test_id("stDataFrame")
    expect(table).to_be_visible(timeout=SWEEP)  # the first trial is in the table, running
    # The front is drawn once a trial is measured: as long as a trial takes on a busy host.
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=SWEEP)
    page.wait_for_timeout(1000)  # let the grid and the chart paint
    shoot("balance-01-running")
    assert page.locator(EXCEPTION).count() == 0

    # While the page reruns as the sweep ends, the old bar may show a moment beside the new one.
    expect(progress.filter(has_text=re.compile(r"^done: 2 of 2 trials ended"))).to_have_count(
        1, timeout=SWEEP)
    recommended = page.get_by_role("heading", name="Recommended setup")
    expect(recommended).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stMetric").filter(has_text="test accuracy")
           .get_by_test_id("stMetricValue")).to_have_text(re.compile(r"^\d+\.\d\d%$"))
    front = page.locator(".js-plotly-plot").filter(has_text="test accuracy against training time")
    expect(front).to_be_visible(timeout=30_000)
    expect(front.get_by_text("recommended")).to_be_visible()  # the star's legend entry
    expect(front.locator(".scatterlayer .point")).to_have_count(3)  # 2 trials and the star
    setup = page.get_by_text(re.compile(r"The front's balanced point.*Setup: ")).inner_text()
    filters2 = re.search(r"filters2 (\d+)", setup).group(1)
    assert filters2 in ("8", "16"), setup
    expect(widget(page, "sweep_stop")).to_have_count(0)  # the controls follow its end
    # The selector names the sweep without its status: a browser keeps a selected option's
    # old text (the status is on the progress bar instead).
    expect(widget(page, "sweep").get_by_role("combobox")).to_have_value(
        re.compile(r"^sweep 1: mnist-5k, 2 trials"))
    page.wait_for_timeout(1500)  # let the charts paint before the screenshot
    shoot("balance-02-done")
    assert page.locator(EXCEPTION).count() == 0

    # The link to the pick, opened in another tab, trains the same setup.
    link = page.get_by_test_id("stCode").filter(has_text="/train?").inner_text().strip()
    assert link.startswith("/train?dataset=mnist-5k&"), link
    other = context.new_page()
    other.goto(f"{fresh_server['url']}{link}")
    expect(other.get_by_role("heading", name="Train", exact=True)).to_be_visible(timeout=60_000)
    assert_train_setup(other, filters2)
    other.close()

    widget(page, "open_on_train").get_by_role("button").click()
    train = page.get_by_role("heading", name="Train", exact=True)
    expect(train.or_(page.locator(EXCEPTION).first)).to_be_visible(timeout=60_000)
    settle(page)
    shoot("balance-03-train")
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()[:600]
    expect(train).to_be_visible()
    assert_train_setup(page, filters2)
    assert "filters1=8" in page.url and "dataset=mnist-5k" in page.url
