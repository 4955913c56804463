"""Formula lab and Architecture in a real Chromium: step the window with the keyboard, look."""

import re

from playwright.sync_api import expect

EXCEPTION = '[data-testid="stException"]'


def open_page(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title).first).to_be_visible(timeout=60_000)


def settle(page) -> None:
    expect(page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')) \
        .to_be_attached(timeout=60_000)


def test_step_the_convolution_window_with_the_keyboard(page, server, shoot):
    page.goto(server["url"])
    expect(page.get_by_role("heading", name="Lepton")).to_be_visible(timeout=60_000)
    open_page(page, "Formula lab")
    arithmetic = page.get_by_test_id("stCode").first
    expect(arithmetic).to_contain_text("y[0, 0] =", timeout=60_000)
    expect(arithmetic).to_contain_text(re.compile(r"= 6$"))
    settle(page)

    slider = page.get_by_test_id("stSlider").filter(has_text="Window position") \
        .get_by_role("slider")
    slider.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")

    expect(slider).to_have_value("5")
    expect(arithmetic).to_contain_text("y[1, 1] =", timeout=30_000)
    expect(arithmetic).to_contain_text(re.compile(r"= 20$"))
    settle(page)
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    assert page.locator(EXCEPTION).count() == 0
    shoot("formula-lab")

    page.get_by_role("tab", name="Article & errata").click()
    relu_erratum = page.get_by_test_id("stAlert").filter(has_text="归一化指数函数")
    expect(relu_erratum.first).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stAlert").filter(has_text="[[20]]").first).to_be_visible()
    settle(page)
    shoot("formula-lab-errata")


def test_architecture_page_draws_the_network(page, server, shoot):
    page.goto(server["url"])
    open_page(page, "Architecture")
    expect(page.get_by_text("225,034").first).to_be_visible(timeout=60_000)
    charts = page.get_by_test_id("stGraphVizChart")
    expect(charts).to_have_count(5, timeout=60_000)
    for index in range(5):
        expect(charts.nth(index).locator("svg")).to_be_visible(timeout=30_000)
    expect(charts.first.locator("svg")).to_contain_text("conv2 · Conv2D")
    settle(page)
    assert page.locator(EXCEPTION).count() == 0
    shoot("architecture")
