"""Predict: upload digit images, see how each becomes a 28×28 input, and the model's answer."""

import time

import numpy as np
import streamlit as st

from lepton import charts
from lepton.imaging import ImageError, preprocess_image
from lepton.inference import top_k
from lepton.jobs import TrainingBusy
from lepton.model import ModelConfig
from lepton.training import TrainConfig
from pages.common import get_jobs, get_predictor, get_store, run_label

QUICK_TRAIN = TrainConfig(epochs=3)  # ~10 s on 2 cores, ≈95 % on the embedded digits


def quick_train_ui() -> None:
    """Offers a one-click training on the embedded digits when no model exists yet."""
    st.info("There is no trained model yet. Train one in about a minute on the 4,000 embedded "
            "MNIST digits (mnist-5k), or use the Train page for full control.")
    if not st.button("Quick train (mnist-5k, 3 epochs)", type="primary", key="quick_train"):
        return
    jobs = get_jobs()
    try:
        run_id = jobs.start("mnist-5k", ModelConfig(), QUICK_TRAIN)
    except TrainingBusy as error:
        st.warning(str(error))
        return
    bar = st.progress(0.0, text="Starting…")
    while not jobs.wait(timeout=0.5):
        progress = get_store().get_run(run_id)["progress"]
        bar.progress(min(progress.get("fraction") or 0.0, 1.0),
                     text=f"Training run {run_id}: {progress.get('stage', '')}")
    run = get_store().get_run(run_id)
    if run["status"] != "done":
        st.error(f"Run {run_id} {run['status']}: {run['reason']}")
        return
    st.rerun()


def choose_run_ui(runs: list[dict]) -> dict:
    best = max(runs, key=lambda run: run["metrics"].get("test_accuracy") or 0.0)
    options = {"latest": runs[0], "best": best, **{run_label(run): run for run in runs}}
    choice = st.selectbox("Model", list(options), key="model_choice",
                          format_func=lambda key: {"latest": f"Latest — {run_label(runs[0])}",
                                                   "best": f"Best — {run_label(best)}"}.get(key, key))
    return options[choice]


def prediction_ui(name: str, data: bytes, predictor, class_names: tuple[str, ...]) -> None:
    st.markdown(f"#### {name}")
    started = time.perf_counter()
    try:
        image = preprocess_image(data)
    except ImageError as error:
        st.error(f"{name}: {error}")
        return
    probabilities = predictor(image.input[np.newaxis])[0]
    elapsed_ms = (time.perf_counter() - started) * 1000
    strip, answer = st.columns([3, 2])
    with strip:
        columns = st.columns(len(image.steps))
        for column, step in zip(columns, image.steps):
            column.image(step.image, caption=step.label, clamp=True, width="stretch")
    with answer:
        best = top_k(probabilities, class_names, 3)
        st.metric("Prediction", best[0]["class"], f"{best[0]['probability']:.1%} confident",
                  delta_color="off")
        st.plotly_chart(charts.probability_bars(best), key=f"bars-{name}")
        st.caption(f"Decode + preprocess + inference: {elapsed_ms:.1f} ms on this host.")


st.title("Predict")
finished = [run for run in get_store().list_runs("done") if run["model_path"]]
if not finished:
    quick_train_ui()
    st.stop()

run = choose_run_ui(finished)
class_names = tuple(run["metrics"].get("class_names") or [str(digit) for digit in range(10)])
predictor = get_predictor(run["model_path"])
uploads = st.file_uploader(
    "Digit images (PNG, JPEG, BMP, GIF, WebP) — dark ink on light paper or light on dark",
    type=["png", "jpg", "jpeg", "bmp", "gif", "webp"],
    accept_multiple_files=True,
    key="uploads",
)
if not uploads:
    st.caption("Upload one or more pictures of a handwritten digit. Each is converted the way "
               "MNIST was made: ink found, cropped, fitted into 20×20, centred by mass in 28×28.")
for upload in uploads or []:
    prediction_ui(upload.name, upload.getvalue(), predictor, class_names)
