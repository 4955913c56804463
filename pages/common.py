"""App-layer helpers shared by the pages: cached resources and the shared sidebar.

Not a page itself (app.py does not list it). Everything that computes lives in `lepton`.
"""

from __future__ import annotations

import os

import streamlit as st

from lepton.data import DATASET_NAMES
from lepton.registry import RunStore

DEFAULT_DATASET = os.environ.get("LEPTON_DATASET", "auto")


@st.cache_resource
def get_store() -> RunStore:
    return RunStore()


@st.cache_resource
def get_jobs():
    """The process-wide job manager: one training worker shared by every session and tab."""
    from lepton.jobs import JobManager

    return JobManager(get_store())


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def get_predictor(model_path: str):
    from lepton.inference import Predictor, load_model

    return Predictor(load_model(model_path))


@st.cache_resource(max_entries=2, show_spinner="Loading the dataset…")
def get_dataset(name: str):
    from lepton.data import load_dataset

    return load_dataset(name)


def selected_dataset() -> str:
    return st.session_state.get("dataset", DEFAULT_DATASET)


def sidebar_ui() -> None:
    """The controls every page shares."""
    if "dataset" not in st.session_state:
        st.session_state["dataset"] = (
            DEFAULT_DATASET if DEFAULT_DATASET in DATASET_NAMES else "auto"
        )
    with st.sidebar:
        st.selectbox(
            "Dataset",
            DATASET_NAMES,
            key="dataset",
            help="auto: full MNIST when it can be loaded (internet or Keras cache), else the "
            "5,000 embedded MNIST digits (mnist-5k).",
        )
        runs = get_store().list_runs()
        running = [run for run in runs if run["status"] in ("queued", "running")]
        if running:
            st.info(f"Run {running[0]['id']} is training.", icon="⏳")
        st.caption(f"{len(runs)} runs stored in `{get_store().home}`")


def run_label(run: dict) -> str:
    """How a run is named in selectors: id, dataset, accuracy."""
    accuracy = run["metrics"].get("test_accuracy")
    accuracy_text = f"{accuracy:.2%}" if accuracy is not None else "no accuracy"
    return f"Run {run['id']} · {run['dataset']} · {accuracy_text} · {run['created'][:16]}"
