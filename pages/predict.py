"""Predict: upload or draw digits, see each preprocessing step, the answer and why it was given."""

import re
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
from lepton.recipes import default_config
from pages.common import (
    get_jobs,
    get_predictor,
    get_store,
    language,
    preparation_text,
    run_label,
    t,
)

UPLOAD_TYPES = ["png", "jpg", "jpeg", "bmp", "gif", "webp"]
EXPLANATIONS = {"Grad-CAM": "predict.method_grad_cam",  # radio value → catalogue key of its name
                "Gradient saliency": "predict.method_saliency"}
# lepton.imaging names its steps in English; the page shows them in the chosen language.
STEP_PATTERNS = [
    (re.compile(r"fitted to (?P<size>\S+)"), "predict.step_fitted"),
    (re.compile(r"centred (?P<size>\S+)"), "predict.step_centred"),
    (re.compile(r"resized (?P<size>\S+) grayscale"), "predict.step_resized_grayscale"),
    (re.compile(r"resized (?P<size>\S+) RGB"), "predict.step_resized_rgb"),
]
STEP_NAMES = {"original": "predict.step_original", "grayscale / ink": "predict.step_grayscale_ink",
              "inverted": "predict.step_inverted", "background removed": "predict.step_background",
              "cropped to ink": "predict.step_cropped"}


def step_caption(label: str) -> str:
    """A preprocessing step's label from lepton.imaging, translated; unknown ones as they are."""
    if label in STEP_NAMES:
        return t(STEP_NAMES[label])
    for pattern, key in STEP_PATTERNS:
        match = pattern.fullmatch(label)
        if match:
            return t(key, **match.groupdict())
    return label


def quick_train_ui() -> None:
    """Offers a one-click training on the embedded digits when no model exists yet."""
    st.info(t("predict.no_model"))
    if not st.button(t("predict.quick_train"), type="primary", key="quick_train",
                     icon=":material/bolt:"):
        return
    jobs = get_jobs()
    try:
        run_id = jobs.start("mnist-5k", ModelConfig(), default_config(get_store().home))
    except TrainingBusy as error:
        st.warning(t("predict.training_busy", reason=str(error)))
        return
    bar = st.progress(0.0, text=t("predict.starting"))
    while not jobs.wait(timeout=0.5):
        progress = get_store().get_run(run_id)["progress"]
        bar.progress(min(progress.get("fraction") or 0.0, 1.0),
                     text=t("predict.training_progress", run=run_id,
                            stage=progress.get("stage", "")))
    run = get_store().get_run(run_id)
    if run["status"] != "done":
        st.error(t("predict.quick_train_failed", run=run_id, status=run["status"],
                   reason=run["reason"]))
        return
    st.rerun()


def choose_run_ui(runs: list[dict]) -> dict:
    best = max(runs, key=lambda run: run["metrics"].get("test_accuracy") or 0.0)
    # Values stay language-free ("latest", "best" or a run id) so a language switch keeps them.
    options = {"latest": runs[0], "best": best, **{run["id"]: run for run in runs}}
    names = {"latest": t("predict.latest_run", run=run_label(runs[0])),
             "best": t("predict.best_run", run=run_label(best)),
             **{run["id"]: run_label(run) for run in runs}}
    choice = st.selectbox(t("predict.model"), list(options), key="model_choice",
                          format_func=names.get)
    return options[choice]


def inputs_ui() -> list[tuple[str, object]]:
    """(name, bytes or RGBA array) for each picture the user gave."""
    upload_tab, draw_tab = st.tabs([t("predict.tab_upload"), t("predict.tab_draw")])
    with upload_tab:
        uploads = st.file_uploader(t("predict.uploads"), type=UPLOAD_TYPES,
                                   accept_multiple_files=True, key="uploads")
    with draw_tab:
        st.caption(t("predict.draw_help"))
        drawing = st_canvas(stroke_width=18, stroke_color="#FFFFFF", background_color="#000000",
                            height=280, width=280, drawing_mode="freedraw",
                            return_image_data=True, key="canvas")
    pictures = [(upload.name, upload.getvalue()) for upload in uploads or []]
    drawn = drawing.image_data
    if drawn is not None and drawn[..., :3].max() > 0:
        pictures.insert(0, (t("predict.drawing"), drawn))
    return pictures


def predict_all(pictures, predictor, class_names, prepare=preprocess_image) -> list[dict]:
    """Each picture preprocessed (by `prepare`) and predicted; a bad one gets an error, not an
    exception. `latency_ms` is decode + preprocess + inference, as `python -m lepton predict`
    reports it."""
    results = []
    for name, picture in pictures:
        started = time.perf_counter()
        try:
            image = prepare(picture)
        except ImageError as error:
            results.append({"file": name, "error": str(error)})
            continue
        probabilities = predictor(image.input[np.newaxis])[0]
        latency_ms = (time.perf_counter() - started) * 1000
        results.append({
            "file": name, "error": None, "image": image, "probabilities": probabilities,
            "top": top_k(probabilities, class_names, len(class_names)), "latency_ms": latency_ms,
        })
    return results


def results_table_ui(results: list[dict]) -> None:
    table = pd.DataFrame([
        {"file": result["file"],
         "prediction": result["top"][0]["class"] if not result["error"] else None,
         "confidence": result["top"][0]["probability"] if not result["error"] else None,
         "latency_ms": result.get("latency_ms"), "error": result["error"]}
        for result in results
    ])
    # Column names stay stable (they head the CSV); the labels shown follow the language.
    st.dataframe(table, hide_index=True, column_config={
        "file": st.column_config.TextColumn(t("predict.column_file")),
        "prediction": st.column_config.TextColumn(t("predict.column_prediction")),
        "confidence": st.column_config.NumberColumn(t("predict.column_confidence"),
                                                    format="percent"),
        "latency_ms": st.column_config.NumberColumn(t("predict.column_latency"), format="%.1f",
                                                    help=t("predict.latency_help")),
        "error": st.column_config.TextColumn(t("predict.column_error")),
    })
    st.download_button(t("predict.download_csv"), table.to_csv(index=False),
                       "lepton-predictions.csv", "text/csv", icon=":material/download:")


def detail_ui(result: dict, model, top: int) -> None:
    """One picture: the preprocessing strip, the answer, an explanation and feature maps."""
    image = result["image"]
    columns = st.columns(len(image.steps))
    for column, step in zip(columns, image.steps):
        column.image(step.image, caption=step_caption(step.label), clamp=True, width="stretch")
    answer, bars, heat = st.columns([1, 2, 2])
    best = result["top"][0]
    answer.metric(t("predict.prediction"), best["class"],
                  t("predict.confident", percent=f"{best['probability']:.1%}"),
                  delta_color="off")
    answer.caption(t("predict.timing", milliseconds=f"{result['latency_ms']:.1f}"),
                   help=t("predict.latency_help"))
    with bars:
        st.plotly_chart(charts.probability_bars(result["top"][:top], language=language()),
                        key="probability_bars")
        with st.expander(t("predict.every_class")):
            st.dataframe(pd.DataFrame(result["top"])[["class", "probability"]], hide_index=True,
                         column_config={
                             "class": st.column_config.TextColumn(t("predict.column_class")),
                             "probability": st.column_config.NumberColumn(
                                 t("predict.column_probability"), format="%.6f"),
                         })
    with heat:
        # Names looked up now, in this run's language: format_func is also called later.
        methods = {value: t(key) for value, key in EXPLANATIONS.items()}
        method = st.radio(t("predict.explanation"), list(methods), horizontal=True,
                          key="explain_method", format_func=methods.get,
                          help=t("predict.explanation_help"))
        compute = explain.grad_cam if method == "Grad-CAM" else explain.saliency
        heatmap = compute(model, image.input, best["index"])
        st.image(explain.overlay(image.input, heatmap), width="stretch",
                 caption=t("predict.heatmap_caption", method=methods[method],
                           label=best["class"], width=image.input.shape[1],
                           height=image.input.shape[0]))
    with st.expander(t("predict.feature_maps")):
        for layer in explain.feature_maps(model, image.input):
            st.image(explain.grid(layer["maps"], scale=3), clamp=True,
                     caption=f"{layer['name']} ({layer['type']}): "
                             f"{' × '.join(map(str, layer['maps'].shape))}")


st.title(t("predict.title"))
finished = [run for run in get_store().list_runs("done") if run["model_path"]]
if not finished:
    quick_train_ui()
    st.stop()

run = choose_run_ui(finished)
class_names = tuple(run["metrics"].get("class_names") or [str(digit) for digit in range(10)])
predictor = get_predictor(run["model_path"])
# The run records how its dataset's pictures were made; new pictures must be made the same way.
kind = run["metrics"].get("preprocessing", "digit")
input_shape = run["model_config"].get("input_shape", (28, 28, 1))
prepare, _ = preparer(kind, input_shape)
pictures = inputs_ui()
st.caption(t("predict.preparation", preparation=preparation_text(kind, input_shape)))
if not pictures:
    st.stop()

results = predict_all(pictures, predictor, class_names, prepare)
for failed in (result for result in results if result["error"]):
    st.error(t("predict.file_error", file=failed["file"], error=failed["error"]))
answered = [result for result in results if not result["error"]]
if len(results) > 1:
    results_table_ui(results)
if answered:
    chosen = 0
    if len(answered) > 1:
        chosen = st.selectbox(t("predict.inspect"), range(len(answered)), key="inspect",
                              format_func=lambda index: f"{index + 1}. {answered[index]['file']}")
    top = st.slider(t("predict.top_classes"), 1, len(class_names), 3, key="top_k")
    detail_ui(answered[chosen], predictor.model, top)
