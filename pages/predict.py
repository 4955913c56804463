"""Predict: upload or draw digits, see each preprocessing step, the answer and why the model gave it."""

import time

import numpy as np
import pandas as pd
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from lepton import charts, explain
from lepton.imaging import ImageError, preparer, preprocess_image
from lepton.inference import top_k
from lepton.jobs import TrainingBusy
from lepton.model import ModelConfig
from lepton.training import TrainConfig
from pages.common import get_jobs, get_predictor, get_store, run_label

QUICK_TRAIN = TrainConfig(epochs=3)  # ~10 s on 2 cores, ≈95 % on the embedded digits
UPLOAD_TYPES = ["png", "jpg", "jpeg", "bmp", "gif", "webp"]


def quick_train_ui() -> None:
    """Offers a one-click training on the embedded digits when no model exists yet."""
    st.info("There is no trained model yet. Train one in about a minute on the 4,000 embedded "
            "MNIST digits (mnist-5k), or use the Train page for full control.")
    if not st.button("Quick train (mnist-5k, 3 epochs)", type="primary", key="quick_train",
                     icon=":material/bolt:"):
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
    names = {"latest": f"Latest — {run_label(runs[0])}", "best": f"Best — {run_label(best)}"}
    choice = st.selectbox("Model", list(options), key="model_choice",
                          format_func=lambda key: names.get(key, key))
    return options[choice]


def inputs_ui() -> list[tuple[str, object]]:
    """(name, bytes or RGBA array) for each picture the user gave."""
    upload_tab, draw_tab = st.tabs(["Upload", "Draw"])
    with upload_tab:
        uploads = st.file_uploader(
            "Pictures (PNG, JPEG, BMP, GIF, WebP); digits: dark ink on light paper or light on "
            "dark",
            type=UPLOAD_TYPES, accept_multiple_files=True, key="uploads",
        )
    with draw_tab:
        st.caption("Draw one digit with the mouse; the bin icon under the canvas clears it.")
        drawing = st_canvas(stroke_width=18, stroke_color="#FFFFFF", background_color="#000000",
                            height=280, width=280, drawing_mode="freedraw",
                            return_image_data=True, key="canvas")
    pictures = [(upload.name, upload.getvalue()) for upload in uploads or []]
    drawn = drawing.image_data
    if drawn is not None and drawn[..., :3].max() > 0:
        pictures.insert(0, ("drawing", drawn))
    return pictures


def predict_all(pictures, predictor, class_names, prepare=preprocess_image) -> list[dict]:
    """Each picture preprocessed (by `prepare`) and predicted, timed; a bad one gets an error,
    not an exception."""
    results = []
    for name, picture in pictures:
        started = time.perf_counter()
        try:
            image = prepare(picture)
        except ImageError as error:
            results.append({"file": name, "error": str(error)})
            continue
        probabilities = predictor(image.input[np.newaxis])[0]
        results.append({
            "file": name, "error": None, "image": image, "probabilities": probabilities,
            "top": top_k(probabilities, class_names, len(class_names)),
            "milliseconds": (time.perf_counter() - started) * 1000,
        })
    return results


def results_table_ui(results: list[dict]) -> None:
    table = pd.DataFrame([
        {"file": result["file"],
         "prediction": result["top"][0]["class"] if not result["error"] else None,
         "confidence": result["top"][0]["probability"] if not result["error"] else None,
         "ms": result.get("milliseconds"), "error": result["error"]}
        for result in results
    ])
    st.dataframe(table, hide_index=True, column_config={
        "confidence": st.column_config.NumberColumn(format="percent"),
        "ms": st.column_config.NumberColumn("latency ms", format="%.1f"),
    })
    st.download_button("Download results (CSV)", table.to_csv(index=False),
                       "lepton-predictions.csv", "text/csv", icon=":material/download:")


def detail_ui(result: dict, model, top: int) -> None:
    """One picture: the preprocessing strip, the answer, an explanation and feature maps."""
    image = result["image"]
    columns = st.columns(len(image.steps))
    for column, step in zip(columns, image.steps):
        column.image(step.image, caption=step.label, clamp=True, width="stretch")
    answer, bars, heat = st.columns([1, 2, 2])
    best = result["top"][0]
    answer.metric("Prediction", best["class"], f"{best['probability']:.1%} confident",
                  delta_color="off")
    answer.caption(f"Decode + preprocess + inference: {result['milliseconds']:.1f} ms, "
                   "measured for this request on this host.")
    with bars:
        st.plotly_chart(charts.probability_bars(result["top"][:top]), key="probability_bars")
        with st.expander("Every class"):
            st.dataframe(pd.DataFrame(result["top"])[["class", "probability"]], hide_index=True,
                         column_config={"probability": st.column_config.NumberColumn(
                             format="%.6f")})
    with heat:
        method = st.radio("Explanation", ["Grad-CAM", "Gradient saliency"], horizontal=True,
                          key="explain_method",
                          help="Grad-CAM weighs the last conv layer's maps by the gradient of "
                               "the predicted class; saliency is |∂ score / ∂ pixel|.")
        compute = explain.grad_cam if method == "Grad-CAM" else explain.saliency
        heatmap = compute(model, image.input, best["index"])
        st.image(explain.overlay(image.input, heatmap), width="stretch",
                 caption=f"{method} for class {best['class']} over the "
                         f"{image.input.shape[1]}×{image.input.shape[0]} input: bright = "
                         "pixels that pushed towards this answer.")
    with st.expander("Feature maps of each conv and pooling layer"):
        for layer in explain.feature_maps(model, image.input):
            st.image(explain.grid(layer["maps"], scale=3), clamp=True,
                     caption=f"{layer['name']} ({layer['type']}): "
                             f"{' × '.join(map(str, layer['maps'].shape))}")


st.title("Predict")
finished = [run for run in get_store().list_runs("done") if run["model_path"]]
if not finished:
    quick_train_ui()
    st.stop()

run = choose_run_ui(finished)
class_names = tuple(run["metrics"].get("class_names") or [str(digit) for digit in range(10)])
predictor = get_predictor(run["model_path"])
# The run records how its dataset's pictures were made; new pictures must be made the same way.
prepare, preparation = preparer(run["metrics"].get("preprocessing", "digit"),
                                run["model_config"].get("input_shape", (28, 28, 1)))
pictures = inputs_ui()
st.caption(f"Preprocessing for this model: {preparation}.")
if not pictures:
    st.stop()

results = predict_all(pictures, predictor, class_names, prepare)
for failed in (result for result in results if result["error"]):
    st.error(f"{failed['file']}: {failed['error']}")
answered = [result for result in results if not result["error"]]
if len(results) > 1:
    results_table_ui(results)
if answered:
    chosen = 0
    if len(answered) > 1:
        chosen = st.selectbox("Inspect", range(len(answered)), key="inspect",
                              format_func=lambda index: f"{index + 1}. {answered[index]['file']}")
    top = st.slider("Classes in the chart", 1, len(class_names), 3, key="top_k")
    detail_ui(answered[chosen], predictor.model, top)
