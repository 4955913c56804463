"""The Predict page's drawing canvas under AppTest: a drawing set through session state."""

import base64
import io

from PIL import Image
from streamlit.testing.v1 import AppTest

from lepton.jobs import execute_run
from lepton.model import ModelConfig
from lepton.registry import RunStore
from lepton.training import TrainConfig
from tests.app.session import APP, TIMEOUT
from tests.digit_images import drawn_digit_rgba


def canvas_value(rgba) -> dict:
    """What streamlit-drawable-canvas 0.13 sends back: the drawing as a PNG data URL."""
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return {"drawing": {"raw": {"objects": [{"type": "path"}]},
                        "data": f"data:image/png;base64,{encoded}"},
            "backgroundFit": None}


def test_a_drawing_is_predicted(lepton_home):
    store = RunStore(lepton_home)
    run_id = store.create_run("mnist-5k", ModelConfig().to_dict(),
                              TrainConfig(epochs=2, batch_size=64).to_dict())
    assert execute_run(store, run_id)["status"] == "done"
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("pages/predict.py").run()
    assert not at.exception
    at.session_state["canvas"] = canvas_value(drawn_digit_rgba("1"))
    at.run()
    assert not at.exception
    predictions = [metric.value for metric in at.metric if metric.label == "Prediction"]
    assert predictions == ["1"]
