"""App-layer helpers shared by the pages: cached resources and the shared sidebar.

Not a page itself (app.py does not list it). Everything that computes lives in `lepton`.
"""

from __future__ import annotations

import os

import streamlit as st

from lepton.costs import CostSettings, load_settings, save_settings
from lepton.data import describe_datasets
from lepton.i18n import DEFAULT_LANGUAGE, LANGUAGES, Message, catalogue, translate
from lepton.imaging import BOX_SIZE, FIELD_SIZE
from lepton.registry import RunStore, default_home, is_active

DEFAULT_DATASET = os.environ.get("LEPTON_DATASET", "auto")


def _route_through_app() -> None:
    """Makes a server's very first request go through app.py's router.

    Streamlit 1.67 serves the first request of a fresh server in the old "pages/ folder" mode
    (every file in pages/ listed, app.py skipped) until some run calls `st.navigation`. A shared
    deep link opened first would then lose the sidebar; one rerun in router mode fixes it.
    Depends on `streamlit/runtime/pages_manager.py` (`PagesManager.__init__` sets the class flag
    `uses_pages_directory` when a pages/ folder exists) and `streamlit/commands/navigation.py`
    (`st.navigation` clears it); tests/app/test_router.py fails if that changes.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


@st.cache_resource
def _store_at(home: str) -> RunStore:
    return RunStore(home)


@st.cache_resource
def _jobs_at(home: str):
    from lepton.jobs import JobManager

    return JobManager(_store_at(home))


@st.cache_resource(max_entries=16)
def _follower_at(home: str, run_id: int):
    from lepton.live import RunFollower

    return RunFollower(_store_at(home), run_id)


@st.cache_resource
def _snapshot_at(home: str):
    from lepton.live import StoreSnapshot

    return StoreSnapshot(_store_at(home))


def get_snapshot():
    """The run list every session shares (`lepton.live.StoreSnapshot`): read it, never change it."""
    return _snapshot_at(str(default_home()))


def finished_runs() -> list[dict]:
    """Runs that finished with a model file, newest first."""
    return get_snapshot().finished()


@st.cache_resource(show_spinner=False)
def get_work_pool():
    """The worker processes that predict, explain, evaluate and build the models the pages
    draw, for every session (started now, each with TensorFlow loaded, so the first request
    does not wait for them). The server itself never imports Keras."""
    from lepton.prediction import warm_up
    from lepton.workpool import WorkPool

    workers = max(1, int(os.environ.get("LEPTON_WORK_PROCESSES", "0")) or (os.cpu_count() or 1))
    pool = WorkPool(workers, initializer=warm_up, initargs=(1,))
    pool.warm_up()
    return pool


def get_follower(run_id: int):
    """The shared live reader of a run: every session watching it reuses its rows."""
    return _follower_at(str(default_home()), run_id)


def get_store() -> RunStore:
    """The run store of `LEPTON_HOME`, opened once per server process."""
    return _store_at(str(default_home()))


def get_jobs():
    """The process-wide job manager: one training worker shared by every session and tab."""
    return _jobs_at(str(default_home()))


def wait_for(tickets, message: str) -> None:
    """Waits for work-pool answers, saying `message` while they are worked on and how many
    requests of other sessions are ahead while they queue."""
    pool = get_work_pool()
    waiting = [ticket for ticket in tickets if not ticket.done()]
    if not waiting:
        return
    status = st.empty()
    while waiting:
        ahead = pool.ahead_of(waiting[0])
        if ahead >= pool.workers:
            status.info(t("common.queued", ahead=ahead, workers=pool.workers),
                        icon=":material/hourglass_top:")
        else:
            status.info(message, icon=":material/hourglass_top:")
        waiting[0].wait(0.25)
        waiting = [ticket for ticket in waiting if not ticket.done()]
    status.empty()


@st.cache_resource(max_entries=2, show_spinner=False)
def _dataset_named(name: str):
    from lepton.data import load_dataset

    return load_dataset(name)


def get_dataset(name: str):
    """A dataset loaded once per server (`clear_datasets` after an import or a delete)."""
    with st.spinner(t("common.loading_dataset")):
        return _dataset_named(name)


def clear_datasets() -> None:
    _dataset_named.clear()


def language() -> str:
    """The language chosen in the sidebar (or by the link's `lang` parameter)."""
    return st.session_state.get("language", DEFAULT_LANGUAGE)


def say(text: str) -> str:
    """A text from lepton in the chosen language: a `lepton.i18n.Message` translated, anything
    else (names, data, files from before messages) as it is."""
    return text.text(language()) if isinstance(text, Message) else text


def reason(error: Exception) -> str:
    """Why `error` happened, in the chosen language when lepton said it as a Message."""
    return say(error.args[0]) if error.args and isinstance(error.args[0], Message) \
        else str(error)


def t(key: str, **values) -> str:
    """The message `key` ("<section>.<name>" in lepton/locales) in the chosen language."""
    return translate(key, language(), **values)


def language_ui() -> None:
    """English / 简体中文, kept in the session and in the URL (`lang`) across pages."""
    if "language" not in st.session_state:
        linked = st.query_params.get("lang")
        st.session_state["language"] = linked if linked in LANGUAGES else DEFAULT_LANGUAGE
    st.sidebar.selectbox("Language / 语言", list(LANGUAGES), format_func=LANGUAGES.get,
                         key="language")
    st.query_params["lang"] = st.session_state["language"]


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
    with st.expander(t("common.costs_title"), icon=":material/payments:"):
        # Labels resolved now: a format_func calling t() later could meet another language.
        presets = {name: preset_label(name) for name in settings.presets}
        st.selectbox(t("common.preset"), list(presets), format_func=presets.get,
                     key="cost_preset", on_change=_save_costs)
        st.number_input(t("common.price_per_hour", currency=settings.currency), 0.0, 1000.0,
                        step=0.01, format="%.3f", key="price_per_hour", on_change=_save_costs,
                        help=t("common.price_per_hour_help"))
        st.number_input(t("common.watts_per_core"), 0.0, 1000.0, step=1.0, key="watts_per_core",
                        on_change=_save_costs, help=t("common.watts_per_core_help"))


PRESET_KEYS = {  # the built-in presets' names (stored in settings.json) → their display names
    "This machine (electricity only)": "common.preset_this_machine",
    "Cloud VM, 2 vCPU": "common.preset_cloud_2",
    "Cloud VM, 8 vCPU": "common.preset_cloud_8",
    "Laptop on battery": "common.preset_laptop",
}


def preset_label(name: str) -> str:
    """A cost preset's name in the chosen language; the user's own presets keep their names."""
    return t(PRESET_KEYS[name]) if name in PRESET_KEYS else name


def sidebar_ui(page_follows_runs: bool = False) -> None:
    """The controls every page shares; `page_follows_runs` when the page shows the live run."""
    datasets = {item["name"]: item for item in describe_datasets(get_store().home)}
    if st.session_state.get("dataset") not in datasets:  # first visit, or it was just deleted
        linked = st.query_params.get("dataset")
        fallback = DEFAULT_DATASET if DEFAULT_DATASET in datasets else "auto"
        st.session_state["dataset"] = linked if linked in datasets else fallback
    with st.sidebar:  # the language selector comes first: app.py draws it before the pages
        st.selectbox(t("common.dataset"), list(datasets), key="dataset",
                     help=t("common.dataset_help"))
        chosen = datasets[st.session_state["dataset"]]
        if chosen["available"]:
            st.caption(t("common.dataset_available", where=say(chosen["where"])))
        else:
            st.caption(t("common.dataset_offline", where=say(chosen["where"])))
        costs_ui()
        runs_status_ui(ticking=not page_follows_runs)


def runs_status_ui(ticking: bool = True) -> None:
    """Which run trains and how many are stored: refreshed every 2 s while a run is active,
    every 10 s otherwise (to notice a run started elsewhere).

    Args:
        ticking: False on a page that follows the run itself (Train): each sidebar tick makes
            the browser redraw, which costs the CPU a training shares.
    """
    latest = get_snapshot().latest()
    active = bool(latest and is_active(latest))
    interval = (2.0 if active else 10.0) if ticking else None
    st.fragment(run_every=interval)(runs_status)(active)


def runs_status(was_active: bool) -> None:
    snapshot = get_snapshot()
    latest = snapshot.latest()
    active = bool(latest and is_active(latest))
    if active != was_active:
        st.rerun(scope="app")
    if active:
        st.info(t("common.run_training", id=latest["id"]), icon=":material/hourglass_top:")
    count = len(snapshot.runs())
    stored = "common.runs_stored_one" if count == 1 else "common.runs_stored_other"
    st.caption(t(stored, count=count, folder=snapshot.store.home))


def preparation_text(kind: str, input_shape) -> str:
    """What `lepton.imaging.preparer` does to a new picture of a dataset, in the chosen language:
    "plain" resize, or the MNIST-style digit recipe."""
    height, width, channels = (int(side) for side in input_shape)
    if kind == "plain":
        colour = t("predict.colour_grayscale" if channels == 1 else "predict.colour_rgb")
        return t("predict.preparation_plain", width=width, height=height, colour=colour)
    return t("predict.preparation_digit", box=BOX_SIZE, field=FIELD_SIZE)


def run_label(run: dict) -> str:
    """How a run is named in selectors: id, dataset, accuracy."""
    accuracy = run["metrics"].get("test_accuracy")
    accuracy_text = f"{accuracy:.2%}" if accuracy is not None else t("common.no_accuracy")
    return t("common.run_label", id=run["id"], dataset=run["dataset"], accuracy=accuracy_text,
             created=run["created"][:16])


def status_label(status: str) -> str:
    """A run status (queued, running, done, failed, cancelled, interrupted) in words."""
    key = f"common.status_{status}"
    return t(key) if key in catalogue(DEFAULT_LANGUAGE) else status


# Last: the rerun it may ask for interrupts this import, and a session importing this module at
# the same moment must find every name above already defined.
_route_through_app()
