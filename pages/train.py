"""Train: every hyperparameter on a control, a background run you can stop, live charts, costs."""


import streamlit as st

from lepton import charts, fastpath, network_view, scaling
from lepton.background import text_of
from lepton.costs import money, run_costs, time_to_accuracy
from lepton.data import describe_datasets
from lepton.i18n import recorded
from lepton.jobs import TrainingBusy
from lepton.model import (
    ACTIVATIONS,
    MAX_CONV_BLOCKS,
    MAX_DROPOUT,
    MAX_KERNEL_SIZE,
    POOLINGS,
    ModelConfig,
)
from lepton.querystate import parse_query, to_query
from lepton.recipes import ARTICLE, default_config, execution_settings
from lepton.registry import is_active
from lepton.train_config import (
    AUGMENTATIONS,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    TrainConfig,
    training_samples,
)
from lepton.train_fields import configs_from_values, train_fields
from pages.common import (
    cost_settings,
    get_follower,
    get_jobs,
    get_snapshot,
    get_store,
    get_work_pool,
    language,
    reason,
    say,
    selected_dataset,
    status_label,
    t,
    wait_for,
)

DEFAULT = default_config(get_store().home)
EXECUTION_SOURCE = execution_settings(get_store().home)[1]  # where DEFAULT's settings come from
RECIPES = {  # the two recipes as control values: Lepton's default on this host, the article's
    name: {"precision": config.precision, "batch": config.batch_size,
           "lr": config.learning_rate, "epochs": config.epochs,
           "steps_per_execution": config.steps_per_execution, "threads": config.threads,
           "augmentation": config.augmentation, "schedule": config.schedule}
    for name, config in (("default", DEFAULT), ("article", ARTICLE))
}
FIELDS = train_fields(DEFAULT)  # widget key → allowed values and default; also the link


def apply_recipe(name: str) -> None:
    for key, value in RECIPES[name].items():
        st.session_state[key] = value


def recipe_text(config: TrainConfig) -> str:
    return (f"{config.precision}, batch {config.batch_size}, lr {config.learning_rate:g} "
            f"({config.schedule}), {config.epochs} epochs, augmentation {config.augmentation}, "
            f"steps_per_execution {config.steps_per_execution}, threads {config.threads or 'auto'}")


def restore_controls() -> None:
    """Gives every control its value: from the link on a session's first visit, else the last one.

    Streamlit forgets a widget's value when its page is left, so values are also kept under
    "train_settings" and put back when the page is shown again.
    """
    if "train_settings" not in st.session_state:
        linked = {key: value for key, value in st.query_params.items()
                  if key not in ("dataset", "lang")}
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
    st.query_params.from_dict({"lang": st.session_state.get("language", "en"),
                               "dataset": selected_dataset(), **to_query(values, FIELDS)})


def controls_ui() -> tuple[ModelConfig, TrainConfig] | None:
    """Widgets for every field of both configs; None (with the reason shown) when invalid."""
    data, architecture, optimisation = st.columns(3)
    with data:
        st.markdown(f"**{t('train.data')}**")
        st.number_input(t("train.subset"), 0, 60000, step=500, key="subset",
                        help=t("train.subset_help"))
        st.slider(t("train.validation"), 0.0, 0.5, step=0.05, key="validation",
                  help=t("train.validation_help"))
        st.number_input(t("train.seed"), 0, 2**31 - 1, key="seed", help=t("train.seed_help"))
    with architecture:
        st.markdown(f"**{t('train.architecture')}**")
        blocks = st.slider(t("train.blocks"), 1, MAX_CONV_BLOCKS, key="blocks",
                           help=t("train.blocks_help"))
        for index in range(1, blocks + 1):
            st.select_slider(t("train.filters", index=index),
                             FIELDS[f"filters{index}"].options, key=f"filters{index}")
        st.slider(t("train.kernel"), 1, MAX_KERNEL_SIZE, key="kernel")
        poolings = {pooling: t(f"train.pooling_{pooling}") for pooling in POOLINGS}
        st.selectbox(t("train.pooling"), POOLINGS, key="pooling", format_func=poolings.get)
        st.select_slider(t("train.dense"), FIELDS["dense"].options, key="dense")
        st.slider(t("train.dropout"), 0.0, MAX_DROPOUT, step=0.05, key="dropout")
        st.selectbox(t("train.activation"), ACTIVATIONS, key="activation")
    with optimisation:
        st.markdown(f"**{t('train.optimisation')}**")
        st.selectbox(t("train.optimizer"), OPTIMIZERS, key="optimizer")
        st.select_slider(t("train.lr"), FIELDS["lr"].options, key="lr", help=t("train.lr_help"))
        # Labels resolved now: a format_func calling t() later could meet another language.
        schedules = {name: t(f"train.schedule_{name}") for name in SCHEDULES}
        st.selectbox(t("train.schedule"), SCHEDULES, key="schedule", format_func=schedules.get)
        st.select_slider(t("train.batch"), FIELDS["batch"].options, key="batch")
        st.slider(t("train.epochs"), 1, FIELDS["epochs"].high, key="epochs")
        augmentations = {name: t(f"train.augmentation_{name}") for name in AUGMENTATIONS}
        st.selectbox(t("train.augmentation"), tuple(AUGMENTATIONS), key="augmentation",
                     format_func=augmentations.get, help=t("train.augmentation_help"))
        st.selectbox(t("train.precision"), PRECISIONS, key="precision",
                     help=t("train.precision_help"))
        st.select_slider(t("train.steps_per_execution"), FIELDS["steps_per_execution"].options,
                         key="steps_per_execution", help=t("train.steps_per_execution_help"))
        st.number_input(t("train.threads"), 0, 64, key="threads", help=t("train.threads_help"))
        default, article = st.columns(2)
        default.button(t("train.default_recipe"), on_click=apply_recipe, args=("default",),
                       key="recipe_default",
                       help=t("train.default_recipe_help", settings=recipe_text(DEFAULT),
                              source=EXECUTION_SOURCE))
        article.button(t("train.article_recipe"), on_click=apply_recipe, args=("article",),
                       key="recipe_article", help=t("train.article_recipe_help"))
    state = st.session_state
    shape = next((item for item in describe_datasets() if item["name"] == selected_dataset()),
                 {"input_shape": (28, 28, 1), "num_classes": 10})  # the dataset's input and classes
    try:
        # A filter count whose block is hidden keeps its remembered value.
        values = {key: state.get(key, state["train_settings"][key]) for key in FIELDS}
        model_config, train_config = configs_from_values(values, shape["input_shape"],
                                                         shape["num_classes"])
    except ValueError as error:
        st.error(t("train.cannot_train", reason=reason(error)))
        return None
    return model_config, train_config


def architecture_numbers(model_config: ModelConfig) -> dict:
    """Parameters, MACs and weight bytes of the real model, built in a worker process (the
    server imports no Keras) once per configuration for every session."""
    ticket = get_work_pool().submit(("network", model_config, "en", (), 0),
                                    network_view.describe, model_config, "en")
    wait_for([ticket], t("train.building_model"))
    view = ticket.result()
    return {"params": view["params"], "macs": view["macs"], "bytes": view["weights_bytes"]}


def estimates_ui(model_config: ModelConfig, train_config: TrainConfig) -> None:
    numbers = architecture_numbers(model_config)
    columns = st.columns(4)
    columns[0].metric(t("train.params"), f"{numbers['params']:,}")
    columns[1].metric(t("train.macs"), f"{numbers['macs'] / 1e6:.2f} M",
                      help=t("train.macs_help"))
    columns[2].metric(t("train.weights"), f"{numbers['bytes'] / 1024:,.0f} KiB",
                      help=t("train.weights_help"))
    speed = scaling.speed_for_macs(get_snapshot().finished(), numbers["macs"])
    available = {item["name"]: item["train_samples"] for item in describe_datasets()}
    train_samples = available.get(selected_dataset()) or available["mnist-5k"]
    samples = min(train_config.subset or train_samples, train_samples)
    samples = training_samples(samples, train_config.validation_split) * train_config.epochs
    if speed is None:
        columns[3].metric(t("train.estimated_time"), "–",
                          help=t("train.estimated_time_unknown"))
        return
    seconds = samples / speed[0]
    settings = cost_settings()
    columns[3].metric(
        t("train.estimated_time"), f"{seconds:,.0f} s",
        help=t("train.estimated_time_help", samples=f"{samples:,}", speed=f"{speed[0]:,.0f}",
               runs=speed[1],
               cost=f"{settings.currency}{money(seconds, settings.price_per_hour):.4f}",
               price=f"{settings.currency}{settings.price_per_hour:g}"),
    )


def speed_cost_ui(run: dict, epochs: list[dict]) -> None:
    """Every measured figure of a run, each with the inputs it comes from."""
    timings = run["timings"]
    if not timings:
        return
    costs = run_costs(timings, cost_settings())
    settings = cost_settings()
    st.markdown(f"**{t('train.speed_and_cost')}**")
    columns = st.columns(4)
    columns[0].metric(t("train.wall_time"), f"{timings['wall_seconds']:.1f} s",
                      help=t("train.wall_time_help"))
    columns[1].metric(t("train.cpu_time"), f"{timings['cpu_seconds']:.1f} s",
                      help=t("train.cpu_time_help"))
    columns[2].metric(t("train.peak_memory"), f"{timings['peak_rss_bytes'] / 2**20:,.0f} MiB",
                      help=t("train.peak_memory_help"))
    steady = timings.get("steady_samples_per_second")
    columns[3].metric(
        t("train.samples_per_second"),
        f"{steady if steady else timings['samples_per_second']:,.0f}",
        help=t("train.samples_per_second_help", samples=f"{timings['samples_seen']:,}",
               seconds=f"{timings['train_seconds']:.1f}",
               overall=f"{timings['samples_per_second']:,.0f}"),
    )
    columns = st.columns(4)
    if timings.get("epochs_done"):
        columns[0].metric(t("train.seconds_per_epoch"),
                          f"{timings['train_seconds'] / timings['epochs_done']:.2f} s",
                          help=t("train.seconds_per_epoch_help"))
    target = st.session_state.get("target_accuracy", 0.97)
    reached = time_to_accuracy(epochs, target)
    columns[1].metric(
        t("train.time_to", target=f"{target:.0%}"),
        f"{reached[1]:.1f} s" if reached else t("train.not_reached"),
        help=(t("train.time_to_help", epoch=reached[0]) if reached
              else t("train.time_to_help_not_reached")),
    )
    columns[2].metric(t("train.cost"), f"{settings.currency}{costs['money']:.5f}",
                      help=t("train.cost_help", inputs=costs["money_inputs"]))
    if timings.get("rapl_joules") is not None:  # the same choice as lepton.costs.run_costs
        energy_help = t("train.energy_rapl")
    else:
        energy_help = t("train.energy_estimated", cpu=f"{timings.get('cpu_seconds') or 0.0:.1f}",
                        watts=f"{settings.watts_per_core:g}")
    columns[3].metric(t("train.energy"), f"{costs['energy_wh']:.3f} Wh", help=energy_help)


STAGES = {  # progress stages written by lepton.jobs → their messages
    "starting": "train.stage_starting",
    "loading data": "train.stage_loading_data",
    "training": "train.stage_training",
    "evaluating": "train.stage_evaluating",
    "exporting for fast inference": "train.stage_exporting",
}


def stage_label(stage: str) -> str:
    """A progress stage in words; a stage without a message (a final status) as its status."""
    return t(STAGES[stage]) if stage in STAGES else status_label(stage)


CALIBRATION_COLUMNS = ("winner", "precision", "batch_size", "learning_rate", "steps_per_execution",
                       "threads", "pipeline", "samples_per_second", "speedup", "test_accuracy",
                       "accuracy_holds")


def fast_path_ui() -> None:
    """This host's execution settings, and a button that measures them in another process."""
    home = get_store().home
    with st.expander(t("train.fast_path_title"), icon=":material/speed:"):
        st.caption(t("train.execution_source", source=EXECUTION_SOURCE))
        progress = fastpath.calibration_progress(home)
        running = bool(progress and progress["status"] == "running")
        st.fragment(run_every=1.0 if running else None)(calibration_status)(running)


def calibration_status(was_running: bool) -> None:
    home = get_store().home
    progress = fastpath.calibration_progress(home)
    running = bool(progress and progress["status"] == "running")
    if running != was_running:
        st.rerun(scope="app")  # finished: the default recipe may have changed
    if running:
        st.progress(progress["fraction"],
                    text=t("train.calibrating", text=text_of(progress, language())))
        return
    if progress and progress["status"] == "failed":
        st.warning(t("train.calibration_failed", error=progress.get("error") or ""))
    entry = fastpath.load_calibration(home)
    if entry:
        st.caption(t("train.calibration_table", cpu=entry["cpu"], date=entry["measured"][:10],
                     seconds=f"{entry['seconds'] or 0:.0f}"))
        st.dataframe([{key: row.get(key) for key in CALIBRATION_COLUMNS}
                      for row in sorted(entry["rows"],
                                        key=lambda row: -(row.get("samples_per_second") or 0))],
                     hide_index=True)
    if st.button(t("train.calibrate"), key="calibrate", icon=":material/speed:",
                 help=t("train.calibrate_help")):
        try:
            fastpath.start_calibration(home)
        except TrainingBusy as error:
            st.warning(t("train.busy", reason=str(error)))
        else:
            st.rerun(scope="app")


# While a run trains, every redraw costs the browser CPU that the training then lacks (measured in
# BENCHMARKS.md): the progress line ticks every 2 s, the per-batch chart every 4 s, the
# per-epoch charts every 8 s, unless the Live charts toggle is off. Nothing trains: only look
# for a run started elsewhere.
STATUS_TICK_SECONDS = 2.0
BATCH_CHART_TICK_SECONDS = 4.0
EPOCH_CHARTS_TICK_SECONDS = 8.0
IDLE_TICK_SECONDS = 5.0


def live_view() -> None:
    """The newest run, from any tab or the CLI, refreshed while it trains.

    Ticks fast only while a run is active; a change between active and finished reruns the page
    so the tick rate follows.
    """
    latest = get_snapshot().latest()
    if latest is None:
        st.fragment(run_every=IDLE_TICK_SECONDS)(no_run_yet)()
        return
    active = is_active(latest)
    redraw = active and st.session_state.get("live_charts", True)
    st.fragment(run_every=STATUS_TICK_SECONDS if active else IDLE_TICK_SECONDS)(run_status)(
        latest["id"], active)
    if active and not redraw:
        st.caption(t("train.charts_paused"))
    st.fragment(run_every=BATCH_CHART_TICK_SECONDS if redraw else None)(batch_chart)(
        latest["id"])
    st.fragment(run_every=EPOCH_CHARTS_TICK_SECONDS if redraw else None)(epoch_charts)(
        latest["id"])
    st.caption(t("train.tensorboard", folder=get_store().home))


def no_run_yet() -> None:
    if get_snapshot().latest() is not None:
        st.rerun(scope="app")
    st.info(t("train.no_run"))


def run_status(run_id: int, was_active: bool) -> None:
    """Heading, progress bar, stop button and the figures of speed and cost."""
    latest = get_snapshot().latest()
    follower = get_follower(run_id)
    run = follower.refresh()
    if latest["id"] != run_id or (is_active(run)) != was_active:
        st.rerun(scope="app")  # a new run, or this one ended: the page's tick rates change
    progress = run["progress"]
    st.subheader(t("train.run_header", id=run["id"], status=status_label(run["status"])))
    if is_active(run):
        fraction = min(max(progress.get("fraction") or 0.0, 0.0), 1.0)
        label = stage_label(progress.get("stage", "starting"))
        if "step" in progress:
            eta = progress.get("eta_seconds")
            values = dict(epoch=progress["epoch"], epochs=progress["epochs"],
                          step=progress["step"], steps=progress["steps"],
                          loss=f"{progress['loss']:.4f}")
            label = (t("train.progress", **values) if eta is None
                     else t("train.progress_eta", eta=f"{eta:.0f}", **values))
        st.progress(fraction, text=label)
        if st.button(t("train.stop"), key="stop", icon=":material/stop:"):
            get_jobs().stop(run["id"])
            st.toast(t("train.stopping"))
    elif run["status"] in ("failed", "interrupted", "cancelled"):
        st.warning(t("train.run_ended", status=status_label(run["status"]).capitalize(),
                     reason=run["reason"]))
    metrics = run["metrics"]
    if metrics.get("test_accuracy") is not None:
        st.metric(t("train.test_accuracy"), f"{metrics['test_accuracy']:.2%}",
                  help=t("train.test_accuracy_help", count=f"{metrics['test_samples']:,}",
                         source=say(recorded(metrics, "dataset_source") or run["dataset"])))
    speed_cost_ui(run, follower.epochs)


def batch_chart(run_id: int) -> None:
    """Per-batch loss and accuracy, built once per new data and shared by every session."""
    follower = get_follower(run_id)
    run = follower.refresh()
    config = TrainConfig.from_dict(run["train_config"])
    stored_samples = run["metrics"].get("train_samples")  # before the validation split
    if not (follower.batches and stored_samples):
        return
    samples_per_epoch = training_samples(stored_samples, config.validation_split)
    steps = run["progress"].get("steps") or follower.batches[-1]["step"]
    smoothing = st.session_state.get("smoothing", 0.6)
    st.plotly_chart(follower.figure(
        "batches", lambda: charts.batch_curve(
            follower.batches, config.batch_size, samples_per_epoch, steps,
            smoothing=smoothing, language=language()),
        smoothing, language()), key=f"batches-{run_id}")
    st.caption(t("train.batch_caption", count=f"{len(follower.batches):,}",
                 shown=min(len(follower.batches), charts.MAX_POINTS),
                 execution=config.steps_per_execution))


def epoch_charts(run_id: int) -> None:
    """Per-epoch loss, accuracy and throughput."""
    follower = get_follower(run_id)
    follower.refresh()
    epochs = follower.epochs
    if not epochs:
        return
    left, middle, right = st.columns(3)
    left.plotly_chart(follower.figure(
        "loss", lambda: charts.epoch_curves(epochs, "loss", language=language()),
        language()), key=f"loss-{run_id}")
    middle.plotly_chart(follower.figure(
        "accuracy", lambda: charts.epoch_curves(epochs, "accuracy", language=language()),
        language()), key=f"acc-{run_id}")
    right.plotly_chart(follower.figure(
        "speed", lambda: charts.throughput_curve(epochs, language=language()),
        language()), key=f"speed-{run_id}")



st.title(t("train.title"))
restore_controls()
for notice in st.session_state.get("train_notices", []):
    st.warning(t("train.link_notice", notice=say(notice)), icon=":material/link_off:")
dataset = selected_dataset()
st.caption(t("train.dataset_caption", dataset=dataset))
chosen = next((item for item in describe_datasets() if item["name"] == dataset), None)
if chosen and not chosen["available"]:
    st.warning(t("train.dataset_offline", dataset=dataset, where=say(chosen["where"])),
               icon=":material/cloud_off:")
configs = controls_ui()
remember_controls()
fast_path_ui()
if configs:
    model_config, train_config = configs
    estimates_ui(model_config, train_config)
    start, target = st.columns([1, 3])
    target.slider(t("train.target"), 0.5, 0.999, 0.97, 0.005, key="target_accuracy",
                  format="%.3f")
    if start.button(t("train.start"), type="primary", key="start", icon=":material/play_arrow:"):
        try:
            run_id = get_jobs().start(dataset, model_config, train_config)
        except TrainingBusy as error:
            st.warning(t("train.busy", reason=str(error)))
        else:
            st.toast(t("train.started", id=run_id))
smoothing_column, live_column = st.columns([3, 1], vertical_alignment="bottom")
smoothing_column.slider(t("train.smoothing"), 0.0, 0.99, 0.6, 0.01, key="smoothing",
                        help=t("train.smoothing_help"))
live_column.toggle(t("train.live_charts"), value=True, key="live_charts",
                   help=t("train.live_charts_help"))
live_view()
