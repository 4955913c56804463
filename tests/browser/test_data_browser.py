"""The Data page in a real Chromium: upload a zip of class folders, import it, read the report,
see a hostile zip refused, then go and train on the new dataset."""

import io
import zipfile

from playwright.sync_api import expect

from tests.shape_images import SHAPE_CLASSES, png_bytes, shape_image, shapes_zip

EXCEPTION = '[data-testid="stException"]'


def open_page(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title).first).to_be_visible(timeout=60_000)


IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def import_file(page, path) -> None:
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    expect(page.get_by_test_id("stFileChip").filter(has_text=path.name)).to_be_visible(
        timeout=30_000)
    # The upload reruns the page; a click during that rerun can be lost, so let the rerun start
    # and wait for it to end.
    page.wait_for_timeout(500)
    expect(page.locator(IDLE)).to_be_attached(timeout=60_000)
    page.get_by_role("button", name="Import").click()


def test_upload_a_zip_see_the_report_and_a_hostile_zip_refused(page, server, shoot, tmp_path):
    archive = tmp_path / "browser-shapes.zip"
    archive.write_bytes(shapes_zip(per_class=24))
    page.goto(server["url"])
    expect(page.get_by_role("heading", name="Lepton")).to_be_visible(timeout=60_000)
    open_page(page, "Data")

    page.get_by_test_id("stRadio").get_by_text("RGB").click()
    import_file(page, archive)
    expect(page.get_by_text("57 training and 15 test images in 3 classes")).to_be_visible(
        timeout=60_000)
    training = page.get_by_test_id("stMetric").filter(has_text="Training images")
    expect(training.get_by_test_id("stMetricValue")).to_have_text("57", timeout=30_000)
    expect(page.get_by_test_id("stMetric").filter(has_text="Input")
           .get_by_test_id("stMetricValue")).to_have_text("28×28×3")
    for class_name in SHAPE_CLASSES:
        expect(page.get_by_test_id("stImageCaption").filter(has_text=class_name)).to_be_visible()
    expect(page.get_by_text("Images per class")).to_be_visible(timeout=30_000)  # the chart
    assert page.locator(EXCEPTION).count() == 0
    shoot("data-01-imported")

    hostile = tmp_path / "hostile.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as hostile_zip:
        for kind in SHAPE_CLASSES:
            hostile_zip.writestr(f"{kind}/1.png", png_bytes(shape_image(kind, 1)))
        hostile_zip.writestr("../../evil.png", png_bytes(shape_image("circles", 2)))
    hostile.write_bytes(buffer.getvalue())
    import_file(page, hostile)
    refusal = page.get_by_test_id("stAlertContentError")
    expect(refusal).to_contain_text("zip-slip", timeout=60_000)
    expect(refusal).to_contain_text("Nothing was written")
    assert not (server["home"].parent / "evil.png").exists()
    shoot("data-02-refused")

    page.get_by_role("button", name="Train on browser-shapes").click()
    expect(page.get_by_role("heading", name="Train").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Dataset: browser-shapes")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stSidebar").get_by_text("imported from browser-shapes.zip")
           ).to_be_visible()
    assert page.locator(EXCEPTION).count() == 0
    shoot("data-03-train")
