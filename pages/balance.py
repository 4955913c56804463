"""Balance: a multi-objective sweep (Optuna on Dask), its live front and the setup it picks."""

import pandas as pd
import streamlit as st

from lepton import sweep_charts
from lepton.i18n import recorded
from lepton.objectives import DEFAULT_OBJECTIVES, LIMITS, OBJECTIVES
from lepton.querystate import parse_query
from lepton.recipes import default_config
from lepton.sweep_space import DEFAULT_SPACE, parse_space, space_text
from lepton.sweep_spec import create_sweep, make_spec, start_sweep
from lepton.sweep_state import ACTIVE, list_sweeps, projection, read_state, request_stop
from lepton.train_fields import train_fields
from pages.common import (
    cost_settings,
    get_store,
    language,
    reason,
    say,
    selected_dataset,
    t,
)

FIELDS = train_fields(default_config(get_store().home))
CHOICE_FIELDS = ("filters1", "filters2", "dense", "pooling", "activation", "optimizer", "lr",
                 "batch", "precision", "augmentation", "schedule")
RANGE_FIELDS = ("epochs", "kernel", "dropout")
LIMIT_UNITS = {"min_accuracy": 100.0}  # the page asks for percent; the spec holds a share
TRIAL_CHOICES = (2, 4, 6, 8, 12, 16, 24, 32, 48)
TICK_SECONDS = 1.0


def objective_label(name: str) -> str:
    return sweep_charts.objective_title(name, language())


def space_ui() -> str:
    """One control per Train-page field: choices to try (one fixes it) or a range."""
    default = {dimension.name: dimension for dimension in
               parse_space(DEFAULT_SPACE, FIELDS).dimensions}
    selection = {}
    columns = st.columns(3)
    for index, name in enumerate(CHOICE_FIELDS):
        field = FIELDS[name]
        chosen = default[name].choices if name in default else (field.default,)
        selection[name] = columns[index % 3].multiselect(
            t(f"balance.field_{name}"), field.options, default=list(chosen),
            key=f"space_{name}", help=t("balance.choices_help"))
    for index, name in enumerate(RANGE_FIELDS):
        field = FIELDS[name]
        low, high = (default[name].low, default[name].high) if name in default \
            else (field.default, field.default)
        step = 1 if field.integer else 0.05
        selection[name] = columns[index % 3].slider(
            t(f"balance.field_{name}"), field.low, field.high, (low, high), step=step,
            key=f"space_{name}", help=t("balance.range_help"))
    subset = st.number_input(t("balance.subset"), 0, FIELDS["subset"].high, 0, step=500,
                             key="space_subset", help=t("balance.subset_help"))
    if subset:
        selection["subset"] = [subset]
    return space_text(selection)  # sliders give (low, high) tuples, multiselects lists


def new_sweep_ui() -> None:
    """Space, objectives, limits and budget, then Start (the sweep runs in its own process)."""
    st.subheader(t("balance.new"))
    objectives = st.multiselect(t("balance.objectives"), list(OBJECTIVES),
                                default=list(DEFAULT_OBJECTIVES), format_func=objective_label,
                                key="sweep_objectives", help=t("balance.objectives_help"))
    st.markdown(f"**{t('balance.limits')}**")
    limits = {}
    limit_columns = st.columns(len(LIMITS))
    for column, name in zip(limit_columns, LIMITS):
        value = column.number_input(t(f"balance.limit_{name}"), min_value=0.0, value=None,
                                    key=f"limit_{name}", placeholder=t("balance.no_limit"),
                                    help=t("balance.early_stop_help")
                                    if name == "min_accuracy" else None)
        limits[name] = None if value is None else value / LIMIT_UNITS.get(name, 1.0)
    st.markdown(f"**{t('balance.space')}**")
    space = space_ui()
    budget, timeout, seed, scheduler = st.columns([1, 1, 1, 2])
    trials = budget.select_slider(t("balance.trials"), TRIAL_CHOICES, value=12,
                                  key="sweep_trials")
    minutes = timeout.number_input(t("balance.timeout"), min_value=1, value=None,
                                   key="sweep_timeout", placeholder=t("balance.no_limit"))
    seed_value = seed.number_input(t("balance.seed"), 0, 2**31 - 1, 0, key="sweep_seed")
    address = scheduler.text_input(t("balance.scheduler"), key="sweep_scheduler",
                                   placeholder="tcp://HOST:8786",
                                   help=t("balance.scheduler_help"))
    command = _command(selected_dataset(), trials, objectives, limits, space, minutes,
                       seed_value, address)
    st.caption(t("balance.command"))
    st.code(command, language="bash")
    if st.button(t("balance.start"), type="primary", icon=":material/play_arrow:",
                 key="sweep_start"):
        try:
            spec = make_spec(selected_dataset(), trials, space, get_store().home,
                             objectives=tuple(objectives), limits=limits,
                             timeout_seconds=minutes * 60 if minutes else None,
                             seed=int(seed_value), scheduler=address.strip())
        except ValueError as error:
            st.error(t("balance.cannot_start", reason=reason(error)), icon=":material/error:")
            return
        sweep_id = create_sweep(spec, get_store().home)
        start_sweep(sweep_id, get_store().home)
        st.session_state["sweep_shown"] = sweep_id
        st.rerun()


def _command(dataset, trials, objectives, limits, space, minutes, seed, address) -> str:
    parts = [f"lepton sweep --dataset {dataset} --trials {trials}",
             f"--objectives {','.join(objectives)}"]
    parts += [f"--{name.replace('_', '-')} {value:g}" for name, value in limits.items()
              if value is not None]
    if minutes:
        parts.append(f"--timeout {minutes * 60}")
    if address.strip():
        parts.append(f"--scheduler {address.strip()}")
    parts.append(f"--seed {seed} --space '{space}' --json")
    return " \\\n  ".join(parts)


def sweep_view(sweep_id: int, was_active: bool) -> None:
    """A sweep's status, trials, front and pick; redrawn every second while it runs."""
    state = read_state(get_store().home, sweep_id)
    if state is None:
        st.warning(t("balance.gone", id=sweep_id))
        return
    active = state["status"] in ACTIVE
    if was_active != active:
        st.rerun(scope="app")  # the controls around the view change when it starts or ends
    spec, trials = state["spec"], state["trials"]
    ended = [trial for trial in trials if trial["status"] not in ("queued", "running")]
    st.progress(min(1.0, len(ended) / spec["trials"]), text=t(
        "balance.progress", status=t(f"balance.status_{state['status']}"), ended=len(ended),
        trials=spec["trials"], seconds=f"{state.get('elapsed_seconds', 0):.0f}"))
    if state.get("reason"):
        st.caption(say(recorded(state, "reason")))
    if not trials:
        if active:
            st.info(t("balance.waiting"), icon=":material/hourglass_top:")
        return
    trials_table(trials, spec["objectives"])
    objectives = spec["objectives"]
    x_column, y_column = st.columns(2)
    x = x_column.selectbox(t("balance.x_axis"), objectives, index=1, key="front_x",
                           format_func=objective_label)
    y = y_column.selectbox(t("balance.y_axis"), objectives, index=0, key="front_y",
                           format_func=objective_label)
    pick = state.get("recommended")
    measured = [trial for trial in trials if trial["status"] == "done"]
    if not measured:
        st.caption(t("balance.front_later"))
        return
    st.plotly_chart(sweep_charts.front_figure(
        trials, x, y, state["pareto"], pick["run_id"] if pick else None, language()),
        key="front_chart")
    st.caption(t("balance.front_caption",
                 sampler=t(f"balance.sampler_{state['spec'].get('sampler', 'tpe')}")))
    if len(measured) >= 2:
        names = [dimension["name"] for dimension in spec["space"]["dimensions"]]
        st.plotly_chart(sweep_charts.coordinates_figure(measured, objectives, names,
                                                        language()), key="coordinates_chart")


def trials_table(trials: list[dict], objectives: list[str]) -> None:
    rows = []
    for trial in trials:
        row = {t("balance.column_trial"): trial["number"], t("balance.column_run"):
               trial.get("run_id"), t("balance.column_status"):
               t(f"balance.trial_{trial['status']}")}
        row.update({name: value for name, value in trial["params"].items()})
        figures = trial.get("figures") or {}
        row.update({objective_label(name): figures.get(name) for name in objectives})
        row[t("balance.column_feasible")] = trial.get("feasible")
        row[t("balance.column_worker")] = trial.get("worker", "")
        row[t("balance.column_reason")] = say(recorded(trial, "reason")) if trial.get(
            "reason") else ""
        rows.append(row)
    number = st.column_config.NumberColumn
    formats = {objective_label(name): number(format="percent" if name in (
        "accuracy", "val_accuracy") else "%.4g") for name in objectives}
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="trials_table", column_config=formats)


def recommended_ui(state: dict) -> None:
    """The balanced setup of the front, and a way to train it again on the Train page."""
    pick = state.get("recommended")
    st.subheader(t("balance.recommended"))
    if pick is None:
        st.info(t("balance.no_recommendation"), icon=":material/info:")
        return
    columns = st.columns(len(pick["values"]) + 1)
    columns[0].metric(t("balance.run"), pick["run_id"])
    for column, (name, value) in zip(columns[1:], pick["values"].items()):
        shown = f"{value:.2%}" if name in ("accuracy", "val_accuracy") else f"{value:.4g}"
        column.metric(objective_label(name), shown)
    st.caption(t("balance.recommended_how", params=", ".join(
        f"{name} {value}" for name, value in pick["params"].items())))
    if st.button(t("balance.open_on_train"), icon=":material/model_training:",
                 key="open_on_train", on_click=prepare_train_page,
                 args=(pick["link"], state["spec"]["dataset"])):
        st.switch_page("pages/train.py")
    query = "&".join(f"{name}={value}" for name, value in
                     {"dataset": state["spec"]["dataset"], **pick["link"]}.items())
    st.caption(t("balance.share_link"))
    st.code(f"/train?{query}", language=None)


def prepare_train_page(link: dict, dataset: str) -> None:
    """Before the next run draws any widget (a callback): the Train page's controls and the
    sidebar's dataset take the recommended setup."""
    values, _ = parse_query(link, FIELDS)
    for name in FIELDS:
        st.session_state.pop(name, None)  # the Train page's widgets take the new values
    st.session_state["train_settings"] = values
    st.session_state["dataset"] = dataset


def importance_ui(state: dict) -> None:
    importance = state.get("importance") or {}
    if not importance:
        st.caption(t("balance.importance_later"))
        return
    objective = st.selectbox(t("balance.importance_for"), list(importance),
                             format_func=objective_label, key="importance_objective")
    st.plotly_chart(sweep_charts.importance_figure(importance[objective], objective,
                                                   language()), key="importance_chart")


def projection_ui(state: dict) -> None:
    st.subheader(t("balance.projection"))
    more_column, workers_column = st.columns(2)
    more = more_column.number_input(t("balance.more_trials"), 1, 10000, 24, key="more_trials")
    workers = workers_column.number_input(t("balance.workers"), 1, 1024, 1, key="more_workers")
    settings = cost_settings()
    estimate = projection(state["trials"], int(more), int(workers), settings.price_per_hour)
    if estimate is None:
        st.caption(t("balance.projection_later"))
        return
    st.markdown(t("balance.projection_text", trials=estimate["trials"],
                  workers=estimate["workers"], minutes=f"{estimate['wall_seconds'] / 60:.1f}",
                  money=f"{settings.currency}{estimate['money']:.4f}",
                  mean=f"{estimate['mean_trial_seconds']:.1f}",
                  measured=estimate["measured_trials"],
                  price=f"{settings.currency}{settings.price_per_hour:g}"))


def controls_ui(state: dict) -> None:
    """Stop a running sweep; resume one that stopped with trials left."""
    home = get_store().home
    status = state["status"]
    ended = [trial for trial in state["trials"] if trial["status"] not in ("queued", "running")]
    if status in ("starting", "running"):
        if st.button(t("balance.stop"), icon=":material/stop:", key="sweep_stop"):
            request_stop(home, state["sweep_id"])
            st.rerun()
    elif status in ("interrupted", "stopped", "failed", "created") and \
            len(ended) < state["spec"]["trials"]:
        if st.button(t("balance.resume"), icon=":material/play_arrow:", key="sweep_resume"):
            start_sweep(state["sweep_id"], home)
            st.rerun()


st.title(t("balance.title"))
st.caption(t("balance.intro"))
sweeps = list_sweeps(get_store().home)
# No status in the label: a browser keeps an option's old text while it stays selected.
labels = {state["sweep_id"]: t("balance.sweep_label", id=state["sweep_id"],
                               dataset=state["spec"]["dataset"],
                               trials=state["spec"]["trials"],
                               objectives=" · ".join(objective_label(name) for name in
                                                     state["spec"]["objectives"]))
          for state in sweeps}
if labels:
    if st.session_state.pop("sweep_shown", None) in labels:  # the sweep just started
        st.session_state["sweep"] = next(iter(labels))
    sweep_id = st.selectbox(t("balance.sweep"), list(labels), format_func=labels.get,
                            key="sweep")
    state = read_state(get_store().home, sweep_id)
    active = state["status"] in ACTIVE
    controls_ui(state)
    st.fragment(run_every=TICK_SECONDS if active else None)(sweep_view)(sweep_id, active)
    if not active:
        recommended_ui(state)
        importance_ui(state)
        projection_ui(state)
        st.caption(t("balance.dashboard", storage=state.get("storage", "")))
with st.expander(t("balance.new"), expanded=not labels):
    new_sweep_ui()
