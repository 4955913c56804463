"""Architecture: the network drawn from the real Keras model, its costs, the article's flow
charts, and what a trained network's layers see in one test image."""

import pandas as pd
import streamlit as st

from lepton import diagrams, explain
from lepton.data import DatasetUnavailable
from lepton.model import (
    MAX_CONV_BLOCKS,
    POOLINGS,
    ModelConfig,
    build_model,
    layer_table,
)
from pages.common import get_dataset, get_predictor, get_store, run_label

SOURCES = ("Reference network", "A finished run", "Custom")
FILTER_CHOICES = (8, 16, 32, 64, 128)
FLOAT32_BYTES = 4


@st.cache_resource(max_entries=8, show_spinner="Building the model…")
def get_built_model(config: ModelConfig):
    """An untrained model per configuration: only its structure is shown."""
    return build_model(config)


@st.cache_resource(max_entries=4)
def get_feature_model(model_path: str):
    return explain.feature_model(get_predictor(model_path).model)


def finished_runs() -> list[dict]:
    return [run for run in get_store().list_runs("done") if run["model_path"]]


def custom_config_ui() -> ModelConfig | None:
    """A small form for the architecture; None (with the reason shown) when invalid."""
    columns = st.columns(6)
    blocks = columns[0].slider("Conv blocks", 1, MAX_CONV_BLOCKS, 2, key="arch_blocks")
    filters = tuple(
        columns[1].select_slider(f"Filters, block {index + 1}", FILTER_CHOICES,
                                 value=(32, 64, 64)[index], key=f"arch_filters{index}")
        for index in range(blocks)
    )
    kernel_size = columns[2].slider("Kernel size", 1, 7, 3, key="arch_kernel")
    pooling = columns[3].selectbox("Pooling", POOLINGS, key="arch_pooling")
    dense_units = columns[4].select_slider("Dense units", (16, 32, 64, 128, 256, 512), 128,
                                           key="arch_dense")
    dropout_rate = columns[5].slider("Dropout", 0.0, 0.8, 0.0, 0.05, key="arch_dropout")
    try:
        return ModelConfig(filters=filters, kernel_size=kernel_size, pooling=pooling,
                           dense_units=dense_units, dropout_rate=dropout_rate)
    except ValueError as error:
        st.error(f"This architecture cannot be built: {error}", icon=":material/block:")
        return None


def choose_network_ui(runs: list[dict]) -> tuple[object, dict | None] | None:
    """The model to show and its run (None unless a run was chosen)."""
    source = st.radio("Network", SOURCES, key="arch_source", horizontal=True,
                      help="The Train page's settings live on that page; pick a finished run "
                           "or set an architecture here.")
    if source == "A finished run":
        if not runs:
            st.info("No finished run yet; showing the reference network. Train one on the "
                    "Train page.", icon=":material/info:")
        else:
            labels = {run_label(run): run for run in runs}
            run = labels[st.selectbox("Run", list(labels), key="arch_run")]
            try:
                return get_predictor(run["model_path"]).model, run
            except ValueError as error:
                st.error(str(error), icon=":material/error:")
                return None
    if source == "Custom":
        config = custom_config_ui()
        return None if config is None else (get_built_model(config), None)
    return get_built_model(ModelConfig()), None


def layer_frame(model) -> pd.DataFrame:
    """The layer table with the input row first and a total row last."""
    input_shape = tuple(int(size) for size in model.input_shape[1:])
    input_floats = 1
    for size in input_shape:
        input_floats *= size
    rows = [{"name": "image", "type": "Input", "output_shape": input_shape, "params": 0,
             "macs": 0, "activations": input_floats}] + layer_table(model)
    frame = pd.DataFrame({
        "Layer": [row["name"] for row in rows],
        "Type": [row["type"] for row in rows],
        "Output shape": [diagrams.shape_text(row["output_shape"]) for row in rows],
        "Params": [row["params"] for row in rows],
        "MACs": [row["macs"] for row in rows],
        "Activation memory (bytes)": [row["activations"] * FLOAT32_BYTES for row in rows],
    })
    total = {"Layer": "Total", "Type": "", "Output shape": "", "Params": frame["Params"].sum(),
             "MACs": frame["MACs"].sum(),
             "Activation memory (bytes)": frame["Activation memory (bytes)"].sum()}
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


def network_ui(model) -> None:
    frame = layer_frame(model)
    total = frame.iloc[-1]
    metrics = st.columns(4)
    metrics[0].metric("Parameters", f"{int(total['Params']):,}")
    metrics[1].metric("MACs per image", f"{int(total['MACs']):,}",
                      help="Multiply-accumulates of the conv and dense layers for one image.")
    activation_kib = int(total["Activation memory (bytes)"]) / 1024
    metrics[2].metric("Activations per image", f"{activation_kib:,.1f} KiB",
                      help="Every layer's output for one image in float32, input included.")
    metrics[3].metric("Weights (float32)",
                      f"{int(total['Params']) * FLOAT32_BYTES / 1024:,.0f} KiB")
    diagram, table = st.columns([2, 3])
    with diagram:
        st.graphviz_chart(diagrams.network_dot(model))
    with table:
        st.dataframe(
            frame, hide_index=True, key="layer_table",
            column_config={name: st.column_config.NumberColumn(name, format="localized")
                           for name in ("Params", "MACs", "Activation memory (bytes)")},
        )
        st.caption("Output shapes are per image (the batch axis is left out). Conv MACs = "
                   "output height × width × filters × kernel height × width × input channels; "
                   "dense MACs = inputs × units. Pooling, Flatten and Dropout have none.")


def article_flows_ui() -> None:
    st.subheader("The article's four diagrams")
    columns = st.columns(4)
    for column, (title, dot) in zip(columns, diagrams.article_flow_dots().items()):
        with column:
            st.markdown(f"**{title}**")
            st.graphviz_chart(dot, width="stretch")
    st.caption(
        "Figure 4 draws the activation as its own step. In Keras it is an argument of each "
        "Conv2D and Dense layer (activation='relu', and 'softmax' for the output layer), which "
        "is why the network above has no activation nodes."
    )


def feature_maps_ui(runs: list[dict], chosen_run: dict | None) -> None:
    st.subheader("Feature maps")
    if not runs:
        st.info(
            "Feature maps need a trained network: an untrained one's maps are the responses of "
            "random filters and say nothing about the data. Train one on the Train page "
            "(or Quick train on the Predict page) and come back.",
            icon=":material/info:",
        )
        return
    if chosen_run is None:
        labels = {run_label(run): run for run in runs}
        chosen_run = labels[st.selectbox("Trained run", list(labels), key="fm_run")]
    try:
        model = get_predictor(chosen_run["model_path"]).model
        dataset = get_dataset(chosen_run["dataset"])
    except (ValueError, DatasetUnavailable) as error:
        st.error(f"Run {chosen_run['id']} cannot be shown: {error}", icon=":material/error:")
        return
    index = st.slider(f"Test image of {dataset.name}", 0, len(dataset.y_test) - 1, 0,
                      key="fm_index")
    image = dataset.x_test[index]
    class_names = tuple(chosen_run["metrics"].get("class_names") or dataset.class_names)
    probabilities = get_predictor(chosen_run["model_path"])(image[None])[0]
    predicted = int(probabilities.argmax())
    images = st.columns([1, 1, 1, 2])
    images[0].image(explain.upscale(image[..., 0], 6), clamp=True,
                    caption=f"Image {index}: {class_names[int(dataset.y_test[index])]}")
    images[1].image(explain.upscale(explain.overlay(image, explain.saliency(model, image)), 6),
                    caption="Saliency |∂ logit / ∂ pixel|")
    images[2].image(explain.upscale(explain.overlay(image, explain.grad_cam(model, image)), 6),
                    caption="Grad-CAM on the last conv layer")
    images[3].metric("Predicted", class_names[predicted],
                     f"{probabilities[predicted]:.1%} confident", delta_color="off")
    images[3].caption(f"Run {chosen_run['id']}. Heat shows what raised the score of the "
                      "predicted class; each map is scaled to its own maximum.")
    maps = explain.feature_maps(model, image, get_feature_model(chosen_run["model_path"]))
    columns = st.columns(2)
    for position, layer in enumerate(maps):
        height, width, channels = layer["maps"].shape
        tile_scale = max(1, 56 // height)
        columns[position % 2].image(
            explain.grid(layer["maps"], columns=8, scale=tile_scale),
            caption=f"{layer['name']} · {layer['type']} · {height}×{width}×{channels} "
                    "(each channel scaled to its own range)",
        )


st.title("Architecture")
runs = finished_runs()
choice = choose_network_ui(runs)
if choice is not None:
    model, chosen_run = choice
    network_ui(model)
article_flows_ui()
feature_maps_ui(runs, choice[1] if choice else None)
