"""A room of viewers: several browser sessions upload digits to Predict at once; all answered."""

import time

import pytest
from playwright.sync_api import expect

from lepton.model import build_model
from lepton.registry import RunStore
from tests.browser.conftest import SCREENSHOTS
from tests.conftest import SMALL_MODEL
from tests.digit_images import mnist_digit, realistic_upload
from tests.servers import running_server

EXCEPTION = '[data-testid="stException"]'
SESSIONS = 3
UPLOADS = 2


@pytest.fixture(scope="module")
def server_with_a_model(tmp_path_factory):
    """A server whose store holds one finished run (an untrained small model: any answer
    will do, what is tested is that every session gets one)."""
    home = tmp_path_factory.mktemp("sessions_home")
    store = RunStore(home)
    run_id = store.create_run("mnist-5k", SMALL_MODEL.to_dict(), {})
    model_path = store.run_folder(run_id) / "model.keras"
    build_model(SMALL_MODEL).save(model_path)
    store.update_run(run_id, status="done", model_path=str(model_path),
                     metrics={"test_accuracy": 0.1})
    with running_server(home) as started:
        yield started


def photos(session: int) -> list[dict]:
    return [{"name": f"digit-{session}-{index}.jpg", "mimeType": "image/jpeg",
             "buffer": realistic_upload(mnist_digit(session * UPLOADS + index)[0], fmt="JPEG",
                                        seed=session * UPLOADS + index)}
            for index in range(UPLOADS)]


def test_sessions_uploading_at_once_are_all_answered(browser, server_with_a_model):
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1800})
                for _ in range(SESSIONS)]
    try:
        pages = [context.new_page() for context in contexts]
        for page in pages:
            page.goto(f"{server_with_a_model['url']}/predict")
        for page in pages:
            expect(page.get_by_test_id("stFileUploaderDropzoneInput")).to_be_attached(
                timeout=60_000)
        started = time.monotonic()
        for session, page in enumerate(pages):  # one after the other, without waiting
            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(photos(session))
        for page in pages:
            prediction = page.get_by_test_id("stMetric").filter(has_text="Prediction")
            expect(prediction).to_be_visible(timeout=90_000)
            # Shown once every file of the session has its answer.
            expect(page.get_by_role("button", name="Download results (CSV)")).to_be_visible(
                timeout=30_000)
        answered_within = time.monotonic() - started
        SCREENSHOTS.mkdir(exist_ok=True)
        pages[-1].screenshot(path=str(SCREENSHOTS / "sessions-last-answered.png"),
                             full_page=True)
        for page in pages:
            assert page.locator(EXCEPTION).count() == 0
        print(f"{SESSIONS} sessions × {UPLOADS} photos answered within {answered_within:.1f} s")
    finally:
        for context in contexts:
            context.close()
