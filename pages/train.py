"""Train: every hyperparameter on a control, a background run you can stop, live charts and costs."""

import statistics

import streamlit as st

from lepton import charts
from lepton.costs import run_costs, time_to_accuracy
from lepton.data import describe_datasets
from lepton.jobs import TrainingBusy
from lepton.model import ACTIVATIONS, MAX_CONV_BLOCKS, POOLINGS, ModelConfig, build_model
from lepton.model import layer_table, model_size_bytes
from lepton.querystate import Choice, Number, parse_query, to_query
from lepton.host import bfloat16_fast
from lepton.training import OPTIMIZERS, PRECISIONS, TrainConfig
from pages.common import cost_settings, get_jobs, get_store, selected_dataset

FILTER_CHOICES = (8, 16, 32, 64, 128)
FAST_PRECISION = "mixed_bfloat16" if bfloat16_fast() else "float32"
RECIPES = {  # measured in BENCHMARKS.md: the fast one trains ≥2× faster at equal accuracy
    "fast": {"precision": FAST_PRECISION, "batch": 128, "lr": 2e-3},
    "article": {"precision": "float32", "batch": 32, "lr": 1e-3},
}
FIELDS = {  # widget key → allowed values and default; also the link's query parameters
    "subset": Number(0, 60000, 0, integer=True),
    "validation": Number(0.0, 0.5, 0.1),
    "seed": Number(0, 2**31 - 1, 0, integer=True),
    "blocks": Number(1, MAX_CONV_BLOCKS, 2, integer=True),
    "filters1": Choice(FILTER_CHOICES, 32),
    "filters2": Choice(FILTER_CHOICES, 64),
    "filters3": Choice(FILTER_CHOICES, 64),
    "kernel": Number(1, 7, 3, integer=True),
    "pooling": Choice(POOLINGS, "max"),
    "dense": Choice((16, 32, 64, 128, 256, 512), 128),
    "dropout": Number(0.0, 0.8, 0.0),
    "activation": Choice(ACTIVATIONS, "relu"),
    "optimizer": Choice(OPTIMIZERS, "adam"),
    "lr": Choice((1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2, 3e-2, 1e-1, 1.0, 10.0), 2e-3),
    "batch": Choice((16, 32, 64, 128, 256, 512), 128),
    "epochs": Number(1, 30, 5, integer=True),
    "precision": Choice(PRECISIONS, FAST_PRECISION),
}


def apply_recipe(name: str) -> None:
    for key, value in RECIPES[name].items():
        st.session_state[key] = value


def restore_controls() -> None:
    """Gives every control its value: from the link on a session's first visit, else the last one.

    Streamlit forgets a widget's value when its page is left, so values are also kept under
    "train_settings" and put back when the page is shown again.
    """
    if "train_settings" not in st.session_state:
        linked = {key: value for key, value in st.query_params.items() if key != "dataset"}
        st.session_state["train_settings"], st.session_state["train_notices"] = parse_query(
            linked, FIELDS
        )
    for key, value in st.session_state["train_settings"].items():
        st.session_state.setdefault(key, value)


def remember_controls() -> None:
    """Keeps the values for the next visit and writes them into the URL, to share or reproduce."""
    saved = st.session_state["train_settings"]
    values = {key: st.session_state.get(key, saved[key]) for key in FIELDS}
    st.session_state["train_settings"] = values
    st.query_params.from_dict({"dataset": selected_dataset(), **to_query(values, FIELDS)})


def controls_ui() -> tuple[ModelConfig, TrainConfig] | None:
    """Widgets for every field of both configs; None (with the reason shown) when invalid."""
    data, architecture, optimisation = st.columns(3)
    with data:
        st.markdown("**Data**")
        st.number_input("Training samples (0 = all)", 0, 60000, step=500, key="subset",
                        help="A stratified subset trains faster; mnist-5k has 4,000 digits.")
        st.slider("Validation split", 0.0, 0.5, step=0.05, key="validation",
                  help="Share of the training samples held out to validate after each epoch.")
        st.number_input("Seed", 0, 2**31 - 1, key="seed",
                        help="Same seed and settings give the same run.")
    with architecture:
        st.markdown("**Architecture**")
        blocks = st.slider("Conv blocks", 1, MAX_CONV_BLOCKS, key="blocks",
                           help="Each block is Conv2D followed by 2×2 pooling.")
        for index in range(1, blocks + 1):
            st.select_slider(f"Filters in block {index}", FILTER_CHOICES, key=f"filters{index}")
        st.slider("Kernel size", 1, 7, key="kernel")
        st.selectbox("Pooling", POOLINGS, key="pooling")
        st.select_slider("Dense units", FIELDS["dense"].options, key="dense")
        st.slider("Dropout before output", 0.0, 0.8, step=0.05, key="dropout")
        st.selectbox("Activation", ACTIVATIONS, key="activation")
    with optimisation:
        st.markdown("**Optimisation**")
        st.selectbox("Optimizer", OPTIMIZERS, key="optimizer")
        st.select_slider("Learning rate", FIELDS["lr"].options, key="lr",
                         help="Too high (e.g. 10) makes the loss explode: the run then fails.")
        st.select_slider("Batch size", FIELDS["batch"].options, key="batch")
        st.slider("Epochs", 1, 30, key="epochs")
        st.selectbox("Precision", PRECISIONS, key="precision",
                     help="mixed_bfloat16 computes in bfloat16 with float32 weights; the CPU's "
                          "AMX/AVX512-BF16 units make it much faster where present.")
        fast, article = st.columns(2)
        fast.button("Fast recipe", on_click=apply_recipe, args=("fast",), key="recipe_fast",
                    help=f"{FAST_PRECISION}, batch 128, learning rate 0.002.")
        article.button("Article's recipe", on_click=apply_recipe, args=("article",),
                       key="recipe_article",
                       help="float32, batch 32, learning rate 0.001, as the article's script.")
    state = st.session_state
    shape = next((item for item in describe_datasets() if item["name"] == selected_dataset()),
                 {"input_shape": (28, 28, 1), "num_classes": 10})  # the dataset's input and classes
    try:
        model_config = ModelConfig(
            filters=tuple(state[f"filters{index}"] for index in range(1, blocks + 1)),
            kernel_size=state["kernel"], pooling=state["pooling"], dense_units=state["dense"],
            dropout_rate=state["dropout"], activation=state["activation"],
            input_shape=shape["input_shape"], num_classes=shape["num_classes"],
        )
        train_config = TrainConfig(
            optimizer=state["optimizer"], learning_rate=state["lr"], batch_size=state["batch"],
            epochs=state["epochs"], validation_split=state["validation"], seed=int(state["seed"]),
            subset=int(state["subset"]) or None, precision=state["precision"],
        )
    except ValueError as error:
        st.error(f"This combination cannot be trained: {error}")
        return None
    return model_config, train_config


@st.cache_data(max_entries=64)
def architecture_numbers(model_config: ModelConfig) -> dict:
    model = build_model(model_config)
    return {
        "params": model.count_params(),
        "macs": sum(row["macs"] for row in layer_table(model)),
        "bytes": model_size_bytes(model),
    }


def measured_speed(macs: int) -> tuple[float, int] | None:
    """This host's training speed scaled to `macs`: (samples/s, runs it is based on)."""
    finished = [run for run in get_store().list_runs("done")
                if run["timings"].get("samples_per_second") and run["metrics"].get("macs")]
    if not finished:
        return None
    # Work per sample scales with MACs: convert each run's speed to MACs/s, then back.
    macs_per_second = statistics.median(
        run["timings"]["samples_per_second"] * run["metrics"]["macs"] for run in finished
    )
    return macs_per_second / macs, len(finished)


def estimates_ui(model_config: ModelConfig, train_config: TrainConfig) -> None:
    numbers = architecture_numbers(model_config)
    columns = st.columns(4)
    columns[0].metric("Parameters", f"{numbers['params']:,}")
    columns[1].metric("MACs per image", f"{numbers['macs'] / 1e6:.2f} M",
                      help="Multiply-accumulates of the conv and dense layers for one image.")
    columns[2].metric("Weights (float32)", f"{numbers['bytes'] / 1024:,.0f} KiB",
                      help="Parameters × 4 bytes; the saved .keras file adds a little metadata.")
    speed = measured_speed(numbers["macs"])
    available = {item["name"]: item["train_samples"] for item in describe_datasets()}
    train_samples = available.get(selected_dataset()) or available["mnist-5k"]
    samples = min(train_config.subset or train_samples, train_samples)
    samples = int(samples * (1 - train_config.validation_split)) * train_config.epochs
    if speed is None:
        columns[3].metric("Estimated time", "–", help="Train once to measure this host's speed.")
        return
    seconds = samples / speed[0]
    settings = cost_settings()
    columns[3].metric(
        "Estimated time", f"{seconds:,.0f} s",
        help=f"{samples:,} samples ÷ {speed[0]:,.0f} samples/s (this host's median over "
             f"{speed[1]} runs, scaled by MACs per image) ≈ {settings.currency}"
             f"{seconds / 3600 * settings.price_per_hour:.4f} at "
             f"{settings.currency}{settings.price_per_hour:g}/h; excludes start-up.",
    )


def speed_cost_ui(run: dict, epochs: list[dict]) -> None:
    """Every measured figure of a run, each with the inputs it comes from."""
    timings = run["timings"]
    if not timings:
        return
    costs = run_costs(timings, cost_settings())
    settings = cost_settings()
    st.markdown("**Speed and cost**")
    columns = st.columns(4)
    columns[0].metric("Wall time", f"{timings['wall_seconds']:.1f} s",
                      help="Model build + training + validation, measured with perf_counter.")
    columns[1].metric("CPU time", f"{timings['cpu_seconds']:.1f} s",
                      help="Process CPU seconds (all threads) during the run.")
    columns[2].metric("Peak memory", f"{timings['peak_rss_bytes'] / 2**20:,.0f} MiB",
                      help="Largest resident set size of the process sampled during training.")
    columns[3].metric("Samples/s", f"{timings['samples_per_second']:,.0f}",
                      help=f"{timings['samples_seen']:,} samples ÷ {timings['train_seconds']:.1f} "
                           "s spent inside training steps.")
    columns = st.columns(4)
    if timings.get("epochs_done"):
        columns[0].metric("Seconds per epoch",
                          f"{timings['train_seconds'] / timings['epochs_done']:.2f} s",
                          help="Training steps only; validation not included.")
    target = st.session_state.get("target_accuracy", 0.97)
    reached = time_to_accuracy(epochs, target)
    columns[1].metric(
        f"Time to {target:.0%}", f"{reached[1]:.1f} s" if reached else "not reached",
        help="Cumulative epoch seconds until validation accuracy first reached the target"
             + (f" (epoch {reached[0]})." if reached else "."),
    )
    columns[2].metric("Cost", f"{settings.currency}{costs['money']:.5f}",
                      help=costs["money_inputs"] + " (set the price in the sidebar).")
    columns[3].metric("Energy", f"{costs['energy_wh']:.3f} Wh", help=costs["energy_method"])


@st.fragment(run_every=1.0)
def live_view() -> None:
    """Polls the run store, so it shows the newest run, from any tab, while it trains."""
    store, jobs = get_store(), get_jobs()
    runs = store.list_runs()
    if not runs:
        st.info("No run yet: choose settings and press **Start training**.")
        return
    run = runs[0]
    progress = run["progress"]
    st.subheader(f"Run {run['id']} — {run['status']}")
    if run["status"] in ("queued", "running"):
        fraction = min(max(progress.get("fraction") or 0.0, 0.0), 1.0)
        label = progress.get("stage", "starting")
        if "step" in progress:
            eta = progress.get("eta_seconds")
            label = (f"epoch {progress['epoch']}/{progress['epochs']}, step {progress['step']}/"
                     f"{progress['steps']}, loss {progress['loss']:.4f}"
                     + (f", about {eta:.0f} s left" if eta is not None else ""))
        st.progress(fraction, text=label)
        if jobs.run_id == run["id"] and st.button("Stop", key="stop", icon=":material/stop:"):
            jobs.stop()
            st.toast("Stopping after the current batch…")
    elif run["status"] in ("failed", "interrupted", "cancelled"):
        st.warning(f"{run['status'].capitalize()}: {run['reason']}")
    metrics = run["metrics"]
    if metrics.get("test_accuracy") is not None:
        st.metric("Test accuracy", f"{metrics['test_accuracy']:.2%}",
                  help=f"On {metrics['test_samples']:,} held-out test images of "
                       f"{metrics.get('dataset_source', run['dataset'])}.")
    epochs = store.epochs(run["id"])
    speed_cost_ui(run, epochs)
    batches = store.batches(run["id"])
    if batches:
        st.plotly_chart(charts.batch_curve(batches, progress.get("steps")),
                        key=f"batches-{run['id']}")
    if epochs:
        left, middle, right = st.columns(3)
        left.plotly_chart(charts.epoch_curves(epochs, "loss"), key=f"loss-{run['id']}")
        middle.plotly_chart(charts.epoch_curves(epochs, "accuracy"), key=f"acc-{run['id']}")
        right.plotly_chart(charts.throughput_curve(epochs), key=f"speed-{run['id']}")
    st.caption(f"TensorBoard logs: `tensorboard --logdir {store.home}`")


st.title("Train")
restore_controls()
for notice in st.session_state.get("train_notices", []):
    st.warning(notice, icon=":material/link_off:")
dataset = selected_dataset()
st.caption(f"Dataset: **{dataset}** (change it in the sidebar). The address bar holds these "
           "settings: copy it to share or reproduce this setup.")
chosen = next((item for item in describe_datasets() if item["name"] == dataset), None)
if chosen and not chosen["available"]:
    st.warning(f"{dataset} is not available offline: {chosen['where']}. Training downloads it if "
               "this host has internet, else the run fails and says why.",
               icon=":material/cloud_off:")
configs = controls_ui()
remember_controls()
if configs:
    model_config, train_config = configs
    estimates_ui(model_config, train_config)
    start, target = st.columns([1, 3])
    target.slider("Target accuracy for time-to-accuracy", 0.5, 0.999, 0.97, 0.005,
                  key="target_accuracy", format="%.3f")
    if start.button("Start training", type="primary", key="start", icon=":material/play_arrow:"):
        try:
            run_id = get_jobs().start(dataset, model_config, train_config)
        except TrainingBusy as error:
            st.warning(str(error))
        else:
            st.toast(f"Run {run_id} started.")
live_view()
