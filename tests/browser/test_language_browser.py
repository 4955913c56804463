"""Switch the app to 简体中文 in a real Chromium: Chinese headings, Chinese navigation, kept in
the link."""

import re

from playwright.sync_api import expect

EXCEPTION = '[data-testid="stException"]'


def test_switch_to_chinese_and_open_train_from_the_navigation(page, server, shoot):
    page.goto(server["url"])
    expect(page.get_by_role("heading", name="Lepton")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("heading", name="This host")).to_be_visible()

    page.get_by_test_id("stSelectbox").filter(has_text="Language / 语言").click()
    page.get_by_role("option", name="简体中文").click()
    expect(page.get_by_role("heading", name="本机")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("heading", name="最近的运行")).to_be_visible()
    expect(page).to_have_url(re.compile(r"lang=zh"))

    navigation = page.get_by_test_id("stSidebarNav")
    expect(navigation.get_by_role("link", name="首页")).to_be_visible()
    navigation.get_by_role("link", name="训练").click()
    expect(page.get_by_role("heading", name="训练").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("参数量")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name=re.compile("开始训练"))).to_be_visible()
    expect(page).to_have_url(re.compile(r"lang=zh"))
    assert page.locator(EXCEPTION).count() == 0
    shoot("language-zh")
