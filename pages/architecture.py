"""Architecture: the network drawn from the real Keras model, its costs, the article's flow
charts, and what a trained network's layers see in one test image."""

import pandas as pd
import streamlit as st

from lepton import charts, diagrams, explain, network_view, prediction
from lepton.data import DatasetUnavailable
from lepton.model import (
    DENSE_CHOICES,
    FILTER_CHOICES,
    MAX_CONV_BLOCKS,
    MAX_DROPOUT,
    MAX_KERNEL_SIZE,
    POOLINGS,
    ModelConfig,
)
from lepton.ops import shape_text
from lepton.prediction import ModelReference
from lepton.profiling import load_profile, profile_progress, start_profile
from pages.common import (
    finished_runs,
    get_dataset,
    get_store,
    get_work_pool,
    language,
    reason,
    run_label,
    t,
    wait_for,
)

# Stable values (kept in session state); their names come from the catalogue.
SOURCES = {
    "Reference network": "architecture.source_reference",
    "A finished run": "architecture.source_run",
    "Custom": "architecture.source_custom",
}
FLOAT32_BYTES = 4
# Columns of the layer table: the frame keeps these names, the page shows the catalogue's.
COLUMNS = {
    "Layer": "architecture.column_layer",
    "Type": "architecture.column_type",
    "Output shape": "architecture.column_output_shape",
    "Params": "architecture.column_params",
    "MACs": "architecture.column_macs",
    "Activation memory (bytes)": "architecture.column_activation_memory",
}
NUMBER_COLUMNS = ("Params", "MACs", "Activation memory (bytes)")


def custom_config_ui() -> ModelConfig | None:
    """A small form for the architecture; None (with the reason shown) when invalid."""
    columns = st.columns(6)
    blocks = columns[0].slider(t("architecture.conv_blocks"), 1, MAX_CONV_BLOCKS, 2,
                               key="arch_blocks")
    filters = tuple(
        columns[1].select_slider(t("architecture.filters_block", block=index + 1),
                                 FILTER_CHOICES, value=(32, 64, 64)[index],
                                 key=f"arch_filters{index}")
        for index in range(blocks)
    )
    kernel_size = columns[2].slider(t("architecture.kernel_size"), 1, MAX_KERNEL_SIZE, 3,
                                    key="arch_kernel")
    pooling = columns[3].selectbox(t("architecture.pooling"), POOLINGS, key="arch_pooling",
                                   format_func=lambda name: t(f"architecture.pooling_{name}"))
    dense_units = columns[4].select_slider(t("architecture.dense_units"),
                                           DENSE_CHOICES, 128, key="arch_dense")
    dropout_rate = columns[5].slider(t("architecture.dropout"), 0.0, MAX_DROPOUT, 0.0, 0.05,
                                     key="arch_dropout")
    try:
        return ModelConfig(filters=filters, kernel_size=kernel_size, pooling=pooling,
                           dense_units=dense_units, dropout_rate=dropout_rate)
    except ValueError as error:
        st.error(t("architecture.cannot_build", reason=reason(error)), icon=":material/block:")
        return None


def choose_network_ui(runs: list[dict]) -> tuple[ModelConfig | str, dict | None] | None:
    """The network to show, as a configuration or a run's model file, and its run (None
    unless a run was chosen)."""
    source = st.radio(t("architecture.network"), list(SOURCES), key="arch_source",
                      horizontal=True, format_func=lambda value: t(SOURCES[value]),
                      help=t("architecture.network_help"))
    if source == "A finished run":
        if not runs:
            st.info(t("architecture.no_finished_run"), icon=":material/info:")
        else:
            run = run_ui(runs, t("architecture.run"), "arch_run")
            return run["model_path"], run
    if source == "Custom":
        config = custom_config_ui()
        return None if config is None else (config, None)
    return ModelConfig(), None


def run_ui(runs: list[dict], label: str, key: str) -> dict:
    """A run picker; its value is the run id, so it survives a change of language."""
    by_id = {run["id"]: run for run in runs}
    return by_id[st.selectbox(label, list(by_id), key=key,
                              format_func=lambda run_id: run_label(by_id[run_id]))]


def describe_ui(source: ModelConfig | str, profile: dict | None) -> dict:
    """The network's rows and diagram, worked out in a worker process (see
    `lepton.network_view`) once per network, language and profile for every session."""
    times = tuple(sorted((layer["name"], layer["ms"] * 1000) for layer in profile["layers"])) \
        if profile else ()
    version = network_view.file_version(source) if isinstance(source, str) else 0
    ticket = get_work_pool().submit(("network", source, language(), times, version),
                                    network_view.describe, source, language(), times, version)
    wait_for([ticket], t("architecture.building_model"))
    return ticket.result()


def layer_frame(view: dict) -> pd.DataFrame:
    """The layer table with the input row first and a total row last."""
    input_floats = 1
    for size in view["input_shape"]:
        input_floats *= size
    rows = [{"name": "image", "type": "Input", "output_shape": view["input_shape"], "params": 0,
             "macs": 0, "activations": input_floats}] + view["layers"]
    frame = pd.DataFrame({
        "Layer": [row["name"] for row in rows],
        "Type": [row["type"] for row in rows],
        "Output shape": [shape_text(row["output_shape"]) for row in rows],
        "Params": [row["params"] for row in rows],
        "MACs": [row["macs"] for row in rows],
        "Activation memory (bytes)": [row["activations"] * FLOAT32_BYTES for row in rows],
    })
    total = {"Layer": t("architecture.total"), "Type": "", "Output shape": "",
             "Params": frame["Params"].sum(), "MACs": frame["MACs"].sum(),
             "Activation memory (bytes)": frame["Activation memory (bytes)"].sum()}
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


def profile_ui(run: dict) -> dict | None:
    """The run's stored per-layer profile, or a button that measures it in its own process."""
    st.subheader(t("architecture.profile"))
    store = get_store()
    progress = profile_progress(store, run["id"])
    running = bool(progress and progress["status"] == "running")
    st.fragment(run_every=1.0 if running else None)(profile_status)(run, running)
    profile = load_profile(store, run)
    if profile is None:
        if not running and st.button(t("architecture.profile_start"), icon=":material/timer:",
                                     key="profile_start",
                                     help=t("architecture.profile_start_help")):
            try:
                start_profile(store, run["id"])
            except ValueError as error:  # another session started it a moment ago
                st.info(reason(error))
                return None
            st.rerun()
        return None
    st.plotly_chart(charts.profile_figure(profile, language()), key="profile_chart")
    reference = profile["reference"]
    st.caption(t("architecture.profile_caption", repeats=profile["method"]["repeats"],
                 model=f"{profile['model']['ms'] * 1000:.1f}",
                 layers=f"{profile['layers_ms'] * 1000:.1f}", cpu=profile["method"]["cpu"],
                 one_image=f"{reference['one_image_macs_per_second'] / 1e9:.1f}",
                 batch=f"{reference['batch_macs_per_second'] / 1e9:.1f}",
                 measured_at=profile["measured_at"]))
    return profile


def profile_status(run: dict, was_running: bool) -> None:
    progress = profile_progress(get_store(), run["id"])
    running = bool(progress and progress["status"] == "running")
    if was_running and not running:
        st.rerun(scope="app")  # the chart and the diagram's times
    if running:
        st.progress(progress["fraction"], text=t("architecture.profile_running", id=run["id"]))
    elif progress and progress["status"] == "failed":
        st.error(t("architecture.profile_failed", id=run["id"],
                   reason=progress.get("error") or ""), icon=":material/error:")


def network_ui(source: ModelConfig | str, run: dict | None, profile: dict | None = None) -> None:
    try:
        view = describe_ui(source, profile)
    except Exception as error:  # a damaged model file, or a network Keras cannot build
        if run is None:
            st.error(t("architecture.cannot_build", reason=str(error)), icon=":material/block:")
        else:
            st.error(t("architecture.cannot_load_run", id=run["id"], reason=str(error)),
                     icon=":material/error:")
        return
    frame = layer_frame(view)
    total = frame.iloc[-1]
    metrics = st.columns(4)
    metrics[0].metric(t("architecture.parameters"), f"{int(total['Params']):,}")
    metrics[1].metric(t("architecture.macs_per_image"), f"{int(total['MACs']):,}",
                      help=t("architecture.macs_per_image_help"))
    activation_kib = int(total["Activation memory (bytes)"]) / 1024
    metrics[2].metric(t("architecture.activations_per_image"), f"{activation_kib:,.1f} KiB",
                      help=t("architecture.activations_per_image_help"))
    metrics[3].metric(t("architecture.weights_float32"),
                      f"{int(total['Params']) * FLOAT32_BYTES / 1024:,.0f} KiB")
    diagram, table = st.columns([2, 3])
    with diagram:
        st.graphviz_chart(view["dot"])
    with table:
        column_config = {name: st.column_config.Column(t(key)) for name, key in COLUMNS.items()}
        column_config.update({name: st.column_config.NumberColumn(t(COLUMNS[name]),
                                                                  format="localized")
                              for name in NUMBER_COLUMNS})
        st.dataframe(frame, hide_index=True, key="layer_table", column_config=column_config)
        st.caption(t("architecture.layer_table_caption"))


def article_flows_ui() -> None:
    st.subheader(t("architecture.article_diagrams"))
    columns = st.columns(4)
    flows = diagrams.article_flow_dots(language=language())
    for column, (title, dot) in zip(columns, flows.items()):
        with column:
            st.markdown(f"**{title}**")
            st.graphviz_chart(dot, width="stretch")
    st.caption(t("architecture.article_diagrams_caption"))


def feature_maps_ui(runs: list[dict], chosen_run: dict | None) -> None:
    st.subheader(t("architecture.feature_maps"))
    if not runs:
        st.info(t("architecture.feature_maps_need_training"), icon=":material/info:")
        return
    if chosen_run is None:
        chosen_run = run_ui(runs, t("architecture.trained_run"), "fm_run")
    try:
        reference = ModelReference.of_run(chosen_run)
        dataset = get_dataset(chosen_run["dataset"])
    except (ValueError, DatasetUnavailable) as error:
        st.error(t("architecture.cannot_show_run", id=chosen_run["id"], reason=str(error)),
                 icon=":material/error:")
        return
    index = st.slider(t("architecture.test_image", dataset=dataset.name), 0,
                      len(dataset.y_test) - 1, 0, key="fm_index")
    image = dataset.x_test[index]
    class_names = tuple(chosen_run["metrics"].get("class_names") or dataset.class_names)
    # Worked out in a worker process, once per run and image for every session.
    ticket = get_work_pool().submit(("inspection", reference, dataset.name, index),
                                    prediction.inspection, reference, image)
    wait_for([ticket], t("architecture.explaining"))
    inspected = ticket.result()
    probabilities = inspected["probabilities"]
    predicted = int(probabilities.argmax())
    images = st.columns([1, 1, 1, 2])
    images[0].image(explain.upscale(image[..., 0], 6), clamp=True,
                    caption=t("architecture.image_caption", index=index,
                              label=class_names[int(dataset.y_test[index])]))
    images[1].image(explain.upscale(inspected["saliency"], 6),
                    caption=t("architecture.saliency_caption"))
    images[2].image(explain.upscale(inspected["grad_cam"], 6),
                    caption=t("architecture.grad_cam_caption"))
    images[3].metric(t("architecture.predicted"), class_names[predicted],
                     t("architecture.confident", confidence=f"{probabilities[predicted]:.1%}"),
                     delta_color="off")
    images[3].caption(t("architecture.heat_caption", id=chosen_run["id"]))
    maps = inspected["feature_maps"]
    columns = st.columns(2)
    for position, layer in enumerate(maps):
        height, width, channels = layer["maps"].shape
        tile_scale = max(1, 56 // height)
        columns[position % 2].image(
            explain.grid(layer["maps"], columns=8, scale=tile_scale),
            caption=t("architecture.feature_map_caption", name=layer["name"],
                      type=layer["type"], shape=shape_text(layer["maps"].shape)),
        )


st.title(t("architecture.title"))
runs = finished_runs()
choice = choose_network_ui(runs)
if choice is not None:
    source, chosen_run = choice
    network_ui(source, chosen_run, load_profile(get_store(), chosen_run) if chosen_run else None)
    if chosen_run is not None:
        profile_ui(chosen_run)
article_flows_ui()
feature_maps_ui(runs, choice[1] if choice else None)
