"""App-layer helpers shared by the pages: cached resources and the shared sidebar.

Not a page itself (app.py does not list it). Everything that computes lives in `lepton`.
"""

from __future__ import annotations

import os

import streamlit as st

from lepton.costs import CostSettings, load_settings, save_settings
from lepton.data import describe_datasets
from lepton.registry import RunStore, default_home

DEFAULT_DATASET = os.environ.get("LEPTON_DATASET", "auto")


def _route_through_app() -> None:
    """Makes a server's very first request go through app.py's router.

    Streamlit 1.67 serves the first request of a fresh server in the old "pages/ folder" mode
    (every file in pages/ listed, app.py skipped) until some run calls `st.navigation`. A shared
    deep link opened first would then lose the sidebar; one rerun in router mode fixes it.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_route_through_app()


@st.cache_resource
def _store_at(home: str) -> RunStore:
    return RunStore(home)


@st.cache_resource
def _jobs_at(home: str):
    from lepton.jobs import JobManager

    return JobManager(_store_at(home))


def get_store() -> RunStore:
    """The run store of `LEPTON_HOME`, opened once per server process."""
    return _store_at(str(default_home()))


def get_jobs():
    """The process-wide job manager: one training worker shared by every session and tab."""
    return _jobs_at(str(default_home()))


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def get_predictor(model_path: str):
    """The fastest predictor of a run: its model.tflite on LiteRT (made now for older runs),
    else Keras. Shared by every session; `.model` loads the Keras model for explanations."""
    from lepton.inference import predictor_for

    return predictor_for(model_path, convert_missing=True)


@st.cache_resource(max_entries=2, show_spinner="Loading the dataset…")
def get_dataset(name: str):
    from lepton.data import load_dataset

    return load_dataset(name)


def selected_dataset() -> str:
    return st.session_state.get("dataset", DEFAULT_DATASET)


def cost_settings() -> CostSettings:
    return load_settings(get_store().home)


def _save_costs() -> None:
    settings = cost_settings()
    preset = st.session_state["cost_preset"]
    if preset != settings.preset and preset in settings.presets:
        # Picking a preset loads its numbers into the inputs.
        settings.preset = preset
        settings.price_per_hour = settings.presets[preset]["price_per_hour"]
        settings.watts_per_core = settings.presets[preset]["watts_per_core"]
        st.session_state["price_per_hour"] = settings.price_per_hour
        st.session_state["watts_per_core"] = settings.watts_per_core
    else:
        settings.price_per_hour = st.session_state["price_per_hour"]
        settings.watts_per_core = st.session_state["watts_per_core"]
        settings.presets[preset] = {"price_per_hour": settings.price_per_hour,
                                    "watts_per_core": settings.watts_per_core}
    save_settings(get_store().home, settings)


def costs_ui() -> None:
    """Host price and power, saved in LEPTON_HOME so every page and session uses them."""
    settings = cost_settings()
    st.session_state.setdefault("cost_preset", settings.preset)
    st.session_state.setdefault("price_per_hour", settings.price_per_hour)
    st.session_state.setdefault("watts_per_core", settings.watts_per_core)
    with st.expander("Cost of this host", icon=":material/payments:"):
        st.selectbox("Preset", list(settings.presets), key="cost_preset", on_change=_save_costs)
        st.number_input(f"Price per hour ({settings.currency})", 0.0, 1000.0, step=0.01,
                        format="%.3f", key="price_per_hour", on_change=_save_costs,
                        help="What one hour of this machine costs you; edits update the preset.")
        st.number_input("Watts per busy core", 0.0, 1000.0, step=1.0, key="watts_per_core",
                        on_change=_save_costs,
                        help="Used for energy when RAPL power counters cannot be read.")


def sidebar_ui() -> None:
    """The controls every page shares."""
    datasets = {item["name"]: item for item in describe_datasets(get_store().home)}
    if st.session_state.get("dataset") not in datasets:  # first visit, or it was just deleted
        linked = st.query_params.get("dataset")
        fallback = DEFAULT_DATASET if DEFAULT_DATASET in datasets else "auto"
        st.session_state["dataset"] = linked if linked in datasets else fallback
    with st.sidebar:
        st.selectbox(
            "Dataset",
            list(datasets),
            key="dataset",
            help="auto: full MNIST when it can be loaded (internet or Keras cache), else the "
            "5,000 embedded MNIST digits (mnist-5k). Datasets imported on the Data page follow "
            "the built-in ones.",
        )
        chosen = datasets[st.session_state["dataset"]]
        if chosen["available"]:
            st.caption(f":material/check_circle: Available: {chosen['where']}")
        else:
            st.caption(f":material/cloud_off: Not available offline: {chosen['where']}")
        costs_ui()
        runs = get_store().list_runs()
        running = [run for run in runs if run["status"] in ("queued", "running")]
        if running:
            st.info(f"Run {running[0]['id']} is training.", icon=":material/hourglass_top:")
        st.caption(f"{len(runs)} run{'' if len(runs) == 1 else 's'} stored in `{get_store().home}`")


def run_label(run: dict) -> str:
    """How a run is named in selectors: id, dataset, accuracy."""
    accuracy = run["metrics"].get("test_accuracy")
    accuracy_text = f"{accuracy:.2%}" if accuracy is not None else "no accuracy"
    return f"Run {run['id']} · {run['dataset']} · {accuracy_text} · {run['created'][:16]}"
