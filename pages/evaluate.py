"""Evaluate: a run on a test set — accuracy, per-class metrics, confusion matrix, its mistakes."""

import numpy as np
import pandas as pd
import streamlit as st

from lepton import charts, prediction
from lepton.evaluation import confident_mistakes, evaluate_probabilities
from lepton.prediction import ModelReference
from pages.common import (
    finished_runs,
    get_dataset,
    get_store,
    get_work_pool,
    language,
    reason,
    run_label,
    say,
    t,
    wait_for,
)

GALLERY_SIZE = 24


def test_probabilities(run: dict, dataset_name: str) -> np.ndarray:
    """Every test image's class probabilities, worked out in a worker process once per model
    and dataset (then shared by every session)."""
    reference = ModelReference.of_run(run)
    home = str(get_store().home)
    ticket = get_work_pool().submit(("test probabilities", reference, dataset_name, home),
                                    prediction.dataset_probabilities, reference, dataset_name,
                                    home)
    wait_for([ticket], t("evaluate.predicting"))
    return ticket.result()


def calibration_ui(run: dict) -> None:
    """Reliability of the run's confidence on its own test set, before and after a
    temperature fitted on its validation split (worked out in a worker process)."""
    st.subheader(t("evaluate.calibration"))
    reference = ModelReference.of_run(run)
    home = str(get_store().home)
    ticket = get_work_pool().submit(("calibration", reference, run["id"], home),
                                    prediction.calibration, reference, run, home)
    wait_for([ticket], t("evaluate.calibrating"))
    try:
        report = ticket.result()
    except ValueError as error:  # e.g. a run trained without a validation split
        st.info(t("evaluate.no_calibration", reason=reason(error)), icon=":material/info:")
        return
    before, after = report["as_trained"], report["scaled"]
    columns = st.columns(4)
    columns[0].metric(t("evaluate.ece"), f"{before['ece']:.4f}", help=t("evaluate.ece_help"))
    columns[1].metric(t("evaluate.ece_scaled"), f"{after['ece']:.4f}",
                      delta=f"{after['ece'] - before['ece']:+.4f}", delta_color="inverse")
    columns[2].metric(t("evaluate.temperature"), f"{report['temperature']:.2f}",
                      help=t("evaluate.temperature_help"))
    columns[3].metric(t("evaluate.nll_scaled"), f"{after['nll']:.4f}",
                      delta=f"{after['nll'] - before['nll']:+.4f}", delta_color="inverse")
    st.plotly_chart(charts.reliability_figure(report, language()), key="reliability")
    st.caption(t("evaluate.calibration_caption", validation=f"{report['validation_images']:,}",
                 test=f"{report['test_images']:,}", confidence=f"{before['mean_confidence']:.2%}",
                 accuracy=f"{before['accuracy']:.2%}"))


def choose_ui(runs: list[dict]) -> tuple[dict, str]:
    labels = {run["id"]: run_label(run) for run in runs}
    left, right = st.columns(2)
    run_id = left.selectbox(t("evaluate.run"), list(labels), format_func=labels.get,
                            key="evaluate_run")
    run = next(run for run in runs if run["id"] == run_id)
    datasets = [run["dataset"]] + [name for name in ("mnist-5k", "mnist", "fashion-mnist")
                                   if name != run["dataset"]]
    dataset_name = right.selectbox(t("evaluate.test_set"), datasets, key="evaluate_dataset",
                                   help=t("evaluate.test_set_help"))
    return run, dataset_name


def examples_per_cell(labels: np.ndarray, predicted: np.ndarray, classes: int) -> list[list[str]]:
    """The index of one test image for every (true, predicted) cell, for the hover text."""
    cells = [["" for _ in range(classes)] for _ in range(classes)]
    for index, (true, guess) in enumerate(zip(labels, predicted)):
        if not cells[true][guess]:
            cells[true][guess] = t("evaluate.example_image", index=index)
    return cells


def gallery_ui(images: np.ndarray, captions: list[str], columns: int = 8) -> None:
    for start in range(0, len(images), columns):
        for column, index in zip(st.columns(columns), range(start, min(start + columns,
                                                                       len(images)))):
            column.image(images[index][..., 0], caption=captions[index], clamp=True,
                         width="stretch")


st.title(t("evaluate.title"))
finished = finished_runs()
if not finished:
    st.info(t("evaluate.no_runs"))
    st.stop()

run, dataset_name = choose_ui(finished)
try:
    dataset = get_dataset(dataset_name)
except Exception as error:  # e.g. full MNIST offline: say why instead of crashing
    st.error(t("evaluate.cannot_load", dataset=dataset_name, reason=str(error)))
    st.stop()
if dataset.input_shape != tuple(run["model_config"]["input_shape"]):
    st.error(t("evaluate.shape_mismatch", run=run["id"],
               expected=tuple(run["model_config"]["input_shape"]), dataset=dataset.name,
               shape=dataset.input_shape))
    st.stop()

probabilities = test_probabilities(run, dataset_name)
metrics = evaluate_probabilities(probabilities, dataset.y_test, dataset.class_names)
predicted = probabilities.argmax(axis=1)
confidence = probabilities.max(axis=1)

columns = st.columns(3)
columns[0].metric(t("evaluate.test_accuracy"), f"{metrics['test_accuracy']:.2%}")
columns[1].metric(t("evaluate.test_loss"), f"{metrics['test_loss']:.4f}",
                  help=t("evaluate.test_loss_help"))
columns[2].metric(t("evaluate.test_images"), f"{metrics['test_samples']:,}")
st.caption(t("evaluate.data_source", source=say(dataset.source)))

left, right = st.columns([3, 2])
with left:
    st.subheader(t("evaluate.confusion_matrix"))
    st.plotly_chart(
        charts.confusion_heatmap(metrics["confusion_matrix"], dataset.class_names,
                                 examples_per_cell(dataset.y_test, predicted,
                                                   dataset.num_classes),
                                 language=language()),
        key="confusion",
    )
with right:
    st.subheader(t("evaluate.per_class"))
    st.dataframe(pd.DataFrame(metrics["per_class"]), hide_index=True, column_config={
        "class": st.column_config.TextColumn(t("evaluate.column_class")),
        **{name: st.column_config.NumberColumn(t(f"evaluate.column_{name}"), format="%.3f")
           for name in ("precision", "recall", "f1")},
        "support": st.column_config.NumberColumn(t("evaluate.column_support"),
                                                 help=t("evaluate.support_help")),
    })

if dataset_name == run["dataset"]:  # its validation split comes from its own data
    calibration_ui(run)

st.subheader(t("evaluate.mistakes"))
wrong = confident_mistakes(probabilities, dataset.y_test, GALLERY_SIZE)
if len(wrong) == 0:
    st.success(t("evaluate.no_mistakes"))
else:
    names = dataset.class_names
    gallery_ui(dataset.x_test[wrong], [
        t("evaluate.mistake_caption", index=index, true=names[dataset.y_test[index]],
          said=names[predicted[index]], confidence=f"{confidence[index]:.0%}")
        for index in wrong
    ])

st.subheader(t("evaluate.article_grid"))
st.caption(t("evaluate.article_grid_caption"))
first = np.arange(min(25, len(dataset.y_test)))
gallery_ui(dataset.x_test[first], [
    f"{dataset.class_names[predicted[index]]}"
    + ("" if predicted[index] == dataset.y_test[index] else
       t("evaluate.wrong_mark", true=dataset.class_names[dataset.y_test[index]]))
    for index in first
], columns=5)
