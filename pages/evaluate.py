"""Evaluate: a run on a test set — accuracy, per-class metrics, confusion matrix, its mistakes."""

import numpy as np
import pandas as pd
import streamlit as st

from lepton import charts
from lepton.evaluation import evaluate_probabilities
from pages.common import get_dataset, get_predictor, get_store, run_label

GALLERY_SIZE = 24


@st.cache_data(max_entries=8, show_spinner="Predicting the test set…")
def test_probabilities(model_path: str, dataset_name: str) -> np.ndarray:
    dataset = get_dataset(dataset_name)
    return get_predictor(model_path)(dataset.x_test)


def choose_ui(runs: list[dict]) -> tuple[dict, str]:
    labels = {run["id"]: run_label(run) for run in runs}
    left, right = st.columns(2)
    run_id = left.selectbox("Run", list(labels), format_func=labels.get, key="evaluate_run")
    run = next(run for run in runs if run["id"] == run_id)
    datasets = [run["dataset"]] + [name for name in ("mnist-5k", "mnist", "fashion-mnist")
                                   if name != run["dataset"]]
    dataset_name = right.selectbox("Test set", datasets, key="evaluate_dataset",
                                   help="The run's own dataset first.")
    return run, dataset_name


def examples_per_cell(labels: np.ndarray, predicted: np.ndarray, classes: int) -> list[list[str]]:
    """The index of one test image for every (true, predicted) cell, for the hover text."""
    cells = [["" for _ in range(classes)] for _ in range(classes)]
    for index, (true, guess) in enumerate(zip(labels, predicted)):
        if not cells[true][guess]:
            cells[true][guess] = f"e.g. test image #{index}"
    return cells


def gallery_ui(images: np.ndarray, captions: list[str], columns: int = 8) -> None:
    for start in range(0, len(images), columns):
        for column, index in zip(st.columns(columns), range(start, min(start + columns,
                                                                       len(images)))):
            column.image(images[index][..., 0], caption=captions[index], clamp=True,
                         width="stretch")


st.title("Evaluate")
finished = [run for run in get_store().list_runs("done") if run["model_path"]]
if not finished:
    st.info("No finished run yet: train one on the **Train** page.")
    st.stop()

run, dataset_name = choose_ui(finished)
try:
    dataset = get_dataset(dataset_name)
except Exception as error:  # e.g. full MNIST offline: say why instead of crashing
    st.error(f"{dataset_name} cannot be loaded here: {error}")
    st.stop()
if dataset.input_shape != tuple(run["model_config"]["input_shape"]):
    st.error(f"Run {run['id']} expects {tuple(run['model_config']['input_shape'])} images; "
             f"{dataset.name} has {dataset.input_shape}. Choose another test set.")
    st.stop()

probabilities = test_probabilities(run["model_path"], dataset_name)
metrics = evaluate_probabilities(probabilities, dataset.y_test, dataset.class_names)
predicted = probabilities.argmax(axis=1)
confidence = probabilities.max(axis=1)

columns = st.columns(3)
columns[0].metric("Test accuracy", f"{metrics['test_accuracy']:.2%}")
columns[1].metric("Test loss", f"{metrics['test_loss']:.4f}",
                  help="Mean sparse categorical cross-entropy.")
columns[2].metric("Test images", f"{metrics['test_samples']:,}")
st.caption(f"Data: {dataset.source}")

left, right = st.columns([3, 2])
with left:
    st.subheader("Confusion matrix")
    st.plotly_chart(
        charts.confusion_heatmap(metrics["confusion_matrix"], dataset.class_names,
                                 examples_per_cell(dataset.y_test, predicted,
                                                   dataset.num_classes)),
        key="confusion",
    )
with right:
    st.subheader("Per class")
    st.dataframe(pd.DataFrame(metrics["per_class"]), hide_index=True, column_config={
        name: st.column_config.NumberColumn(format="%.3f") for name in ("precision", "recall", "f1")
    })

st.subheader("Mistakes")
wrong = np.flatnonzero(predicted != dataset.y_test)
wrong = wrong[np.argsort(-confidence[wrong])][:GALLERY_SIZE]  # most confident mistakes first
if len(wrong) == 0:
    st.success("No mistakes on this test set.")
else:
    names = dataset.class_names
    gallery_ui(dataset.x_test[wrong], [
        f"#{index}: true {names[dataset.y_test[index]]}, said {names[predicted[index]]} "
        f"({confidence[index]:.0%})" for index in wrong
    ])

st.subheader("The article's 5×5 grid")
st.caption("The first 25 test images labelled with the prediction, as the article's script "
           "plots them; ✗ marks a wrong one.")
first = np.arange(min(25, len(dataset.y_test)))
gallery_ui(dataset.x_test[first], [
    f"{dataset.class_names[predicted[index]]}"
    + ("" if predicted[index] == dataset.y_test[index] else
       f" ✗ (true {dataset.class_names[dataset.y_test[index]]})")
    for index in first
], columns=5)
