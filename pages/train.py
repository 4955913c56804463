"""Train: set the architecture and optimisation, start a run, watch it live."""

import streamlit as st

from lepton.jobs import TrainingBusy
from lepton.model import ACTIVATIONS, MAX_CONV_BLOCKS, POOLINGS, ModelConfig, build_model
from lepton.model import layer_table, model_size_bytes
from lepton.training import OPTIMIZERS, TrainConfig
from lepton import charts
from pages.common import get_jobs, get_store, selected_dataset

LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 1.0, 10.0)
BATCH_SIZES = (16, 32, 64, 128, 256, 512)
FILTER_CHOICES = (8, 16, 32, 64, 128)


def controls_ui() -> tuple[ModelConfig, TrainConfig] | None:
    """Widgets for every field of both configs; None (with the reason shown) when invalid."""
    data, architecture, optimisation = st.columns(3)
    with data:
        st.markdown("**Data**")
        subset = st.number_input(
            "Training samples (0 = all)", 0, 60000, 0, step=500, key="subset",
            help="A stratified subset trains faster; mnist-5k has 4,000 training digits.",
        )
        validation_split = st.slider("Validation split", 0.0, 0.5, 0.1, 0.05, key="validation")
        seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="seed")
    with architecture:
        st.markdown("**Architecture**")
        blocks = st.slider("Conv blocks", 1, MAX_CONV_BLOCKS, 2, key="blocks")
        filters = tuple(
            st.select_slider(f"Filters in block {index + 1}", FILTER_CHOICES,
                             value=(32, 64, 64)[index], key=f"filters{index}")
            for index in range(blocks)
        )
        kernel_size = st.slider("Kernel size", 1, 7, 3, key="kernel")
        pooling = st.selectbox("Pooling", POOLINGS, key="pooling")
        dense_units = st.select_slider("Dense units", (16, 32, 64, 128, 256, 512), 128,
                                       key="dense")
        dropout_rate = st.slider("Dropout before output", 0.0, 0.8, 0.0, 0.05, key="dropout")
        activation = st.selectbox("Activation", ACTIVATIONS, key="activation")
    with optimisation:
        st.markdown("**Optimisation**")
        optimizer = st.selectbox("Optimizer", OPTIMIZERS, key="optimizer")
        learning_rate = st.select_slider("Learning rate", LEARNING_RATES, 1e-3, key="lr")
        batch_size = st.select_slider("Batch size", BATCH_SIZES, 32, key="batch")
        epochs = st.slider("Epochs", 1, 30, 5, key="epochs")
    try:
        model_config = ModelConfig(
            filters=filters, kernel_size=kernel_size, pooling=pooling, dense_units=dense_units,
            dropout_rate=dropout_rate, activation=activation,
        )
        train_config = TrainConfig(
            optimizer=optimizer, learning_rate=learning_rate, batch_size=batch_size,
            epochs=epochs, validation_split=validation_split, seed=int(seed),
            subset=int(subset) or None,
        )
    except ValueError as error:
        st.error(f"This combination cannot be trained: {error}")
        return None
    return model_config, train_config


@st.cache_data(max_entries=64)
def estimates(model_config: ModelConfig) -> dict:
    model = build_model(model_config)
    table = layer_table(model)
    return {
        "params": model.count_params(),
        "macs": sum(row["macs"] for row in table),
        "bytes": model_size_bytes(model),
    }


def estimates_ui(model_config: ModelConfig) -> None:
    numbers = estimates(model_config)
    first, second, third = st.columns(3)
    first.metric("Parameters", f"{numbers['params']:,}")
    second.metric("MACs per image", f"{numbers['macs'] / 1e6:.2f} M",
                  help="Multiply-accumulates of the conv and dense layers for one 28×28 image.")
    third.metric("Weights (float32)", f"{numbers['bytes'] / 1024:,.0f} KiB",
                 help="Parameters × 4 bytes; the saved .keras file adds a little metadata.")


@st.fragment(run_every=1.0)
def live_view() -> None:
    """Polls the run store, so it shows any run, from any tab, while it trains."""
    store, jobs = get_store(), get_jobs()
    runs = store.list_runs()
    if not runs:
        st.info("No run yet: choose settings and press **Start training**.")
        return
    run = runs[0]
    progress = run["progress"]
    active = run["status"] in ("queued", "running")
    st.subheader(f"Run {run['id']} — {run['status']}")
    if active:
        fraction = min(max(progress.get("fraction") or 0.0, 0.0), 1.0)
        eta = progress.get("eta_seconds")
        label = progress.get("stage", "starting")
        if "epoch" in progress:
            label = (f"epoch {progress['epoch']}/{progress['epochs']}, step {progress['step']}/"
                     f"{progress['steps']}" + (f", about {eta:.0f} s left" if eta else ""))
        st.progress(fraction, text=label)
        if jobs.run_id == run["id"] and st.button("Stop", key="stop"):
            jobs.stop()
    elif run["status"] in ("failed", "interrupted", "cancelled"):
        st.warning(f"{run['status'].capitalize()}: {run['reason']}")
    metrics, timings = run["metrics"], run["timings"]
    if metrics.get("test_accuracy") is not None:
        columns = st.columns(4)
        columns[0].metric("Test accuracy", f"{metrics['test_accuracy']:.2%}")
        columns[1].metric("Wall time", f"{timings['wall_seconds']:.1f} s")
        columns[2].metric("Samples/s", f"{timings['samples_per_second']:,.0f}",
                          help="Training samples per second inside the training steps.")
        columns[3].metric("Model file", f"{metrics['model_bytes'] / 1024:,.0f} KiB")
        st.caption(f"Data: {metrics.get('dataset_source', run['dataset'])}")
    batches = store.batches(run["id"])
    if batches:
        st.plotly_chart(charts.batch_curve(batches, progress.get("steps")),
                        key=f"batches-{run['id']}")
    epochs = store.epochs(run["id"])
    if epochs:
        left, right = st.columns(2)
        left.plotly_chart(charts.epoch_curves(epochs, "loss"), key=f"loss-{run['id']}")
        right.plotly_chart(charts.epoch_curves(epochs, "accuracy"), key=f"acc-{run['id']}")


st.title("Train")
dataset = selected_dataset()
st.caption(f"Dataset: **{dataset}** (change it in the sidebar).")
configs = controls_ui()
if configs:
    model_config, train_config = configs
    estimates_ui(model_config)
    if st.button("Start training", type="primary", key="start"):
        try:
            run_id = get_jobs().start(dataset, model_config, train_config)
        except TrainingBusy as error:
            st.warning(str(error))
        else:
            st.toast(f"Run {run_id} started.")
live_view()
