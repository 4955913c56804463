"""Predict: upload or draw digits, see each preprocessing step, the answer and why it was given."""

import pandas as pd
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from lepton import charts, explain, prediction, registry
from lepton.jobs import TrainingBusy
from lepton.model import ModelConfig
from lepton.ops import shape_text
from lepton.prediction import ModelReference, Prediction, picture_key
from lepton.recipes import default_config
from pages.common import (
    finished_runs,
    get_jobs,
    get_store,
    get_work_pool,
    language,
    preparation_text,
    run_label,
    say,
    t,
    wait_for,
)

UPLOAD_TYPES = ["png", "jpg", "jpeg", "bmp", "gif", "webp"]
EXPLANATIONS = {"Grad-CAM": "predict.method_grad_cam",  # radio value → catalogue key of its name
                "Gradient saliency": "predict.method_saliency"}
METHODS = {"Grad-CAM": "grad_cam", "Gradient saliency": "saliency"}  # → lepton.prediction's


def quick_train_ui() -> None:
    """Offers a one-click training on the embedded digits when no model exists yet."""
    st.info(t("predict.no_model"))
    config = default_config(get_store().home)
    if not st.button(t("predict.quick_train", epochs=config.epochs), type="primary",
                     key="quick_train", icon=":material/bolt:"):
        return
    jobs = get_jobs()
    try:
        run_id = jobs.start("mnist-5k", ModelConfig(), config)
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
    best = registry.best(runs)
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


def worked_out(ticket) -> tuple[object, str | None]:
    """A ticket's answer and None, or None and why the worker process could not give it."""
    try:
        return ticket.result(), None
    except Exception as error:  # the page must still show everything else
        return None, t("predict.worker_failed", reason=str(error))


def predict_all(pictures, reference: ModelReference, pool) -> list[Prediction]:
    """Each picture preprocessed and predicted in the worker processes (answers cached by
    content: the same picture for the same model is worked on once, whoever sends it)."""
    tickets = [pool.submit(("predict", reference, name, picture_key(picture)),
                           prediction.predict, reference, name, picture)
               for name, picture in pictures]
    for done in range(len(tickets)):
        wait_for(tickets[done:done + 1], t("predict.working", done=done, total=len(tickets)))
    results = []
    for ticket, (name, _) in zip(tickets, pictures):
        result, failure = worked_out(ticket)
        results.append(result or Prediction(file=name, error=failure))
    return results


def results_table_ui(results: list[dict]) -> None:
    table = pd.DataFrame([
        {"file": result.file,
         "prediction": result.top[0]["class"] if not result.error else None,
         "confidence": result.top[0]["probability"] if not result.error else None,
         "latency_ms": result.latency_ms, "error": say(result.error) if result.error else None}
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


def detail_ui(result: Prediction, reference: ModelReference, pool, top: int) -> None:
    """One picture: the preprocessing strip, the answer, an explanation and feature maps."""
    image = result.image
    columns = st.columns(len(image.steps))
    for column, step in zip(columns, image.steps):
        column.image(step.image, caption=step.name.text(language()), clamp=True, width="stretch")
    answer_column, bars, heat = st.columns([1, 2, 2])
    best = result.top[0]
    answer_column.metric(t("predict.prediction"), best["class"],
                         t("predict.confident", percent=f"{best['probability']:.1%}"),
                         delta_color="off")
    answer_column.caption(t("predict.timing", milliseconds=f"{result.latency_ms:.1f}"),
                          help=t("predict.latency_help"))
    with bars:
        st.plotly_chart(charts.probability_bars(list(result.top[:top]), language=language()),
                        key="probability_bars")
        with st.expander(t("predict.every_class")):
            st.dataframe(pd.DataFrame(list(result.top))[["class", "probability"]],
                         hide_index=True, column_config={
                             "class": st.column_config.TextColumn(t("predict.column_class")),
                             "probability": st.column_config.NumberColumn(
                                 t("predict.column_probability"), format="%.6f"),
                         })
    input_key = picture_key(image.input)
    with heat:
        # Names looked up now, in this run's language: format_func is also called later.
        methods = {value: t(key) for value, key in EXPLANATIONS.items()}
        method = st.radio(t("predict.explanation"), list(methods), horizontal=True,
                          key="explain_method", format_func=methods.get,
                          help=t("predict.explanation_help"))
        ticket = pool.submit(("explain", reference, input_key, best["index"], method),
                             prediction.explanation, reference, image.input, best["index"],
                             METHODS[method])
        wait_for([ticket], t("predict.explaining"))
        heatmap, failure = worked_out(ticket)
        if failure:
            st.error(failure)
        else:
            st.image(heatmap, width="stretch",
                     caption=t("predict.heatmap_caption", method=methods[method],
                               label=best["class"], width=image.input.shape[1],
                               height=image.input.shape[0]))
    # Worked out only while open: a closed expander's content would be computed for nothing.
    maps_box = st.expander(t("predict.feature_maps"), key="feature_maps_open", on_change="rerun")
    with maps_box:
        if maps_box.open:
            feature_maps_ui(reference, pool, image.input, input_key)


def feature_maps_ui(reference: ModelReference, pool, model_input, input_key: str) -> None:
    ticket = pool.submit(("feature_maps", reference, input_key), prediction.feature_maps,
                         reference, model_input)
    wait_for([ticket], t("predict.explaining"))
    layers, failure = worked_out(ticket)
    if failure:
        st.error(failure)
        return
    for layer in layers:
        st.image(explain.grid(layer["maps"], scale=3), clamp=True,
                 caption=f"{layer['name']} ({layer['type']}): "
                         f"{shape_text(layer['maps'].shape)}")


st.title(t("predict.title"))
finished = finished_runs()
if not finished:
    quick_train_ui()
    st.stop()

run = choose_run_ui(finished)
try:
    reference = ModelReference.of_run(run)
except ValueError as error:
    st.error(str(error))
    st.stop()
pool = get_work_pool()
pictures = inputs_ui()
st.caption(t("predict.preparation", preparation=preparation_text(reference.kind,
                                                                 reference.input_shape)))
if not pictures:
    st.stop()

results = predict_all(pictures, reference, pool)
for failed in (result for result in results if result.error):
    st.error(t("predict.file_error", file=failed.file, error=say(failed.error)))
answered = [result for result in results if not result.error]
if len(results) > 1:
    results_table_ui(results)
if answered:
    chosen = 0
    if len(answered) > 1:
        chosen = st.selectbox(t("predict.inspect"), range(len(answered)), key="inspect",
                              format_func=lambda index: f"{index + 1}. {answered[index].file}")
    top = st.slider(t("predict.top_classes"), 1, len(reference.class_names), 3, key="top_k")
    detail_ui(answered[chosen], reference, pool, top)
